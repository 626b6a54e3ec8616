"""The soak: ``uv run python -m benchmarks.soak`` (``--minutes 10`` by default; README.md beside this file).

A long conversation while Gemini moves the session again and again, and a satellite that keeps dropping off,
with the whole bridge running in this process against the emulator (real TLS, the real SDK, simulated
satellites over TCP). It prints what a user would notice (turns answered, speech lost, how long a dropped
satellite takes to come back) and what an operator would (memory, file descriptors, tasks at the start and
the end). The short, asserted versions of the same faults are in tests/reliability/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from gemini_live_demo.simulated_satellite import SimulatedSatellite
from gemini_live_emulator import Emulator, EmulatorConfig, Say, Scenario, Turn

from tests.audio import read_wav, silence, speech_pcm
from wyoming_bridge.app import Bridge
from wyoming_bridge.satellites.turn import TurnLog
from wyoming_bridge.settings import default_settings

WAKE = Path(__file__).parents[1] / "tests" / "data" / "wakeword" / "okay_nabu_2.wav"
COMMANDS = ("What time is it?", "Turn on the kitchen light", "Is the front door locked?", "Play some music")


@dataclass
class Snapshot:
    """What the process holds at one moment."""

    rss_mb: float
    fds: int
    tasks: int

    @classmethod
    def now(cls) -> Snapshot:
        """Taken after a garbage collection."""
        gc.collect()
        with open("/proc/self/statm", encoding="ascii") as statm:
            rss_pages = int(statm.read().split()[1])
        return cls(
            rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20, len(os.listdir("/proc/self/fd")), len(asyncio.all_tasks())
        )


@dataclass
class Results:
    """The soak's figures."""

    turns: list[TurnLog] = field(default_factory=list)
    reconnect_s: list[float] = field(default_factory=list)
    drops: int = 0
    snapshots: list[Snapshot] = field(default_factory=list)  # each time the dropped satellite is back


def conversation(minutes: float) -> bytes:
    """A microphone that is quiet for 20 s (the baseline is taken then), then asks one question after another,
    with room for each answer, for ``minutes``."""
    wake, _rate = read_wav(WAKE)
    pieces: list[bytes] = [silence(20.0, 16000)]
    total = 0
    index = 0
    while total < minutes * 60 * 32000:
        piece = wake + speech_pcm(COMMANDS[index % len(COMMANDS)], "en-US") + silence(9.0, 16000)
        pieces.append(piece)
        total += len(piece)
        index += 1
    return b"".join(pieces)


async def dropping_satellite(
    results: Results, stop: asyncio.Event, done: asyncio.Event, back: asyncio.Event, bridge: Bridge
) -> None:
    """A satellite that goes away and comes back on the same port, again and again; how long it takes to be
    controlled again. Once ``stop`` is set it stays connected until ``done``."""
    satellite = SimulatedSatellite(silence(1.0, 16000), speed=1.0, name="dropper")
    await satellite.start()
    uri = satellite.uri
    connection = await bridge.add_satellite(uri)
    disconnected = asyncio.Event()
    handler = connection.handler
    original = handler.disconnected

    async def noticed() -> None:  # the turn controller's disconnected(), and a signal for the soak
        await original()
        disconnected.set()

    handler.disconnected = noticed  # type: ignore[method-assign]
    try:
        while not stop.is_set():
            await asyncio.wait_for(connection.connected.wait(), 60)
            await satellite.stop()  # drops the bridge's connection
            results.drops += 1
            dropped_at = time.monotonic()
            satellite = SimulatedSatellite(silence(1.0, 16000), speed=1.0, name="dropper", port=satellite.port)
            await satellite.start()
            await asyncio.wait_for(disconnected.wait(), 60)  # the bridge noticed the drop
            disconnected.clear()
            await asyncio.wait_for(connection.connected.wait(), 60)
            results.reconnect_s.append(time.monotonic() - dropped_at)
            back.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5.0)
        await done.wait()
    finally:
        await satellite.stop()


async def quiet(bridge: Bridge) -> None:
    """Until every satellite is connected with a warm session ready and nobody talking (the state compared)."""
    for uri, connection in bridge.satellites.items():
        await asyncio.wait_for(connection.connected.wait(), 60)
        source = bridge.controller(uri)._sessions
        standby = getattr(source, "standby", None)
        if standby is not None:
            await asyncio.wait_for(standby.wait_state("ready"), 60)


class HeardAudio:
    """Checks each utterance the emulator heard against the speech it should hold, then frees its audio.

    The emulator keeps every byte it receives; over a long soak that would grow this process and hide the
    bridge's own memory, so each finished utterance is checked once and its audio dropped.
    """

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self._seen: set[int] = set()
        self.utterances = 0
        self.short = 0

    def check(self) -> None:
        """Look at the utterances finished since the last call."""
        for record in self._emulator.connections:
            for user in record.user_turns:
                if user.transcript is None or id(user) in self._seen:
                    continue
                self._seen.add(id(user))
                self.utterances += 1
                if len(user.audio) < len(speech_pcm(user.transcript, "en-US")) * 0.95:
                    self.short += 1
                user.audio.clear()
            record.audio.clear()
            record.messages.clear()  # every client message, audio included (as base64 text): 25 MB in 10 minutes


async def soak(minutes: float, go_away_s: float) -> None:
    """Run the soak and print its report."""
    mic = conversation(minutes)
    questions = max(1, len(mic) // 32000 // 13)
    # Every answer asks for more, so the whole soak is one conversation in one Live session, moved by goAway.
    scenario = Scenario(
        turns=tuple(
            Turn(user=COMMANDS[i % len(COMMANDS)], steps=(Say("All right. What else?"),)) for i in range(questions * 2)
        )
    )
    config = EmulatorConfig(generation_speed=4.0, resumption_update_interval_s=1.0)
    config.faults.go_away_after_s = go_away_s
    config.faults.go_away_time_left_s = 50.0
    results = Results()
    async with Emulator(config, scenario) as emulator, SimulatedSatellite(mic, speed=1.0, name="talker") as talker:
        heard = HeardAudio(emulator)
        settings = default_settings(
            (talker.uri,),
            emulator.api_key,
            gemini_base_url=emulator.base_url,
            gemini_ca_file=Path(emulator.ca_file),
            follow_up_s=12.0,  # the next question comes within the follow-up window
            standby_idle_s=minutes * 60 + 600,  # warm sessions stay warm, so the start and the end compare alike
            log_format="%(message)s",
        )

        async def on_turn_end(log: TurnLog) -> None:
            results.turns.append(log)

        bridge = Bridge(settings, on_turn_end=on_turn_end)
        await bridge.start()
        stop, done, back = asyncio.Event(), asyncio.Event(), asyncio.Event()
        dropper = asyncio.create_task(dropping_satellite(results, stop, done, back, bridge))
        started = time.monotonic()
        await back.wait()  # the dropped satellite came back once: everything has been used once
        await quiet(bridge)
        results.snapshots.append(Snapshot.now())  # the baseline
        while not talker.mic_done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(talker.mic_done.wait(), 10.0)
            heard.check()
        stop.set()
        while not results.turns:  # noqa: ASYNC110 - the conversation ends once its follow-up window passes
            await asyncio.sleep(1.0)
        await asyncio.sleep(6.0)  # the dropper's last round (at most 5 s) is over
        await quiet(bridge)
        results.snapshots.append(Snapshot.now())
        done.set()
        await dropper
        elapsed = time.monotonic() - started
        heard.check()
        moved = sum(1 for c in emulator.connections if c.resumed_from)
        replies = len(talker.record.audio_starts)
        await bridge.stop()
    reconnect = sorted(results.reconnect_s)
    print(f"\nSoak: {elapsed / 60:.1f} min; goAway {go_away_s:g} s into every Live connection (50 s left)")
    print(
        f"  one conversation: {heard.utterances} questions heard, {replies} answers played, "
        f"{len(results.turns)} conversations in all; questions heard short of their speech: {heard.short}"
    )
    print(f"  Live connections: {len(emulator.connections)}, of them resumed after goAway: {moved}")
    if reconnect:
        p99 = reconnect[min(len(reconnect) - 1, int(len(reconnect) * 0.99))]
        print(
            f"  satellite drops: {results.drops}; back under control p50 {statistics.median(reconnect):.2f} s, "
            f"p99 {p99:.2f} s"
        )
    if len(results.snapshots) >= 2:
        # The same state twice: both satellites connected, warm sessions ready, nobody talking; at the start (the
        # dropped satellite back once) and at the end.
        first, last = results.snapshots[0], results.snapshots[-1]
        print(
            f"  with the same satellites connected: RSS {first.rss_mb:.1f} → {last.rss_mb:.1f} MB; "
            f"fds {first.fds} → {last.fds}; tasks {first.tasks} → {last.tasks}"
        )


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the conversation (default 10)")
    parser.add_argument(
        "--go-away", type=float, default=25.0, help="goAway this long into each connection (default 25 s)"
    )
    args = parser.parse_args()
    asyncio.run(soak(args.minutes, args.go_away))


if __name__ == "__main__":
    main()
