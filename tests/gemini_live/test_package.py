"""The package as HACS and hassfest see it: manifest, hacs.json, brand icon, complete translations."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import homeassistant
from packaging.requirements import Requirement
from PIL import Image

from custom_components.gemini_live.errors import ErrorKind

from .hassfest import flatten, placeholders

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "custom_components" / "gemini_live"
CORE_GEMINI = Path(homeassistant.__file__).parent / "components" / "google_generative_ai_conversation"


def load(path: Path) -> Any:
    """A JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


def test_manifest_is_what_hassfest_and_hacs_want() -> None:
    """Sorted keys (domain, name, then alphabetical), the required ones, and a requirement core's pin meets."""
    manifest = load(PACKAGE / "manifest.json")
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["domain"] == PACKAGE.name
    for key in ("codeowners", "config_flow", "documentation", "iot_class", "issue_tracker", "version"):
        assert manifest[key]
    assert manifest["integration_type"] == "service"
    core = load(CORE_GEMINI / "manifest.json")
    assert manifest["after_dependencies"] == core["after_dependencies"]
    assert set(core["dependencies"]) <= set(manifest["dependencies"])
    [ours] = [Requirement(r) for r in manifest["requirements"] if r.startswith("google-genai")]
    [pinned] = [Requirement(r) for r in core["requirements"] if r.startswith("google-genai")]
    core_version = next(iter(pinned.specifier)).version
    assert ours.specifier.contains(core_version), "installing this must not replace core's google-genai"


def test_hacs_json() -> None:
    """Only keys HACS knows, and the minimum Home Assistant version."""
    hacs = load(ROOT / "hacs.json")
    allowed = {"name", "content_in_root", "zip_release", "filename", "hide_default_branch", "country"}
    assert set(hacs) <= allowed | {"homeassistant", "hacs", "persistent_directory"}
    assert hacs["name"]
    assert hacs["homeassistant"] == "2026.10.0"


def test_brand_icon() -> None:
    """A 256×256 PNG in the integration's brand folder."""
    with Image.open(PACKAGE / "brand" / "icon.png") as icon:
        assert icon.format == "PNG"
        assert icon.size == (256, 256)


def test_arabic_translation_is_complete() -> None:
    """Arabic has every English string, with the same placeholders, and no leftover English-only keys."""
    english = flatten(load(PACKAGE / "translations" / "en.json"))
    arabic = flatten(load(PACKAGE / "translations" / "ar.json"))
    assert english.keys() == arabic.keys()
    for key, text in english.items():
        assert placeholders(text) == placeholders(arabic[key]), key


def test_every_key_the_code_uses_is_translated() -> None:
    """Exceptions, form errors and the repair issue the code raises all have English text."""
    english = load(PACKAGE / "translations" / "en.json")
    source = "\n".join(path.read_text(encoding="utf-8") for path in PACKAGE.glob("*.py"))
    used = set(re.findall(r'translation_key="(\w+)"', source))
    used |= {f"api_{kind.value}" for kind in ErrorKind}
    used |= {"setup_cannot_connect", "setup_quota_exceeded"}
    exceptions = set(english["exceptions"])
    assert used - {"harm_block_threshold", "thinking_level", "language"} <= exceptions
    errors = set(english["config"]["error"])
    form_errors = set(re.findall(r'CredentialsError\([^,]+, "(\w+)"\)', source))
    form_errors |= {ErrorKind.AUTH.value, ErrorKind.QUOTA.value, ErrorKind.CONNECTION.value, "unknown"}
    assert form_errors <= errors
    for kind in ("conversation", "tts", "stt"):
        assert {"entry_not_loaded"} <= set(english["config_subentries"][kind]["abort"])


def test_manifest_points_at_this_repository() -> None:
    """The documentation is a page of this repository, and issues go to the repository the README installs."""
    manifest = load(PACKAGE / "manifest.json")
    repository = "https://github.com/gemini-live-ha/gemini-live-ha"
    assert repository in (ROOT / "README.md").read_text(encoding="utf-8")
    assert manifest["documentation"].startswith(f"{repository}/blob/main/")
    page = manifest["documentation"].removeprefix(f"{repository}/blob/main/")
    assert (ROOT / page).is_file()
    assert manifest["issue_tracker"] == f"{repository}/issues"
