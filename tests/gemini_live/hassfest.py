"""What Home Assistant's hassfest checks in an integration's folder, as a function that lists the problems.

Home Assistant's wheel does not ship ``script.hassfest`` (``import script.hassfest`` fails in this
environment), so these checks mirror its schemas with voluptuous: the manifest (``script/hassfest/
manifest.py``, the custom-integration variant), the translations (``translations.py``: keys, selector
option keys, strings), ``services.yaml`` against its translations, and ``quality_scale.yaml``
(``quality_scale.py`` and the rule validators it runs for ``done`` rules). On top of hassfest it checks
what hassfest leaves to a core reviewer: every step, error and abort a flow of this integration can show
has a string, and Arabic has exactly the strings English has.
"""

from __future__ import annotations

import ast
import json
import re
import string
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

import homeassistant.components
import voluptuous as vol
from awesomeversion import AwesomeVersion
from homeassistant.util.yaml import load_yaml_dict
from packaging.requirements import InvalidRequirement, Requirement
from voluptuous.humanize import humanize_error

# hassfest's own patterns (translations.py): a translation key is lowercase letters, digits, - and _,
# neither starting nor ending with - or _, and without two of them in a row.
TRANSLATION_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")
SLUG = re.compile(r"^[a-z0-9_]+$")
HTML = re.compile(r"<[a-z/][^>]*>", re.IGNORECASE)
QUOTED_PLACEHOLDER = re.compile(r"'\{\w+\}'")
URL = re.compile(r"^https://[^\s/]+\.[^\s/]+(/\S*)?$")
CODEOWNER = re.compile(r"^@[\w-]+(/[\w-]+)?$")

IOT_CLASSES = (
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
)
INTEGRATION_TYPES = ("device", "entity", "hardware", "helper", "hub", "service", "system", "virtual")

# The rules of the integration quality scale (hassfest's ALL_RULES), bronze to platinum.
QUALITY_RULES = frozenset(
    {
        *("action-setup", "appropriate-polling", "brands", "common-modules", "config-flow"),
        *("config-flow-test-coverage", "dependency-transparency", "docs-actions", "docs-conditions"),
        *("docs-high-level-description", "docs-installation-instructions", "docs-removal-instructions"),
        *("docs-triggers", "entity-event-setup", "entity-unique-id", "has-entity-name", "runtime-data"),
        *("test-before-configure", "test-before-setup", "unique-config-entry"),
        *("action-exceptions", "config-entry-unloading", "docs-configuration-parameters"),
        *("docs-installation-parameters", "entity-unavailable", "integration-owner", "log-when-unavailable"),
        *("parallel-updates", "reauthentication-flow", "test-coverage"),
        *("devices", "diagnostics", "discovery", "discovery-update-info", "docs-data-update", "docs-examples"),
        *("docs-known-limitations", "docs-supported-devices", "docs-supported-functions"),
        *("docs-troubleshooting", "docs-use-cases", "dynamic-devices", "entity-category"),
        *("entity-device-class", "entity-disabled-by-default", "entity-translations"),
        *("exception-translations", "icon-translations", "reconfiguration-flow", "repair-issues"),
        *("stale-devices", "async-dependency", "inject-websession", "strict-typing"),
    }
)
DISCOVERY_KEYS = ("bluetooth", "dhcp", "homekit", "mqtt", "ssdp", "usb", "zeroconf")


def _url(value: Any) -> str:
    """An https URL."""
    if not isinstance(value, str) or not URL.match(value):
        raise vol.Invalid(f"{value!r} is not an https URL")
    return value


def _requirement(value: Any) -> str:
    """A pip requirement (core pins with ==; a custom integration may give a range)."""
    try:
        Requirement(str(value))
    except InvalidRequirement as err:
        raise vol.Invalid(f"{value!r} is not a requirement: {err}") from err
    return str(value)


def _version(value: Any) -> str:
    """A version AwesomeVersion understands (hassfest's rule for custom integrations)."""
    if not isinstance(value, str) or not AwesomeVersion(value).valid:
        raise vol.Invalid(f"{value!r} is not a version")
    return value


def _domain(value: Any) -> str:
    """An integration domain that Home Assistant ships (dependencies must be loadable)."""
    if not isinstance(value, str) or not SLUG.match(value):
        raise vol.Invalid(f"{value!r} is not a domain")
    if not (Path(homeassistant.components.__file__).parent / value).is_dir():
        raise vol.Invalid(f"{value!r} is not a Home Assistant integration")
    return value


def _key(value: Any) -> str:
    """A translation key."""
    if not isinstance(value, str) or not TRANSLATION_KEY.match(value):
        raise vol.Invalid(f"invalid translation key {value!r}: need [a-z0-9-_]")
    return value


def _slug(value: Any) -> str:
    """A lowercase slug."""
    if not isinstance(value, str) or not SLUG.match(value):
        raise vol.Invalid(f"invalid key {value!r}: need [a-z0-9_]")
    return value


def _text(value: Any) -> str:
    """A translated string as hassfest accepts it: text, no HTML, no quoted placeholder, no edge spaces."""
    if not isinstance(value, str) or not value:
        raise vol.Invalid("empty or not a string")
    if HTML.search(value):
        raise vol.Invalid(f"HTML in {value!r}")
    if QUOTED_PLACEHOLDER.search(value):
        raise vol.Invalid(f"quoted placeholder in {value!r}")
    if value != value.strip():
        raise vol.Invalid(f"leading or trailing space in {value!r}")
    return value


MANIFEST = vol.Schema(
    {
        vol.Required("domain"): _slug,
        vol.Required("name"): vol.All(str, vol.Length(min=1)),
        vol.Optional("after_dependencies"): [_domain],
        vol.Required("codeowners"): vol.All([vol.Match(CODEOWNER)], vol.Length(min=1)),
        vol.Required("config_flow"): bool,
        vol.Optional("dependencies"): [_domain],
        vol.Required("documentation"): _url,
        vol.Required("integration_type"): vol.In(INTEGRATION_TYPES),
        vol.Required("iot_class"): vol.In(IOT_CLASSES),
        vol.Required("issue_tracker"): _url,
        vol.Optional("loggers"): [str],
        vol.Required("requirements"): [_requirement],
        vol.Optional("single_config_entry"): bool,
        vol.Required("version"): _version,
        vol.Optional("zeroconf"): [vol.Any(str, {vol.Required("type"): str}, extra=vol.ALLOW_EXTRA)],
    }
)

STEP = {
    vol.Optional("title"): _text,
    vol.Optional("description"): _text,
    vol.Optional("data"): {str: _text},
    vol.Optional("data_description"): {str: _text},
    vol.Optional("menu_options"): {str: _text},
    vol.Optional("menu_option_descriptions"): {str: _text},
    vol.Optional("submit"): _text,
    vol.Optional("sections"): {
        str: {
            vol.Optional("name"): _text,
            vol.Optional("description"): _text,
            vol.Optional("data"): {str: _text},
            vol.Optional("data_description"): {str: _text},
        }
    },
}
FLOW = {
    vol.Optional("flow_title"): _text,
    vol.Optional("step"): {_slug: STEP},
    vol.Optional("error"): {_slug: _text},
    vol.Optional("abort"): {_slug: _text},
    vol.Optional("progress"): {_slug: _text},
    vol.Optional("create_entry"): {_slug: _text},
}
SUBENTRY_FLOW = {
    **FLOW,
    vol.Required("entry_type"): _text,
    vol.Required("initiate_flow"): {vol.In(("user", "reconfigure")): _text},
}
TRANSLATIONS = vol.Schema(
    {
        vol.Optional("title"): _text,
        vol.Optional("config"): FLOW,
        vol.Optional("options"): FLOW,
        vol.Optional("config_subentries"): {_slug: SUBENTRY_FLOW},
        vol.Optional("selector"): {_slug: {vol.Required("options"): {_key: _text}}},
        vol.Optional("exceptions"): {_slug: {vol.Required("message"): _text}},
        vol.Optional("issues"): {_slug: {vol.Required("title"): _text, vol.Optional("description"): _text}},
        vol.Optional("services"): {
            _slug: {
                vol.Required("name"): _text,
                vol.Required("description"): _text,
                vol.Optional("fields"): {_slug: {vol.Required("name"): _text, vol.Required("description"): _text}},
            }
        },
        vol.Optional("entity"): {
            _slug: {
                _key: {
                    vol.Optional("name"): _text,
                    vol.Optional("state"): {_key: _text},
                    vol.Optional("state_attributes"): {_key: {vol.Optional("name"): _text}},
                }
            }
        },
    }
)
QUALITY_SCALE = vol.Schema(
    {
        vol.Required("rules"): {
            vol.In(QUALITY_RULES): vol.Any(
                vol.In(("done", "todo")),
                {vol.Required("status"): vol.In(("done", "todo")), vol.Optional("comment"): str},
                {vol.Required("status"): "exempt", vol.Required("comment"): vol.All(str, vol.Length(min=1))},
            )
        }
    }
)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Dotted keys to strings."""
    flat: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders of a string."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _validate(schema: Callable[[Any], Any], data: Any, name: str) -> list[str]:
    """A schema's complaints about a file, humanized as hassfest prints them."""
    try:
        schema(data)
    except vol.Invalid as err:
        return [f"{name}: {humanize_error(data, err)}"]
    return []


def check_manifest(folder: Path) -> list[str]:
    """The manifest's schema, its key order (domain, name, then alphabetical) and its domain."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    problems = _validate(MANIFEST, manifest, "manifest.json")
    keys = list(manifest)
    if keys[:2] != ["domain", "name"] or keys[2:] != sorted(keys[2:]):
        problems.append("manifest.json: keys are not sorted (domain, name, then alphabetical)")
    if manifest.get("domain") != folder.name:
        problems.append(f"manifest.json: domain {manifest.get('domain')!r} is not the folder's name")
    return problems


def check_translations(folder: Path) -> list[str]:
    """Every language's schema, and every language has exactly English's strings with its placeholders."""
    english = json.loads((folder / "translations" / "en.json").read_text(encoding="utf-8"))
    problems = _validate(TRANSLATIONS, english, "en.json")
    flat = flatten(english)
    for path in sorted((folder / "translations").glob("*.json")):
        if path.name == "en.json":
            continue
        other = json.loads(path.read_text(encoding="utf-8"))
        problems += _validate(TRANSLATIONS, other, path.name)
        theirs = flatten(other)
        problems += [f"{path.name}: missing {key}" for key in sorted(flat.keys() - theirs.keys())]
        problems += [f"{path.name}: {key} is not in en.json" for key in sorted(theirs.keys() - flat.keys())]
        problems += [
            f"{path.name}: {key} has other placeholders than en.json"
            for key in sorted(flat.keys() & theirs.keys())
            if placeholders(flat[key]) != placeholders(theirs[key])
        ]
    return problems


def check_services(folder: Path) -> list[str]:
    """``services.yaml`` and the ``services`` translations name the same actions and fields."""
    english = json.loads((folder / "translations" / "en.json").read_text(encoding="utf-8"))
    translated = english.get("services", {})
    path = folder / "services.yaml"
    services: dict[str, Any] = load_yaml_dict(str(path)) if path.exists() else {}
    problems = [f"services.yaml: {name} has no translation" for name in services.keys() - translated.keys()]
    problems += [f"en.json: services.{name} is not in services.yaml" for name in translated.keys() - services.keys()]
    for name in services.keys() & translated.keys():
        fields = set((services[name] or {}).get("fields", {}))
        if fields != set(translated[name].get("fields", {})):
            problems.append(f"en.json: services.{name}.fields differ from services.yaml")
    return problems


def _constants(*trees: ast.Module) -> dict[str, str]:
    """Module-level string constants (``NAME: Final = "value"``), to resolve step ids given by name."""
    constants: dict[str, str] = {}
    for tree in trees:
        for node in tree.body:
            if isinstance(node, ast.AnnAssign | ast.Assign) and isinstance(node.value, ast.Constant):
                targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
                for target in targets:
                    if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                        constants[target.id] = node.value.value
    return constants


class _FlowStrings:
    """The steps, errors and aborts a flow module can show, found in its source.

    Step ids come from ``async_show_form``/``async_show_menu`` (and a menu's options) and from the shared
    step helpers (``self._async_step_…(user_input, step_id)``); errors from ``errors[…] = "key"`` and from
    ``CredentialsError(field, "key")``; aborts from ``async_abort(reason=…)`` and from the helpers whose
    reasons Home Assistant fixes (``already_configured``, ``reauth_successful``, ``reconfigure_successful``).
    """

    def __init__(self, constants: dict[str, str]) -> None:
        """Resolve names through ``constants``."""
        self.constants = constants

    def value(self, node: ast.expr | None) -> str | None:
        """A string constant's value, written out or by name."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return self.constants.get(node.id)
        return None

    def steps(self, name: str, call: ast.Call) -> list[str | None]:
        """The step ids a call shows: a form's or menu's (and the menu's choices), or a step helper's."""
        keywords = {keyword.arg: keyword.value for keyword in call.keywords}
        if name in {"async_show_form", "async_show_menu"}:
            options = keywords.get("menu_options")
            choices = options.elts if isinstance(options, ast.List) else []
            return [self.value(keywords.get("step_id")), *(self.value(choice) for choice in choices)]
        if name.startswith("_async_step_") and len(call.args) > 1:
            return [self.value(call.args[1])]
        return []

    def found(self, tree: ast.AST) -> Iterator[tuple[str, str]]:
        """(``step``/``error``/``abort``, key) for everything ``tree`` can show."""
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
                target = node.targets[0].value
                if isinstance(target, ast.Name) and target.id == "errors" and (key := self.value(node.value)):
                    yield "error", key
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            keywords = {keyword.arg: keyword.value for keyword in node.keywords}
            yield from (("step", key) for key in self.steps(name, node) if key)
            if name == "async_abort" and (key := self.value(keywords.get("reason"))):
                yield "abort", key
            elif name == "CredentialsError" and len(node.args) > 1 and (key := self.value(node.args[1])):
                yield "error", key
            elif name in {"_async_abort_entries_match", "_abort_if_unique_id_configured"}:
                yield "abort", "already_configured"
            elif name == "async_update_reload_and_abort":
                yield "abort", "reconfigure_successful"
                yield "abort", "reauth_successful"


def _flow_sections(node: ast.ClassDef, english: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Where a flow class's strings live: ``config``, ``options`` or every subentry type it serves."""
    bases = {base.id if isinstance(base, ast.Name) else ast.unparse(base) for base in node.bases}
    if "OptionsFlow" in bases:
        return [("options", english.get("options", {}))]
    if "ConfigSubentryFlow" in bases:
        return [(f"config_subentries.{kind}", flow) for kind, flow in english.get("config_subentries", {}).items()]
    if bases & {"ConfigFlow", "BridgeFlow"} or any(keyword.arg == "domain" for keyword in node.keywords):
        return [("config", english.get("config", {}))]
    return []


def check_flow_strings(folder: Path) -> list[str]:
    """Every step, error and abort a flow of the integration shows has its English string.

    What a class shows goes to its own section; what the module's functions raise, to every flow of
    the module.
    """
    english = json.loads((folder / "translations" / "en.json").read_text(encoding="utf-8"))
    const = folder / "const.py"
    shared = [ast.parse(const.read_text(encoding="utf-8"))] if const.exists() else []
    problems: list[str] = []
    for path in sorted(folder.glob("*flow*.py")):
        module = ast.parse(path.read_text(encoding="utf-8"))
        strings = _FlowStrings(_constants(module, *shared))
        functions = [node for node in module.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
        from_functions = {found for function in functions for found in strings.found(function)}
        for node in module.body:
            if not isinstance(node, ast.ClassDef) or not (sections := _flow_sections(node, english)):
                continue
            for kind, key in sorted(set(strings.found(node)) | from_functions):
                missing = [section for section, texts in sections if key not in texts.get(kind, {})]
                # One subentry flow serves several types; an error about one type's own field (a
                # conversation's search switch) is only shown, and so only translated, for that type.
                if kind == "error" and len(missing) < len(sections):
                    continue
                problems += [f"en.json: {section}.{kind}.{key} is missing ({path.name})" for section in missing]
    return problems


def check_quality_scale(folder: Path) -> list[str]:
    """Known rules with done/todo/exempt (exempt with a reason), and the code behind the rules hassfest checks."""
    path = folder / "quality_scale.yaml"
    data = load_yaml_dict(str(path))
    problems = _validate(QUALITY_SCALE, data, "quality_scale.yaml")
    done = {
        rule
        for rule, value in data.get("rules", {}).items()
        if (value.get("status") if isinstance(value, dict) else value) == "done"
    }
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    config_flow = folder / "config_flow.py"
    flow_source = config_flow.read_text(encoding="utf-8") if config_flow.exists() else ""
    setup_source = (folder / "__init__.py").read_text(encoding="utf-8")
    # hassfest's validators of done rules (quality_scale_validation/*.py).
    if "config-flow" in done and not (manifest.get("config_flow") and config_flow.exists()):
        problems.append("[config-flow] the manifest must set config_flow and config_flow.py must exist")
    if (
        "unique-config-entry" in done
        and not manifest.get("single_config_entry")
        and not any(call in flow_source for call in ("self.async_set_unique_id", "self._async_abort_entries_match"))
    ):
        problems.append("[unique-config-entry] config_flow.py neither sets a unique id nor aborts on a match")
    if "reconfiguration-flow" in done and "async_step_reconfigure" not in flow_source:
        problems.append("[reconfiguration-flow] config_flow.py has no async_step_reconfigure")
    if "runtime-data" in done and "runtime_data" not in setup_source:
        problems.append("[runtime-data] __init__.py does not use entry.runtime_data")
    if "test-before-setup" in done and not re.search(r"ConfigEntry(NotReady|AuthFailed|Error)", setup_source):
        problems.append("[test-before-setup] __init__.py raises none of Home Assistant's set-up errors")
    if "discovery" in done and not (
        any(key in manifest for key in DISCOVERY_KEYS)
        or any(f"async_step_{key}" in flow_source for key in DISCOVERY_KEYS)
    ):
        problems.append("[discovery] neither the manifest nor the flow discovers anything")
    if "strict-typing" in done:
        problems += _strict_typing(folder, manifest)
    return problems


def _strict_typing(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """hassfest's strict-typing rule for a custom integration: CI type-checks it strictly (core's
    ``.strict-typing`` list), and its requirements ship type information (``py.typed``)."""
    problems: list[str] = []
    ci = folder.parents[1] / ".ci" / "run"
    command = ci.read_text(encoding="utf-8") if ci.exists() else ""
    if not re.search(rf"mypy .*--strict.* -p custom_components\.{folder.name}\b", command):
        problems.append("[strict-typing] CI does not run mypy --strict on the integration")
    for requirement in manifest.get("requirements", []):
        try:
            name = Requirement(requirement).name
        except InvalidRequirement:
            continue  # the manifest's schema reports it
        try:
            files = distribution(name).files or []
        except PackageNotFoundError:
            problems.append(f"[strict-typing] {name} is not installed")
            continue
        if not any(file.name == "py.typed" for file in files):
            problems.append(f"[strict-typing] {name} has no py.typed")
    return problems


def check(folder: Path) -> list[str]:
    """Every problem hassfest (and this project's reviewers) would report for the integration in ``folder``."""
    return (
        check_manifest(folder)
        + check_translations(folder)
        + check_services(folder)
        + check_flow_strings(folder)
        + check_quality_scale(folder)
    )
