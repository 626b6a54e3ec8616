"""The cascaded fallback (``gemini_live_engine.cascaded``) against the emulator's REST API.

Real parts only: the google-genai SDK over TLS, espeak-ng speech, pymicro-vad endpointing. The emulator
cannot recognise speech: each spoken turn it hears (in any conversation) is transcribed as the next turn
of its scenario, as on Live; what each request carried is in ``emulator.rest_requests``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from gemini_live_emulator import Emulator, Scenario
from gemini_live_emulator.scenario import DEMO_SCENARIO

from gemini_live_engine import (
    ApiKeyCredentials,
    AudioOut,
    InputTranscript,
    Interrupted,
    LiveError,
    Notice,
    SessionError,
    SessionEvent,
    ToolCallFinished,
    ToolCallStarted,
    TurnComplete,
)
from gemini_live_engine.cascaded import FALLBACK_NOTICES, CascadedSession
from gemini_live_engine.tools import BuiltinTools
from tests.audio import silence, speech_pcm
from tests.engine.live_helpers import (
    MIC_RATE,
    ScriptedTools,
    chunks,
    collect,
    kinds,
    options_for,
    reply_audio,
    reply_text,
)

EVENT_TIMEOUT_S = 30.0  # a safety net for a broken session, never a synchronisation
DEMO = Scenario.from_file(DEMO_SCENARIO)
TEXT_MODEL = "gemini-3.1-flash-lite"
TTS_MODEL = "gemini-3.1-flash-tts-preview"
OUTPUT_RATE = 24000
QUESTION_EN = "What time is it?"
QUESTION_AR = "كم الساعة الآن؟"


@pytest.fixture
async def credentials(emulator: Emulator) -> AsyncIterator[ApiKeyCredentials]:
    """The emulator's API key; the SDK client the sessions shared is closed afterwards."""
    credentials = ApiKeyCredentials(emulator.api_key)
    yield credentials
    client = await credentials.client(options_for(emulator))
    await client.aio.aclose()
    client.close()


def session_for(
    credentials: ApiKeyCredentials, emulator: Emulator, tools: Any = None, **kwargs: Any
) -> CascadedSession:
    """A cascaded session aimed at the emulator; LiveOptions overrides go in ``options``."""
    options = options_for(emulator, **kwargs.pop("options", {}))
    return CascadedSession(credentials, options, tools, **kwargs)


async def say(session: CascadedSession, text: str, language: str, trailing_silence_s: float = 1.5) -> None:
    """Speak ``text`` into the session's microphone in 100 ms chunks, then stay silent."""
    for chunk in chunks(speech_pcm(text, language) + silence(trailing_silence_s, MIC_RATE)):
        await session.send_audio(chunk)


def first_strong_direction(text: str) -> str | None:
    """The direction of the first strong character outside isolates (Unicode's rule P2, as dir="auto")."""
    depth = 0
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("FSI", "LRI", "RLI"):
            depth += 1
        elif kind == "PDI":
            depth = max(0, depth - 1)
        elif depth == 0 and kind in ("L", "R", "AL"):
            return "ltr" if kind == "L" else "rtl"
    return None


def heard(events: list[SessionEvent]) -> str:
    """The user's transcript in ``events``."""
    return "".join(e.text for e in events if isinstance(e, InputTranscript))


def peak(pcm: bytes) -> int:
    """The largest absolute sample of 16-bit PCM."""
    return int(np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32)).max(initial=0))


def step_lines(caplog: pytest.LogCaptureFixture, label: str) -> list[str]:
    """The cascaded session's per-step log lines for ``label``."""
    prefix = f"[{label}] cascaded turn "
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(prefix)]


def rest_calls(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The REST generation calls the emulator answered (``generateContent`` / ``streamGenerateContent``)."""
    return [
        r.getMessage().split()[1]
        for r in caplog.records
        if r.name == "gemini_live_emulator.rest" and r.getMessage().startswith("REST ")
    ]


async def test_spoken_question_with_tool(
    emulator: Emulator, credentials: ApiKeyCredentials, caplog: pytest.LogCaptureFixture
) -> None:
    """Speech ended by local VAD → transcript → get_current_time → answer → streamed speech; each step logged."""
    emulator.scenario = DEMO
    caplog.set_level(logging.INFO)
    session = session_for(credentials, emulator, BuiltinTools(), label="kitchen")
    await session.open()
    try:
        assert session.is_open and not session.turn_active
        await say(session, QUESTION_EN, "en-US")  # no end_audio_stream: the silence ends the utterance
        assert session.turn_active
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
    transcript = next(e for e in events if isinstance(e, InputTranscript))
    assert transcript == InputTranscript(QUESTION_EN, finished=True)
    started = next(e for e in events if isinstance(e, ToolCallStarted))
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert (started.name, started.args) == ("get_current_time", {})
    assert finished.call_id == started.call_id and finished.error is None and not finished.cancelled
    assert finished.result is not None
    answer = f"It is {finished.result['time']} on {finished.result['weekday']}."
    assert reply_text(events) == answer
    audio = reply_audio(events)
    assert len(audio) / (2 * OUTPUT_RATE) > 0.5 and peak(audio) > 3000
    pieces = [len(e.pcm) for e in events if isinstance(e, AudioOut)]
    assert len(pieces) > 5 and max(pieces) <= OUTPUT_RATE * 2 // 10  # streamed in ~100 ms pieces
    assert events[-1] == TurnComplete(waiting_for_input=False)

    lines = step_lines(caplog, "kitchen")
    steps = [
        rf"cascaded turn 1: sending \d+\.\d\d s of audio to Gemini \(model {TEXT_MODEL}\) for transcription$",
        rf"cascaded turn 1: transcript received in \d+ ms: '{re.escape(QUESTION_EN)}'$",
        rf"cascaded turn 1: sending the request to Gemini \(model {TEXT_MODEL}\)$",
        rf"cascaded turn 1: answer received in \d+ ms: {len(answer)} characters, 1 tool call$",
        rf"cascaded turn 1: converting the answer to speech \(model {TTS_MODEL}, voice Puck\)$",
        rf"cascaded turn 1: speech: {len(audio)} bytes, {len(audio) / 48000:.2f} s of audio in \d+ ms",
    ]
    found = [next(i for i, line in enumerate(lines) if re.search(step, line)) for step in steps]
    assert found == sorted(found), lines
    assert emulator.api_key not in caplog.text
    assert rest_calls(caplog) == ["generateContent", "generateContent", "generateContent", "streamGenerateContent"]


async def test_fallback_notice_once_in_the_users_language(emulator: Emulator, credentials: ApiKeyCredentials) -> None:
    """tell_fallback: the first turn gives one Notice and speaks it first; the second turn (Arabic) gives none."""
    emulator.scenario = Scenario(turns=(DEMO.turns[0], DEMO.turns[0], DEMO.turns[1]))  # in the order spoken
    told = session_for(credentials, emulator, BuiltinTools(), tell_fallback=True)
    plain = session_for(credentials, emulator, BuiltinTools())
    await told.open()
    await plain.open()
    try:
        await say(told, QUESTION_EN, "en-US")
        first = await collect(told)
        await say(plain, QUESTION_EN, "en-US")
        without_notice = await collect(plain)
        await say(told, QUESTION_AR, "ar-EG")
        second = await collect(told)
    finally:
        await told.close()
        await plain.close()

    assert kinds(first)[:3] == ["InputTranscript", "Notice", "ToolCallStarted"]
    assert [e for e in first if isinstance(e, Notice)] == [Notice(FALLBACK_NOTICES["en"])]
    assert reply_text(first) == reply_text(without_notice)  # the notice is spoken, not part of the answer
    notice_s = (len(reply_audio(first)) - len(reply_audio(without_notice))) / (2 * OUTPUT_RATE)
    assert notice_s > 2.0  # the sentence was spoken before the answer

    assert heard(second) == QUESTION_AR
    last_transcription = [r for r in emulator.rest_requests if r.script_position is not None][-1]
    assert [c.get("role") for c in last_transcription.contents[:-1]] == ["user", "model", "user", "model"], (
        "the second turn's request carried the first turn: question, tool call, result, answer"
    )
    assert not any(isinstance(e, Notice) for e in second)
    assert reply_text(second).startswith("الساعة الآن")
    assert second[-1] == TurnComplete(waiting_for_input=False)


async def test_fallback_notice_in_arabic(emulator: Emulator, credentials: ApiKeyCredentials) -> None:
    """An Arabic first question gets the Arabic notice, spoken before the Arabic answer."""
    emulator.scenario = Scenario(turns=(DEMO.turns[1],))
    told = session_for(credentials, emulator, BuiltinTools(), tell_fallback=True)
    plain = session_for(credentials, emulator, BuiltinTools())
    await told.open()
    await plain.open()
    try:
        await say(told, QUESTION_AR, "ar-EG")
        events = await collect(told)
        await say(plain, QUESTION_AR, "ar-EG")
        without_notice = await collect(plain)
    finally:
        await told.close()
        await plain.close()
    assert heard(events) == QUESTION_AR
    assert [e for e in events if isinstance(e, Notice)] == [Notice(FALLBACK_NOTICES["ar"])]
    assert first_strong_direction(FALLBACK_NOTICES["ar"]) == "rtl", "the Latin name is isolated"
    spoken = next(r for r in emulator.rest_requests if r.model == TTS_MODEL).contents[0]["parts"][0]["text"]
    assert spoken.startswith("Gemini Live غير متاح"), "spoken without the isolates"
    assert reply_text(events) == reply_text(without_notice) and reply_text(events).startswith("الساعة الآن")
    assert (len(reply_audio(events)) - len(reply_audio(without_notice))) / (2 * OUTPUT_RATE) > 2.0


async def test_push_to_talk(
    emulator: Emulator, credentials: ApiKeyCredentials, caplog: pytest.LogCaptureFixture
) -> None:
    """vad_disabled: the utterance is exactly the audio between activity_start and activity_end."""
    emulator.scenario = DEMO
    caplog.set_level(logging.INFO)
    session = session_for(credentials, emulator, BuiltinTools(), label="ptt", options={"vad_disabled": True})
    await session.open()
    speech = speech_pcm(QUESTION_EN, "en-US")
    try:
        with pytest.raises(ValueError, match="even"):
            await session.send_audio(b"\x00")
        for chunk in chunks(speech + silence(1.5, MIC_RATE)):  # before activity_start: ignored
            await session.send_audio(chunk)
        await session.end_audio_stream()
        assert not session.turn_active
        await session.activity_start()
        for chunk in chunks(speech):  # no trailing silence: only activity_end ends the utterance
            await session.send_audio(chunk)
        assert not session.turn_active
        await session.activity_end()
        assert session.turn_active
        events = await collect(session)
    finally:
        await session.close()
    assert heard(events) == QUESTION_EN
    assert kinds(events)[-3:] == ["Reply", "GenerationComplete", "TurnComplete"]
    sent = [line for line in step_lines(caplog, "ptt") if "for transcription" in line]
    assert sent == [
        f"[ptt] cascaded turn 1: sending {len(speech) / (2 * MIC_RATE):.2f} s of audio to Gemini "
        f"(model {TEXT_MODEL}) for transcription"
    ]


async def test_activity_marks_need_manual_vad(emulator: Emulator, credentials: ApiKeyCredentials) -> None:
    """activity_start without vad_disabled is a programming error."""
    session = session_for(credentials, emulator)
    await session.open()
    try:
        with pytest.raises(ValueError, match="vad_disabled"):
            await session.activity_start()
    finally:
        await session.close()


async def test_send_text_skips_transcription(
    emulator: Emulator, credentials: ApiKeyCredentials, caplog: pytest.LogCaptureFixture
) -> None:
    """Typed text is answered without a transcription request; a question waits for input."""
    emulator.scenario = Scenario.from_data(
        {"turns": [{"user": "Turn on the light.", "expect_reply": True, "model": [{"say": "Which room?"}]}]}
    )
    caplog.set_level(logging.INFO)
    session = session_for(credentials, emulator, BuiltinTools(), label="typed")
    await session.open()
    try:
        await session.send_text("Turn on the light.")
        events = await collect(session)
    finally:
        await session.close()
    assert kinds(events) == ["Reply", "GenerationComplete", "TurnComplete"]
    assert reply_text(events) == "Which room?"
    assert peak(reply_audio(events)) > 3000
    assert events[-1] == TurnComplete(waiting_for_input=True)
    assert not any("for transcription" in line for line in step_lines(caplog, "typed"))
    assert rest_calls(caplog) == ["generateContent", "streamGenerateContent"]


async def test_silence_makes_no_request(
    emulator: Emulator, credentials: ApiKeyCredentials, caplog: pytest.LogCaptureFixture
) -> None:
    """Silence, ended by end_audio_stream or by push to talk, is dropped without any request."""
    emulator.scenario = Scenario.from_data({"turns": [{"user": "Hello there.", "model": [{"say": "Hi."}]}]})
    caplog.set_level(logging.INFO)
    session = session_for(credentials, emulator, label="quiet")
    await session.open()
    try:
        for chunk in chunks(silence(3.0, MIC_RATE)):
            await session.send_audio(chunk)
        await session.end_audio_stream()
        assert not session.turn_active
        await session.send_text("Hello there.")  # answered next: an audio turn would have come first
        events = await collect(session)
    finally:
        await session.close()
    assert kinds(events) == ["Reply", "GenerationComplete", "TurnComplete"]
    assert rest_calls(caplog) == ["generateContent", "streamGenerateContent"]

    caplog.clear()
    ptt = session_for(credentials, emulator, label="quiet-ptt", options={"vad_disabled": True})
    await ptt.open()
    try:
        await ptt.activity_start()
        for chunk in chunks(silence(1.0, MIC_RATE)):
            await ptt.send_audio(chunk)
        await ptt.activity_end()
        assert not ptt.turn_active
    finally:
        await ptt.close()
    assert "[quiet-ptt] No speech in 1.00 s of push-to-talk audio; nothing sent" in caplog.messages
    assert rest_calls(caplog) == []


async def test_audio_is_ignored_while_answering(
    emulator: Emulator, credentials: ApiKeyCredentials, caplog: pytest.LogCaptureFixture
) -> None:
    """Half duplex: speech during a turn is not heard; after TurnComplete the session listens again."""
    emulator.scenario = Scenario.from_data(
        {
            "turns": [
                {"user": "Open the garage.", "model": [{"call": {"name": "open_garage"}}, {"say": "Done."}]},
                {"user": "Hello there.", "model": [{"say": "Hi."}]},
            ]
        }
    )
    caplog.set_level(logging.INFO)
    release = asyncio.Event()

    async def open_garage(_args: dict[str, Any]) -> dict[str, Any]:
        await release.wait()
        return {"open": True}

    tools = ScriptedTools(open_garage=open_garage)
    session = session_for(credentials, emulator, tools, label="duplex")
    await session.open()
    long_question = "Please tell me whether the garage door is open or closed right now, and the weather too."
    try:
        await session.send_text("Open the garage.")
        await collect(session, lambda e: isinstance(e, ToolCallStarted))
        await say(session, long_question, "en-US")  # the model is busy: not heard
        release.set()
        first = await collect(session)
        await say(session, "Hello there.", "en-US")
        second = await collect(session)
        assert not session.turn_active
    finally:
        await session.close()
    assert reply_text(first) == "Done."
    assert heard(second) == "Hello there." and reply_text(second) == "Hi."
    sent = [line for line in step_lines(caplog, "duplex") if "for transcription" in line]
    assert len(sent) == 1 and sent[0].startswith("[duplex] cascaded turn 2: ")
    match = re.search(r"sending (\d+\.\d+) s", sent[0])
    assert match is not None
    seconds = float(match[1])
    assert seconds < len(speech_pcm(long_question, "en-US")) / (2 * MIC_RATE)  # the later, short question


async def test_rest_fault_is_fatal(emulator: Emulator, credentials: ApiKeyCredentials) -> None:
    """A 429 from the REST API ends the session with a fatal SessionError naming quota, the last event."""
    emulator.scenario = DEMO
    emulator.faults.reject_rest = 1
    session = session_for(credentials, emulator, BuiltinTools())
    await session.open()
    try:
        await say(session, QUESTION_EN, "en-US")
        events = await collect(session, lambda _e: False)  # to the end of the events
    finally:
        await session.close()
    assert len(events) == 1
    error = events[0]
    assert isinstance(error, SessionError) and error.fatal and error.cause == "quota"
    assert "quota" in error.message and "429" in error.message
    assert session.closed and not session.is_open
    await session.send_text("Anyone there?")  # no-op once closed
    assert await collect(session, lambda _e: False) == []


async def test_fault_after_a_tool_call_interrupts(emulator: Emulator, credentials: ApiKeyCredentials) -> None:
    """A quota fault on the request after a tool call: Interrupted, then the fatal SessionError."""
    emulator.scenario = Scenario.from_data(
        {"turns": [{"user": QUESTION_EN, "model": [{"call": {"name": "get_current_time"}}, {"fault": "quota"}]}]}
    )
    session = session_for(credentials, emulator, BuiltinTools())
    await session.open()
    try:
        await session.send_text(QUESTION_EN)
        events = await collect(session, lambda _e: False)
    finally:
        await session.close()
    assert kinds(events) == ["ToolCallStarted", "ToolCallFinished", "Interrupted", "SessionError"]
    assert isinstance(events[-2], Interrupted)
    last = events[-1]
    assert isinstance(last, SessionError) and last.fatal and last.cause == "quota"


async def test_close_mid_turn_ends_events(emulator: Emulator, credentials: ApiKeyCredentials) -> None:
    """close() while a tool call runs: the call is cancelled, reported as such, and the events end."""
    emulator.scenario = Scenario.from_data(
        {"turns": [{"user": "Open the garage.", "model": [{"call": {"name": "open_garage"}}, {"say": "Done."}]}]}
    )

    async def open_garage(_args: dict[str, Any]) -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}

    tools = ScriptedTools(open_garage=open_garage)
    session = session_for(credentials, emulator, tools)
    await session.open()
    await session.send_text("Open the garage.")
    started = await collect(session, lambda e: isinstance(e, ToolCallStarted))
    await session.close()
    rest = await collect(session, lambda _e: False)
    assert len(started) == 1 and isinstance(started[0], ToolCallStarted)
    call_id = started[0].call_id
    assert rest == [ToolCallFinished(call_id, "open_garage", cancelled=True)]
    assert tools.cancelled == [call_id]
    assert session.closed
    await session.close()  # twice is fine


async def test_open_fails_with_bad_credentials(emulator: Emulator) -> None:
    """Credentials that cannot make a client fail in open() as a LiveError."""

    class Broken:
        async def client(self, options: Any) -> Any:
            raise ConnectionRefusedError

        def describe(self) -> str:
            return "broken"

    session = CascadedSession(Broken(), options_for(emulator))
    with pytest.raises(LiveError) as caught:
        await session.open()
    assert caught.value.cause == "unavailable"
    assert session.closed
    assert await collect(session, lambda _e: False) == []
