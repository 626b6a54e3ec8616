"""Gemini failing in the ways Google's service fails, with the whole bridge running: the figures of the
reliability issue, measured here on every run (the long versions are in benchmarks/soak.py).

Real parts: the bridge, the emulator over TLS with the real SDK, simulated satellites over TCP.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from gemini_live_demo.simulated_satellite import SimulatedSatellite
from gemini_live_emulator import Emulator, Fault, Say, Scenario, Turn

from tests.audio import silence, speech_pcm
from tests.bridge.satellite_helpers import bridge_settings, running_bridge, wake_then_command

WINDOW_S = 25.0  # the measurement window
MAX_CONNECTIONS = 6  # ... and its target


@pytest.mark.parametrize("fault", ["quota_after_setup", "reject_connects"])
async def test_a_refusing_service_is_not_stormed_and_the_first_turn_after_it_works(
    emulator: Emulator, fault: str
) -> None:
    """Every connection refused for quota (1011 right after setupComplete, or 429 on the upgrade) for 25 s:
    at most 6 connection attempts in all (401 before), one error for the turn in between, and the first turn
    after the quota returns is answered."""
    emulator.scenario = Scenario(turns=(Turn(user="What time is it?", steps=(Say("It is noon."),)),))
    setattr(emulator.config.faults, fault, 1_000_000)
    command = wake_then_command("What time is it?")
    # A turn 8 s into the outage, and one after it (the mic is real time: speed 1).
    mic = silence(8.0, 16000) + command + silence(WINDOW_S - 8.0 - len(command) / 32000 + 1.0, 16000) + command
    async with SimulatedSatellite(mic, mode="always", speed=1.0) as satellite:
        async with running_bridge(bridge_settings(emulator, (satellite.uri,), pipeline="live")) as (_bridge, watcher):
            started = time.monotonic()
            failed = await watcher.next()
            assert failed.error is not None and "quota" in failed.error
            await asyncio.sleep(max(0.0, started + WINDOW_S - time.monotonic()))  # the measurement window itself
            refused_upgrades = 1_000_000 - emulator.config.faults.reject_connects if fault == "reject_connects" else 0
            attempts = len(emulator.connections) + refused_upgrades  # a refused upgrade makes no connection record
            setattr(emulator.config.faults, fault, 0)  # the quota returns
            answered = await watcher.next()
    assert attempts <= MAX_CONNECTIONS, f"{attempts} connection attempts in {WINDOW_S:g} s"
    assert answered.error is None and answered.reply_text.strip() == "It is noon."
    assert [e.data.get("code") for e in satellite.record.of_type("error")] == ["gemini-live"], "told once"


async def test_a_1011_mid_answer_is_answered_once_without_doubled_words(emulator: Emulator) -> None:
    """1011 while the model answers: the turn is answered on a resumed connection; the user's words are not
    doubled, the turn is not treated as a barge-in (the satellite gets its synthesize and the turn ends)."""
    emulator.scenario = Scenario(
        turns=(
            Turn(user="Turn on the kitchen light", steps=(Say("Turning on"), Fault("internal_error"))),
            Turn(user="Turn on the kitchen light", steps=(Say("The kitchen light is on."),)),
        )
    )
    mic = wake_then_command("Turn on the kitchen light")
    async with SimulatedSatellite(mic, mode="always", speed=4.0) as satellite:
        async with running_bridge(bridge_settings(emulator, (satellite.uri,))) as (_bridge, watcher):
            turn = await watcher.next()
    assert turn.error is None
    assert turn.user_text.strip() == "Turn on the kitchen light"
    assert turn.reply_text.strip() == "The kitchen light is on."
    assert [e.data["text"] for e in satellite.record.of_type("synthesize")] == ["The kitchen light is on."]
    assert [e.data["text"] for e in satellite.record.of_type("transcript")] == ["Turn on the kitchen light"]
    assert [c.close_code for c in emulator.connections].count(1011) == 1
    assert sum(1 for c in emulator.connections if c.resumed_from) == 1, "the turn went on in the resumed session"


async def test_go_away_again_and_again_loses_no_user_audio(emulator: Emulator) -> None:
    """goAway 4 s into every connection (10 s left, as a shorter copy of the service's ~9 min and 50 s) through
    three turns: every turn answered, and the emulator heard every word."""
    commands = ("What time is it?", "Turn on the kitchen light", "Is the door locked?")
    emulator.scenario = Scenario(
        turns=tuple(Turn(user=c, steps=(Say(f"Answer {i}."),)) for i, c in enumerate(commands))
    )
    emulator.config.faults.go_away_after_s = 4.0
    emulator.config.faults.go_away_time_left_s = 10.0
    mic = b"".join(wake_then_command(c) + silence(3.0, 16000) for c in commands)
    async with SimulatedSatellite(mic, mode="always", speed=1.0) as satellite:
        async with running_bridge(bridge_settings(emulator, (satellite.uri,))) as (_bridge, watcher):
            turns = [await watcher.next() for _ in commands]
    assert [t.error for t in turns] == [None, None, None]
    assert [t.user_text.strip() for t in turns] == list(commands)
    assert [t.reply_text.strip() for t in turns] == ["Answer 0.", "Answer 1.", "Answer 2."]
    # An utterance a goAway cut off is recorded without a transcript on the old connection and heard whole,
    # replayed, on the new one: every command reached the model complete. One the old connection heard to its end
    # just before the goAway, before any resumption handle covered it, is replayed too: then a resumed connection
    # hears it again (and the model answers it there, once).
    heard = [(c, u) for c in emulator.connections for u in c.user_turns if u.transcript is not None]
    firsts = []
    for index, (connection, utterance) in enumerate(heard):
        if index and utterance.transcript == heard[index - 1][1].transcript:
            assert connection.resumed_from is not None and connection is not heard[index - 1][0], "heard twice"
        else:
            firsts.append(utterance)
    assert [u.transcript for u in firsts] == list(commands)
    for _connection, utterance in heard:
        assert utterance.transcript is not None
        assert len(utterance.audio) >= len(speech_pcm(utterance.transcript, "en-US")), (
            f"all of {utterance.transcript!r}"
        )
    assert sum(1 for c in emulator.connections if c.resumed_from) >= 2, "the conversation moved several times"
    assert len(satellite.record.of_type("synthesize")) == 3
