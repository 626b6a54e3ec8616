"""Helpers for the link tests: the real bridge in-process, and Home Assistant pairing with it through its flow."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event

from custom_components.gemini_live.bridge import BridgeRuntime, satellite_identifier
from custom_components.gemini_live.const import CONF_PAIRING_TOKEN, DOMAIN, KIND_BRIDGE
from tests.bridge.satellite_helpers import TurnWatcher
from wyoming_bridge.app import Bridge
from wyoming_bridge.link.home import HomeLink
from wyoming_bridge.settings import BridgeSettings, default_settings

TOKEN = "pairing-token-for-the-tests"
WAIT_S = 30.0  # a safety net for a broken chain, never a synchronisation


FRONT_DOOR_LOCK = {
    "name": "Front door",
    "unique_id": "front_door",
    "state": "{{ 'locked' if is_state('input_boolean.front_door_locked', 'on') else 'unlocked' }}",
    "lock": {"action": "input_boolean.turn_on", "target": {"entity_id": "input_boolean.front_door_locked"}},
    "unlock": {"action": "input_boolean.turn_off", "target": {"entity_id": "input_boolean.front_door_locked"}},
}
"""A template lock whose state follows input_boolean.front_door_locked."""


def link_settings(data_dir: Path, port: int = 0, **overrides: Any) -> BridgeSettings:
    """A bridge with the link and no Gemini key of its own (Home Assistant hands out the credentials)."""
    values: dict[str, Any] = {
        "uri": f"tcp://127.0.0.1:{port}",
        "data_dir": data_dir,
        "pairing_token": TOKEN,
        "pipeline": "live",
        "follow_up_s": 6.0,
        "tool_timeout_s": 15.0,
        "log_format": "%(message)s",
    }
    values |= overrides
    return default_settings((), None, **values)


class EventQueue:
    """Home Assistant events of one type, as they are fired."""

    def __init__(self, hass: HomeAssistant, event_type: str) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue()

        @callback
        def _fired(event: Event) -> None:
            self._queue.put_nowait(event)

        hass.bus.async_listen(event_type, _fired)

    async def next(self) -> Event:
        """The next event."""
        async with asyncio.timeout(WAIT_S):
            return await self._queue.get()


async def wait_state(hass: HomeAssistant, entity_id: str, state: str) -> None:
    """Return once ``entity_id`` is in ``state`` (at once if it is already)."""
    reached = asyncio.get_running_loop().create_future()

    @callback
    def _changed(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if new is not None and new.state == state and not reached.done():
            reached.set_result(None)

    unsubscribe = async_track_state_change_event(hass, entity_id, _changed)
    try:
        current = hass.states.get(entity_id)
        if current is None or current.state != state:
            async with asyncio.timeout(WAIT_S):
                await reached
    finally:
        unsubscribe()


class LinkProbe:
    """Every message the bridge took from Home Assistant, in order (the bridge handles each one first)."""

    def __init__(self, home: HomeLink) -> None:
        self.messages: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        handle = home.handle

        async def recording_handle(message: dict[str, Any]) -> None:
            await handle(message)
            async with self._changed:
                self.messages.append(message)
                self._changed.notify_all()

        home.handle = recording_handle  # type: ignore[method-assign]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """The messages of one type."""
        return [message for message in self.messages if message["type"] == kind]

    async def wait_for(self, kind: str, check: Callable[[dict[str, Any]], bool] = lambda _m: True) -> dict[str, Any]:
        """The first message of ``kind`` that passes ``check`` (waiting for it if need be)."""
        async with asyncio.timeout(WAIT_S), self._changed:
            while True:
                for message in self.of_type(kind):
                    if check(message):
                        return message
                await self._changed.wait()


@dataclass
class RunningBridge:
    """The bridge under test, what it hears from Home Assistant, and its finished turns."""

    bridge: Bridge
    probe: LinkProbe
    turns: TurnWatcher
    port: int
    settings: BridgeSettings
    satellites: list[str] = field(default_factory=list)

    @property
    def home(self) -> HomeLink:
        """The bridge's side of the link."""
        assert self.bridge.home is not None
        return self.bridge.home


async def start_bridge(settings: BridgeSettings) -> RunningBridge:
    """Start the real bridge in-process."""
    turns = TurnWatcher()
    bridge = Bridge(settings, on_turn_end=turns)
    assert bridge.home is not None
    probe = LinkProbe(bridge.home)
    await bridge.start()
    assert bridge.link_server is not None
    return RunningBridge(bridge, probe, turns, bridge.link_server.port, settings)


async def start_bridge_flow(hass: HomeAssistant) -> dict[str, Any]:
    """Open the flow and choose the bridge from its menu."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": KIND_BRIDGE})
    assert result["type"] is FlowResultType.FORM, result
    assert result["step_id"] == KIND_BRIDGE
    return dict(result)


async def add_bridge_entry(hass: HomeAssistant, port: int, token: str = TOKEN, **extra: Any) -> ConfigEntry:
    """Pair with the bridge through the flow, as a user does; return the loaded entry."""
    result = await start_bridge_flow(hass)
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: port, CONF_PAIRING_TOKEN: token, **extra}
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry: ConfigEntry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    return entry


def runtime_of(entry: ConfigEntry) -> BridgeRuntime:
    """The bridge entry's runtime."""
    runtime: BridgeRuntime = entry.runtime_data
    return runtime


def satellite_device(hass: HomeAssistant, entry: ConfigEntry, sat_id: str) -> dr.DeviceEntry:
    """The Home Assistant device of a bridged satellite."""
    device = dr.async_get(hass).async_get_device_by_identifier(
        satellite_identifier(runtime_of(entry).bridge_id, sat_id), entry.entry_id
    )
    assert device is not None
    return device


def satellite_entity(hass: HomeAssistant, entry: ConfigEntry, domain: str, sat_id: str, key: str | None = None) -> str:
    """The entity id of one of a satellite's entities."""
    unique_id = f"{runtime_of(entry).bridge_id}/{sat_id}" + (f"/{key}" if key else "")
    entity_id = er.async_get(hass).async_get_entity_id(domain, DOMAIN, unique_id)
    assert entity_id is not None, unique_id
    return entity_id


def link_entity(hass: HomeAssistant, entry: ConfigEntry) -> str:
    """The entity id of the bridge's link sensor."""
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{runtime_of(entry).bridge_id}/link")
    assert entity_id is not None
    return entity_id
