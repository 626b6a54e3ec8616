"""The Live engine (``gemini_live_engine.live``) against the emulator: turns, tools, goAway and resumption.

Real parts only: the google-genai SDK over TLS, espeak-ng speech, the emulator's activity detection.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from gemini_live_emulator import Emulator, Scenario
from google.genai import types

from gemini_live_engine import (
    ApiKeyCredentials,
    InputTranscript,
    Interrupted,
    LiveSession,
    Reconnected,
    ToolCallFinished,
    ToolCallStarted,
    TurnComplete,
)
from gemini_live_engine.live.link import Link
from gemini_live_engine.tools import BuiltinTools
from tests.audio import silence, speech_pcm

from .live_helpers import (
    MIC_RATE,
    ScriptedTools,
    chunks,
    collect,
    kinds,
    live_connection_tasks,
    options_for,
    reply_audio,
    reply_text,
    send_speech,
)

TIME_SCENARIO = Scenario.from_data(
    {
        "turns": [
            {
                "user": "What time is it?",
                "model": [{"call": {"name": "get_current_time"}}, {"say": "It is {result[output][time]}."}],
            }
        ]
    }
)


async def test_spoken_turn_with_builtin_tool(emulator: Emulator) -> None:
    """Speech in → transcript → get_current_time through BuiltinTools → spoken answer, events in order."""
    emulator.scenario = TIME_SCENARIO
    session = LiveSession(ApiKeyCredentials(emulator.api_key), options_for(emulator), BuiltinTools(), label="kitchen")
    await session.open()
    try:
        assert session.is_open and not session.turn_active
        await send_speech(session, speech_pcm("What time is it?", "en-US") + silence(1.5, MIC_RATE))
        events = await collect(session)
        assert not session.turn_active
    finally:
        await session.close()
    assert session.closed

    assert kinds(events) == [
        "InputTranscript",
        "ToolCallStarted",
        "ToolCallFinished",
        "Reply",
        "GenerationComplete",
        "TurnComplete",
    ]
    heard = [e for e in events if isinstance(e, InputTranscript)]
    assert "".join(e.text for e in heard) == "What time is it?"
    assert heard[-1].finished and not any(e.finished for e in heard[:-1])
    started = next(e for e in events if isinstance(e, ToolCallStarted))
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert (started.name, started.args) == ("get_current_time", {})
    assert finished.call_id == started.call_id and finished.error is None and not finished.cancelled
    assert finished.result is not None and set(finished.result) >= {"date", "time", "weekday", "timezone"}
    assert reply_text(events) == f"It is {finished.result['time']}."
    assert len(reply_audio(events)) / (2 * 24000) > 0.5
    assert events[-1] == TurnComplete(waiting_for_input=False, reason=None)

    record = emulator.connections[0]
    assert record.tool_responses[0]["functionResponses"][0]["response"] == {"output": finished.result}
    setup = record.setup
    assert setup is not None
    assert setup["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"] == "Puck"
    declared = {d["name"]: d.get("behavior") for d in setup["tools"][0]["functionDeclarations"]}
    assert declared == {"get_current_time": "BLOCKING", "end_conversation": "BLOCKING"}
    assert {"sessionResumption", "inputAudioTranscription", "outputAudioTranscription"} <= set(setup)
    assert setup["contextWindowCompression"] == {"slidingWindow": {}}
    assert setup["realtimeInputConfig"]["activityHandling"] == "START_OF_ACTIVITY_INTERRUPTS"


async def test_setup_carries_options(emulator: Emulator) -> None:
    """Language, prompt, VAD tuning and compression sizes reach the service's setup; a question waits for input."""
    emulator.scenario = Scenario.from_data(
        {"turns": [{"user": "Hi", "expect_reply": True, "model": [{"say": "Which room?"}]}]}
    )
    options = options_for(
        emulator,
        voice="Kore",
        language="ar-EG",
        system_prompt="You are a home assistant.",
        end_sensitivity=types.EndSensitivity.END_SENSITIVITY_LOW,
        silence_duration_ms=800,
        compression_trigger_tokens=25600,
        compression_target_tokens=12800,
        output_transcription=False,
    )
    session = LiveSession(ApiKeyCredentials(emulator.api_key), options)
    await session.open()
    try:
        await session.send_text("Hi")
        events = await collect(session)
    finally:
        await session.close()
    assert events[-1] == TurnComplete(waiting_for_input=True, reason="NEED_MORE_INPUT")
    assert reply_text(events) == ""  # no output transcription was asked for
    setup = emulator.connections[0].setup
    assert setup is not None
    assert setup["generationConfig"]["speechConfig"]["languageCode"] == "ar-EG"
    assert setup["systemInstruction"]["parts"][0]["text"] == "You are a home assistant."
    assert setup["realtimeInputConfig"]["automaticActivityDetection"] == {
        "endOfSpeechSensitivity": "END_SENSITIVITY_LOW",
        "silenceDurationMs": 800,
    }
    assert setup["contextWindowCompression"] == {"triggerTokens": 25600, "slidingWindow": {"targetTokens": 12800}}
    assert "outputAudioTranscription" not in setup


async def test_manual_activity_detection(emulator: Emulator) -> None:
    """With vad_disabled the caller marks the utterance; audio_stream_end is not sent (it would be refused)."""
    emulator.scenario = Scenario.from_data({"turns": [{"user": "Hello there.", "model": [{"say": "Hi."}]}]})
    session = LiveSession(ApiKeyCredentials(emulator.api_key), options_for(emulator, vad_disabled=True))
    await session.open()
    try:
        await session.activity_start()
        await send_speech(session, speech_pcm("Hello there.", "en-US"))
        await session.activity_end()
        await session.end_audio_stream()
        events = await collect(session)
    finally:
        await session.close()
    assert reply_text(events) == "Hi."
    record = emulator.connections[0]
    assert record.close_code != 1007
    assert not any("audioStreamEnd" in m.get("realtimeInput", {}) for m in record.messages)


async def test_activity_marks_need_manual_vad(emulator: Emulator) -> None:
    """activity_start with the service's activity detection is a programming error, caught before the wire."""
    session = LiveSession(ApiKeyCredentials(emulator.api_key), options_for(emulator))
    await session.open()
    try:
        with pytest.raises(ValueError, match="vad_disabled"):
            await session.activity_start()
        with pytest.raises(ValueError, match="even"):
            await session.send_audio(b"\x00")
    finally:
        await session.close()


async def test_tool_timeout_is_reported_to_the_model(emulator: Emulator) -> None:
    """A call that outlives tool_timeout_s is cancelled and the model receives an error it can speak."""
    emulator.scenario = Scenario.from_data(
        {
            "turns": [
                {
                    "user": "Open the garage.",
                    "model": [{"call": {"name": "open_garage"}}, {"say": "Sorry, {result[error]}."}],
                }
            ]
        }
    )
    never = asyncio.Event()

    async def open_garage(args: dict[str, Any]) -> dict[str, Any]:
        await never.wait()
        return {}

    tools = ScriptedTools(open_garage=open_garage)
    session = LiveSession(ApiKeyCredentials(emulator.api_key), options_for(emulator, tool_timeout_s=0.2), tools)
    await session.open()
    try:
        await session.send_text("Open the garage.")
        events = await collect(session)
    finally:
        await session.close()
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert finished.error == "timed out after 0.2 s" and finished.result is None and not finished.cancelled
    assert tools.cancelled == [finished.call_id]
    response = emulator.connections[0].tool_responses[0]["functionResponses"][0]
    assert response["id"] == finished.call_id
    assert response["response"] == {"error": "timed out after 0.2 s"}
    assert reply_text(events) == "Sorry, timed out after 0.2 s."


async def test_barge_in_cancels_running_tool(emulator: Emulator) -> None:
    """Speech while a tool runs: the model cancels the call, the executor's task is cancelled, playback stops."""
    emulator.scenario = Scenario.from_data(
        {
            "turns": [
                {"user": "Open the garage.", "model": [{"call": {"name": "open_garage"}}, {"say": "Opened."}]},
                {"user": "Stop.", "model": [{"say": "Stopped."}]},
            ]
        }
    )
    never = asyncio.Event()

    async def open_garage(args: dict[str, Any]) -> dict[str, Any]:
        await never.wait()
        return {}

    tools = ScriptedTools(open_garage=open_garage)
    session = LiveSession(ApiKeyCredentials(emulator.api_key), options_for(emulator, tool_timeout_s=30.0), tools)
    await session.open()
    try:
        await session.send_text("Open the garage.")
        first = await collect(session, lambda e: isinstance(e, ToolCallStarted))
        await tools.started.wait()
        await send_speech(session, speech_pcm("Stop.", "en-US") + silence(1.5, MIC_RATE))
        rest = await collect(session)
        answer = await collect(session)
    finally:
        await session.close()
    call_id = first[-1].call_id if isinstance(first[-1], ToolCallStarted) else ""
    assert rest[0] == ToolCallFinished(call_id, "open_garage", None, None, cancelled=True)
    assert isinstance(rest[1], Interrupted)
    assert isinstance(rest[-1], TurnComplete)
    assert tools.cancelled == [call_id]
    assert emulator.connections[0].tool_responses == []  # a cancelled call is never answered
    assert reply_text(answer) == "Stopped."


async def test_go_away_mid_utterance_loses_no_audio(emulator: Emulator) -> None:
    """goAway while the user speaks: resume with the handle, replay the utterance so far, buffer the rest."""
    emulator.scenario = Scenario.from_data(
        {"turns": [{"user": "Turn on the kitchen light.", "model": [{"say": "The kitchen light is on."}]}]}
    )
    speech = speech_pcm("Turn on the kitchen light, please.", "en-US")
    audio = silence(0.2, MIC_RATE) + speech + silence(1.5, MIC_RATE)
    session = LiveSession(ApiKeyCredentials(emulator.api_key), options_for(emulator), label="hall")
    emulator.config.faults.go_away_after_s = 0.4  # the first connection's goAway, 0.4 s after its setup
    emulator.config.faults.go_away_time_left_s = 2.0
    await session.open()
    emulator.config.faults.go_away_after_s = None  # the resumed connection gets none
    emulator.config.faults.setup_delay_ms = 300  # a slow resumption: the user keeps talking meanwhile
    try:
        # A microphone: 20 ms chunks in real time, paced against the clock (not a synchronisation).
        started = time.monotonic()
        for index, chunk in enumerate(chunks(audio, MIC_RATE * 2 * 20 // 1000)):
            await asyncio.sleep(max(0.0, started + index * 0.02 - time.monotonic()))
            await session.send_audio(chunk)
        events = await collect(session)
    finally:
        await session.close()

    assert isinstance(events[0], Reconnected) and events[0].reason == "goAway"
    assert "".join(e.text for e in events if isinstance(e, InputTranscript)) == "Turn on the kitchen light."
    assert reply_text(events) == "The kitchen light is on."
    first, second = emulator.connections[0], emulator.connections[1]
    assert len(emulator.connections) == 2
    assert second.resumed_from is not None
    assert first.close_code == 1000, "closed by the client before the service's goAway abort"
    # The goAway came in the middle of the utterance: the first connection heard part of the speech.
    lead = len(silence(0.2, MIC_RATE))
    assert lead < len(first.audio) < lead + len(speech)
    # Every byte reached a connection: the first heard a prefix, the second the rest from where the handle
    # left off (the replay), with nothing missing in between.
    assert bytes(first.audio) == audio[: len(first.audio)]
    replayed = len(audio) - len(second.audio)
    assert 0 <= replayed <= len(first.audio)
    assert bytes(second.audio) == audio[replayed:]
    assert second.user_turns[0].transcript == "Turn on the kitchen light."
    assert second.user_turns[0].audio_seconds > len(speech) / (2 * MIC_RATE) - 0.3


async def test_go_away_while_answering_waits_for_the_turn(emulator: Emulator) -> None:
    """goAway during an answer: the answer is played out, then the session moves on with the handle after it."""
    emulator.scenario = Scenario.from_data(
        {
            "turns": [
                {
                    "user": "Tell me a story.",
                    "model": [{"fault": "go_away"}, {"say": "Once upon a time there was a little house."}],
                },
                {"user": "Thanks.", "model": [{"say": "You are welcome."}]},
            ]
        }
    )
    session = LiveSession(ApiKeyCredentials(emulator.api_key), options_for(emulator))
    await session.open()
    try:
        await session.send_text("Tell me a story.")
        first = await collect(session)
        moved = await collect(session, lambda e: isinstance(e, Reconnected))
        await session.send_text("Thanks.")
        second = await collect(session)
    finally:
        await session.close()
    assert reply_text(first) == "Once upon a time there was a little house."
    assert not any(isinstance(e, Interrupted) for e in first)
    assert moved == [Reconnected("goAway")]
    assert reply_text(second) == "You are welcome."
    resumed = emulator.connections[1]
    assert resumed.resumed_from is not None
    assert [turn.text for turn in resumed.user_turns] == ["Thanks."], "the story was not asked for again"


async def test_open_cancelled_while_replaying_closes_the_connection(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session whose open() is cancelled after the connection is up (sending what was said meanwhile) closes it.

    The standby's keeper is cancelled this way when a satellite goes while a warm session is being opened: the
    connection used to stay open for ever, with its reading task and the WebSocket's keepalive.
    """
    session = LiveSession(ApiKeyCredentials(emulator.api_key), options_for(emulator))
    await session.send_audio(silence(0.1, MIC_RATE))  # kept: open() sends it once connected
    sending = asyncio.Event()

    async def stalled_send(_link: Link, _item: object) -> None:
        sending.set()
        await asyncio.Event().wait()  # the connection's send buffer is full

    monkeypatch.setattr(Link, "send", stalled_send)
    opening = asyncio.create_task(session.open())
    await asyncio.wait_for(sending.wait(), timeout=10)
    opening.cancel()
    await asyncio.gather(opening, return_exceptions=True)

    assert session.closed
    assert live_connection_tasks() == [], "the connection's tasks are still running"
