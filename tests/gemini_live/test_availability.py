"""Gemini unreachable, as a user meets it: one short spoken sentence in their language, agents unavailable
(logged once) until Gemini answers again, the entry's card with a translated reason, and Vertex AI's
refusals without google-auth's internals."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from gemini_live_emulator import Emulator, EmulatorConfig, Scenario
from homeassistant.components import conversation
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import intent
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.gemini_live.const import DOMAIN, SUBENTRY_CONVERSATION, SUBENTRY_STT, SUBENTRY_TTS
from custom_components.gemini_live.runtime import PROBE_INTERVAL_S

from .common import add_developer_entry, add_vertex_entry, entity_of

pytestmark = pytest.mark.usefixtures("core")

# What a Python traceback or an SDK message would leak into speech.
INTERNALS = ("ssl", "SSLContext", "Cannot connect", "127.0.0.1", "http", "(", "Error")


@pytest.fixture
async def emulator(emulator_config: EmulatorConfig, scenario: Scenario, tmp_path: Path) -> AsyncIterator[Emulator]:
    """An emulator that keeps its CA and keys in a directory, so that it can go away and come back (it
    replaces the shared fixture)."""
    running = Emulator(emulator_config, scenario, state_dir=tmp_path / "emulator")
    await running.start()
    assert running.info is not None
    running.config.port = running.info.port  # come back on the same address
    yield running
    await running.stop()


def agents(hass: HomeAssistant, entry: ConfigEntry) -> list[str]:
    """The entry's three agents."""
    return [
        entity_of(hass, entry, SUBENTRY_CONVERSATION, "conversation"),
        entity_of(hass, entry, SUBENTRY_TTS, "tts"),
        entity_of(hass, entry, SUBENTRY_STT, "stt"),
    ]


def ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The integration's log records."""
    return [record for record in caplog.records if record.name.startswith("custom_components.gemini_live")]


async def converse(hass: HomeAssistant, entry: ConfigEntry, language: str) -> conversation.ConversationResult:
    """One message to the entry's conversation agent."""
    agent = entity_of(hass, entry, SUBENTRY_CONVERSATION, "conversation")
    return await conversation.async_converse(hass, "tell me a story", None, Context(), language, agent_id=agent)


async def test_unreachable_gemini_is_one_sentence_and_the_agents_go_unavailable(
    hass: HomeAssistant, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The service goes away: each language hears one short sentence; the log says why, once; the agents
    are unavailable; a check every 30 s sees Gemini back and makes them available again."""
    entry = await add_developer_entry(hass, emulator)
    await emulator.stop()
    caplog.clear()

    english = await converse(hass, entry, "en")
    arabic = await converse(hass, entry, "ar-SA")
    assert english.response.response_type is intent.IntentResponseType.ERROR
    assert english.response.speech["plain"]["speech"] == "I can't reach Gemini right now."
    assert arabic.response.speech["plain"]["speech"] == "لا أستطيع الوصول إلى Gemini الآن."
    for result in (english, arabic):
        assert not any(word in result.response.speech["plain"]["speech"] for word in INTERNALS)

    unreachable = [r for r in ours(caplog) if "Gemini is unreachable" in r.getMessage()]
    assert len(unreachable) == 1  # once per outage, not once per request
    assert unreachable[0].levelno == logging.WARNING
    assert "Cannot connect" in unreachable[0].getMessage()  # the details are in the log
    assert "refused the credentials" not in caplog.text
    for entity_id in agents(hass, entry):
        assert hass.states.get(entity_id).state == STATE_UNAVAILABLE

    # Still away at the first check: still unavailable, and nothing more in the log above debug.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=PROBE_INTERVAL_S + 1))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert all(hass.states.get(entity_id).state == STATE_UNAVAILABLE for entity_id in agents(hass, entry))
    assert len([r for r in ours(caplog) if r.levelno >= logging.INFO and "unreachable" in r.getMessage()]) == 1

    await emulator.start()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=2 * PROBE_INTERVAL_S + 2))
    await hass.async_block_till_done(wait_background_tasks=True)
    for entity_id in agents(hass, entry):
        assert hass.states.get(entity_id).state != STATE_UNAVAILABLE
    assert len([r for r in ours(caplog) if "answers again" in r.getMessage()]) == 1
    result = await converse(hass, entry, "en")
    assert result.response.speech["plain"]["speech"] == "Once upon a time there was a light. It lived happily."


async def test_a_request_that_goes_through_makes_the_agents_available(hass: HomeAssistant, emulator: Emulator) -> None:
    """An agent used while marked unavailable, once Gemini is back, answers and is available again."""
    entry = await add_developer_entry(hass, emulator)
    await emulator.stop()
    await converse(hass, entry, "en")
    assert hass.states.get(agents(hass, entry)[0]).state == STATE_UNAVAILABLE
    await emulator.start()
    result = await converse(hass, entry, "en")
    assert result.response.response_type is intent.IntentResponseType.ACTION_DONE
    assert all(hass.states.get(entity_id).state != STATE_UNAVAILABLE for entity_id in agents(hass, entry))


async def test_gemini_refusing_at_the_check_is_reachable(
    hass: HomeAssistant, emulator: Emulator, emulator_config: EmulatorConfig
) -> None:
    """A check that Gemini answers with a refusal (a quota) still shows that Gemini is back."""
    entry = await add_developer_entry(hass, emulator)
    await emulator.stop()
    await converse(hass, entry, "en")
    await emulator.start()
    emulator.config.faults.reject_rest = 1
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=PROBE_INTERVAL_S + 1))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert emulator.config.faults.reject_rest == 0
    assert all(hass.states.get(entity_id).state != STATE_UNAVAILABLE for entity_id in agents(hass, entry))


async def test_the_entry_card_shows_a_translated_reason(
    hass: HomeAssistant, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Set up while Gemini is away: the card's reason is one translated sentence; the details are logged."""
    entry = await add_developer_entry(hass, emulator)
    await hass.config_entries.async_unload(entry.entry_id)
    await emulator.stop()
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.error_reason_translation_key == "setup_cannot_connect"
    assert not entry.error_reason_translation_placeholders
    assert entry.reason == "Could not reach Gemini"
    assert "Could not set up Gemini Live (cannot_connect): ClientConnectorError" in caplog.text


async def test_setup_error_card_for_an_endpoint_that_is_not_gemini(hass: HomeAssistant, emulator: Emulator) -> None:
    """An endpoint that answers, but not as Gemini: the card says set-up failed and where the details are."""
    data = {
        "auth_type": "developer",
        "api_key": emulator.api_key,
        "base_url": emulator.base_url + "/not/gemini",
        "ca_file": emulator.ca_file,
    }
    entry = MockConfigEntry(domain=DOMAIN, title="Gemini", data=data)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason == "Gemini could not be set up; the log has the details"  # HA drops the full stop


async def test_vertex_refusal_is_one_sentence(
    hass: HomeAssistant, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The token endpoint refuses the service account: the user hears one sentence, not google-auth's tuple."""
    entry = await add_vertex_entry(hass, emulator)
    token = entry.runtime_data.gemini.token
    assert token is not None
    account = emulator.service_account
    assert account is not None
    emulator.service_account = dataclasses.replace(account, client_email="someone-else@example.com")
    token.invalidate()
    result = await converse(hass, entry, "ar")
    assert result.response.speech["plain"]["speech"] == "رفض Gemini تسجيل الدخول."
    result = await converse(hass, entry, "en")
    assert result.response.speech["plain"]["speech"] == "Gemini refused the sign-in."
    assert "RefreshError: invalid_grant" in caplog.text
    assert "{'error'" not in caplog.text  # the token endpoint's whole answer stays out of the log
