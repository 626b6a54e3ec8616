"""Diagnostics show what support needs and no secret: no API key, no private key, no token, no account."""

from __future__ import annotations

import json

import pytest
from gemini_live_emulator import Emulator
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from .common import KEY_A


@pytest.fixture(autouse=True)
async def diagnostics(hass: HomeAssistant) -> None:
    """The diagnostics integration."""
    assert await async_setup_component(hass, "diagnostics", {})


async def test_developer_diagnostics(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, developer_entry: ConfigEntry, emulator: Emulator
) -> None:
    """The API key is redacted; the endpoint and the agents' settings are shown."""
    data = await get_diagnostics_for_config_entry(hass, hass_client, developer_entry)
    text = json.dumps(data)
    assert KEY_A not in text
    assert data["data"]["api_key"] == "**REDACTED**"
    assert data["data"]["base_url"] == emulator.base_url
    assert data["runtime"] == {"vertexai": False, "consecutive_auth_failures": 0, "token_expires_at": None}
    assert sorted(sub["type"] for sub in data["subentries"].values()) == ["ai_task_data", "conversation", "stt", "tts"]


async def test_vertex_diagnostics(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, vertex_entry: ConfigEntry
) -> None:
    """The service-account key, its e-mail and the access token appear nowhere."""
    data = await get_diagnostics_for_config_entry(hass, hass_client, vertex_entry)
    text = json.dumps(data)
    account = vertex_entry.data["service_account"]
    token = vertex_entry.runtime_data.gemini.token
    assert token is not None
    for secret in (account["private_key"], account["private_key_id"], account["client_email"], token.token):
        assert secret not in text
    assert "PRIVATE KEY" not in text
    assert data["data"]["service_account"] == "**REDACTED**"
    assert data["data"]["project_id"] == vertex_entry.data["project_id"]
    assert data["runtime"]["vertexai"] is True
    assert data["runtime"]["token_expires_at"]
