"""A simulated Wyoming satellite: a real TCP server on the ``wyoming`` library that speaks a WAV.

It behaves like wyoming-satellite 1.4.1 (reference/wyoming.md §2): it answers ``describe``, accepts one
controller, answers pings, and after ``run-satellite`` either

* streams its microphone forever (``mode="always"``: ``run-pipeline`` from the wake stage, the bridge
  detects the wake word), or
* detects the wake word itself (``mode="local"``: ``detection`` + ``run-pipeline`` from the asr stage,
  then the command's audio), and stops streaming when it receives ``transcript``.

It plays what it is sent (records it, and answers ``played`` after the audio's duration) and records every
event, so the demo and the tests can see exactly what a satellite would have heard and shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Literal

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, Satellite
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.server import AsyncEventHandler
from wyoming.snd import Played
from wyoming.wake import Detection

_LOGGER = logging.getLogger(__name__)

MIC_RATE = 16000
SAMPLES_PER_CHUNK = 1024  # what wyoming-satellite sends: 64 ms at 16 kHz


@dataclass
class SatelliteRecord:
    """Everything the satellite was sent, in order, plus the audio it played."""

    events: list[Event] = field(default_factory=list)
    played: bytearray = field(default_factory=bytearray)
    played_format: tuple[int, int, int] | None = None
    first_audio_at: float | None = None
    audio_starts: list[float] = field(default_factory=list)  # when each reply began to arrive (monotonic)
    mic_sent: list[tuple[int, float]] = field(default_factory=list)  # (end byte offset in mic audio, when sent)
    mic_finished_at: float | None = None
    controllers: int = 0

    def of_type(self, event_type: str) -> list[Event]:
        """The events of one type."""
        return [e for e in self.events if e.type == event_type]

    def mic_time(self, offset: int) -> float | None:
        """When the microphone audio up to byte ``offset`` had been sent."""
        return next((sent for end, sent in self.mic_sent if end >= offset), None)


class SimulatedSatellite:
    """Serve one simulated satellite on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        mic_audio: bytes,
        *,
        mode: Literal["always", "local"] = "always",
        name: str = "Simulated satellite",
        snd_rate: int = 22050,
        speed: float = 1.0,
        tail_silence_s: float = 3.0,
        local_wake_word: str = "okay_nabu",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.mic_audio = mic_audio
        self.mode = mode
        self.name = name
        self.snd_rate = snd_rate
        self.speed = speed
        self.tail_silence_s = tail_silence_s
        self.local_wake_word = local_wake_word
        self.host = host
        self.port = port
        self.record = SatelliteRecord()
        self.transcript_received = asyncio.Event()
        self.reply_started = asyncio.Event()
        self.mic_done = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._controller: _SatelliteHandler | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def uri(self) -> str:
        """``tcp://HOST:PORT`` for the bridge's ``--satellite``."""
        return f"tcp://{self.host}:{self.port}"

    def info(self) -> Info:
        """What ``describe`` returns."""
        return Info(
            satellite=Satellite(
                name=self.name,
                attribution=Attribution(name="", url=""),
                installed=True,
                description=self.name,
                version="1.4.1",
                area="Kitchen",
            )
        )

    async def start(self) -> None:
        """Listen for controllers."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the server and every connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> SimulatedSatellite:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = _SatelliteHandler(self, reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await handler.run()
        finally:
            self._handlers.discard(task)
            if self._controller is handler:
                self._controller = None
            await handler.stop_streaming()

    def claim(self, handler: _SatelliteHandler) -> bool:
        """The first connection that sends anything but describe becomes the controller; others are refused."""
        if self._controller is None:
            self._controller = handler
            self.record.controllers += 1
            return True
        return self._controller is handler


class _SatelliteHandler(AsyncEventHandler):
    def __init__(
        self, satellite: SimulatedSatellite, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super().__init__(reader, writer)
        self._satellite = satellite
        self._streamer: asyncio.Task[None] | None = None
        self._playing_until = 0.0
        self._played_task: asyncio.Task[None] | None = None

    async def handle_event(self, event: Event) -> bool:
        sat = self._satellite
        if Describe.is_type(event.type):
            await self.write_event(sat.info().event())
            return True
        if not sat.claim(self):
            _LOGGER.info("%s: second controller refused", sat.name)
            return False
        if Ping.is_type(event.type):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
            return True
        if Pong.is_type(event.type):
            return True
        sat.record.events.append(event)
        if RunSatellite.is_type(event.type):
            await self._start_streaming()
        elif PauseSatellite.is_type(event.type):
            await self.stop_streaming()
        elif AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
            sat.record.played_format = (start.rate, start.width, start.channels)
            sat.record.audio_starts.append(time.monotonic())
            sat.reply_started.set()
        elif AudioChunk.is_type(event.type):
            self._play(AudioChunk.from_event(event))
        elif AudioStop.is_type(event.type):
            self._schedule_played()
        elif event.type == "transcript":
            sat.transcript_received.set()
            if sat.mode == "local":
                await self.stop_streaming()
        return True

    def _play(self, chunk: AudioChunk) -> None:
        sat = self._satellite
        if sat.record.first_audio_at is None:
            sat.record.first_audio_at = time.monotonic()
        sat.record.played.extend(chunk.audio)
        now = time.monotonic()
        self._playing_until = max(self._playing_until, now) + chunk.seconds

    def _schedule_played(self) -> None:
        async def played_later() -> None:
            await asyncio.sleep(max(0.0, self._playing_until - time.monotonic()))
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.write_event(Played().event())

        self._played_task = asyncio.create_task(played_later())

    async def _start_streaming(self) -> None:
        sat = self._satellite
        snd_format = {"rate": sat.snd_rate, "width": 2, "channels": 1}
        if sat.mode == "always":
            pipeline = RunPipeline(start_stage=PipelineStage.WAKE, end_stage=PipelineStage.TTS, restart_on_end=True)
        else:
            await self.write_event(Detection(name=sat.local_wake_word, timestamp=0).event())
            pipeline = RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS, restart_on_end=False)
        event = pipeline.event()
        event.data["snd_format"] = snd_format  # wyoming-satellite 1.4.1 (wyoming 1.5) still sends it
        await self.write_event(event)
        if self._streamer is None:
            self._streamer = asyncio.create_task(self._stream_mic())

    async def _stream_mic(self) -> None:
        """The microphone: the WAV, then silence, 1024 samples at a time at (a multiple of) real time."""
        sat = self._satellite
        audio = sat.mic_audio + bytes(int(sat.tail_silence_s * MIC_RATE) * 2)
        step = SAMPLES_PER_CHUNK * 2
        interval = SAMPLES_PER_CHUNK / MIC_RATE / sat.speed
        started = time.monotonic()
        for index, start in enumerate(range(0, len(audio), step)):
            chunk = AudioChunk(
                rate=MIC_RATE, width=2, channels=1, audio=audio[start : start + step], timestamp=time.monotonic_ns()
            )
            await self.write_event(chunk.event())
            sat.record.mic_sent.append((start + step, time.monotonic()))
            delay = started + (index + 1) * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        sat.record.mic_finished_at = time.monotonic()
        sat.mic_done.set()

    async def stop_streaming(self) -> None:
        for task in (self._streamer, self._played_task):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._streamer = None
