"""Home Assistant's LLM tools as Gemini function declarations.

Two things stand between them: Gemini's ``Schema`` is a subset of OpenAPI (no ``allOf``, ``oneOf``,
``additionalProperties``; ``enum`` only on strings; a few ``format`` values), and a function name must
match ``[A-Za-z_][A-Za-z0-9_.-]*`` with at most 64 characters, while Home Assistant names tools
``<api>__<tool>`` (``script__<object_id>`` can be long). :class:`ToolNameMap` renames what does not fit,
reversibly and the same way on every turn, so history and calls stay consistent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import probatio
from google.genai import types
from homeassistant.helpers import llm

MAX_NAME_LENGTH: Final = 64
_VALID_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
_INVALID_CHARACTERS: Final = re.compile(r"[^A-Za-z0-9_.\-]")
_HASH_LENGTH: Final = 8

# Formats Gemini accepts, per type (others are dropped: the description still tells the model).
_FORMATS: Final = {"string": {"enum", "date-time"}, "number": {"float", "double"}, "integer": {"int32", "int64"}}
# OpenAPI keywords copied unchanged (camelCase → the SDK's snake_case).
_PLAIN_KEYS: Final = {
    "title": "title",
    "description": "description",
    "nullable": "nullable",
    "minimum": "minimum",
    "maximum": "maximum",
    "minItems": "min_items",
    "maxItems": "max_items",
    "minLength": "min_length",
    "maxLength": "max_length",
    "minProperties": "min_properties",
    "maxProperties": "max_properties",
    "pattern": "pattern",
}


class ToolNameMap:
    """Gemini function names for Home Assistant tool names, and back."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        """Assign a Gemini name to every tool name (in order, so that collisions resolve the same way)."""
        self._to_gemini: dict[str, str] = {}
        self._to_home_assistant: dict[str, str] = {}
        for name in names:
            self.gemini(name)

    def gemini(self, name: str) -> str:
        """The function name Gemini sees for a Home Assistant tool name."""
        if (known := self._to_gemini.get(name)) is not None:
            return known
        candidate = name if _VALID_NAME.match(name) else _shorten(name)
        if candidate in self._to_home_assistant:
            candidate = _shorten(name, force_hash=True)
        self._to_gemini[name] = candidate
        self._to_home_assistant[candidate] = name
        return candidate

    def home_assistant(self, name: str) -> str:
        """The Home Assistant tool name of a function Gemini called (unknown names pass through)."""
        return self._to_home_assistant.get(name, name)


def _shorten(name: str, *, force_hash: bool = False) -> str:
    """A valid name that keeps the readable start of ``name`` and a hash of all of it."""
    cleaned = _INVALID_CHARACTERS.sub("_", name)
    if not cleaned or not (cleaned[0].isascii() and (cleaned[0].isalpha() or cleaned[0] == "_")):
        cleaned = "_" + cleaned
    if len(cleaned) <= MAX_NAME_LENGTH and not force_hash:
        return cleaned
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_LENGTH]
    return f"{cleaned[: MAX_NAME_LENGTH - _HASH_LENGTH - 1]}_{digest}"


def convert_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAPI 3.0 schema (as ``probatio.to_openapi`` makes it) in the form Gemini's ``Schema`` takes."""
    if all_of := schema.get("allOf"):
        return _convert_all_of(all_of, schema)
    if any_of := schema.get("anyOf") or schema.get("oneOf"):
        return _convert_any_of(any_of, schema)

    result: dict[str, Any] = {}
    openapi_type = schema.get("type")
    if isinstance(openapi_type, list):  # OpenAPI 3.1 style ["string", "null"]
        result["nullable"] = "null" in openapi_type
        openapi_type = next((t for t in openapi_type if t != "null"), None)
    if openapi_type == "null":
        result["nullable"] = True
        openapi_type = None
    if openapi_type:
        result["type"] = str(openapi_type).upper()
    for key, target in _PLAIN_KEYS.items():
        if key in schema:
            result[target] = schema[key]
    if (fmt := schema.get("format")) and fmt in _FORMATS.get(str(openapi_type), ()):
        result["format"] = fmt
    if "enum" in schema:
        # Gemini takes enums on strings only; the tool's own validation coerces the value back.
        result["type"] = "STRING"
        result["enum"] = [str(value) for value in schema["enum"] if value is not None]
        result.pop("format", None)
        result.pop("minimum", None)
        result.pop("maximum", None)
    if "items" in schema:
        result["items"] = convert_schema(schema["items"])
    if properties := schema.get("properties"):
        result["properties"] = {key: convert_schema(value) for key, value in properties.items()}
        if required := [key for key in schema.get("required", []) if key in properties]:
            result["required"] = required
    elif openapi_type == "object":
        # Gemini refuses an object without properties; a JSON string is the closest it can carry.
        result["properties"] = {"json": {"type": "STRING", "description": "The value as a JSON object"}}
    return result


def _convert_all_of(subschemas: list[Mapping[str, Any]], outer: Mapping[str, Any]) -> dict[str, Any]:
    """Objects are merged; otherwise the first subschema with a type stands for all of them."""
    if all(sub.get("type") == "object" for sub in subschemas):
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for sub in subschemas:
            merged["properties"].update(sub.get("properties", {}))
            merged["required"].extend(sub.get("required", []))
        result = convert_schema(merged)
    else:
        chosen = next((sub for sub in subschemas if "type" in sub), subschemas[0])
        result = convert_schema(chosen)
    if "description" in outer:
        result["description"] = outer["description"]
    return result


def _convert_any_of(subschemas: list[Mapping[str, Any]], outer: Mapping[str, Any]) -> dict[str, Any]:
    """``anyOf``/``oneOf`` as Gemini's ``any_of``; a ``null`` alternative becomes ``nullable``."""
    options = [sub for sub in subschemas if sub.get("type") != "null"]
    nullable = len(options) != len(subschemas)
    result: dict[str, Any] = (
        convert_schema(options[0]) if len(options) == 1 else {"any_of": [convert_schema(s) for s in options]}
    )
    if nullable:
        result["nullable"] = True
    if "description" in outer:
        result["description"] = outer["description"]
    return result


def function_declaration(
    tool: llm.Tool, names: ToolNameMap, custom_serializer: Callable[[Any], Any] | None
) -> types.FunctionDeclaration:
    """One Home Assistant tool as a Gemini function declaration."""
    parameters = None
    if tool.parameters.schema:
        openapi = probatio.to_openapi(tool.parameters, custom_serializer=custom_serializer)
        parameters = types.Schema.model_validate(convert_schema(openapi))
    return types.FunctionDeclaration(name=names.gemini(tool.name), description=tool.description, parameters=parameters)


def gemini_tools(api: llm.APIInstance, names: ToolNameMap) -> list[types.Tool]:
    """The API's tools as one Gemini ``Tool`` holding every function declaration."""
    declarations = [function_declaration(tool, names, api.custom_serializer) for tool in api.tools]
    return [types.Tool(function_declarations=declarations)] if declarations else []


def response_schema(structure: probatio.Schema, custom_serializer: Callable[[Any], Any] | None) -> types.Schema:
    """An AI task's structure (a voluptuous schema with selectors) as the ``response_schema`` Gemini fills."""
    openapi = probatio.to_openapi(structure, custom_serializer=custom_serializer or llm.selector_serializer)
    return types.Schema.model_validate(convert_schema(openapi))
