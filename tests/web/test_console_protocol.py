"""The console's WebSocket protocol through a real bridge, emulator and SDK (no browser: see test_console_browser)."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import numpy as np
import pytest
import soxr
from gemini_live_emulator import Emulator

from gemini_live_engine import EphemeralTokenCredentials, LiveError, LiveOptions, LiveSession, TurnComplete
from gemini_live_engine.events import AudioOut
from tests.audio import silence, speech_pcm
from tests.scenarios import TIME_SCENARIO
from wyoming_bridge.settings import settings_from_args

from .console_helpers import console_bridge, console_client, push_to_talk


async def test_typed_request_is_answered_with_transcripts_tool_and_audio(emulator: Emulator) -> None:
    """A text turn: user line, the tool call, the model's transcript and 24 kHz reply audio, then turn_complete."""
    emulator.scenario = TIME_SCENARIO
    async with console_bridge(emulator) as bridge, console_client(bridge) as client:
        ready = await client.until("ready")
        assert ready["transport"] == "bridge" and ready["output_rate"] == 24000
        await client.send({"type": "text", "text": "What time is it?"})
        await client.until("turn_complete")
        await client.until("state", state="idle")
    assert client.transcript("user") == "What time is it?"
    assert client.transcript("model").startswith("It is ")
    assert [m["status"] for m in client.of_type("tool")] == ["started", "finished"]
    assert len(client.audio) / 48000 > 1.0, "over a second of 24 kHz reply audio"
    states = [m["state"] for m in client.of_type("state")]
    assert states == ["connecting", "thinking", "speaking", "idle"]


async def test_push_to_talk_at_48_khz_is_resampled_and_answered(emulator: Emulator) -> None:
    """start, 48 kHz speech, stop: the emulator hears the words (manual activity), the reply comes back."""
    emulator.scenario = TIME_SCENARIO
    speech = speech_pcm("What time is it?", "en-US") + silence(0.3, 16000)
    pcm48 = soxr.resample(np.frombuffer(speech, dtype=np.int16), 16000, 48000).astype(np.int16).tobytes()
    async with console_bridge(emulator) as bridge, console_client(bridge, rate=48000) as client:
        await client.until("ready")
        await client.send({"type": "start"})
        for start in range(0, len(pcm48), 1920):
            await client.ws.send_bytes(pcm48[start : start + 1920])
        await client.send({"type": "stop"})
        await client.until("turn_complete")
    assert client.transcript("user").strip() == "What time is it?"
    assert client.transcript("model").startswith("It is ")
    user_turn = next(c for c in emulator.connections if c.user_turns).user_turns[0]
    assert 1.0 < user_turn.audio_seconds < len(speech) / 32000 + 0.5, "the emulator got the speech at 16 kHz"
    assert len(client.audio) > 48000


async def test_automatic_mode_tells_gemini_the_end_of_speech(emulator: Emulator) -> None:
    """Automatic mode: after the user's speech and 400 ms of quiet, one audioStreamEnd ends the turn.

    The bridge asks Gemini for a 10 s silence window, longer than the quiet sent: the turn ends by the bridge.
    """
    emulator.scenario = TIME_SCENARIO
    speech = speech_pcm("What time is it?", "en-US") + silence(1.0, 16000)
    async with (
        console_bridge(emulator, service_silence_ms=10_000) as bridge,
        console_client(bridge, mode="auto") as client,
    ):
        await client.until("ready")
        await client.send({"type": "start"})
        for start in range(0, len(speech), 640):  # 20 ms frames, as browsers send them
            await client.ws.send_bytes(speech[start : start + 640])
        await client.until("turn_complete")
    assert client.transcript("user").strip() == "What time is it?"
    connection = next(c for c in emulator.connections if c.user_turns)
    ends = [m for m in connection.messages if m.get("realtimeInput", {}).get("audioStreamEnd")]
    assert len(ends) == 1 and len(connection.user_turns) == 1


async def test_clear_starts_a_new_conversation(emulator: Emulator) -> None:
    """After clear, the next turn runs in a new Live session (the old one is closed)."""
    async with console_bridge(emulator) as bridge, console_client(bridge) as client:
        await client.until("ready")
        await client.send({"type": "text", "text": "Hello there."})
        await client.until("turn_complete")
        await client.send({"type": "clear"})
        await client.until("cleared")
        await client.send({"type": "text", "text": "Hello again."})
        await client.until("turn_complete")
    used = [c for c in emulator.connections if c.user_turns]
    assert [len(c.user_turns) for c in used] == [1, 1], "each conversation had its own session"


async def test_bad_messages_are_answered_and_the_connection_stays(emulator: Emulator) -> None:
    """An unknown type, odd audio, direct-only messages: an error each, then a turn still works.

    (A frame that is not JSON at all closes the connection: tests/reliability/test_console_abuse.py.)
    """
    async with console_bridge(emulator) as bridge, console_client(bridge) as client:
        await client.until("ready")
        await client.send({"type": "dance"})
        assert "unknown message type" in (await client.until("error"))["message"]
        await client.send({"type": "start"})
        await client.ws.send_bytes(b"\x01\x02\x03")
        assert (await client.until("error"))["code"] == "bad_audio"
        await client.send({"type": "token"})
        assert (await client.until("error"))["code"] == "not_direct"
        await client.send({"type": "stop"})
        await client.send({"type": "text", "text": "Are you still there?"})
        await client.until("turn_complete")
    assert client.transcript("model")


async def test_wrong_password_is_refused_and_right_one_accepted(emulator: Emulator) -> None:
    """A wrong password: error bad_password and close 4401; the right one: ready."""
    async with console_bridge(emulator, web_password="sesame") as bridge:
        async with console_client(bridge, password="open up") as client:
            error = await client.next_message()
            closing = await client.ws.receive()
        assert error == {"type": "error", "code": "bad_password", "message": "wrong password"}
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 4401
        async with console_client(bridge) as client:
            assert (await client.next_message())["code"] == "bad_password", "no password at all"
        async with console_client(bridge, password="sesame") as client:
            assert (await client.next_message())["type"] == "ready"


async def test_repeated_wrong_passwords_lock_the_address_out(emulator: Emulator) -> None:
    """After five wrong passwords even the right one waits."""
    async with console_bridge(emulator, web_password="sesame") as bridge:
        for _ in range(5):
            async with console_client(bridge, password="guess") as client:
                assert (await client.next_message())["code"] == "bad_password"
        async with console_client(bridge, password="sesame") as client:
            assert (await client.next_message())["code"] == "too_many_attempts"


async def test_other_web_sites_cannot_open_the_console(emulator: Emulator) -> None:
    """A WebSocket upgrade with a foreign Origin is refused with 403; the console's own origin is accepted."""
    async with console_bridge(emulator) as bridge:
        assert bridge.console is not None
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with console_client(bridge, origin="https://evil.example"):
                pass
        assert refused.value.status == 403
        own = bridge.console.url.rstrip("/")
        async with console_client(bridge, origin=own) as client:
            assert (await client.next_message())["type"] == "ready"


async def test_first_message_must_be_hello(emulator: Emulator) -> None:
    """Anything but a hello first closes with 4400 and says why."""
    async with console_bridge(emulator) as bridge:
        assert bridge.console is not None
        async with aiohttp.ClientSession() as http, http.ws_connect(bridge.console.url + "ws") as ws:
            await ws.send_str('{"type": "start"}')
            error = await ws.receive_json()
            closing = await ws.receive()
    assert error["code"] == "bad_message" and "hello" in error["message"]
    assert closing.data == 4400


async def test_oversized_frame_closes_only_that_console(emulator: Emulator) -> None:
    """A frame over 1 MiB closes its connection (1009); another console keeps working."""
    async with console_bridge(emulator) as bridge, console_client(bridge) as other:
        await other.until("ready")
        async with console_client(bridge) as client:
            await client.until("ready")
            await client.send({"type": "start"})
            await client.ws.send_bytes(bytes(2 * 1024 * 1024))
            closing = await asyncio.wait_for(client.ws.receive(), timeout=10)
            while closing.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                closing = await asyncio.wait_for(client.ws.receive(), timeout=10)
        assert client.ws.close_code == 1009
        await other.send({"type": "text", "text": "Still here?"})
        await other.until("turn_complete")


async def test_direct_mode_hands_out_a_single_use_token_and_runs_tools(emulator: Emulator) -> None:
    """Direct mode: the token opens one Live session (and not a second); tool calls run in the bridge."""
    emulator.scenario = TIME_SCENARIO
    async with console_bridge(emulator, web_direct=True) as bridge, console_client(bridge) as client:
        assert (await client.until("ready"))["transport"] == "direct"
        await client.send({"type": "token"})
        token = await client.until("token")
        assert token["token"].startswith("auth_tokens/")
        assert token["url"].startswith("wss://127.0.0.1:") and token["url"].endswith(
            "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"
        )
        assert token["setup"] == {"model": "models/gemini-3.8-live"}
        assert emulator.api_key not in str(client.messages)

        async def provider() -> str:
            return str(token["token"])

        options = LiveOptions(base_url=emulator.base_url, ca_file=emulator.ca_file, max_retries=0)
        session = LiveSession(EphemeralTokenCredentials(provider), options, label="browser")
        await session.open()
        await session.send_text("What time is it?")
        audio = 0
        async for event in session.events():
            if isinstance(event, AudioOut):
                audio += len(event.pcm)
            if isinstance(event, TurnComplete):
                break
        await session.close()
        assert audio > 0
        again = LiveSession(EphemeralTokenCredentials(provider), options, label="browser")
        with pytest.raises(LiveError):
            await again.open()

        await client.send({"type": "tool_call", "calls": [{"id": "c1", "name": "get_current_time", "args": {}}]})
        result = await client.until("tool_result")
    response = result["responses"][0]
    assert response["id"] == "c1" and response["name"] == "get_current_time"
    assert set(response["response"]["output"]) >= {"date", "time", "weekday"}


async def test_cascaded_fallback_answers_the_console_when_live_is_refused(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """No Live model: the console's turn is answered through REST text + speech, with one notice."""
    emulator.config.live_models = ()
    emulator.scenario = TIME_SCENARIO
    caplog.set_level(logging.INFO)
    async with console_bridge(emulator) as bridge, console_client(bridge) as client:
        await client.until("ready")
        await client.send({"type": "text", "text": "What time is it?"})
        await client.until("turn_complete")
    assert len(client.of_type("notice")) == 1
    assert client.transcript("model").startswith("It is ")
    assert len(client.audio) > 48000
    assert "answering through Gemini text and speech" in caplog.text


def test_console_on_the_network_needs_a_password() -> None:
    """--web on a non-loopback address without a password is refused; with one it is accepted."""
    with pytest.raises(SystemExit):
        settings_from_args(["--web", "0.0.0.0:8765", "--api-key", "k"])
    settings = settings_from_args(["--web", "0.0.0.0:8765", "--api-key", "k", "--web-password", "p"])
    assert settings.web == ("0.0.0.0", 8765) and not settings.web_is_loopback
    assert "p" not in repr(settings).split("web_password")[-1][:5]
    loopback = settings_from_args(["--web", "[::1]:8765", "--api-key", "k"])
    assert loopback.web == ("::1", 8765) and loopback.web_is_loopback
    with pytest.raises(SystemExit):
        settings_from_args(["--web", "127.0.0.1:8765", "--vertex-project", "p", "--web-direct"])
    with pytest.raises(SystemExit):
        settings_from_args(["--web", "nonsense", "--api-key", "k"])


async def test_a_silent_console_loses_its_session(emulator: Emulator) -> None:
    """No message for the idle time: the session is closed (a vanished browser holds no Gemini session)."""
    async with console_bridge(emulator, standby_idle_s=1.0) as bridge, console_client(bridge) as client:
        await client.until("ready")
        await client.send({"type": "text", "text": "Hello there."})
        await client.until("turn_complete")
        used = next(c for c in emulator.connections if c.user_turns)
        assert not used.closed
        await client.until("cleared")
        assert used.closed and used.close_code == 1000
        await client.send({"type": "text", "text": "Hello again."})
        await client.until("turn_complete")
    assert [len(c.user_turns) for c in emulator.connections if c.user_turns] == [1, 1]


def test_hello_language_must_be_a_language_tag() -> None:
    """The browser's language reaches the log only when it is a BCP 47 tag (no forged log lines)."""
    from wyoming_bridge.web.console import parse_hello

    assert parse_hello({"type": "hello", "language": "ar-EG"}).language == "ar-EG"
    assert parse_hello({"type": "hello", "language": "en\nCRITICAL forged line"}).language is None
    assert parse_hello({"type": "hello", "language": 7}).language is None


async def test_the_browsers_language_is_the_sessions(emulator: Emulator) -> None:
    """hello's language (the page's: the browser's, or ?lang=) sets up the session: an unscripted spoken
    turn from an Arabic browser is answered in Arabic."""
    async with console_bridge(emulator) as bridge, console_client(bridge, language="ar-EG") as client:
        ready = await client.until("ready")
        await push_to_talk(client, speech_pcm("مرحبا", "ar-EG") + silence(0.3, 16000))
        await client.until("turn_complete")
    assert ready["language"] == "ar-EG"
    setup = emulator.connections[0].setup
    assert setup is not None and "ar-EG" in str(setup), "the session was set up in the browser's language"
    assert client.transcript("model") == "سمعتك. هذا محاكي جيميني لايف."


async def test_one_session_per_console_of_the_right_kind(emulator: Emulator) -> None:
    """Nothing is opened before the console talks; a conversation holds exactly one session, and a console
    switched to automatic mode before it talks opens only an automatic one."""
    async with console_bridge(emulator) as bridge:
        async with console_client(bridge) as client:
            await client.until("ready")
            await client.send({"type": "mode", "mode": "auto"})
            await client.until("state", state="idle")
            assert emulator.connections == [], "no session before the console talks"
            await client.send({"type": "text", "text": "Hello there."})
            await client.until("turn_complete")
            await client.send({"type": "text", "text": "Hello again."})
            await client.until("turn_complete")
            assert len(emulator.connections) == 1, "one session for the conversation, none warmed beside it"
    setup = emulator.connections[0].setup
    assert setup is not None and "disabled" not in str(setup), "an automatic-mode session from the start"
    assert emulator.connections[0].closed


async def test_consoles_share_a_bounded_number_of_sessions(emulator: Emulator) -> None:
    """--web-max-sessions 1: a second console that talks takes the slot of the idle one (which is told its
    conversation ended); while the holder is mid-turn, the other is refused with busy."""
    async with (
        console_bridge(emulator, web_max_sessions=1) as bridge,
        console_client(bridge) as first,
        console_client(bridge) as second,
    ):
        await first.until("ready")
        await second.until("ready")
        await first.send({"type": "text", "text": "Hello there."})
        await first.until("turn_complete")
        await second.send({"type": "text", "text": "Hello again."})
        await second.until("turn_complete")
        assert (await first.until("cleared"))["reason"] == "busy"
        assert [c.closed for c in emulator.connections] == [True, False]

        await second.send({"type": "start"})  # mid-turn: its session stays its own
        await second.until("state", state="listening")
        await first.send({"type": "text", "text": "Me again."})
        assert (await first.until("error"))["code"] == "busy"
        await second.send({"type": "stop"})
    assert len(emulator.connections) == 2


async def test_refused_credentials_are_found_at_start_and_named_before_a_turn(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A Developer key that is not valid: one log line at start, an error naming it as soon as a page
    connects, and a turn makes no request with it (no Live session, no REST fallback)."""
    caplog.set_level(logging.INFO)
    bad_key = "AIzaSyNotAKeyTheEmulatorKnows0000000"
    async with console_bridge(emulator, api_key=bad_key) as bridge, console_client(bridge) as client:
        await client.until("ready")
        first = await client.until("error")
        await client.send({"type": "text", "text": "What time is it?"})
        second = await client.until("error")
    refused = [r.getMessage() for r in caplog.records if "refused the bridge's credentials" in r.getMessage()]
    assert len(refused) == 1 and "API key not valid" in refused[0]
    assert bad_key not in caplog.text
    for error in (first, second):
        assert (error["code"], error["cause"]) == ("credentials", "auth_invalid_key")
    assert emulator.connections == [] and list(emulator.rest_requests) == []
