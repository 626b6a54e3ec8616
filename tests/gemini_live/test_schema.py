"""Tool declarations: OpenAPI schemas in the form Gemini takes, and function names within its rules."""

from __future__ import annotations

import re

import probatio
import pytest
from google.genai import types
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import llm
from homeassistant.setup import async_setup_component

from custom_components.gemini_live.const import DOMAIN
from custom_components.gemini_live.schema import MAX_NAME_LENGTH, ToolNameMap, convert_schema, gemini_tools

GEMINI_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")


def test_valid_names_are_kept() -> None:
    """Names Gemini accepts pass unchanged, both ways."""
    names = ToolNameMap(["intent__HassTurnOn", "llm__GetDateTime"])
    assert names.gemini("intent__HassTurnOn") == "intent__HassTurnOn"
    assert names.home_assistant("llm__GetDateTime") == "llm__GetDateTime"
    assert names.home_assistant("never_declared") == "never_declared"


@pytest.mark.parametrize(
    "name",
    [
        "script__" + "open_the_garden_gate_and_switch_on_the_path_lights_for_the_evening_walk",
        "mcp__server/tool with spaces",
        "9_starts_with_a_digit",
        "script__ضوء_المطبخ",
    ],
)
def test_other_names_are_mapped_reversibly(name: str) -> None:
    """Long or invalid names become valid ones, the same on every turn, and map back."""
    gemini = ToolNameMap([name]).gemini(name)
    assert GEMINI_NAME.match(gemini)
    assert len(gemini) <= MAX_NAME_LENGTH
    assert ToolNameMap([name]).gemini(name) == gemini  # deterministic: history stays consistent
    assert ToolNameMap([name]).home_assistant(gemini) == name


def test_names_that_clean_up_the_same_stay_apart() -> None:
    """Two tools whose cleaned names collide get different Gemini names."""
    names = ToolNameMap(["a b", "a_b", "a/b"])
    gemini = {names.gemini("a b"), names.gemini("a_b"), names.gemini("a/b")}
    assert len(gemini) == 3
    assert {names.home_assistant(name) for name in gemini} == {"a b", "a_b", "a/b"}


def test_schema_conversion() -> None:
    """Types upper-cased, enums as strings, unsupported keywords and formats dropped, bounds kept."""
    openapi = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Who", "format": "email"},
            "when": {"type": "string", "format": "date-time"},
            "level": {"type": "integer", "minimum": 0, "maximum": 100, "format": "int32"},
            "ratio": {"type": "number", "format": "decimal"},
            "mode": {"type": "integer", "enum": [1, 2, None]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "options": {"type": "object", "additionalProperties": True},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "Optional"},
            "one": {"oneOf": [{"type": "boolean"}]},
            "both": {
                "allOf": [
                    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                    {"type": "object", "properties": {"b": {"type": "string"}}},
                ],
                "description": "Merged",
            },
            "first": {"allOf": [{"description": "no type"}, {"type": "integer"}]},
            "nullable_list": {"type": ["string", "null"]},
            "nothing": {"type": "null"},
        },
        "required": ["name", "not_a_property"],
        "additionalProperties": False,
    }
    schema = convert_schema(openapi)
    properties = schema["properties"]
    assert schema["type"] == "OBJECT"
    assert schema["required"] == ["name"]
    assert "additionalProperties" not in schema
    assert properties["name"] == {"type": "STRING", "description": "Who"}
    assert properties["when"] == {"type": "STRING", "format": "date-time"}
    assert properties["level"] == {"type": "INTEGER", "minimum": 0, "maximum": 100, "format": "int32"}
    assert properties["ratio"] == {"type": "NUMBER"}
    assert properties["mode"] == {"type": "STRING", "enum": ["1", "2"]}
    assert properties["tags"] == {"type": "ARRAY", "items": {"type": "STRING"}, "min_items": 1}
    assert properties["options"]["properties"]["json"]["type"] == "STRING"
    assert properties["either"] == {"any_of": [{"type": "INTEGER"}, {"type": "STRING"}]}
    assert properties["maybe"] == {"type": "STRING", "nullable": True, "description": "Optional"}
    assert properties["one"] == {"type": "BOOLEAN"}
    assert properties["both"]["properties"].keys() == {"a", "b"}
    assert properties["both"]["required"] == ["a"]
    assert properties["both"]["description"] == "Merged"
    assert properties["first"] == {"type": "INTEGER"}
    assert properties["nullable_list"] == {"type": "STRING", "nullable": True}
    assert properties["nothing"] == {"nullable": True}
    types.Schema.model_validate(schema)  # what the SDK sends


async def test_assist_tools_become_one_gemini_tool(hass: HomeAssistant) -> None:
    """Every tool of the Assist API, declared with a valid name and a schema the SDK accepts."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    api = await llm.async_get_api(hass, llm.LLM_API_ASSIST, llm.LLMContext(DOMAIN, None, "en", "conversation", None))
    names = ToolNameMap(tool.name for tool in api.tools)
    [tool] = gemini_tools(api, names)
    declarations = tool.function_declarations or []
    assert len(declarations) == len(api.tools)
    assert all(GEMINI_NAME.match(declaration.name or "") for declaration in declarations)
    turn_on = next(d for d in declarations if (d.name or "").endswith("HassTurnOn"))
    assert turn_on.parameters is not None
    assert turn_on.parameters.type == types.Type.OBJECT
    assert turn_on.parameters.properties is not None
    assert "name" in turn_on.parameters.properties


def test_tool_without_parameters() -> None:
    """A tool that takes nothing is declared without parameters."""

    class Ping(llm.Tool):
        name = "ping"
        description = "Answers pong"
        parameters = probatio.Schema({})

        async def async_call(self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext) -> dict:
            return {"pong": True}

    class Api:
        def __init__(self, tools: list[llm.Tool]) -> None:
            self.tools = tools
            self.custom_serializer = cv.custom_serializer

    [tool] = gemini_tools(Api([Ping()]), ToolNameMap())  # type: ignore[arg-type]
    assert tool.function_declarations is not None
    assert tool.function_declarations[0].parameters is None
    assert gemini_tools(Api([]), ToolNameMap()) == []  # type: ignore[arg-type]
