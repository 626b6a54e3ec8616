"""Diagnostics: the entry, its subentries and the client's state, with every credential removed."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant

from . import GeminiLiveConfigEntry
from .const import CONF_CLIENT_EMAIL, CONF_SERVICE_ACCOUNT, CONF_SERVICE_ACCOUNT_JSON

TO_REDACT = {
    CONF_API_KEY,
    CONF_SERVICE_ACCOUNT,
    CONF_SERVICE_ACCOUNT_JSON,
    CONF_CLIENT_EMAIL,
    "private_key",
    "private_key_id",
    "token",
    "access_token",
}


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: GeminiLiveConfigEntry) -> dict[str, Any]:
    """What support needs to see, and nothing that lets anyone call Gemini as this user."""
    runtime = entry.runtime_data
    token = runtime.gemini.token
    return async_redact_data(
        {
            "title": entry.title,
            "data": dict(entry.data),
            "options": dict(entry.options),
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
