"""Home Assistant's chat log as Gemini ``contents``, and the request's ``GenerateContentConfig``.

Gemini 3 wants its own function calls (and some text) sent back with the ``thought_signature`` it gave
them. So the model's parts are kept, as JSON, in the ``native`` field of each ``AssistantContent``
this integration adds (:class:`GeminiNative`) and replayed as they were; content from other agents is
rebuilt from its text and tool calls.
"""

from __future__ import annotations

import codecs
import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.genai import types
from homeassistant.components import conversation

from .const import (
    CONF_DANGEROUS_BLOCK_THRESHOLD,
    CONF_HARASSMENT_BLOCK_THRESHOLD,
    CONF_HATE_BLOCK_THRESHOLD,
    CONF_MAX_TOKENS,
    CONF_SEXUAL_BLOCK_THRESHOLD,
    CONF_TEMPERATURE,
    CONF_THINKING_BUDGET,
    CONF_THINKING_LEVEL,
    CONF_TOP_K,
    CONF_TOP_P,
    RECOMMENDED_HARM_BLOCK_THRESHOLD,
    RECOMMENDED_MAX_TOKENS,
    RECOMMENDED_TEMPERATURE,
    RECOMMENDED_THINKING_BUDGET,
    RECOMMENDED_THINKING_LEVEL,
    RECOMMENDED_TOP_K,
    RECOMMENDED_TOP_P,
)
from .schema import ToolNameMap


@dataclass(frozen=True, slots=True)
class GeminiNative:
    """The parts of one model response, as JSON (``types.Part.model_dump(mode="json")``)."""

    parts: tuple[dict[str, Any], ...]

    @classmethod
    def from_parts(cls, parts: Sequence[types.Part]) -> GeminiNative:
        """Keep a response's parts, joining the text that streaming cut into pieces."""
        merged: list[types.Part] = []
        for part in parts:
            previous = merged[-1] if merged else None
            if (
                previous is not None
                and _is_plain_text(previous)
                and _is_plain_text(part)
                and bool(previous.thought) == bool(part.thought)
                and not part.thought_signature
            ):
                merged[-1] = previous.model_copy(update={"text": (previous.text or "") + (part.text or "")})
            else:
                merged.append(part)
        return cls(tuple(part.model_dump(mode="json", exclude_none=True) for part in merged))

    def content(self) -> types.Content:
        """The response as a ``model`` content to send back."""
        return types.Content(role="model", parts=[types.Part.model_validate(part) for part in self.parts])

    def call_ids(self) -> set[str]:
        """Ids Gemini gave its function calls (the function responses must carry them back)."""
        return {str(part["function_call"]["id"]) for part in self.parts if part.get("function_call", {}).get("id")}


def _is_plain_text(part: types.Part) -> bool:
    return part.text is not None and part.function_call is None and part.inline_data is None


def build_contents(
    history: Sequence[conversation.Content], names: ToolNameMap, attachments: Sequence[types.Part] = ()
) -> list[types.Content]:
    """The chat log after its system prompt as Gemini contents (tool results grouped per turn).

    ``attachments`` (the last user message's files, prepared by :mod:`.attachments`) follow its text.
    """
    contents: list[types.Content] = []
    results: list[types.Part] = []
    gemini_call_ids: set[str] = set()
    last_user = max((i for i, item in enumerate(history) if isinstance(item, conversation.UserContent)), default=-1)
    for index, item in enumerate(history):
        if isinstance(item, conversation.ToolResultContent):
            results.append(_function_response(item, names, gemini_call_ids))
            continue
        if results:
            contents.append(types.Content(role="user", parts=results))
            results = []
        if isinstance(item, conversation.AssistantContent):
            if isinstance(item.native, GeminiNative):
                contents.append(item.native.content())
                gemini_call_ids = item.native.call_ids()
            else:
                contents.append(_assistant_content(item, names))
                gemini_call_ids = set()
        elif isinstance(item, conversation.UserContent):
            # An empty part is refused; a space keeps the turn (and the call/response pairing).
            parts = [types.Part.from_text(text=item.content or " ")]
            if index == last_user:
                parts.extend(attachments)
            contents.append(types.Content(role="user", parts=parts))
    if results:
        contents.append(types.Content(role="user", parts=results))
    if contents and contents[0].role != "user":
        # The history must start with the user (a conversation Home Assistant started, e.g. an announcement).
        contents.insert(0, types.Content(role="user", parts=[types.Part.from_text(text=" ")]))
    return contents


def _assistant_content(item: conversation.AssistantContent, names: ToolNameMap) -> types.Content:
    parts: list[types.Part] = []
    if item.content:
        parts.append(types.Part.from_text(text=item.content))
    for call in item.tool_calls or []:
        if not call.external:
            parts.append(types.Part.from_function_call(name=names.gemini(call.tool_name), args=call.tool_args))
    if not parts:
        parts.append(types.Part.from_text(text=" "))
    return types.Content(role="model", parts=parts)


def _function_response(
    item: conversation.ToolResultContent, names: ToolNameMap, gemini_call_ids: set[str]
) -> types.Part:
    """A tool's result as Gemini expects it: ``{"output": ...}`` or ``{"error": ...}``."""
    key = "error" if item.result.error else "output"
    response = types.FunctionResponse(name=names.gemini(item.tool_name), response={key: json_safe(item.result.data)})
    if item.tool_call_id in gemini_call_ids:
        response.id = item.tool_call_id
    return types.Part(function_response=response)


def json_safe(value: Any) -> Any:
    """Tool results with dates and times as ISO strings (the request body is JSON)."""
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(item) for item in value]
    return value


def decode_arguments(value: Any) -> Any:
    """Function-call arguments with the escape sequences Gemini sometimes leaves in strings decoded."""
    if isinstance(value, str):
        if "\\" not in value:
            return value
        try:
            return codecs.escape_decode(value.encode())[0].decode()
        except ValueError, UnicodeDecodeError:
            return value
    if isinstance(value, list):
        return [decode_arguments(item) for item in value]
    if isinstance(value, dict):
        return {key: decode_arguments(item) for key, item in value.items()}
    return value


# ------------------------------------------------------------------------------------------ request config

_GEMINI_VERSION = re.compile(r"^gemini-(\d+)(?:\.(\d+))?(?=-|$)")


def gemini_version(model: str) -> tuple[int, int] | None:
    """``gemini-3.1-flash-lite`` → (3, 1); None for other model families."""
    if match := _GEMINI_VERSION.match(model.removeprefix("models/")):
        return int(match[1]), int(match[2] or 0)
    return None


def supports_sampling(model: str) -> bool:
    """Whether the model takes temperature/top-p/top-k (Gemini 3.6 and later use fixed sampling)."""
    version = gemini_version(model)
    return version is None or version < (3, 6)


def thinking_config(model: str, options: Mapping[str, Any]) -> types.ThinkingConfig | None:
    """Gemini 3 takes a thinking level, Gemini 2.5 a token budget; other models take neither."""
    version = gemini_version(model)
    name = model.removeprefix("models/")
    if version is None or version < (2, 5) or any(word in name for word in ("tts", "image", "live")):
        return None
    if version >= (3, 0):
        level = options.get(CONF_THINKING_LEVEL, RECOMMENDED_THINKING_LEVEL)
        if level == RECOMMENDED_THINKING_LEVEL:
            return types.ThinkingConfig(include_thoughts=True)
        return types.ThinkingConfig(include_thoughts=True, thinking_level=types.ThinkingLevel(level.upper()))
    budget = int(options.get(CONF_THINKING_BUDGET, RECOMMENDED_THINKING_BUDGET))
    if budget < 0:
        return types.ThinkingConfig(include_thoughts=True)
    if "pro" in name:
        budget = max(budget, 128)  # 2.5 Pro cannot turn thinking off
    return types.ThinkingConfig(include_thoughts=budget > 0, thinking_budget=budget)


_SAFETY_OPTIONS = (
    (types.HarmCategory.HARM_CATEGORY_HARASSMENT, CONF_HARASSMENT_BLOCK_THRESHOLD),
    (types.HarmCategory.HARM_CATEGORY_HATE_SPEECH, CONF_HATE_BLOCK_THRESHOLD),
    (types.HarmCategory.HARM_CATEGORY_SEXUALLY_EXPLICIT, CONF_SEXUAL_BLOCK_THRESHOLD),
    (types.HarmCategory.HARM_CATEGORY_DANGEROUS_CONTENT, CONF_DANGEROUS_BLOCK_THRESHOLD),
)


def generate_config(model: str, options: Mapping[str, Any]) -> types.GenerateContentConfig:
    """Sampling, output limit, safety and thinking for a text model, from a subentry's options."""
    config = types.GenerateContentConfig(
        max_output_tokens=int(options.get(CONF_MAX_TOKENS, RECOMMENDED_MAX_TOKENS)),
        safety_settings=[
            types.SafetySetting(
                category=category,
                threshold=types.HarmBlockThreshold(options.get(key, RECOMMENDED_HARM_BLOCK_THRESHOLD)),
            )
            for category, key in _SAFETY_OPTIONS
        ],
        thinking_config=thinking_config(model, options),
        # Home Assistant runs the tools itself (only exposed entities can be reached that way).
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    if supports_sampling(model):
        config.temperature = float(options.get(CONF_TEMPERATURE, RECOMMENDED_TEMPERATURE))
        config.top_p = float(options.get(CONF_TOP_P, RECOMMENDED_TOP_P))
        config.top_k = int(options.get(CONF_TOP_K, RECOMMENDED_TOP_K))
    return config
