"""Diagnostics: the entry, its subentries and the client's state, with every credential removed.

For a bridge: the link's state and the satellites (with their last turn), without the pairing token or
any Gemini token.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant

from .bridge import BridgeRuntime
from .const import CONF_CLIENT_EMAIL, CONF_PAIRING_TOKEN, CONF_SERVICE_ACCOUNT, CONF_SERVICE_ACCOUNT_JSON, is_bridge
from .runtime import GeminiLiveRuntime

TO_REDACT = {
    CONF_API_KEY,
    CONF_SERVICE_ACCOUNT,
    CONF_SERVICE_ACCOUNT_JSON,
    CONF_CLIENT_EMAIL,
    CONF_PAIRING_TOKEN,
    "private_key",
    "private_key_id",
    "token",
    "access_token",
}


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: ConfigEntry) -> dict[str, Any]:
    """What support needs to see, and nothing that lets anyone call Gemini as this user or pair a bridge."""
    base = {"title": entry.title, "data": dict(entry.data), "options": dict(entry.options)}
    if is_bridge(entry.data):
        bridge: BridgeRuntime = entry.runtime_data
        return async_redact_data({**base, "link": _link(bridge)}, TO_REDACT)
    runtime: GeminiLiveRuntime = entry.runtime_data
    token = runtime.gemini.token
    return async_redact_data(
        {
            **base,
            "subentries": {
                subentry_id: {"type": subentry.subentry_type, "title": subentry.title, "data": dict(subentry.data)}
                for subentry_id, subentry in entry.subentries.items()
            },
            "runtime": {
                "vertexai": bool(runtime.gemini.client.vertexai),
                "consecutive_auth_failures": runtime.auth_failures,
                "token_expires_at": token.expires_at.isoformat() if token and token.expires_at else None,
            },
        },
        TO_REDACT,
    )


def _link(bridge: BridgeRuntime) -> dict[str, Any]:
    welcome = bridge.welcome
    return {
        "state": bridge.link_state,
        "error": bridge.link_error,
        "connected": bridge.client.connected,
        "bridge": (
            {
                "id": welcome.hello.bridge_id,
                "name": welcome.hello.name,
                "version": welcome.hello.version,
                "protocol": welcome.protocol,
                "own_credentials": welcome.own_credentials,
            }
            if welcome
            else None
        ),
        "credentials": {"kind": bridge.credentials.kind, "tokens_minted_ahead": bridge.credentials.stock},
        "calls_remembered": len(bridge.calls.outcomes),
        "confirmations_waiting": len(bridge.calls.held),
        "satellites": [
            {
                "id": satellite.id,
                "name": satellite.name,
                "wake": satellite.wake,
                "connected": satellite.connected,
                "state": satellite.state,
                "muted": satellite.muted,
                "device_id": satellite.device_id,
                "tools": [tool["name"] for tool in setup.tools] if (setup := bridge.setups.get(satellite.id)) else [],
                "last_turn": satellite.last_turn,
            }
            for satellite in bridge.satellites.values()
        ],
    }
