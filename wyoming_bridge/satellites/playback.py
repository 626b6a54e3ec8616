r"""A satellite's speaker: Gemini's reply audio converted, framed as Wyoming audio events and paced.

Gemini's 24 kHz audio (:data:`~gemini_live_engine.audio.GEMINI_OUTPUT`) becomes the satellite's ``snd_format``
(22050 Hz for wyoming-satellite) as soon as it arrives and is sent in chunks of at most :data:`SEND_CHUNK_FRAMES`
(1024 frames, what Home Assistant sends: 2048 bytes ≈ 46 ms at 22050 Hz) by :func:`split_frames`; small pieces are
never held back to fill a chunk, which would delay the first reply audio. :class:`PlaybackPacer` keeps at most
200 ms queued on the satellite ahead of real-time playback, so a barge-in is heard at once. :class:`Playback`
runs both for one satellite: ``audio-start`` before a reply, ``audio-chunk``\ s, and the converter's tail plus
``audio-stop`` at its end; then it waits for the satellite's ``played``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final, Protocol

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event

from gemini_live_engine.audio import GEMINI_OUTPUT, AudioFormat, Converter

SEND_CHUNK_FRAMES: Final = 1024
"""Frames per audio chunk sent to a satellite (as Home Assistant does: 2048 bytes of 16-bit mono)."""

DEFAULT_SND: Final = AudioFormat(rate=22050, width=2, channels=1)
"""What a satellite plays when its ``run-pipeline`` names no ``snd_format`` (wyoming-satellite's default)."""

# Pacing wakes a little early rather than sleep again for a fraction of a millisecond.
_PACING_TOLERANCE_S: Final = 1e-4


def split_frames(pcm: bytes, fmt: AudioFormat, frames: int = SEND_CHUNK_FRAMES) -> Iterator[bytes]:
    """``pcm`` in consecutive chunks of at most ``frames`` frames of ``fmt`` (the last one may be shorter)."""
    step = frames * fmt.bytes_per_frame
    for start in range(0, len(pcm), step):
        yield pcm[start : start + step]


class TimerHandle(Protocol):
    """What :meth:`Clock.call_at` returns: something that can be cancelled."""

    def cancel(self) -> None:
        """Do not run the callback."""


class Clock(Protocol):
    """The part of the event loop the pacer uses: its monotonic time and timers (a loop satisfies this)."""

    def time(self) -> float:
        """The current time, in seconds."""

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` at ``when`` (on :meth:`time`'s scale)."""


class PlaybackPacer:
    """Keeps at most ``lead_s`` of audio queued on a speaker ahead of real-time playback.

    Wyoming has no event to purge audio a satellite has already received, so everything sent ahead plays even
    after a barge-in: a short lead bounds that overrun while still absorbing network jitter. The pacer assumes the
    device plays continuously from the moment audio arrives; a pause (nothing sent) lets the queue drain.

    Usage, per chunk: ``await pacer.wait_for_room(seconds)``, send it, ``pacer.sent(seconds)``.
    """

    def __init__(self, lead_s: float = 0.2, clock: Clock | None = None) -> None:
        """Pace with ``lead_s`` of lead, timed by ``clock`` (the running event loop unless given)."""
        if lead_s <= 0:
            raise ValueError(f"lead must be positive, not {lead_s}")
        self.lead_s: Final = lead_s
        self._clock = clock
        self._play_end = -math.inf
        self._sleepers: set[asyncio.Future[None]] = set()

    @property
    def remaining_s(self) -> float:
        """Audio sent but not yet played, in seconds."""
        return max(0.0, self._play_end - self._now())

    def sent(self, seconds: float) -> None:
        """Account for ``seconds`` of audio just sent to the device."""
        self._play_end = max(self._play_end, self._now()) + seconds

    async def wait_for_room(self, seconds: float) -> None:
        """Wait until ``seconds`` more audio can be sent without queueing more than ``lead_s``.

        A chunk longer than the lead waits until the queue has drained.
        """
        while (remaining := self.remaining_s) > _PACING_TOLERANCE_S:
            excess = remaining + seconds - self.lead_s
            if excess <= _PACING_TOLERANCE_S:
                return
            await self._sleep(min(excess, remaining))

    async def wait_played(self) -> None:
        """Wait until all audio sent so far has played (or :meth:`reset` declares it gone)."""
        while (remaining := self.remaining_s) > _PACING_TOLERANCE_S:
            await self._sleep(remaining)

    def reset(self) -> None:
        """Consider the device's queue flushed (after a barge-in); wakes everyone waiting."""
        self._play_end = -math.inf
        for sleeper in self._sleepers:
            if not sleeper.done():
                sleeper.set_result(None)

    def _now(self) -> float:
        return self._get_clock().time()

    def _get_clock(self) -> Clock:
        return self._clock if self._clock is not None else asyncio.get_running_loop()

    async def _sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` on the clock, or until :meth:`reset`."""
        clock = self._get_clock()
        sleeper: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        handle = clock.call_at(clock.time() + seconds, _wake, sleeper)
        self._sleepers.add(sleeper)
        try:
            await sleeper
        finally:
            handle.cancel()
            self._sleepers.discard(sleeper)


def _wake(sleeper: asyncio.Future[None]) -> None:
    if not sleeper.done():
        sleeper.set_result(None)


class Playback:
    """One satellite's speaker (see the module docstring).

    ``write`` sends an event to the satellite (it raises when the satellite is gone, which ends the send in
    progress). Reply audio goes in with :meth:`put`; :meth:`finish_reply` marks the end of a reply and waits
    until the satellite has played it; :meth:`interrupt` drops what is queued (barge-in); :meth:`close` stops.
    """

    def __init__(
        self,
        write: Callable[[Event], Awaitable[None]],
        *,
        lead_s: float = 0.2,
        played_timeout_s: float = 2.0,
    ) -> None:
        """``played_timeout_s``: how much longer than the audio's own duration to wait for ``played``."""
        self._write = write
        self._played_timeout_s = played_timeout_s
        self._format = DEFAULT_SND
        self._speaker = Converter(GEMINI_OUTPUT, DEFAULT_SND)
        self._pacer = PlaybackPacer(lead_s=lead_s)
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()  # None: the end of a reply
        self._reply_sent = asyncio.Event()  # audio-stop was sent for the reply
        self._played = asyncio.Event()  # the satellite said it has played it
        self._started = False  # audio-start sent, audio-stop not yet
        self._sender: asyncio.Task[None] | None = None

    @property
    def format(self) -> AudioFormat:
        """The satellite's ``snd_format``."""
        return self._format

    @property
    def busy(self) -> bool:
        """A reply is being sent, or waits to be."""
        return self._started or not self._queue.empty()

    def set_format(self, fmt: AudioFormat) -> None:
        """The satellite's ``snd_format`` (from its ``run-pipeline``), for the replies that follow."""
        if fmt != self._format:
            self._format = fmt
            self._speaker = Converter(GEMINI_OUTPUT, fmt)

    def start(self) -> None:
        """Start sending queued audio (call from the event loop)."""
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_loop(), name="satellite-playback")

    def put(self, pcm: bytes) -> None:
        """Queue a piece of reply audio (24 kHz s16le mono)."""
        self._queue.put_nowait(pcm)

    async def finish_reply(self) -> None:
        """The reply is complete: send its end, then wait until the satellite has played it.

        Returns on the satellite's ``played``, or when the audio's own duration plus ``played_timeout_s`` has passed.
        """
        self._reply_sent.clear()
        self._queue.put_nowait(None)
        await self._reply_sent.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._played.wait(), timeout=self._pacer.remaining_s + self._played_timeout_s)

    def played(self) -> None:
        """The satellite said it has played everything it got."""
        self._pacer.reset()
        self._played.set()

    async def interrupt(self, *, send_stop: bool = True) -> None:
        """Barge-in: drop the queued reply at once, end the satellite's audio stream, and carry on for the next."""
        await self._drop(send_stop=send_stop)
        self.start()

    async def close(self, *, send_stop: bool = True) -> None:
        """The conversation is over: drop what is queued, end the audio stream, stop sending."""
        await self._drop(send_stop=send_stop)

    async def _drop(self, *, send_stop: bool) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        self._speaker = Converter(GEMINI_OUTPUT, self._format)  # drop what the converter still holds
        sender, self._sender = self._sender, None
        if sender is not None and sender is not asyncio.current_task() and not sender.done():
            sender.cancel()
        if sender is not None:
            await asyncio.gather(sender, return_exceptions=True)
        self._pacer.reset()
        if send_stop:
            with contextlib.suppress(ConnectionError):
                await self._send_stop()
        else:
            self._started = False

    async def _send_loop(self) -> None:
        while True:
            pcm = await self._queue.get()
            if pcm is None:
                await self._send_stop()
                self._reply_sent.set()
                continue
            fmt = self._format
            if not self._started:
                self._played.clear()
                await self._write(AudioStart(rate=fmt.rate, width=fmt.width, channels=fmt.channels).event())
                self._started = True
            for piece in split_frames(self._speaker.convert(pcm), fmt):
                seconds = fmt.seconds(len(piece))
                await self._pacer.wait_for_room(seconds)
                await self._write(
                    AudioChunk(rate=fmt.rate, width=fmt.width, channels=fmt.channels, audio=piece).event()
                )
                self._pacer.sent(seconds)

    async def _send_stop(self) -> None:
        if not self._started:
            return
        fmt = self._format
        for piece in split_frames(self._speaker.flush(), fmt):  # the converter's last few ms of the reply
            await self._write(_chunk(piece, fmt))
        self._started = False
        await self._write(AudioStop().event())


def _chunk(pcm: bytes, fmt: AudioFormat) -> Event:
    return AudioChunk(rate=fmt.rate, width=fmt.width, channels=fmt.channels, audio=pcm).event()
