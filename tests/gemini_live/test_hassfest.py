"""hassfest's checks (see :mod:`.hassfest`) pass on the integration, and catch what they are there to catch."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from homeassistant.helpers.selector import SelectSelector

from custom_components.gemini_live.const import CONF_THINKING_LEVEL, THINKING_LEVELS
from custom_components.gemini_live.selectors import language_selector, threshold_selector

from .hassfest import TRANSLATION_KEY, check

PACKAGE = Path(__file__).parents[2] / "custom_components" / "gemini_live"


def test_the_integration_passes() -> None:
    """No problem in the manifest, translations, services, flows' strings or quality scale."""
    assert check(PACKAGE) == []


def test_selectors_in_the_code_have_lowercase_translated_options() -> None:
    """Every translated selector the forms build offers only keys its translations name."""
    english = json.loads((PACKAGE / "translations" / "en.json").read_text(encoding="utf-8"))
    selectors: list[tuple[str, list[str]]] = [
        (CONF_THINKING_LEVEL, list(THINKING_LEVELS)),
        *(
            (selector.config["translation_key"], _options(selector))
            for selector in (language_selector(), threshold_selector())
        ),
    ]
    for key, options in selectors:
        assert all(TRANSLATION_KEY.match(option) for option in options), key
        assert set(options) == set(english["selector"][key]["options"]), key


def _options(selector: SelectSelector) -> list[str]:
    """A select selector's option keys."""
    return [option if isinstance(option, str) else option["value"] for option in selector.config["options"]]


def _edit_json(name: str, change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    """A defect: ``change`` applied to a translation file."""

    def edit(folder: Path) -> None:
        path = folder / "translations" / name
        data = json.loads(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    return edit


def _edit_text(name: str, old: str, new: str) -> Callable[[Path], None]:
    """A defect: ``old`` replaced by ``new`` in a file (which must hold it)."""

    def edit(folder: Path) -> None:
        path = folder / name
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new), encoding="utf-8")

    return edit


def _uppercase_selector_key(data: dict[str, Any]) -> None:
    """The API's value as an option key."""
    options = data["selector"]["harm_block_threshold"]["options"]
    options["BLOCK_NONE"] = options.pop("block_none")


def _without_arabic_step_title(data: dict[str, Any]) -> None:
    """A field's label left untranslated."""
    del data["config"]["step"]["developer"]["data"]["api_key"]


def _without_abort(data: dict[str, Any]) -> None:
    """An abort the bridge flow shows, without its text."""
    del data["config"]["abort"]["no_account"]


def _english_only(data: dict[str, Any]) -> None:
    """A new English string not yet in Arabic."""
    data["exceptions"]["new_error"] = {"message": "Something new."}


def _with_html(data: dict[str, Any]) -> None:
    """Markup in a string."""
    data["exceptions"]["blocked"]["message"] = "Gemini <b>blocked</b> the answer."


def _with_service(data: dict[str, Any]) -> None:
    """An action translated that the integration does not declare."""
    data["services"] = {"ask": {"name": "Ask", "description": "Ask Gemini."}}


DEFECTS: dict[str, tuple[Callable[[Path], None], str]] = {
    "uppercase selector key": (_edit_json("en.json", _uppercase_selector_key), "invalid translation key 'BLOCK_NONE'"),
    "uppercase selector key in ar": (_edit_json("ar.json", _uppercase_selector_key), "ar.json: missing selector."),
    "missing ar string": (
        _edit_json("ar.json", _without_arabic_step_title),
        "ar.json: missing config.step.developer.data.api_key",
    ),
    "string only in English": (_edit_json("en.json", _english_only), "ar.json: missing exceptions.new_error.message"),
    "abort the flow shows without a string": (
        _edit_json("en.json", _without_abort),
        "en.json: config.abort.no_account is missing (bridge_flow.py)",
    ),
    "HTML in a string": (_edit_json("en.json", _with_html), "HTML in"),
    "translated service without services.yaml": (
        _edit_json("en.json", _with_service),
        "en.json: services.ask is not in services.yaml",
    ),
    "http documentation": (_edit_text("manifest.json", '"https://github.com/', '"http://github.com/'), "https URL"),
    "bad version": (_edit_text("manifest.json", '"version": "0.1.0"', '"version": "one"'), "'one' is not a version"),
    "unknown iot_class": (_edit_text("manifest.json", '"cloud_polling"', '"cloud"'), "iot_class"),
    "bad requirement": (_edit_text("manifest.json", '"google-genai>=', '"google genai>='), "is not a requirement"),
    "unknown dependency": (
        _edit_text("manifest.json", '"file_upload"', '"no_such_thing"'),
        "'no_such_thing' is not a Home Assistant integration",
    ),
    "unknown rule": (_edit_text("quality_scale.yaml", "  brands: done", "  brand: done"), "quality_scale.yaml"),
    "exempt without a reason": (
        _edit_text(
            "quality_scale.yaml",
            "  docs-triggers:\n    status: exempt\n    comment: The integration provides no triggers.",
            "  docs-triggers: exempt",
        ),
        "quality_scale.yaml",
    ),
    "unique entry claimed without the code": (
        _edit_text("config_flow.py", "self._async_abort_entries_match(", "self._skip_duplicates("),
        "[unique-config-entry]",
    ),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_a_broken_copy_is_reported(defect: str, tmp_path: Path) -> None:
    """Each defect, made in a copy of the integration, is named in the report."""
    folder = tmp_path / PACKAGE.name
    shutil.copytree(PACKAGE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    make, expected = DEFECTS[defect]
    make(folder)
    problems = check(folder)
    assert any(expected in problem for problem in problems), problems


def test_an_unsorted_manifest_is_reported(tmp_path: Path) -> None:
    """Keys out of hassfest's order are reported."""
    folder = tmp_path / PACKAGE.name
    shutil.copytree(PACKAGE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    reordered = {"name": manifest.pop("name"), **manifest}
    (folder / "manifest.json").write_text(json.dumps(reordered), encoding="utf-8")
    assert "manifest.json: keys are not sorted (domain, name, then alphabetical)" in check(folder)


def test_a_copy_under_another_name_is_reported(tmp_path: Path) -> None:
    """The domain must be the folder's name."""
    folder = tmp_path / "gemini"
    shutil.copytree(PACKAGE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    assert any(re.match(r"manifest\.json: domain 'gemini_live' is not", problem) for problem in check(folder))
