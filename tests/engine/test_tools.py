"""The tool executor interface and the built-in tools (``gemini_live_engine.tools``)."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from google.genai import types

from gemini_live_engine.tools import BuiltinTools, CombinedTools, ToolError, ToolExecutor

NOON_UTC = datetime.datetime(2026, 11, 22, 12, 5, tzinfo=datetime.UTC)


class Lights:
    """A second executor, as Home Assistant's will be."""

    def declarations(self) -> list[types.FunctionDeclaration]:
        """One function, and one that clashes with a built-in name."""
        return [types.FunctionDeclaration(name="turn_on"), types.FunctionDeclaration(name="get_current_time")]

    async def call(self, call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Echo the call."""
        return {"called": name, "args": args}


async def test_current_time_in_the_local_zone() -> None:
    """get_current_time tells the date, time, weekday and zone of the bridge's time zone."""
    tools = BuiltinTools(ZoneInfo("Africa/Cairo"), clock=lambda: NOON_UTC)
    assert isinstance(tools, ToolExecutor)
    assert await tools.call("c1", "get_current_time", {}) == {
        "date": "2026-11-22",
        "time": "14:05",
        "weekday": "Sunday",
        "timezone": "EET",
        "utc_offset": "+02:00",
    }


async def test_end_conversation_and_unknown() -> None:
    """end_conversation only reports; an unknown name is a ToolError the model is told about."""
    tools = BuiltinTools()
    assert await tools.call("c1", "end_conversation", {}) == {"ended": True}
    with pytest.raises(ToolError, match="unknown function nope"):
        await tools.call("c2", "nope", {})
    assert [d.name for d in tools.declarations()] == ["get_current_time", "end_conversation"]
    assert {d.behavior for d in tools.declarations()} == {types.Behavior.BLOCKING}


async def test_combined_tools_dispatch_by_name() -> None:
    """Declarations merged (first declaration of a name wins); each call goes to the executor declaring it."""
    combined = CombinedTools(BuiltinTools(clock=lambda: NOON_UTC), Lights())
    assert [d.name for d in combined.declarations()] == ["get_current_time", "end_conversation", "turn_on"]
    assert await combined.call("c1", "turn_on", {"name": "kitchen"}) == {
        "called": "turn_on",
        "args": {"name": "kitchen"},
    }
    assert (await combined.call("c2", "get_current_time", {}))["date"] == "2026-11-22"
    with pytest.raises(ToolError):
        await combined.call("c3", "open_pod_bay_doors", {})
