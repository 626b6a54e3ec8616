"""The cascaded fallback for satellites: Live refused or failing → Gemini text + speech over REST, told once."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from gemini_live_demo.simulated_satellite import SimulatedSatellite
from gemini_live_emulator import Emulator

from gemini_live_engine import ApiKeyCredentials, LiveError, LiveOptions, LiveSession, Notice
from gemini_live_engine.cascaded import FALLBACK_NOTICES, CascadedSession
from gemini_live_engine.pipeline import PipelineSource
from gemini_live_engine.tools import BuiltinTools
from tests.engine.live_helpers import collect
from tests.scenarios import TIME_SCENARIO

from .satellite_helpers import bridge_settings, running_bridge, wake_then_command

STEPS = (
    "for transcription",  # the user's audio sent to Gemini
    "transcript received",
    "sending the request to Gemini",
    "answer received",
    "converting the answer to speech",
    "speech: ",  # audio size
)


async def test_refused_live_model_is_answered_through_text_and_speech(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """No Live model: the spoken turn is answered through REST, each step logged, the user told why."""
    emulator.config.live_models = ()
    emulator.scenario = TIME_SCENARIO
    caplog.set_level(logging.INFO)
    async with SimulatedSatellite(wake_then_command("What time is it?"), mode="always", speed=4.0) as satellite:
        async with running_bridge(bridge_settings(emulator, (satellite.uri,))) as (_bridge, watcher):
            turn = await watcher.next()
    assert turn.error is None
    assert turn.user_text.strip() == "What time is it?"
    assert turn.tool_calls and turn.tool_calls[0].startswith("get_current_time")
    assert turn.reply_text.strip().startswith("It is ")
    assert len(satellite.record.played) / (2 * 22050) > 3.0, "the notice and the answer were played"
    assert [e.data["text"] for e in satellite.record.of_type("transcript")] == ["What time is it?"]
    log = caplog.text
    assert log.count("Gemini Live cannot be used") == 1
    assert log.count("notice: Gemini Live is not available") == 1
    for step in STEPS:
        assert step in log, f"no log line for {step!r}"
    assert "Live setup complete" not in log


async def test_user_is_told_once_per_outage_and_live_returns(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """auto: the first cascaded turn carries the notice, the next does not; Live is used again once it is back."""
    caplog.set_level(logging.INFO)
    served = emulator.config.live_models
    emulator.config.live_models = ()
    settings = bridge_settings(emulator, ())
    credentials = ApiKeyCredentials(emulator.api_key)
    options = LiveOptions(base_url=emulator.base_url, ca_file=emulator.ca_file)
    source = PipelineSource(
        "auto",
        credentials,
        options,
        BuiltinTools(),
        label="den",
        text_model=settings.text_model,
        tts_model=settings.tts_model,
    )
    source.start()
    try:
        notices = []
        for _ in range(2):
            session = await source.take()
            assert isinstance(session, CascadedSession)
            await session.send_text("Hello?")
            events = await collect(session)
            await session.close()
            notices.append([e for e in events if isinstance(e, Notice)])
        assert len(notices[0]) == 1 and notices[1] == []

        emulator.config.live_models = served  # Live is back: the standby's quiet retries get a warm session
        assert source.standby is not None
        await asyncio.wait_for(source.standby.wait_state("ready"), timeout=30)
        live = await source.take()
        assert isinstance(live, LiveSession)
        await live.close()
        assert "Gemini Live can be used again" in caplog.text
    finally:
        await source.close()
        await credentials.aclose()


async def test_failing_live_connections_fall_back(emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    """Every Live connect refused (429): the turn is still answered, through the cascaded path."""
    emulator.config.faults.reject_connects = 1000
    emulator.scenario = TIME_SCENARIO
    caplog.set_level(logging.INFO)
    async with SimulatedSatellite(wake_then_command("What time is it?"), mode="always", speed=4.0) as satellite:
        async with running_bridge(bridge_settings(emulator, (satellite.uri,))) as (_bridge, watcher):
            turn = await watcher.next()
    assert turn.error is None and turn.reply_text.strip().startswith("It is ")
    assert len(satellite.record.played) > 0
    assert "answering through Gemini text and speech (cascaded)" in caplog.text


async def test_live_pipeline_never_falls_back(emulator: Emulator) -> None:
    """--pipeline live: a refused model is an error event at the satellite, nothing is played."""
    emulator.config.live_models = ()
    async with SimulatedSatellite(wake_then_command("What time is it?"), mode="always", speed=4.0) as satellite:
        settings = bridge_settings(emulator, (satellite.uri,), pipeline="live")
        async with running_bridge(settings) as (_bridge, watcher):
            turn = await watcher.next()
    assert turn.error is not None and "not available" in turn.error
    assert satellite.record.of_type("error")
    assert satellite.record.played == bytearray()


async def test_cascaded_pipeline_never_opens_live(emulator: Emulator) -> None:
    """--pipeline cascaded: the turn is answered with no Live connection at all, and no notice."""
    emulator.scenario = TIME_SCENARIO
    async with SimulatedSatellite(wake_then_command("What time is it?"), mode="always", speed=4.0) as satellite:
        settings = bridge_settings(emulator, (satellite.uri,), pipeline="cascaded")
        async with running_bridge(settings) as (_bridge, watcher):
            turn = await watcher.next()
    assert turn.reply_text.strip().startswith("It is ")
    assert emulator.connections == []
    assert len(satellite.record.played) > 0


async def test_slow_live_setup_keeps_the_satellite_connected(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """live: no warm session yet and a 7 s setup; the satellite (5 s pong timeout) stays connected meanwhile,
    and what it said while the session was being set up reaches Gemini."""
    emulator.config.faults.setup_delay_ms = 7000
    emulator.scenario = TIME_SCENARIO
    caplog.set_level(logging.INFO)
    async with SimulatedSatellite(wake_then_command("What time is it?"), mode="always", speed=4.0) as satellite:
        settings = bridge_settings(emulator, (satellite.uri,), pipeline="live")
        async with running_bridge(settings) as (_bridge, watcher):
            turn = await watcher.next()
    assert turn.error is None, turn.error
    assert turn.session_ready_at is not None and turn.session_ready_at - turn.started_at > 5.0
    assert turn.reply_text.strip().startswith("It is ")
    assert "satellite disconnected" not in caplog.text
    assert len(satellite.record.played) > 0


async def test_auto_answers_through_cascaded_when_live_setup_is_too_slow(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """auto: a Live setup slower than the wait bound → this turn is answered through the cascaded path."""
    emulator.config.faults.setup_delay_ms = 7000
    emulator.scenario = TIME_SCENARIO
    caplog.set_level(logging.INFO)
    async with SimulatedSatellite(wake_then_command("What time is it?"), mode="always", speed=4.0) as satellite:
        async with running_bridge(bridge_settings(emulator, (satellite.uri,))) as (_bridge, watcher):
            turn = await watcher.next()
    assert turn.error is None and turn.reply_text.strip().startswith("It is ")
    assert "no Live session could be set up within 3 s" in caplog.text
    assert turn.session_ready_at is not None and turn.session_ready_at - turn.started_at < 5.0


def auto_source(emulator: Emulator, credentials: ApiKeyCredentials, **kwargs: Any) -> PipelineSource:
    """An auto pipeline aimed at the emulator, with the built-in tools."""
    settings = bridge_settings(emulator, ())
    return PipelineSource(
        "auto",
        credentials,
        LiveOptions(base_url=emulator.base_url, ca_file=emulator.ca_file),
        BuiltinTools(),
        label="den",
        text_model=settings.text_model,
        tts_model=settings.tts_model,
        **kwargs,
    )


async def test_the_notice_waits_for_a_turn_that_is_answered(emulator: Emulator) -> None:
    """A turn carrying the "Live is down" notice is dropped before its answer (its session closed, as a front
    end drops a turn not addressed to it by name): the next session's turn carries the notice."""
    emulator.config.live_models = ()
    credentials = ApiKeyCredentials(emulator.api_key)
    source = auto_source(emulator, credentials)
    source.start()
    try:
        dropped = await source.take()
        await dropped.send_text("What time is it?")
        before = await collect(dropped, lambda e: isinstance(e, Notice))
        await dropped.close()  # nothing of this turn reached the user
        answered = await source.take()
        await answered.send_text("What time is it?")
        events = await collect(answered)
        await answered.close()
        later = await source.take()
        await later.send_text("What time is it?")
        after = await collect(later)
        await later.close()
    finally:
        await source.close()
        await credentials.aclose()
    assert [type(e).__name__ for e in before] == ["Notice"]
    assert [e for e in events if isinstance(e, Notice)] == [Notice(FALLBACK_NOTICES["en"])]
    assert not any(isinstance(e, Notice) for e in after), "told once the answer was heard, then not again"


async def test_refused_developer_key_does_not_fall_back_to_the_same_key(emulator: Emulator) -> None:
    """An API key that is not valid: Live's refusal reaches the caller; no REST request is made with it."""
    credentials = ApiKeyCredentials("AIzaSyNotAKeyTheEmulatorKnows0000000")
    source = auto_source(emulator, credentials)
    source.start()
    try:
        with pytest.raises(LiveError) as refused:
            await source.take()
    finally:
        await source.close()
        await credentials.aclose()
    assert refused.value.cause == "auth_invalid_key"
    assert list(emulator.rest_requests) == []


async def test_without_warming_a_partner_holds_one_session_once_it_talks(emulator: Emulator) -> None:
    """warm=False (the web console): nothing is opened before the first take, and taking opens just one."""
    credentials = ApiKeyCredentials(emulator.api_key)
    source = auto_source(emulator, credentials, warm=False)
    source.start()
    try:
        assert emulator.connections == []
        session = await source.take()
        assert isinstance(session, LiveSession)
        await session.send_text("Hello?")
        await collect(session)
        assert len(emulator.connections) == 1, "no second session warmed behind the one in use"
        await session.close()
    finally:
        await source.close()
        await credentials.aclose()
    assert len(emulator.connections) == 1
