"""--wake-phrase in the web console, over the WebSocket protocol (the browser itself: test_console_journey.py).

A spoken turn counts only when its transcript starts with the name, as on satellites: until then the reply
is held back and tools wait; without the name nothing is played, no tool runs and the session is discarded.
Real parts: the bridge, the emulator over TLS through the google-genai SDK, espeak-ng Arabic speech. The
emulator cannot recognise speech: its scenario says what each spoken turn said, in order.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from gemini_live_emulator import Emulator, Scenario

from gemini_live_engine.cascaded import FALLBACK_NOTICES
from tests.audio import silence, speech_pcm
from tests.engine.live_helpers import ScriptedTools
from wyoming_bridge.settings import settings_from_args

from .console_helpers import console_bridge, console_client, push_to_talk

NAME = "روبوت"
NAMED = "روبوت ما هي بايثون"
NAMELESS = "ما هي بايثون"
ANSWER = "بايثون لغة برمجة سهلة التعلم."
JOURNEY = Scenario.from_data(
    {
        "turns": [
            {
                "user": NAMELESS,
                "language": "ar-EG",
                "model": [{"call": {"name": "get_current_time"}}, {"say": "الساعة الآن {result[output][time]}."}],
            },
            {"user": NAMED, "language": "ar-EG", "model": [{"say": ANSWER}]},
        ]
    }
)
"""Nameless first (it must get no answer and run no tool), then named (answered)."""


def recording_tools() -> ScriptedTools:
    """get_current_time, recording every call that reaches it."""

    async def get_current_time(_args: dict[str, Any]) -> dict[str, Any]:
        return {"output": {"time": "10:42"}}

    return ScriptedTools(get_current_time=get_current_time)


def question() -> bytes:
    """The Arabic question, spoken (espeak-ng), with a little silence after it."""
    return speech_pcm(NAMED, "ar-EG") + silence(0.3, 16000)


@pytest.mark.parametrize("path", ["live", "fallback"])
async def test_nameless_question_is_not_answered_and_the_named_one_is(emulator: Emulator, path: str) -> None:
    """Push to talk: the nameless turn shows the words, plays nothing, runs no tool and ends its session;
    the named turn is answered in a new session (through the fallback, with the "Live is down" notice)."""
    emulator.scenario = JOURNEY
    if path == "fallback":
        emulator.config.live_models = ()
    tools = recording_tools()
    async with (
        console_bridge(emulator, wake_phrase=NAME, tools=tools) as bridge,
        console_client(bridge, language="ar") as client,
    ):
        await client.until("ready")
        await push_to_talk(client, question())
        await client.until("not_addressed")
        await client.until("state", state="idle")
        assert client.audio == bytearray(), "nothing of the nameless turn was played"
        assert client.transcript("user") == NAMELESS
        assert client.of_type("tool") == [] and tools.calls == []
        assert client.of_type("notice") == [] and client.of_type("turn_complete") == []

        client.messages.clear()
        await push_to_talk(client, question())
        await client.until("turn_complete")
    assert client.transcript("user") == NAMED
    assert client.transcript("model") == ANSWER
    assert len(client.audio) > 24000, "the named question's answer was played"
    assert tools.calls == []
    notices = [m["text"] for m in client.of_type("notice")]
    assert notices == ([FALLBACK_NOTICES["ar"]] if path == "fallback" else [])
    if path == "live":
        assert len(emulator.connections) == 2, "the nameless turn's session was discarded, the next is new"
        assert emulator.connections[0].closed


async def test_automatic_mode_discards_the_nameless_turn(emulator: Emulator) -> None:
    """Automatic mode (Gemini's activity detection ends the turns): the same, and listening goes on."""
    emulator.scenario = JOURNEY
    tools = recording_tools()
    utterance = question() + silence(1.5, 16000)
    async with (
        console_bridge(emulator, wake_phrase=NAME, tools=tools) as bridge,
        console_client(bridge, language="ar", mode="auto") as client,
    ):
        await client.until("ready")
        await client.send({"type": "start"})
        for start in range(0, len(utterance), 640):
            await client.ws.send_bytes(utterance[start : start + 640])
        await client.until("not_addressed")
        assert (await client.until("state"))["state"] == "listening"
        for start in range(0, len(utterance), 640):
            await client.ws.send_bytes(utterance[start : start + 640])
        await client.until("turn_complete")
    assert client.transcript("user") == NAMELESS + NAMED
    assert client.transcript("model") == ANSWER
    assert tools.calls == []
    assert len(client.audio) > 24000


async def test_typed_text_needs_no_name(emulator: Emulator) -> None:
    """Typing into the console addresses the assistant: a typed question is answered without the name."""
    emulator.scenario = JOURNEY
    async with console_bridge(emulator, wake_phrase=NAME) as bridge, console_client(bridge) as client:
        await client.until("ready")
        await client.send({"type": "text", "text": NAMELESS})
        await client.until("turn_complete")
    assert client.transcript("model").startswith("الساعة الآن")
    assert client.of_type("not_addressed") == []


async def test_turn_logs_time_from_the_end_of_speech_and_the_reply_once(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The log counts the wait from the end of the user's speech, and names the reply once per turn."""
    emulator.scenario = JOURNEY
    caplog.set_level(logging.INFO)
    async with console_bridge(emulator, wake_phrase=NAME) as bridge, console_client(bridge) as client:
        await client.until("ready")
        await push_to_talk(client, question())
        await client.until("not_addressed")
        await push_to_talk(client, question())
        await client.until("turn_complete")
    lines = [r.getMessage() for r in caplog.records if r.name == "wyoming_bridge.web.console"]
    assert any(f"not addressed by the spoken name {NAME!r} (user {NAMELESS!r})" in line for line in lines), lines
    first_audio = [line for line in lines if "first reply audio" in line]
    assert len(first_audio) == 1 and first_audio[0].endswith("ms after the end of speech"), first_audio
    over = [line for line in lines if "turn complete" in line]
    assert len(over) == 1 and over[0].endswith(f"] turn complete (user {NAMED!r}, reply {ANSWER!r})"), over


def test_direct_mode_with_a_spoken_name_refuses_to_start(emulator: Emulator) -> None:
    """The browser talks to Gemini itself in direct mode, so the name cannot be enforced: refused, clearly."""
    with pytest.raises(SystemExit):
        settings_from_args(["--web", "127.0.0.1:8765", "--api-key", "k", "--web-direct", "--wake-phrase", NAME])


async def test_direct_mode_with_a_spoken_name_refuses_to_start_in_process(emulator: Emulator) -> None:
    """The same for settings made in code: the bridge does not start its console."""
    from wyoming_bridge.app import StartupError

    with pytest.raises(StartupError, match="--web-direct cannot honour --wake-phrase"):
        async with console_bridge(emulator, web_direct=True, wake_phrase=NAME):
            pass
