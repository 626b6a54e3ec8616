"""Warm standby sessions: ready before the wake word, renewed, closed when idle, patient while the service is down."""

from __future__ import annotations

import logging

import pytest
from gemini_live_emulator import Emulator

from gemini_live_engine import ApiKeyCredentials, LiveSession, Reconnected, StandbySession
from gemini_live_engine.tools import BuiltinTools

from .live_helpers import collect, options_for, reply_text


def standby_for(emulator: Emulator, **kwargs: object) -> StandbySession:
    """A standby session on the emulator with fast retries (and quota cooldowns of a fraction of a second)."""
    return StandbySession(
        ApiKeyCredentials(emulator.api_key),
        options_for(emulator, max_retries=1, quota_cooldown_s=0.05, quota_cooldown_max_s=0.2),
        BuiltinTools(),
        label="kitchen",
        retry_initial_s=0.02,
        retry_max_s=0.1,
        **kwargs,  # type: ignore[arg-type]
    )


async def hello(session: LiveSession) -> str:
    """Use a session: say hello, return the reply's transcript."""
    await session.send_text("Hello there")
    return reply_text(await collect(session))


async def test_take_returns_the_session_set_up_before(emulator: Emulator) -> None:
    """take() hands over the session set up before it was called, and the next one warms up."""
    standby = standby_for(emulator)
    standby.start()
    try:
        await standby.wait_state("ready")
        assert standby.ready
        warm = emulator.connections[0]
        assert warm.setup is not None and not warm.closed, "set up before take()"
        session = await standby.take()
        assert len(emulator.connections) == 1, "take() opened nothing"
        assert session.is_open
        try:
            assert await hello(session) == "You said: Hello there"
            assert [turn.text for turn in warm.user_turns] == ["Hello there"]
            await standby.wait_state("ready")  # the next warm session
            assert len(emulator.connections) == 2 and emulator.connections[1].setup is not None
        finally:
            await session.close()
    finally:
        await standby.close()
    assert standby.state == "closed"
    assert all(record.closed and record.close_code == 1000 for record in emulator.connections)


async def test_idle_standby_session_survives_go_away(emulator: Emulator) -> None:
    """goAway on the idle warm session: it resumes on a new connection before the service aborts the old one."""
    emulator.config.faults.go_away_after_s = 0.2
    emulator.config.faults.go_away_time_left_s = 3.0
    standby = standby_for(emulator, warm_after_take=False)
    standby.start()
    try:
        await standby.wait_state("ready")
        emulator.config.faults.go_away_after_s = None  # only the first connection is told to go away
        session = await standby.take()
        try:
            assert await collect(session, lambda e: isinstance(e, Reconnected)) == [Reconnected("goAway")]
            assert await hello(session) == "You said: Hello there"
        finally:
            await session.close()
    finally:
        await standby.close()
    first, second = emulator.connections
    assert first.close_code == 1000, "left before the service's 1008 abort"
    assert first.user_turns == []
    assert second.resumed_from is not None
    assert [turn.text for turn in second.user_turns] == ["Hello there"]


async def test_renewal_at_max_age(emulator: Emulator) -> None:
    """A warm connection reaching max_age_s is replaced by a new session before it is closed."""
    standby = standby_for(emulator, max_age_s=0.3, idle_close_s=None)
    standby.start()
    try:
        await standby.wait_state("ready")
        await standby.wait_state("renewing")
        await standby.wait_state("ready")
        assert emulator.connections[0].closed and emulator.connections[0].close_code == 1000
        session = await standby.take()
        try:
            assert await hello(session) == "You said: Hello there"
        finally:
            await session.close()
    finally:
        await standby.close()
    used = [record for record in emulator.connections if record.user_turns]
    assert len(used) == 1 and used[0] is not emulator.connections[0]
    assert all(record.closed for record in emulator.connections)


async def test_idle_close_then_take_opens_one(emulator: Emulator) -> None:
    """No activity for idle_close_s: the warm session is closed (an empty room costs nothing); take() opens one."""
    standby = standby_for(emulator, idle_close_s=0.3)
    standby.start()
    try:
        await standby.wait_state("ready")
        await standby.wait_state("idle")
        assert not standby.ready
        assert len(emulator.connections) == 1
        assert emulator.connections[0].closed and emulator.connections[0].close_code == 1000
        session = await standby.take()
        try:
            assert session.is_open
            assert await hello(session) == "You said: Hello there"
        finally:
            await session.close()
    finally:
        await standby.close()
    assert emulator.connections[0].user_turns == []
    assert [turn.text for turn in emulator.connections[1].user_turns] == ["Hello there"]


async def test_service_down_is_retried_quietly(emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    """While the service refuses connections the standby keeps trying, logging it once, and recovers."""
    caplog.set_level(logging.DEBUG, logger="gemini_live_engine")
    emulator.config.faults.reject_connects = 3  # three refused opens, each followed by the service's retry delay
    emulator.config.faults.retry_delay_s = 0.1
    standby = standby_for(emulator)
    standby.start()
    try:
        await standby.wait_state("ready")
    finally:
        await standby.close()
    assert emulator.config.faults.reject_connects == 0
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("gemini_live_engine")]
    assert [r.getMessage() for r in warnings] == [
        "Gemini refused a connection (the Gemini quota is exhausted (HTTP 429 on connect)): no new attempt for "
        "0.1 s (refusal 1 in a row)"
    ], "one warning for the whole outage"
    assert any("reachable again" in r.getMessage() for r in caplog.records)
