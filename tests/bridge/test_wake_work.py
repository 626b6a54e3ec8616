"""Wake-word work behind conversations' audio (``wyoming_bridge.satellites.wake_work``), alone and in the bridge."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from gemini_live_demo.simulated_satellite import SimulatedSatellite
from gemini_live_emulator import Emulator

from tests.audio import speech_pcm
from tests.scenarios import TIME_SCENARIO
from wyoming_bridge.satellites import wake_work
from wyoming_bridge.satellites.wake_work import WakeWork

from .satellite_helpers import bridge_settings, running_bridge, wake_then_command

CHUNK = bytes(2048)  # 64 ms of 16 kHz s16le, as wyoming-satellite sends


class Listener:
    """Records the chunks it is given; ``busy_s`` of CPU per chunk stands for a wake-word model's work."""

    def __init__(
        self,
        name: str,
        work: WakeWork,
        *,
        busy_s: float = 0.0,
        wake_on: bytes | None = None,
        expect: int = 0,
        order: list[str] | None = None,
    ) -> None:
        """``done`` is set once ``expect`` chunks were looked at, or on ``wake_on``; ``order``: the name per chunk."""
        self.name = name
        self.order = order if order is not None else []
        self.expect = expect
        self.work = work
        self.busy_s = busy_s
        self.wake_on = wake_on
        self.checked: list[bytes] = []
        self.after_wake: list[bytes] | None = None
        self.done = asyncio.Event()

    def check_wake(self, pcm: bytes) -> None:
        end = time.perf_counter() + self.busy_s
        while time.perf_counter() < end:
            pass
        self.checked.append(pcm)
        self.order.append(self.name)
        if self.expect and len(self.checked) >= self.expect:
            self.done.set()
        if pcm == self.wake_on:
            self.after_wake = self.work.take(self)
            self.done.set()

    def __repr__(self) -> str:
        return self.name


def chunk(number: int) -> bytes:
    return number.to_bytes(2, "little") * 1024


async def wait_until_checked(listeners: list[Listener]) -> None:
    await asyncio.wait_for(asyncio.gather(*(listener.done.wait() for listener in listeners)), timeout=10)


async def test_each_satellite_in_order_satellites_in_turn() -> None:
    """Every chunk is looked at once, in the order it came, and the satellites take turns."""
    work = WakeWork()
    order: list[str] = []
    a, b = Listener("a", work, expect=5, order=order), Listener("b", work, expect=3, order=order)
    for number in range(5):
        work.put(a, chunk(number))
    for number in range(3):
        work.put(b, chunk(100 + number))

    await wait_until_checked([a, b])

    assert a.checked == [chunk(n) for n in range(5)]
    assert b.checked == [chunk(100 + n) for n in range(3)]
    assert order == ["a", "b", "a", "b", "a", "b", "a", "a"]
    await work.close()


async def test_audio_after_the_wake_word_goes_to_the_turn() -> None:
    """The chunks queued behind the one that woke a satellite are handed over in order, not looked at again."""
    work = WakeWork()
    listener = Listener("a", work, wake_on=chunk(3))
    for number in range(8):
        work.put(listener, chunk(number))

    await asyncio.wait_for(listener.done.wait(), timeout=5)

    assert listener.checked == [chunk(n) for n in range(4)]
    assert listener.after_wake == [chunk(n) for n in range(4, 8)]
    assert work.take(listener) == [], "nothing of it is left waiting"
    await work.close()


async def test_other_work_runs_between_slices() -> None:
    """Ready work (a conversation's chunk) waits for one slice of wake-word work, not for all that is queued."""
    work = WakeWork()
    busy_s = 0.0003
    listeners = [Listener(f"s{n}", work, busy_s=busy_s, expect=5) for n in range(20)]
    for listener in listeners:
        for number in range(5):
            work.put(listener, chunk(number))
    checked_when_ran: list[int] = []
    asyncio.get_running_loop().call_soon(lambda: checked_when_ran.append(sum(len(s.checked) for s in listeners)))

    await wait_until_checked(listeners)

    per_slice = int(wake_work.SLICE_S / busy_s) + 1
    assert checked_when_ran and checked_when_ran[0] <= per_slice, (checked_when_ran, per_slice)
    assert sum(len(s.checked) for s in listeners) == 100
    await work.close()


async def test_overload_drops_the_oldest_idle_audio_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """More than MAX_BACKLOG_S waiting for one satellite: the oldest is dropped, one warning line."""
    work = WakeWork()
    kept = int(wake_work.MAX_BACKLOG_S * 16000 * 2) // len(CHUNK)
    listener = Listener("a", work, expect=kept)
    with caplog.at_level(logging.WARNING, logger=wake_work.__name__):
        for number in range(kept + 10):  # all queued before the worker runs once
            work.put(listener, chunk(number))
        await wait_until_checked([listener])

    assert listener.checked == [chunk(n) for n in range(10, kept + 10)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "falls behind" in warnings[0]
    await work.close()


async def test_the_worker_ends_when_idle_and_starts_again() -> None:
    """No task is left running once the audio stops for LINGER_S; the next chunk is looked at all the same."""
    work = WakeWork()
    listener = Listener("a", work, wake_on=chunk(1), expect=1)
    work.put(listener, chunk(0))
    await wait_until_checked([listener])
    task = work._task
    assert task is not None
    await asyncio.wait_for(asyncio.shield(task), timeout=wake_work.LINGER_S + 5)
    assert work._task is None

    listener.done.clear()
    work.put(listener, chunk(1))
    await asyncio.wait_for(listener.done.wait(), timeout=5)
    assert listener.checked == [chunk(0), chunk(1)]
    await work.close()


async def test_a_burst_after_the_wake_word_reaches_gemini_whole(emulator: Emulator) -> None:
    """A satellite sends the wake word and its command far faster than detection runs: nothing after it is lost."""
    emulator.scenario = TIME_SCENARIO
    mic = wake_then_command("What time is it?")
    command_s = len(speech_pcm("What time is it?", "en-US")) / 32000
    async with SimulatedSatellite(mic, mode="always", speed=1000.0, tail_silence_s=0.5) as satellite:
        async with running_bridge(bridge_settings(emulator, (satellite.uri,))) as (_bridge, watcher):
            turn = await watcher.next()

    assert turn.trigger == "wake word okay_nabu"
    assert turn.user_text.strip() == "What time is it?"
    user_turn = next(c for c in emulator.connections if c.user_turns).user_turns[0]
    assert user_turn.transcript == "What time is it?"
    assert user_turn.audio_seconds >= command_s, "every chunk after the wake word reached Gemini"
