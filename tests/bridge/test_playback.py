"""The satellites' playback framing and pacing (``wyoming_bridge.satellites.playback``)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from gemini_live_engine.audio import AudioFormat
from wyoming_bridge.satellites.playback import SEND_CHUNK_FRAMES, PlaybackPacer, split_frames

MIC_48K_STEREO_32 = AudioFormat(rate=48000, width=4, channels=2)
SATELLITE_SND = AudioFormat(rate=22050, width=2, channels=1)


def test_split_frames_in_satellite_chunks() -> None:
    """Reply audio goes out in 1024-frame chunks (2048 bytes at 16-bit mono); the last one may be shorter."""
    pcm = bytes(SATELLITE_SND.bytes_per_frame * 2500)
    chunks = list(split_frames(pcm, SATELLITE_SND))
    assert SEND_CHUNK_FRAMES == 1024
    assert [len(chunk) for chunk in chunks] == [2048, 2048, 904]
    assert b"".join(chunks) == pcm
    assert list(split_frames(b"", SATELLITE_SND)) == []
    assert [len(c) for c in split_frames(bytes(8 * 300), MIC_48K_STEREO_32, frames=256)] == [2048, 352]


class FakeClock:
    """A clock that moves only when told to, with timers like the event loop's (``time`` and ``call_at``)."""

    class Handle:
        """A scheduled callback."""

        def __init__(self, when: float, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
            self.when = when
            self.callback = callback
            self.args = args
            self.cancelled = False

        def cancel(self) -> None:
            """Do not run it."""
            self.cancelled = True

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, FakeClock.Handle]] = []
        self._order = itertools.count()
        self.scheduled = asyncio.Event()
        self.handles: list[FakeClock.Handle] = []

    def time(self) -> float:
        """The fake time."""
        return self.now

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> FakeClock.Handle:
        """Remember a timer; tell whoever waits for one."""
        handle = FakeClock.Handle(when, callback, args)
        heapq.heappush(self._timers, (when, next(self._order), handle))
        self.handles.append(handle)
        self.scheduled.set()
        return handle

    def pending(self) -> list[FakeClock.Handle]:
        """Timers not yet run or cancelled."""
        return [handle for _, _, handle in self._timers if not handle.cancelled]

    def advance_to(self, when: float) -> None:
        """Move time forward to ``when`` and run the timers due by then."""
        self.now = max(self.now, when)
        while self._timers and self._timers[0][0] <= self.now:
            _, _, handle = heapq.heappop(self._timers)
            if not handle.cancelled:
                handle.callback(*handle.args)

    async def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro``, jumping time to each timer it waits on, until it finishes."""
        task = asyncio.ensure_future(coro)
        while True:
            self.scheduled.clear()
            scheduled = asyncio.ensure_future(self.scheduled.wait())
            await asyncio.wait({task, scheduled}, return_when=asyncio.FIRST_COMPLETED)
            scheduled.cancel()
            await asyncio.gather(scheduled, return_exceptions=True)
            if task.done():
                return task.result()
            pending = self.pending()
            assert pending, "the coroutine waits on something other than the clock"
            self.advance_to(min(handle.when for handle in pending))


CHUNK_S = SEND_CHUNK_FRAMES / 22050  # ≈ 46 ms, one satellite chunk at 22050 Hz


async def test_pacer_never_queues_more_than_the_lead() -> None:
    """Sending 3 s of reply audio as fast as allowed: the lead fills at once, then chunks go out in real time."""
    clock = FakeClock()
    pacer = PlaybackPacer(lead_s=0.2, clock=clock)
    send_times: list[float] = []
    queued: list[float] = []

    async def speak() -> float:
        for _ in range(round(3.0 / CHUNK_S)):
            await pacer.wait_for_room(CHUNK_S)
            queued.append(pacer.remaining_s + CHUNK_S)
            send_times.append(clock.time())
            pacer.sent(CHUNK_S)
        await pacer.wait_played()
        return clock.time()

    finished = await clock.run(speak())

    assert max(queued) <= 0.2 + 1e-9
    assert send_times[:4] == [0.0] * 4  # 4 × 46 ms fit in 200 ms of lead at once
    assert send_times[4] > 0.0
    sent_audio = len(send_times) * CHUNK_S
    assert finished == pytest.approx(sent_audio)  # played back to back, no gaps
    # Each chunk leaves as soon as the queue drops below lead - chunk, not later.
    for index, sent_at in enumerate(send_times[4:], start=4):
        assert sent_at == pytest.approx(index * CHUNK_S - (0.2 - CHUNK_S), abs=1e-3)


async def test_pacer_remaining_counts_down_and_drains_during_a_pause() -> None:
    """Remaining time follows the clock; after a pause the device queue is empty and sending starts at once."""
    clock = FakeClock()
    pacer = PlaybackPacer(clock=clock)
    assert pacer.remaining_s == 0.0
    pacer.sent(0.15)
    clock.advance_to(0.05)
    assert pacer.remaining_s == pytest.approx(0.1)
    clock.advance_to(1.0)
    assert pacer.remaining_s == 0.0

    await pacer.wait_for_room(CHUNK_S)  # nothing queued: no wait, no timer
    assert clock.pending() == []
    pacer.sent(CHUNK_S)
    assert pacer.remaining_s == pytest.approx(CHUNK_S)


async def test_pacer_wait_played() -> None:
    """wait_played returns when everything sent has played, not before."""
    clock = FakeClock()
    pacer = PlaybackPacer(clock=clock)
    pacer.sent(0.5)
    clock.advance_to(0.1)

    waiter = asyncio.create_task(pacer.wait_played())
    await clock.scheduled.wait()
    assert [handle.when for handle in clock.pending()] == [pytest.approx(0.5)]
    clock.advance_to(0.49)
    await asyncio.sleep(0)
    assert not waiter.done()
    clock.advance_to(0.5)
    await waiter
    assert pacer.remaining_s == 0.0


async def test_pacer_reset_after_barge_in() -> None:
    """reset() forgets the queued audio: waiters wake at once and the next chunk goes out without waiting."""
    clock = FakeClock()
    pacer = PlaybackPacer(clock=clock)
    for _ in range(4):
        await pacer.wait_for_room(CHUNK_S)
        pacer.sent(CHUNK_S)
    room = asyncio.create_task(pacer.wait_for_room(CHUNK_S))
    played = asyncio.create_task(pacer.wait_played())
    while len(clock.pending()) < 2:
        clock.scheduled.clear()
        await clock.scheduled.wait()

    pacer.reset()
    await asyncio.gather(room, played)

    assert clock.now == 0.0
    assert pacer.remaining_s == 0.0
    assert clock.pending() == []  # the sleepers' timers were cancelled
    await pacer.wait_for_room(CHUNK_S)
    assert clock.pending() == []


async def test_pacer_chunk_longer_than_the_lead_waits_for_an_empty_queue() -> None:
    """A chunk longer than the lead cannot fit: it goes when the queue has drained."""
    clock = FakeClock()
    pacer = PlaybackPacer(lead_s=0.2, clock=clock)
    pacer.sent(0.1)

    async def send_long() -> float:
        await pacer.wait_for_room(0.5)
        return clock.time()

    assert await clock.run(send_long()) == pytest.approx(0.1)


async def test_pacer_cancelled_waiter_cancels_its_timer() -> None:
    """A cancelled wait leaves no timer behind."""
    clock = FakeClock()
    pacer = PlaybackPacer(clock=clock)
    pacer.sent(1.0)
    waiter = asyncio.create_task(pacer.wait_played())
    await clock.scheduled.wait()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert clock.pending() == []


async def test_pacer_uses_the_running_loop_by_default() -> None:
    """Without a clock the pacer runs on the event loop's time; an empty queue never waits."""
    pacer = PlaybackPacer()
    await pacer.wait_for_room(CHUNK_S)
    await pacer.wait_played()
    pacer.sent(60.0)
    assert 0.0 < pacer.remaining_s <= 60.0
    pacer.reset()
    await pacer.wait_played()


def test_pacer_rejects_a_non_positive_lead() -> None:
    """A pacer needs some lead."""
    with pytest.raises(ValueError, match="lead"):
        PlaybackPacer(lead_s=0)
