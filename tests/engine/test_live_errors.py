"""The Live engine's failures: named causes for what cannot be retried; retries, recovery and giving up."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest
from gemini_live_emulator import Emulator, EmulatorConfig, Scenario
from google import genai
from google.genai import types

from gemini_live_engine import (
    AnswerCut,
    ApiKeyCredentials,
    Interrupted,
    LiveError,
    LiveOptions,
    LiveSession,
    Reconnected,
    SessionError,
    ToolCallFinished,
)
from gemini_live_engine.budget import budget_for

from .live_helpers import ScriptedTools, collect, fatal, kinds, options_for, reply_text


class VertexExpressKey:
    """Credentials that send an API key to the Vertex endpoint (the SDK's Vertex "express mode")."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    async def client(self, options: LiveOptions) -> genai.Client:
        """A Vertex-mode client carrying an API key instead of OAuth2 credentials."""
        context = ssl.create_default_context(cafile=options.ca_file)
        return genai.Client(
            vertexai=True,
            api_key=self._api_key,
            http_options=types.HttpOptions(base_url=options.base_url, async_client_args={"ssl": context}),
        )

    def describe(self) -> str:
        """For logs."""
        return "Vertex express-mode API key"


async def open_error(emulator: Emulator, credentials: Any, **overrides: Any) -> LiveError:
    """The error ``open()`` raises."""
    session = LiveSession(credentials, options_for(emulator, **overrides))
    with pytest.raises(LiveError) as raised:
        await session.open()
    assert session.closed
    return raised.value


async def test_api_key_on_vertex_is_named(emulator: Emulator) -> None:
    """1008 from the Vertex endpoint for an API key: named, not retried."""
    error = await open_error(emulator, VertexExpressKey(emulator.api_key))
    assert (error.cause, error.code, error.retryable) == ("auth_api_key_on_vertex", 1008, False)
    assert str(error) == "the Vertex endpoint needs OAuth2 credentials; an API key was given"
    assert len(emulator.connections) == 1


async def test_invalid_api_key_is_named(emulator: Emulator) -> None:
    """1007 after setup for a key the service does not know: named, not retried."""
    error = await open_error(emulator, ApiKeyCredentials("AIza-not-a-real-key"))
    assert (error.cause, error.code) == ("auth_invalid_key", 1007)
    assert str(error) == "the API key was refused (API key not valid)"
    assert len(emulator.connections) == 1


async def test_unknown_model_is_named(emulator: Emulator) -> None:
    """1008 for a model the service does not serve on this API version: named, not retried."""
    error = await open_error(emulator, ApiKeyCredentials(emulator.api_key), model="gemini-x", api_version="v1beta")
    assert (error.cause, error.code) == ("model_not_found", 1008)
    assert str(error) == "model gemini-x is not available for Live on API version v1beta"
    assert len(emulator.connections) == 1


async def test_untrusted_certificate_is_named(emulator: Emulator) -> None:
    """A TLS certificate the CA file does not vouch for: named, not retried."""
    error = await open_error(
        emulator, ApiKeyCredentials(emulator.api_key), ca_file=ssl.get_default_verify_paths().cafile
    )
    assert error.cause == "tls_untrusted" and not error.retryable
    assert "check the CA file" in str(error)


async def test_429_on_connect_is_not_retried_and_the_delay_asked_for_is_kept(emulator: Emulator) -> None:
    """Quota at connect time (HTTP 429 on the upgrade): one attempt, the cause named with the service's
    RetryInfo delay, and every session on these credentials waits at least that long (33 attempts a minute
    before)."""
    emulator.config.faults.reject_connects = 10
    emulator.config.faults.retry_delay_s = 45.0
    credentials = ApiKeyCredentials(emulator.api_key)
    error = await open_error(emulator, credentials, max_retries=3)
    assert (error.cause, error.code, error.retryable, error.retry_after_s) == ("quota", 429, True, 45.0)
    assert emulator.config.faults.reject_connects == 9, "not retried inside the session"
    budget = budget_for(credentials, options_for(emulator))
    assert budget.cooling_down and 44.0 <= budget.remaining_s <= 45.0


async def test_nothing_listening_is_retried_then_named(emulator: Emulator) -> None:
    """Connection refused: retried, then named."""
    error = await open_error(
        emulator, ApiKeyCredentials(emulator.api_key), base_url="https://127.0.0.1:9", max_retries=1
    )
    assert error.cause == "unavailable" and error.retryable


@pytest.mark.parametrize(
    ("fault", "cause", "code"),
    [("internal_error", "internal", 1011), ("drop", "dropped", 1006)],
)
async def test_mid_turn_failure_is_recovered(emulator: Emulator, fault: str, cause: str, code: int) -> None:
    """1011 or a dropped connection mid-turn: the cut answer stops (not a barge-in), the session resumes and the
    turn is answered."""
    recovered = Scenario.from_data({"turns": [{"user": "Are the lights on?", "model": [{"say": "Yes, they are."}]}]})
    emulator.scenario = Scenario.from_data(
        {
            "turns": [
                {
                    "user": "Are the lights on?",
                    "model": [{"call": {"name": "check_lights"}}, {"say": "Let me see."}, {"fault": fault}],
                }
            ]
        }
    )

    async def check_lights(args: dict[str, Any]) -> dict[str, Any]:
        emulator.scenario = recovered  # the service recovers: the repeated turn is answered
        return {"on": True}

    session = LiveSession(
        ApiKeyCredentials(emulator.api_key), options_for(emulator), ScriptedTools(check_lights=check_lights)
    )
    await session.open()
    try:
        await session.send_text("Are the lights on?")
        events = await collect(session)
    finally:
        await session.close()
    assert kinds(events) == [
        "ToolCallStarted",
        "ToolCallFinished",
        "Reply",
        "AnswerCut",
        "Reconnected",
        "Reply",
        "GenerationComplete",
        "TurnComplete",
    ]
    reconnected = next(e for e in events if isinstance(e, Reconnected))
    assert reconnected.reason.startswith(f"{cause}: ")
    assert reconnected.replayed_s == 0.0, "typed text, no audio to replay"
    after = events[events.index(reconnected) :]
    assert reply_text(after) == "Yes, they are."
    first, second = emulator.connections
    assert first.close_code == code
    assert second.resumed_from is not None
    assert [turn.text for turn in second.user_turns] == ["Are the lights on?"], "the turn was replayed"


async def test_quota_mid_turn_ends_the_session_at_once_and_cools_down(emulator: Emulator) -> None:
    """1011 with the quota text mid-turn: not retried in the session (4 reconnects in 72 ms before), a fatal error
    naming the quota, and every session on these credentials waits before trying again."""
    emulator.scenario = Scenario.from_data(
        {"turns": [{"user": "Are the lights on?", "model": [{"say": "Let me see."}, {"fault": "quota"}]}]}
    )
    credentials = ApiKeyCredentials(emulator.api_key)
    options = options_for(emulator)
    session = LiveSession(credentials, options)
    await session.open()
    try:
        await session.send_text("Are the lights on?")
        events = await collect(session, fatal)
    finally:
        await session.close()
    last = events[-1]
    assert isinstance(last, SessionError)
    assert (last.fatal, last.cause) == (True, "quota")
    assert not any(isinstance(e, Reconnected) for e in events)
    assert [record.close_code for record in emulator.connections] == [1011]
    budget = budget_for(credentials, options)
    assert budget.cooling_down and 20.0 <= budget.remaining_s <= 30.0


async def test_persistent_failure_is_fatal_after_max_retries(emulator: Emulator) -> None:
    """A turn that fails every time: max_retries reconnects, then a fatal SessionError naming the cause."""
    emulator.scenario = Scenario.from_data(
        {"turns": [{"user": "Hi", "model": [{"say": "Hello."}, {"fault": "internal_error"}]}]}
    )
    session = LiveSession(ApiKeyCredentials(emulator.api_key), options_for(emulator, max_retries=2), label="den")
    await session.open()
    try:
        await session.send_text("Hi")
        events = await collect(session, fatal)
        rest = [event async for event in session.events()]
    finally:
        await session.close()
    assert rest == [], "nothing follows a fatal error"
    assert session.closed
    assert sum(isinstance(e, Reconnected) for e in events) == 2
    assert sum(isinstance(e, AnswerCut) for e in events) == 3
    assert not any(isinstance(e, Interrupted) for e in events), "a reconnect is not the user interrupting"
    last = events[-1]
    assert isinstance(last, SessionError)
    assert (last.fatal, last.cause) == (True, "internal")
    assert last.message == "the service had an internal error (Internal error encountered.)"
    assert [record.close_code for record in emulator.connections] == [1011, 1011, 1011]


async def test_go_away_deadline_while_tool_runs_forces_reconnect(emulator: Emulator) -> None:
    """goAway while a tool runs and never finishes: at the deadline the call is cancelled and the session moves on;
    the replayed turn runs the tool again and is answered."""
    emulator.scenario = Scenario.from_data(
        {"turns": [{"user": "Lock up.", "model": [{"call": {"name": "lock"}}, {"say": "Locked."}]}]}
    )
    first_call_may_finish = asyncio.Event()  # never set: the first call hangs until cancelled

    async def lock(args: dict[str, Any]) -> dict[str, Any]:
        if len(tools.calls) == 1:
            await first_call_may_finish.wait()
        return {"locked": True}

    tools = ScriptedTools(lock=lock)
    options = options_for(emulator, tool_timeout_s=30.0, renew_before_go_away_s=0.5)
    session = LiveSession(ApiKeyCredentials(emulator.api_key), options, tools)
    emulator.config.faults.go_away_after_s = 0.3
    emulator.config.faults.go_away_time_left_s = 1.0
    await session.open()
    emulator.config.faults.go_away_after_s = None
    try:
        await session.send_text("Lock up.")
        events = await collect(session)
    finally:
        await session.close()
    assert kinds(events) == [
        "ToolCallStarted",
        "ToolCallFinished",
        "AnswerCut",
        "Reconnected",
        "ToolCallStarted",
        "ToolCallFinished",
        "Reply",
        "GenerationComplete",
        "TurnComplete",
    ]
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [(e.cancelled, e.result) for e in finished] == [(True, None), (False, {"locked": True})]
    assert tools.cancelled == [finished[0].call_id]
    assert next(e for e in events if isinstance(e, Reconnected)).reason.startswith("goAway")
    assert reply_text(events) == "Locked."
    first, second = emulator.connections
    assert first.close_code == 1000, "left before the service's abort"
    assert first.tool_responses == []
    assert second.resumed_from is not None


@pytest.fixture
def handles_expire_at_once(emulator_config: EmulatorConfig) -> None:
    """Resumption handles the emulator forgets as soon as they are made."""
    emulator_config.resumption_handle_ttl_s = 0.0


async def test_refused_resumption_starts_a_new_session(handles_expire_at_once: None, emulator: Emulator) -> None:
    """A handle the service no longer knows (1007 on resume): said once, then a new session carries on."""
    emulator.config.faults.go_away_after_s = 0.2
    session = LiveSession(ApiKeyCredentials(emulator.api_key), options_for(emulator))
    await session.open()
    emulator.config.faults.go_away_after_s = None
    try:
        events = await collect(session, lambda e: isinstance(e, Reconnected))
        await session.send_text("Hi")
        events += await collect(session)
    finally:
        await session.close()
    assert events[:2] == [
        SessionError(
            "the conversation could not be resumed; it continues in a new session", fatal=False, cause="resume_refused"
        ),
        Reconnected("goAway"),
    ]
    assert reply_text(events) == "You said: Hi"
    first, refused, fresh = emulator.connections
    assert (first.close_code, refused.close_code, fresh.close_code) == (1000, 1007, 1000)
    assert fresh.resumed_from is None and [turn.text for turn in fresh.user_turns] == ["Hi"]
