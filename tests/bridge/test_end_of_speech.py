"""The bridge tells Gemini when the user has stopped speaking (``audioStreamEnd``), end to end.

Simulated satellites over real TCP → bridge → the real SDK over TLS → emulator. The bridge asks the emulator
for a 10 s silence window, longer than any silence the satellites send: a turn that ends at all was ended by
the bridge's ``audioStreamEnd``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from gemini_live_demo.simulated_satellite import SimulatedSatellite
from gemini_live_emulator import Emulator, Scenario

from tests.audio import silence, speech_pcm

from .satellite_helpers import StreamStoppingSatellite, bridge_settings, running_bridge

LONG_SERVICE_WINDOW_MS = 10_000
COMMAND = "Turn on the kitchen light, and close the blinds."


def realtime(connection: Any) -> list[dict[str, Any]]:
    """The ``realtimeInput`` messages one Live connection received, in order."""
    return [m["realtimeInput"] for m in connection.messages if "realtimeInput" in m]


def stream_ends(emulator: Emulator) -> list[int]:
    """Per connection with a user turn: how many ``audioStreamEnd`` it got."""
    return [sum(bool(r.get("audioStreamEnd")) for r in realtime(c)) for c in emulator.connections if c.user_turns]


async def test_the_bridge_ends_the_turn_without_waiting_for_the_service(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """One utterance with a pause after a comma: one audioStreamEnd, after all of it; the whole command is heard."""
    caplog.set_level(logging.INFO, logger="wyoming_bridge.satellites.turn")
    emulator.scenario = Scenario.from_data({"turns": [{"user": COMMAND, "model": [{"say": "Done."}]}]})
    first = speech_pcm("Turn on the kitchen light,", "en-US")
    second = speech_pcm("and close the blinds.", "en-US")
    spoken = first + silence(0.3, 16000) + second  # the user stops for 300 ms after the comma
    async with SimulatedSatellite(spoken + silence(0.2, 16000), mode="local", speed=4.0) as satellite:
        settings = bridge_settings(emulator, (satellite.uri,))
        async with running_bridge(settings, service_silence_ms=LONG_SERVICE_WINDOW_MS) as (_bridge, watcher):
            turn = await watcher.next()
    assert turn.reply_text.strip() == "Done."
    assert stream_ends(emulator) == [1]
    connection = next(c for c in emulator.connections if c.user_turns)
    inputs = realtime(connection)
    end = next(i for i, r in enumerate(inputs) if r.get("audioStreamEnd"))
    before = sum(len(r["audio"]["data"]) for r in inputs[:end] if "audio" in r)
    assert before >= len(spoken), "the end came after all of the user's speech"
    assert len(connection.user_turns) == 1, "the pause after the comma did not end the turn"
    assert connection.user_turns[0].audio_seconds >= len(second) / 32000, "the turn holds the words after the pause"
    assert "end of speech (400 ms of quiet)" in caplog.text


async def test_each_utterance_of_a_conversation_is_ended(emulator: Emulator) -> None:
    """A follow-up question and its answer: the bridge ends both of the user's utterances."""
    emulator.scenario = Scenario.from_data(
        {
            "turns": [
                {"user": "Turn on the light.", "expect_reply": True, "model": [{"say": "Which room?"}]},
                {"user": "The kitchen.", "model": [{"say": "The kitchen light is on."}]},
            ]
        }
    )
    mic = speech_pcm("Turn on the light.", "en-US") + silence(2.5, 16000) + speech_pcm("The kitchen.", "en-US")
    async with SimulatedSatellite(mic, mode="local", speed=1.0) as satellite:
        settings = bridge_settings(emulator, (satellite.uri,), follow_up_s=6.0)
        async with running_bridge(settings, service_silence_ms=LONG_SERVICE_WINDOW_MS) as (_bridge, watcher):
            turn = await watcher.next()
    assert turn.reply_text.strip() == "Which room? The kitchen light is on."
    assert stream_ends(emulator) == [2]


async def test_the_satellites_audio_stop_is_its_end_of_speech(emulator: Emulator) -> None:
    """A satellite with its own VAD stops streaming (audio-stop): the bridge tells Gemini at once."""
    emulator.scenario = Scenario.from_data({"turns": [{"user": COMMAND, "model": [{"say": "Done."}]}]})
    async with StreamStoppingSatellite(speech_pcm(COMMAND, "en-US")) as satellite:
        settings = bridge_settings(emulator, (satellite.uri,), end_of_speech_ms=0)
        async with running_bridge(settings, service_silence_ms=LONG_SERVICE_WINDOW_MS) as (_bridge, watcher):
            turn = await watcher.next()
            await asyncio.wait_for(satellite.transcript_received.wait(), timeout=10)
    assert turn.reply_text.strip() == "Done."
    assert stream_ends(emulator) == [1]
    assert [e.data["text"] for e in satellite.events if e.type == "transcript"] == [COMMAND]


async def test_zero_leaves_the_end_to_the_service(emulator: Emulator) -> None:
    """--end-of-speech-ms 0: no audioStreamEnd; the service's own window (500 ms here) ends the turn."""
    emulator.scenario = Scenario.from_data({"turns": [{"user": COMMAND, "model": [{"say": "Done."}]}]})
    mic = speech_pcm(COMMAND, "en-US") + silence(1.0, 16000)
    async with SimulatedSatellite(mic, mode="local", speed=4.0) as satellite:
        settings = bridge_settings(emulator, (satellite.uri,), end_of_speech_ms=0)
        async with running_bridge(settings) as (_bridge, watcher):
            turn = await watcher.next()
    assert turn.reply_text.strip() == "Done."
    assert stream_ends(emulator) == [0]
