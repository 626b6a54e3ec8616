"""End to end: simulated Wyoming satellites (real TCP, the ``wyoming`` library) ↔ bridge ↔ emulator (SDK, TLS).

Both satellite modes, the spoken-name wake word, playback format, end-of-turn events, follow-up questions,
disconnects mid-turn and bad frames.
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto

import numpy as np
from gemini_live_demo.simulated_satellite import SimulatedSatellite
from gemini_live_emulator import Emulator, Scenario

from gemini_live_engine.live.link import TLS_READ_BYTES
from tests.audio import silence, speech_pcm
from tests.scenarios import TIME_SCENARIO

from .satellite_helpers import bridge_settings, running_bridge, wake_then_command


def loudness(pcm: bytes) -> float:
    """RMS of 16-bit PCM."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


async def test_always_streaming_satellite_bridge_detects_wake_word(emulator: Emulator) -> None:
    """Wake word heard by the bridge → detection back → tool call → reply played at the satellite's rate."""
    emulator.scenario = TIME_SCENARIO
    mic = wake_then_command("What time is it?")
    async with SimulatedSatellite(mic, mode="always", speed=4.0) as satellite:
        async with running_bridge(bridge_settings(emulator, (satellite.uri,))) as (bridge, watcher):
            turn = await watcher.next()
            await asyncio.wait_for(satellite.transcript_received.wait(), timeout=10)
            assert bridge.controller(satellite.uri).wake_word_detector is not None
            assert asyncio.sslproto.SSLProtocol.max_size == TLS_READ_BYTES, "the bridge's Live sockets read less"

    assert turn.trigger == "wake word okay_nabu"
    assert turn.user_text.strip() == "What time is it?"
    assert turn.tool_calls and turn.tool_calls[0].startswith("get_current_time")
    assert turn.reply_text.strip().startswith("It is ") and "{" not in turn.reply_text
    record = satellite.record
    assert [e.data["name"] for e in record.of_type("detection")] == ["okay_nabu"]
    assert record.played_format == (22050, 2, 1), "reply converted to the satellite's snd_format"
    seconds = len(record.played) / (2 * 22050)
    assert seconds > 1.0 and loudness(bytes(record.played)) > 300
    types_sent = [e.type for e in record.events]
    assert types_sent.index("audio-start") < types_sent.index("audio-stop") < types_sent.index("transcript")
    assert [e.data["text"] for e in record.of_type("transcript")] == ["What time is it?"]
    assert record.of_type("synthesize")[0].data["text"] == turn.reply_text.strip()
    # The emulator heard the command (and the pre-roll), not the silence before the wake word.
    user_turn = next(c for c in emulator.connections if c.user_turns).user_turns[0]
    assert user_turn.transcript == "What time is it?"
    assert user_turn.audio_seconds > 1.0


async def test_local_wake_satellite_starts_turn_at_once(emulator: Emulator) -> None:
    """A satellite that detects the wake word itself (run-pipeline from asr) gets its turn, then stops streaming."""
    emulator.scenario = TIME_SCENARIO
    mic = speech_pcm("What time is it?", "en-US") + silence(0.2, 16000)
    async with SimulatedSatellite(mic, mode="local", speed=4.0) as satellite:
        async with running_bridge(bridge_settings(emulator, (satellite.uri,))) as (bridge, watcher):
            turn = await watcher.next()
            await asyncio.wait_for(satellite.transcript_received.wait(), timeout=10)
            detector = bridge.controller(satellite.uri).wake_word_detector
    assert turn.trigger == "satellite wake word"
    assert turn.user_text.strip() == "What time is it?"
    assert satellite.record.of_type("detection") == [], "the bridge does not echo the satellite's own detection"
    assert detector is None, "a satellite that never streams outside a turn holds no wake-word models"
    assert len(satellite.record.played) > 0


async def test_spoken_name_in_arabic(emulator: Emulator) -> None:
    """--wake-phrase روبوت: a turn that starts with the name is answered."""
    emulator.scenario = Scenario.from_data(
        {"turns": [{"user": "روبوت، كم الساعة؟", "language": "ar-EG", "model": [{"say": "الساعة الثالثة."}]}]}
    )
    mic = silence(1.0, 16000) + speech_pcm("روبوت، كم الساعة؟", "ar-EG") + silence(0.2, 16000)
    settings = bridge_settings(emulator, (), wake_words=(), wake_phrase="روبوت")
    async with SimulatedSatellite(mic, mode="always", speed=4.0) as satellite:
        settings = bridge_settings(emulator, (satellite.uri,), wake_words=(), wake_phrase="روبوت")
        async with running_bridge(settings) as (_bridge, watcher):
            turn = await watcher.next()
    assert turn.accepted
    assert turn.trigger.startswith("speech")
    assert turn.reply_text.strip() == "الساعة الثالثة."
    assert len(satellite.record.played) > 0


async def test_spoken_name_absent_plays_nothing_and_runs_no_tool(emulator: Emulator) -> None:
    """Speech that does not start with the name: nothing is played and no tool runs."""
    emulator.scenario = Scenario.from_data(
        {
            "turns": [
                {
                    "user": "كم الساعة؟",
                    "language": "ar-EG",
                    "model": [{"call": {"name": "get_current_time"}}, {"say": "الساعة الثالثة."}],
                }
            ]
        }
    )
    mic = silence(1.0, 16000) + speech_pcm("كم الساعة؟", "ar-EG") + silence(0.2, 16000)
    async with SimulatedSatellite(mic, mode="always", speed=4.0) as satellite:
        settings = bridge_settings(emulator, (satellite.uri,), wake_words=(), wake_phrase="روبوت")
        async with running_bridge(settings) as (_bridge, watcher):
            turn = await watcher.next()
    assert not turn.accepted
    assert satellite.record.played == bytearray()
    assert satellite.record.of_type("audio-start") == []
    responses = [r for c in emulator.connections for r in c.tool_responses]
    assert all("error" in fr["response"] for r in responses for fr in r["functionResponses"])


async def test_satellite_disconnect_mid_turn_releases_session(emulator: Emulator) -> None:
    """A satellite that goes away mid-turn: its Live session is closed, the bridge keeps running."""
    emulator.config.generation_speed = 0.5
    emulator.scenario = Scenario.from_data(
        {"turns": [{"user": "Tell me a story.", "model": [{"say": "Once upon a time there was a long story. " * 4}]}]}
    )
    mic = wake_then_command("Tell me a story.")
    async with SimulatedSatellite(mic, mode="always", speed=4.0) as satellite:
        async with running_bridge(bridge_settings(emulator, (satellite.uri,))) as (bridge, watcher):
            controller = bridge.controller(satellite.uri)
            await asyncio.wait_for(satellite.reply_started.wait(), timeout=30)
            await satellite.stop()
            turn = await watcher.next()
            assert controller.state == "idle"
    assert turn.user_text.strip() == "Tell me a story."
    live = [c for c in emulator.connections if c.user_turns]
    assert live and all(c.closed for c in live), "the turn's Live connection was closed"


async def test_follow_up_question_needs_no_wake_word(emulator: Emulator) -> None:
    """The model asks a question: the bridge keeps listening, the answer needs no second wake word."""
    emulator.scenario = Scenario.from_data(
        {
            "turns": [
                {"user": "Turn on the light.", "expect_reply": True, "model": [{"say": "Which room?"}]},
                {"user": "The kitchen.", "model": [{"say": "The kitchen light is on."}]},
            ]
        }
    )
    mic = wake_then_command("Turn on the light.") + silence(2.5, 16000) + speech_pcm("The kitchen.", "en-US")
    async with SimulatedSatellite(mic, mode="always", speed=1.0) as satellite:
        settings = bridge_settings(emulator, (satellite.uri,), follow_up_s=6.0)
        async with running_bridge(settings) as (_bridge, watcher):
            turn = await watcher.next()
    # Each utterance and answer of the conversation set apart (not "Which room?The kitchen light is on.").
    assert turn.user_text.strip() == "Turn on the light. The kitchen."
    assert turn.reply_text.strip() == "Which room? The kitchen light is on."
    assert len(satellite.record.of_type("detection")) == 1
    assert [e.data["text"] for e in satellite.record.of_type("synthesize")] == [
        "Which room?",
        "Which room? The kitchen light is on.",
    ]
    assert len(satellite.record.of_type("transcript")) == 1, "one conversation, ended once"


async def test_an_answer_begun_late_in_the_follow_up_window_is_heard_to_its_end(emulator: Emulator) -> None:
    """The user starts answering the model's question while it is still being played and talks on well past
    the follow-up window: the window runs from the last speech heard, so the answer is not cut off."""
    answer = "The kitchen, the one by the garden, next to the back door, where the long table stands."
    emulator.scenario = Scenario.from_data(
        {
            "turns": [
                {"user": "Turn on the light.", "expect_reply": True, "model": [{"say": "Which room?"}]},
                {"user": answer, "model": [{"say": "The kitchen light is on."}]},
            ]
        }
    )
    mic = wake_then_command("Turn on the light.") + silence(0.3, 16000) + speech_pcm(answer, "en-US")
    async with SimulatedSatellite(mic, mode="always", speed=1.0) as satellite:
        settings = bridge_settings(emulator, (satellite.uri,), follow_up_s=1.0)
        async with running_bridge(settings) as (_bridge, watcher):
            turn = await watcher.next()
    assert turn.reply_text.strip() == "Which room? The kitchen light is on."
    assert turn.user_text.strip() == f"Turn on the light. {answer}"


async def test_barge_in_stops_playback(emulator: Emulator) -> None:
    """With barge-in on, the user talking over the reply interrupts it: playback stops early."""
    emulator.config.generation_speed = 1.0
    long_reply = "Here is a very long answer that keeps going for quite a while, sentence after sentence. " * 3
    emulator.scenario = Scenario.from_data(
        {
            "turns": [
                {"user": "Tell me everything.", "model": [{"say": long_reply}]},
                {"user": "Stop talking please.", "model": [{"say": "Okay."}]},
            ]
        }
    )
    mic = wake_then_command("Tell me everything.") + silence(2.0, 16000) + speech_pcm("Stop talking please.", "en-US")
    async with SimulatedSatellite(mic, mode="always", speed=1.0) as satellite:
        settings = bridge_settings(emulator, (satellite.uri,), barge_in=True)
        async with running_bridge(settings) as (_bridge, watcher):
            turn = await watcher.next()
    full = emulator.synthesizer.synthesize(long_reply, "en-US", sample_rate=22050, voice="Kore")
    conversation = next(c for c in emulator.connections if c.user_turns)
    assert conversation.user_turns[1].interrupted_model
    assert turn.reply_text.strip().endswith("Okay.")
    assert len(satellite.record.played) < len(full) * 0.8, "the long reply was cut short"


async def test_mic_muted_while_speaking_without_barge_in(emulator: Emulator) -> None:
    """Without barge-in the mic is muted during playback: talking over the reply does not interrupt it."""
    emulator.config.generation_speed = 1.0
    reply = "Here is a fairly long answer, so that there is time to talk over it."
    emulator.scenario = Scenario.from_data({"turns": [{"user": "Tell me something.", "model": [{"say": reply}]}]})
    mic = wake_then_command("Tell me something.") + silence(1.5, 16000) + speech_pcm("Stop talking please.", "en-US")
    async with SimulatedSatellite(mic, mode="always", speed=1.0) as satellite:
        async with running_bridge(bridge_settings(emulator, (satellite.uri,))) as (_bridge, watcher):
            turn = await watcher.next()
    assert turn.reply_text.strip() == reply
    assert not any(t.interrupted_model for c in emulator.connections for t in c.user_turns)
    assert [len(c.user_turns) for c in emulator.connections if c.user_turns] == [1]


async def test_refused_credentials_reach_the_satellite_as_a_named_error(emulator: Emulator) -> None:
    """A key the service refuses: the satellite gets an error event naming the cause; no hang."""
    mic = wake_then_command("What time is it?")
    async with SimulatedSatellite(mic, mode="always", speed=4.0) as satellite:
        settings = bridge_settings(emulator, (satellite.uri,), api_key="AIza-not-a-valid-key")
        async with running_bridge(settings) as (_bridge, watcher):
            turn = await watcher.next()
    assert turn.error is not None and "API key" in turn.error
    errors = satellite.record.of_type("error")
    assert errors and "API key" in errors[0].data["text"]
    assert satellite.record.played == bytearray()
