"""Helpers for the Gemini Live tests: going through the config flow the way a user does."""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gemini_live_emulator import Emulator
from homeassistant.config_entries import SOURCE_USER, ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er

from custom_components.gemini_live.const import (
    AUTH_DEVELOPER,
    AUTH_VERTEX,
    CONF_LOCATION,
    CONF_SERVICE_ACCOUNT_JSON,
    DOMAIN,
)

KEY_A = "AIzaSyGeminiLiveTestKeyA000000000000000"
KEY_B = "AIzaSyGeminiLiveTestKeyB000000000000000"


def endpoint(emulator: Emulator) -> dict[str, str]:
    """The flow's endpoint section, aimed at the emulator."""
    return {"base_url": emulator.base_url, "ca_file": emulator.ca_file}


def service_account_text(emulator: Emulator) -> str:
    """The emulator's service-account key file, as a user would paste it."""
    return Path(emulator.service_account_file).read_text(encoding="utf-8")


async def start_flow(hass: HomeAssistant, auth_type: str) -> dict[str, Any]:
    """Open the flow and pick how to reach Gemini from its menu."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": auth_type})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == auth_type
    return dict(result)


async def add_developer_entry(hass: HomeAssistant, emulator: Emulator) -> ConfigEntry:
    """Go through the flow with the emulator's API key; return the loaded entry."""
    result = await start_flow(hass, AUTH_DEVELOPER)
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_KEY: emulator.api_key, "endpoint": endpoint(emulator)}
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    return entry


async def add_vertex_entry(hass: HomeAssistant, emulator: Emulator, **extra: Any) -> ConfigEntry:
    """Go through the flow with the emulator's service account; return the loaded entry."""
    result = await start_flow(hass, AUTH_VERTEX)
    user_input = {
        CONF_SERVICE_ACCOUNT_JSON: service_account_text(emulator),
        CONF_LOCATION: "us-central1",
        "endpoint": endpoint(emulator),
        **extra,
    }
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], user_input))
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    return entry


def subentry_of(entry: ConfigEntry, subentry_type: str) -> Any:
    """The (first) subentry of a type."""
    return next(s for s in entry.subentries.values() if s.subentry_type == subentry_type)


def entity_of(hass: HomeAssistant, entry: ConfigEntry, subentry_type: str, domain: str) -> str:
    """The entity id of a subentry's agent."""
    subentry = subentry_of(entry, subentry_type)
    entity_id = er.async_get(hass).async_get_entity_id(domain, DOMAIN, subentry.subentry_id)
    assert entity_id is not None
    return entity_id


def as_json(data: Mapping[str, Any]) -> str:
    """Pretty JSON (for assertion messages)."""
    return json.dumps(data, indent=1, default=str)


def closed_port_url() -> str:
    """An https URL on a loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"https://127.0.0.1:{port}"
