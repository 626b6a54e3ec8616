"""The chat log as Gemini contents, the request config, and the model's parts kept for replay."""

from __future__ import annotations

import datetime
import json

import pytest
from google.genai import types
from homeassistant.components import conversation
from homeassistant.helpers import llm

from custom_components.gemini_live.chat import (
    GeminiNative,
    build_contents,
    decode_arguments,
    gemini_version,
    generate_config,
    json_safe,
    supports_sampling,
    thinking_config,
)
from custom_components.gemini_live.schema import ToolNameMap
from custom_components.gemini_live.stream import _part_delta

AGENT = "conversation.gemini"
LONG_TOOL = "script__" + "x" * 70


def test_native_keeps_signatures_and_joins_streamed_text() -> None:
    """Streamed text pieces are joined; a signed part, a thought and a call stay parts of their own."""
    parts = [
        types.Part(text="Let me ", thought=True),
        types.Part(text="think.", thought=True),
        types.Part(text="The light ", thought_signature=b"\x01sig"),
        types.Part(text="is on."),
        types.Part(function_call=types.FunctionCall(name="intent__HassTurnOn", args={"name": "x"}, id="call-1")),
        types.Part(text="Done.", thought_signature=b"\x02sig"),
    ]
    native = GeminiNative.from_parts(parts)
    assert json.loads(json.dumps(native.parts)) == list(native.parts)  # JSON-safe, for traces
    content = native.content()
    assert content.role == "model"
    replayed = content.parts or []
    assert [part.text for part in replayed] == ["Let me think.", "The light is on.", None, "Done."]
    assert replayed[0].thought is True
    assert replayed[1].thought_signature == b"\x01sig"
    assert replayed[3].thought_signature == b"\x02sig"
    assert native.call_ids() == {"call-1"}


def test_history_conversion() -> None:
    """User, assistant (ours and another agent's) and tool results, in Gemini's shape."""
    names = ToolNameMap([LONG_TOOL])
    ours = GeminiNative.from_parts(
        [types.Part(function_call=types.FunctionCall(name="intent__HassTurnOn", args={}, id="g-1"))]
    )
    history: list[conversation.Content] = [
        conversation.AssistantContent(agent_id="other", content="Hello, I am your house."),
        conversation.UserContent(content=""),
        conversation.AssistantContent(
            agent_id="other",
            tool_calls=[
                llm.ToolInput(tool_name=LONG_TOOL, tool_args={"a": 1}, id="t-1"),
                llm.ToolInput(tool_name="web_search", tool_args={}, id="t-2", external=True),
            ],
        ),
        conversation.ToolResultContent(
            agent_id="other", tool_call_id="t-1", tool_name=LONG_TOOL, result=llm.ToolResult({"ok": True})
        ),
        conversation.AssistantContent(agent_id="other"),
        conversation.UserContent(content="turn it on"),
        conversation.AssistantContent(agent_id=AGENT, native=ours),
        conversation.ToolResultContent(
            agent_id=AGENT,
            tool_call_id="g-1",
            tool_name="intent__HassTurnOn",
            result=llm.ToolResult({"error": "MatchFailedError"}, error=True),
        ),
        conversation.ToolResultContent(
            agent_id=AGENT, tool_call_id="local-id", tool_name="llm__GetDateTime", result=llm.ToolResult({})
        ),
    ]
    contents = build_contents(history, names)
    roles = [content.role for content in contents]
    assert roles == ["user", "model", "user", "model", "user", "model", "user", "model", "user"]
    assert contents[0].parts is not None
    assert contents[0].parts[0].text == " "  # the history must open with the user
    assert contents[2].parts is not None
    assert contents[2].parts[0].text == " "  # an empty message still takes its turn
    other_call = contents[3].parts or []
    assert len(other_call) == 1  # the external call is not replayed as ours
    assert other_call[0].function_call is not None
    assert other_call[0].function_call.name == names.gemini(LONG_TOOL)
    result = (contents[4].parts or [])[0].function_response
    assert result is not None
    assert result.name == names.gemini(LONG_TOOL)
    assert result.response == {"output": {"ok": True}}
    assert result.id is None
    assert (contents[5].parts or [])[0].text == " "
    grouped = contents[8].parts or []
    assert len(grouped) == 2  # results of one round go back together
    assert grouped[0].function_response is not None
    assert grouped[0].function_response.response == {"error": {"error": "MatchFailedError"}}
    assert grouped[0].function_response.id == "g-1"  # Gemini's own call id comes back
    assert grouped[1].function_response is not None
    assert grouped[1].function_response.id is None


def test_json_safe_and_argument_decoding() -> None:
    """Dates become strings; escape sequences Gemini leaves in arguments are decoded."""
    assert json_safe({"at": datetime.date(2026, 1, 2), "t": datetime.time(3, 4), "s": {1}, "l": (1, 2)}) == {
        "at": "2026-01-02",
        "t": "03:04:00",
        "s": [1],
        "l": [1, 2],
    }
    assert decode_arguments({"name": ["caf\\xc3\\xa9 light", "plain"], "n": 1}) == {
        "name": ["café light", "plain"],
        "n": 1,
    }
    assert decode_arguments("broken \\x") == "broken \\x"


@pytest.mark.parametrize(
    ("model", "options", "expected"),
    [
        ("gemini-3.1-flash-lite", {}, types.ThinkingConfig(include_thoughts=True)),
        (
            "gemini-3-flash",
            {"thinking_level": "low"},
            types.ThinkingConfig(include_thoughts=True, thinking_level=types.ThinkingLevel.LOW),
        ),
        ("gemini-2.5-flash", {}, types.ThinkingConfig(include_thoughts=True)),
        ("gemini-2.5-flash", {"thinking_budget": 0}, types.ThinkingConfig(include_thoughts=False, thinking_budget=0)),
        ("gemini-2.5-pro", {"thinking_budget": 0}, types.ThinkingConfig(include_thoughts=True, thinking_budget=128)),
        ("gemini-2.5-flash-preview-tts", {}, None),
        ("gemini-2.0-flash", {}, None),
        ("gemma-3-27b", {}, None),
    ],
)
def test_thinking(model: str, options: dict, expected: types.ThinkingConfig | None) -> None:
    """Gemini 3 takes a level, 2.5 a budget (2.5 Pro at least 128); speech and older models nothing."""
    assert thinking_config(model, options) == expected


def test_sampling_and_config() -> None:
    """Sampling settings go only to models that take them; function calling stays with Home Assistant."""
    assert gemini_version("models/gemini-3.10-pro") == (3, 10)
    assert supports_sampling("gemini-3.1-flash-lite")
    assert not supports_sampling("gemini-3.6-flash")
    assert supports_sampling("gemma-3-27b")
    config = generate_config(
        "gemini-2.5-flash", {"temperature": 0.2, "max_tokens": 100, "hate_block_threshold": "BLOCK_NONE"}
    )
    assert config.temperature == 0.2
    assert config.max_output_tokens == 100
    assert config.automatic_function_calling == types.AutomaticFunctionCallingConfig(disable=True)
    assert config.safety_settings is not None
    assert types.HarmBlockThreshold.BLOCK_NONE in [setting.threshold for setting in config.safety_settings]
    assert generate_config("gemini-3.6-flash", {}).temperature is None


def test_part_deltas() -> None:
    """Thoughts, text and calls (with Gemini's call id when it gives one) as chat-log deltas."""
    names = ToolNameMap([LONG_TOOL])
    assert _part_delta(types.Part(text="hmm", thought=True), names) == {"thinking_content": "hmm"}
    assert _part_delta(types.Part(text="hi"), names) == {"content": "hi"}
    assert _part_delta(types.Part(), names) == {}
    call = types.FunctionCall(name=names.gemini(LONG_TOOL), args={"a": "b"}, id="abc")
    [tool_input] = _part_delta(types.Part(function_call=call), names)["tool_calls"]  # type: ignore[misc]
    assert (tool_input.tool_name, tool_input.tool_args, tool_input.id) == (LONG_TOOL, {"a": "b"}, "abc")
