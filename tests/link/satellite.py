"""A simulated satellite whose microphone the test speaks into, when it chooses to.

:class:`TalkingSatellite` streams silence from the moment it is told to run (like an always-streaming
wyoming-satellite) and plays what the test hands to :meth:`TalkingSatellite.say` in between, so a test can
answer a question after the question was played, and not at a guessed moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from gemini_live_demo.simulated_satellite import MIC_RATE, SAMPLES_PER_CHUNK, SimulatedSatellite, _SatelliteHandler
from wyoming.audio import AudioChunk
from wyoming.event import Event

WAIT_S = 30.0  # a safety net for a broken chain, never a synchronisation


class TalkingSatellite(SimulatedSatellite):
    """An always-streaming simulated satellite that says what the test tells it to."""

    def __init__(self, *, speed: float = 2.0, name: str = "Kitchen satellite") -> None:
        super().__init__(b"", mode="always", speed=speed, name=name)
        self._speech: asyncio.Queue[bytes] = asyncio.Queue()
        self._changed = asyncio.Condition()

    def say(self, pcm: bytes) -> None:
        """Speak ``pcm`` (16 kHz, 16-bit mono) into the microphone, after what it is already saying."""
        self._speech.put_nowait(pcm)

    async def wait_for(self, event_type: str, check: Callable[[Event], bool] = lambda _event: True) -> Event:
        """The first event of ``event_type`` the bridge sent that passes ``check`` (waiting for it if need be)."""
        async with asyncio.timeout(WAIT_S), self._changed:
            while True:
                for event in self.record.of_type(event_type):
                    if check(event):
                        return event
                await self._changed.wait()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = _TalkingHandler(self, reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            with contextlib.suppress(ConnectionError):  # the controller went away: wait for the next one
                await handler.run()
        finally:
            self._handlers.discard(task)
            if self._controller is handler:
                self._controller = None
            await handler.stop_streaming()


class _TalkingHandler(_SatelliteHandler):
    async def handle_event(self, event: Event) -> bool:
        keep = await super().handle_event(event)
        satellite = self._satellite
        assert isinstance(satellite, TalkingSatellite)
        await satellite._notify()
        return keep

    async def _stream_mic(self) -> None:
        """Silence, and what the test says, 1024 samples at a time at (a multiple of) real time."""
        satellite = self._satellite
        assert isinstance(satellite, TalkingSatellite)
        step = SAMPLES_PER_CHUNK * 2
        interval = SAMPLES_PER_CHUNK / MIC_RATE / satellite.speed
        started = time.monotonic()
        pending = b""
        index = 0
        while True:
            if not pending and not satellite._speech.empty():
                pending = satellite._speech.get_nowait()
            audio, pending = pending[:step], pending[step:]
            chunk = AudioChunk(
                rate=MIC_RATE, width=2, channels=1, audio=audio.ljust(step, b"\0"), timestamp=time.monotonic_ns()
            )
            try:
                await self.write_event(chunk.event())
            except ConnectionError:
                return  # the controller went away; the next one starts the microphone again
            index += 1
            await asyncio.sleep(max(0.0, started + index * interval - time.monotonic()))
