"""The logbook's lines for a bridged satellite: each voice turn, each tool call, each spoken confirmation.

A tool call's state changes carry the call's context, so the logbook shows them as triggered by it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.core import Event, HomeAssistant, callback

from .bridge import EVENT_TURN
from .const import DOMAIN
from .link_tools import EVENT_CONFIRMED, EVENT_TOOL_CALL

type Describe = Callable[[Event], dict[str, str]]


@callback
def async_describe_events(hass: HomeAssistant, async_describe_event: Callable[[str, str, Describe], None]) -> None:
    """Describe the integration's events."""
    async_describe_event(DOMAIN, EVENT_TURN, describe_turn)
    async_describe_event(DOMAIN, EVENT_TOOL_CALL, describe_tool_call)
    async_describe_event(DOMAIN, EVENT_CONFIRMED, describe_confirmed)


def _entry(data: Mapping[str, Any], message: str) -> dict[str, str]:
    described = {"name": str(data.get("name") or data.get("satellite") or "Gemini Live"), "message": message}
    if data.get("entity_id"):
        described["entity_id"] = str(data["entity_id"])
    return described


@callback
def describe_turn(event: Event) -> dict[str, str]:
    """heard "…", answered "…" (and the tools it ran, or the error)."""
    data = event.data
    message = f'heard "{data.get("user") or ""}", answered "{data.get("reply") or ""}"'
    if data.get("tools"):
        message += f" (tools: {', '.join(str(tool) for tool in data['tools'])})"
    if data.get("error"):
        message += f"; failed: {data['error']}"
    return _entry(data, message)


@callback
def describe_tool_call(event: Event) -> dict[str, str]:
    """ran a tool (the state changes it made point here)."""
    data = event.data
    return _entry(data, f"ran {data.get('tool')} {data.get('args') or {}}")


@callback
def describe_confirmed(event: Event) -> dict[str, str]:
    """ran a tool after the user's spoken yes (with the words heard)."""
    data = event.data
    return _entry(data, f'ran {data.get("tool")} {data.get("args") or {}} after hearing "{data.get("heard")}"')
