"""A bridge entry's runtime with the real bridge: reloads, refusals at set-up, errors, credentials, diagnostics."""

from __future__ import annotations

import datetime
import json

import pytest
from gemini_live_emulator import Emulator
from homeassistant.components.assist_satellite import AssistSatelliteConfiguration
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.gemini_live import async_remove_config_entry_device
from custom_components.gemini_live.config_flow import GeminiLiveConfigFlow
from custom_components.gemini_live.const import (
    CONF_ACCOUNT,
    CONF_BRIDGE_ID,
    CONF_KIND,
    CONF_PAIRING_TOKEN,
    DOMAIN,
    KIND_BRIDGE,
    RECOMMENDED_LIVE_MODEL,
)

from .helpers import (
    TOKEN,
    RunningBridge,
    add_bridge_entry,
    link_entity,
    runtime_of,
    satellite_device,
    satellite_entity,
    wait_state,
)
from .satellite import TalkingSatellite
from .test_voice import link_satellite


def bridge_entry(account: ConfigEntry, port: int, token: str = TOKEN, bridge_id: str = "b") -> MockConfigEntry:
    """A bridge entry as the flow would have saved it."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Gemini Live bridge (test)",
        unique_id=bridge_id,
        data={
            CONF_KIND: KIND_BRIDGE,
            CONF_HOST: "127.0.0.1",
            CONF_PORT: port,
            CONF_PAIRING_TOKEN: token,
            CONF_BRIDGE_ID: bridge_id,
            CONF_ACCOUNT: account.entry_id,
        },
    )


async def test_reload_restores_the_satellites_and_their_mute(
    hass: HomeAssistant, developer_entry: ConfigEntry, bridge: RunningBridge, satellite: TalkingSatellite
) -> None:
    """After a reload the satellite's entities come back at once, and the mute switch restores its choice."""
    entry = await add_bridge_entry(hass, bridge.port)
    await link_satellite(bridge, satellite)
    mute = satellite_entity(hass, entry, "switch", satellite.uri, "mute")
    await hass.services.async_call("switch", "turn_on", {"entity_id": mute}, blocking=True)
    await bridge.probe.wait_for("mute")

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert satellite.uri in runtime_of(entry).satellites
    assert hass.states.get(mute).state == "on"
    await bridge.probe.wait_for("mute", lambda _message: len(bridge.probe.of_type("mute")) == 2)
    await hass.services.async_call("switch", "turn_off", {"entity_id": mute}, blocking=True)
    assert (await bridge.probe.wait_for("mute", lambda message: message["muted"] is False))[
        "satellite"
    ] == satellite.uri
    assert not bridge.bridge.controller(satellite.uri).muted


async def test_a_refused_token_at_set_up_starts_reauth(
    hass: HomeAssistant, developer_entry: ConfigEntry, bridge: RunningBridge
) -> None:
    """A token the bridge refuses at start-up: the entry fails and asks for the token (then works)."""
    entry = bridge_entry(developer_entry, bridge.port, token="an-old-token", bridge_id=bridge.bridge.identity.bridge_id)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN, match_context={"source": "reauth"})
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {CONF_PAIRING_TOKEN: TOKEN})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_something_else_at_the_address_is_an_error(
    hass: HomeAssistant, developer_entry: ConfigEntry, not_a_bridge: int
) -> None:
    """Not a bridge at the address: a set-up error (retrying would not help)."""
    entry = bridge_entry(developer_entry, not_a_bridge)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR


async def test_errors_the_bridge_reports_are_logged_and_unknown_messages_ignored(
    hass: HomeAssistant,
    developer_entry: ConfigEntry,
    bridge: RunningBridge,
    satellite: TalkingSatellite,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What the bridge could not handle is logged; newer messages and unknown satellites are ignored."""
    entry = await add_bridge_entry(hass, bridge.port)
    runtime = runtime_of(entry)
    runtime.async_link_message({"type": "error", "code": "bad_message", "message": "mute: no satellite 'x'"})
    runtime.async_link_message({"type": "something_newer", "value": 1})
    runtime.async_link_message({"type": "state", "satellite": "unknown", "state": "listening"})
    runtime.async_link_message({"type": "satellites", "satellites": ["not an object", {"name": "no id"}]})
    assert "The bridge could not handle a message: mute: no satellite 'x' (bad_message)" in caplog.text
    assert runtime.satellites == {}


async def test_announcements_that_cannot_play_fail_with_a_reason(
    hass: HomeAssistant, developer_entry: ConfigEntry, bridge: RunningBridge
) -> None:
    """The bridge's reason comes back as the action's error; with no link, the error says so."""
    entry = await add_bridge_entry(hass, bridge.port)
    runtime = runtime_of(entry)
    with pytest.raises(HomeAssistantError, match="no satellite tcp://nowhere"):
        await runtime.async_announce("tcp://nowhere", text="Hello", audio=None)
    await bridge.bridge.stop()
    await runtime.client.async_stop()
    with pytest.raises(HomeAssistantError, match="not linked"):
        await runtime.async_announce("tcp://nowhere", text="Hello", audio=None)


async def test_wake_words_belong_to_the_bridge(
    hass: HomeAssistant, developer_entry: ConfigEntry, bridge: RunningBridge, satellite: TalkingSatellite
) -> None:
    """The satellite entity offers no wake words of Home Assistant's, and says where they are set."""
    entry = await add_bridge_entry(hass, bridge.port)
    await link_satellite(bridge, satellite)
    entity_id = satellite_entity(hass, entry, "assist_satellite", satellite.uri)
    entity = hass.data["assist_satellite"].get_entity(entity_id)
    config = entity.async_get_configuration()
    assert config == AssistSatelliteConfiguration(
        available_wake_words=[], active_wake_words=[], max_active_wake_words=0
    )
    with pytest.raises(HomeAssistantError, match="--wake-word"):
        await entity.async_set_configuration(config)


async def test_credentials_when_gemini_or_the_account_fails(
    hass: HomeAssistant, developer_entry: ConfigEntry, bridge: RunningBridge, emulator: Emulator
) -> None:
    """Gemini refusing to mint, or the account unloaded: the bridge gets an error, never a stale secret."""
    entry = await add_bridge_entry(hass, bridge.port)
    credentials = runtime_of(entry).credentials
    await credentials.async_stop()  # no token minted ahead
    emulator.config.faults.reject_rest = 1
    answer = await credentials.async_answer("r1", 9, RECOMMENDED_LIVE_MODEL)
    assert answer["type"] == "credentials" and answer["id"] == "r1"
    assert answer["error"].startswith("Gemini refused: 429")
    answer = await credentials.async_answer("r2", 9, RECOMMENDED_LIVE_MODEL)
    assert len(answer["tokens"]) == 4, "at most four per request"
    assert await hass.config_entries.async_unload(developer_entry.entry_id)
    answer = await credentials.async_answer("r3", 1, RECOMMENDED_LIVE_MODEL)
    assert answer["error"] == "the Gemini account is not set up in Home Assistant"
    credentials.async_mint_ahead(RECOMMENDED_LIVE_MODEL)
    assert credentials.stock == 0


async def test_vertex_access_token_is_refreshed_before_it_is_handed_out(
    hass: HomeAssistant, vertex_entry: ConfigEntry, bridge: RunningBridge
) -> None:
    """A Vertex AI token about to expire is refreshed first: the bridge never gets one that dies mid-session."""
    entry = await add_bridge_entry(hass, bridge.port)
    token = vertex_entry.runtime_data.gemini.token
    old = token.token
    token.expiry = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(seconds=30)
    answer = await runtime_of(entry).credentials.async_answer("r1", 1, RECOMMENDED_LIVE_MODEL)
    assert answer["vertex"]["access_token"] == token.token != old
    assert answer["vertex"]["project"] == vertex_entry.data["project_id"]
    assert answer["vertex"]["location"] == "us-central1"


@pytest.mark.usefixtures("developer_entry")
async def test_diagnostics_show_the_link_without_secrets(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    bridge: RunningBridge,
    satellite: TalkingSatellite,
    emulator: Emulator,
) -> None:
    """The link's state and the satellites are there; the pairing token and every Gemini token are not."""
    entry = await add_bridge_entry(hass, bridge.port)
    await link_satellite(bridge, satellite)
    await bridge.probe.wait_for("credentials")  # tokens have crossed the link
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    text = json.dumps(diagnostics)
    assert TOKEN not in text
    assert emulator.api_key not in text
    assert emulator.credentials.ephemeral_tokens
    assert not any(name in text for name in emulator.credentials.ephemeral_tokens)
    assert diagnostics["data"][CONF_PAIRING_TOKEN] == "**REDACTED**"
    link = diagnostics["link"]
    assert link["state"] == "connected"
    assert link["bridge"]["id"] == bridge.bridge.identity.bridge_id
    assert link["credentials"]["kind"] == "ephemeral"
    [shown] = link["satellites"]
    assert shown["id"] == satellite.uri
    assert shown["connected"] is True
    assert "intent__HassTurnOn" in shown["tools"]


async def test_only_bridges_have_options_and_only_accounts_agents(developer_entry: ConfigEntry) -> None:
    """The options flow is the bridge's; subentries (agents) are the account's."""
    bridge = bridge_entry(developer_entry, 1)
    assert GeminiLiveConfigFlow.async_supports_options_flow(bridge)
    assert not GeminiLiveConfigFlow.async_supports_options_flow(developer_entry)
    assert GeminiLiveConfigFlow.async_get_supported_subentry_types(bridge) == {}
    assert set(GeminiLiveConfigFlow.async_get_supported_subentry_types(developer_entry)) == {
        "conversation",
        "tts",
        "stt",
        "ai_task_data",
    }


async def test_a_satellite_the_bridge_no_longer_has_can_be_removed(
    hass: HomeAssistant, developer_entry: ConfigEntry, bridge: RunningBridge, satellite: TalkingSatellite
) -> None:
    """While the bridge has the satellite its device stays; once it is gone the user may remove it."""
    entry = await add_bridge_entry(hass, bridge.port)
    await link_satellite(bridge, satellite)
    runtime = runtime_of(entry)
    device = satellite_device(hass, entry, satellite.uri)
    assert runtime.device_id is not None
    assert not await async_remove_config_entry_device(hass, entry, device)
    assert not await async_remove_config_entry_device(hass, entry, dr.async_get(hass).async_get(runtime.device_id))
    assert not await async_remove_config_entry_device(hass, developer_entry, device), "agents go with subentries"
    await bridge.bridge.stop()
    await wait_state(hass, link_entity(hass, entry), "disconnected")
    assert await async_remove_config_entry_device(hass, entry, device)
    assert satellite.uri not in runtime.satellites
