"""Setting up, failing to set up, unloading and reloading an entry; the Vertex AI token timer; the repair
issue when authentication keeps failing."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest
from gemini_live_emulator import Emulator
from homeassistant.components import conversation
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_API_KEY, EVENT_HOMEASSISTANT_CLOSE
from homeassistant.core import Context, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import intent
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.gemini_live.const import (
    AUTH_DEVELOPER,
    AUTH_VERTEX,
    CONF_AUTH_TYPE,
    CONF_BASE_URL,
    CONF_CA_FILE,
    CONF_LOCATION,
    CONF_PROJECT_ID,
    CONF_SERVICE_ACCOUNT,
    DOMAIN,
    SUBENTRY_CONVERSATION,
    SUBENTRY_STT,
    SUBENTRY_TTS,
)
from custom_components.gemini_live.runtime import auth_issue_id

from .common import KEY_A, closed_port_url, endpoint, entity_of, service_account_text

pytestmark = pytest.mark.usefixtures("core")


async def add_entry(hass: HomeAssistant, data: dict[str, Any]) -> MockConfigEntry:
    """An entry as storage would hold it, then set up."""
    entry = MockConfigEntry(domain=DOMAIN, title="Gemini", data=data)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def developer_data(emulator: Emulator, **overrides: Any) -> dict[str, Any]:
    """Entry data for the Developer API, aimed at the emulator."""
    return {CONF_AUTH_TYPE: AUTH_DEVELOPER, CONF_API_KEY: KEY_A, **endpoint(emulator), **overrides}


async def converse(hass: HomeAssistant, entry: ConfigEntry, text: str) -> conversation.ConversationResult:
    """One message to the entry's agent."""
    agent = entity_of(hass, entry, SUBENTRY_CONVERSATION, "conversation")
    return await conversation.async_converse(hass, text, None, Context(), "en", agent_id=agent)


def sessions_of(entry: ConfigEntry) -> list[Any]:
    """The aiohttp sessions the entry's SDK client opened."""
    return list(entry.runtime_data.gemini.client._api_client._aiohttp_sessions.values())


@pytest.mark.parametrize(
    ("overrides", "state", "reauth"),
    [
        pytest.param(
            {CONF_API_KEY: "AIzaSy" + "Revoked".ljust(33, "0")}, ConfigEntryState.SETUP_ERROR, True, id="auth"
        ),
        pytest.param({"base_url": None}, ConfigEntryState.SETUP_RETRY, False, id="cannot-connect"),
        pytest.param({"path": "/not/an/api"}, ConfigEntryState.SETUP_ERROR, False, id="not-found"),
        pytest.param({CONF_API_KEY: None}, ConfigEntryState.SETUP_ERROR, False, id="corrupt-data"),
    ],
)
async def test_setup_errors(
    hass: HomeAssistant, emulator: Emulator, overrides: dict[str, Any], state: ConfigEntryState, reauth: bool
) -> None:
    """Refused credentials start reauth; an unreachable service is retried; anything else is an error."""
    data = developer_data(emulator)
    if "base_url" in overrides:
        data[CONF_BASE_URL] = closed_port_url()
    elif "path" in overrides:
        data[CONF_BASE_URL] = emulator.base_url + overrides["path"]
    elif overrides[CONF_API_KEY] is None:
        del data[CONF_API_KEY]
    else:
        data.update(overrides)
    entry = await add_entry(hass, data)
    assert entry.state is state
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert bool(flows) is reauth


async def test_setup_retries_on_quota(hass: HomeAssistant, emulator: Emulator) -> None:
    """A 429 at start-up is temporary: set-up is retried, and succeeds once the quota is back."""
    emulator.config.faults.reject_rest = 1
    entry = await add_entry(hass, developer_data(emulator))
    assert entry.state is ConfigEntryState.SETUP_RETRY
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_stored_key_that_cannot_sign(hass: HomeAssistant, emulator: Emulator) -> None:
    """A stored service-account key that no longer loads asks for new credentials."""
    info = json.loads(await asyncio.to_thread(service_account_text, emulator))
    broken = {**info, "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}
    data = {
        CONF_AUTH_TYPE: AUTH_VERTEX,
        CONF_SERVICE_ACCOUNT: broken,
        CONF_PROJECT_ID: "p",
        CONF_LOCATION: "us-central1",
        **endpoint(emulator),
    }
    entry = await add_entry(hass, data)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert [flow["context"]["source"] for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)] == [
        "reauth"
    ]


async def test_vertex_project_from_the_key(hass: HomeAssistant, emulator: Emulator) -> None:
    """Without a stored project, the key file's project is used."""
    info = json.loads(await asyncio.to_thread(service_account_text, emulator))
    data = {CONF_AUTH_TYPE: AUTH_VERTEX, CONF_SERVICE_ACCOUNT: info, CONF_LOCATION: "us-central1", **endpoint(emulator)}
    entry = await add_entry(hass, data)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.gemini.client._api_client.project == info["project_id"]


async def test_unload_closes_connections_and_reload_works(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """Unloading closes the SDK's sessions and removes the agents; a reload brings everything back."""
    assert (await converse(hass, developer_entry, "tell me a story")).response.speech["plain"]["speech"]
    sessions = sessions_of(developer_entry)
    assert sessions
    assert not any(session.closed for session in sessions)
    assert await hass.config_entries.async_unload(developer_entry.entry_id)
    await hass.async_block_till_done()
    assert developer_entry.state is ConfigEntryState.NOT_LOADED
    assert all(session.closed for session in sessions)
    for kind, domain in ((SUBENTRY_CONVERSATION, "conversation"), (SUBENTRY_TTS, "tts"), (SUBENTRY_STT, "stt")):
        state = hass.states.get(entity_of(hass, developer_entry, kind, domain))
        assert state is None or state.state == "unavailable"

    await hass.config_entries.async_reload(developer_entry.entry_id)
    await hass.async_block_till_done()
    assert developer_entry.state is ConfigEntryState.LOADED
    result = await converse(hass, developer_entry, "tell me a story")
    assert result.response.speech["plain"]["speech"].startswith("Once upon a time")


async def test_shutdown_closes_connections(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """When Home Assistant closes, the client's connections close too (entries are not unloaded then)."""
    await converse(hass, developer_entry, "tell me a story")
    sessions = sessions_of(developer_entry)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_CLOSE)
    await hass.async_block_till_done()
    assert sessions
    assert all(session.closed for session in sessions)


async def test_vertex_token_is_refreshed_before_it_expires(
    hass: HomeAssistant, vertex_entry: ConfigEntry, emulator: Emulator
) -> None:
    """Five minutes before the token expires, a new one is fetched (off the event loop); a refusal is
    counted and retried a minute later."""
    runtime = vertex_entry.runtime_data
    token = runtime.gemini.token
    assert token is not None
    assert token.expires_at is not None
    first = token.token

    async_fire_time_changed(hass, token.expires_at - timedelta(minutes=4))
    await hass.async_block_till_done(wait_background_tasks=True)
    second = token.token
    assert second != first
    assert emulator.credentials.access_token_valid(second)

    account = emulator.service_account
    assert account is not None
    emulator.service_account = dataclasses.replace(account, client_email="someone-else@example.com")
    async_fire_time_changed(hass, token.expires_at - timedelta(minutes=4))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert token.token == second
    assert runtime.auth_failures == 1

    emulator.service_account = account
    async_fire_time_changed(hass, token.expires_at - timedelta(minutes=2))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert token.token != second
    assert runtime.auth_failures == 0
    result = await converse(hass, vertex_entry, "tell me a story")
    assert result.response.speech["plain"]["speech"].startswith("Once upon a time")


async def test_vertex_refused_token_is_replaced(
    hass: HomeAssistant, vertex_entry: ConfigEntry, emulator: Emulator
) -> None:
    """A token the service stops accepting fails one request; the next one fetches a new token."""
    emulator.credentials.access_tokens.clear()
    failed = await converse(hass, vertex_entry, "tell me a story")
    assert failed.response.response_type is intent.IntentResponseType.ERROR
    assert vertex_entry.runtime_data.auth_failures == 1
    result = await converse(hass, vertex_entry, "tell me a story")
    assert result.response.speech["plain"]["speech"].startswith("Once upon a time")
    assert vertex_entry.runtime_data.auth_failures == 0


def repairs(hass: HomeAssistant) -> list[ir.IssueEntry]:
    """Every repair the user sees (the integration's and Home Assistant's)."""
    return [issue for issue in ir.async_get(hass).issues.values() if issue.active]


async def refuse_three_times(hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator) -> None:
    """The key is revoked; three requests in a row are refused, each answered with one short sentence."""
    emulator.credentials.api_keys.discard(KEY_A)
    for attempt in range(3):
        result = await converse(hass, entry, "tell me a story")
        assert result.response.response_type is intent.IntentResponseType.ERROR
        assert result.response.speech["plain"]["speech"] == "Gemini refused the sign-in."
        assert bool(repairs(hass)) is (attempt == 2)
    await hass.async_block_till_done()


async def test_one_repair_when_authentication_keeps_failing(
    hass: HomeAssistant, developer_entry: ConfigEntry, emulator: Emulator
) -> None:
    """Three refusals in a row ask for new credentials: one repair (Home Assistant's re-authentication), and
    it goes once a request succeeds again."""
    await refuse_three_times(hass, developer_entry, emulator)
    [repair] = repairs(hass)
    assert repair.translation_key == "config_entry_reauth"
    assert repair.issue_domain == DOMAIN
    assert [flow["context"]["source"] for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)] == [
        "reauth"
    ]

    emulator.credentials.api_keys.add(KEY_A)  # the user fixed billing in Google Cloud
    result = await converse(hass, developer_entry, "tell me a story")
    assert result.response.response_type is intent.IntentResponseType.ACTION_DONE
    assert repairs(hass) == []
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []
    assert developer_entry.runtime_data.auth_failures == 0


@pytest.mark.parametrize("key", [KEY_A, ""], ids=["same-key-typed", "key-left-empty"])
async def test_reauth_with_the_same_credentials_clears_the_repair(
    hass: HomeAssistant, developer_entry: ConfigEntry, emulator: Emulator, key: str
) -> None:
    """The user fixed billing, then re-authenticates with the key in use: the repair goes, nothing is left."""
    await refuse_three_times(hass, developer_entry, emulator)
    emulator.credentials.api_keys.add(KEY_A)
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {CONF_API_KEY: key})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert repairs(hass) == []
    assert developer_entry.data[CONF_API_KEY] == KEY_A
    assert developer_entry.state is ConfigEntryState.LOADED
    assert developer_entry.runtime_data.auth_failures == 0
    result = await converse(hass, developer_entry, "tell me a story")
    assert result.response.response_type is intent.IntentResponseType.ACTION_DONE


async def test_an_issue_left_by_an_earlier_version_is_removed(
    hass: HomeAssistant, developer_entry: ConfigEntry
) -> None:
    """Earlier versions raised an issue of their own beside the re-authentication; it goes on set-up and removal."""
    issue_id = auth_issue_id(developer_entry.entry_id)
    ir.async_create_issue(
        hass, DOMAIN, issue_id, is_fixable=False, severity=ir.IssueSeverity.ERROR, translation_key="auth_failing"
    )
    await hass.config_entries.async_reload(developer_entry.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    ir.async_create_issue(
        hass, DOMAIN, issue_id, is_fixable=False, severity=ir.IssueSeverity.ERROR, translation_key="auth_failing"
    )
    await hass.config_entries.async_remove(developer_entry.entry_id)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_devices_per_agent(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """Every agent is a service device of its own, named after its subentry."""
    from homeassistant.helpers import device_registry as dr

    devices = dr.async_entries_for_config_entry(dr.async_get(hass), developer_entry.entry_id)
    assert sorted(device.name for device in devices) == [
        "Gemini AI Task",
        "Gemini STT",
        "Gemini TTS",
        "Gemini conversation",
    ]
    assert all(device.entry_type is dr.DeviceEntryType.SERVICE for device in devices)
    assert all(device.manufacturer == "Google" for device in devices)
    assert hass.states.get("conversation.gemini_conversation") is not None
    assert hass.states.get("tts.gemini_tts") is not None
    assert hass.states.get("stt.gemini_stt") is not None
    assert developer_entry.data[CONF_CA_FILE]
