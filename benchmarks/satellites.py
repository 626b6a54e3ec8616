"""Benchmark satellites: many lightweight Wyoming satellites in one process, streaming in real time.

Each :class:`BenchSatellite` is a TCP server on 127.0.0.1 that behaves like wyoming-satellite 1.4.1 towards
its controller (``describe`` → ``info``, ``run-satellite``, ``ping``/``pong``, ``played`` once received audio
has had time to play) and streams its microphone as wyoming-satellite does: 1024 samples (64 ms) of 16 kHz
audio per ``audio-chunk``, on a real-time schedule. Every chunk carries its write time
(``time.monotonic_ns()``, taken just before the write) in ``timestamp`` and a marker in its first samples
(:func:`benchmarks.common.write_marker`).

Modes (:meth:`BenchSatellite.set_mode`):

* ``off``: connected and idle (a satellite waiting for its own wake word streams nothing);
* ``wake``: always streaming (``run-pipeline`` from the wake stage): background speech with no wake word,
  so the bridge's wake-word detector listens to every chunk;
* ``turns``: conversation after conversation. With ``trigger="local"`` the satellite detects the wake word
  itself (``detection`` + ``run-pipeline`` from the asr stage) and speaks the command; with
  ``trigger="wake"`` it speaks a real wake-word recording followed by the command and the bridge detects
  it. Between turns it streams silence; the next turn starts a short random pause after the bridge's
  ``transcript`` (the end of the conversation).

For each reply the satellite records when every audio chunk arrived, to find chunks that came later than
continuous playback needed them, and for each command it speaks, when its speech ended (the moment its last
loud sample was heard, the chunk's write time less the audio after that sample).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Final, Literal

from wyoming.event import Event, async_read_event
from wyoming.info import Attribution, Info, Satellite
from wyoming.ping import Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.snd import Played
from wyoming.version import __version__ as WYOMING_VERSION
from wyoming.wake import Detection

from .common import write_marker

_LOGGER = logging.getLogger(__name__)

MIC_RATE: Final = 16000
SAMPLES_PER_CHUNK: Final = 1024  # wyoming-satellite: 64 ms at 16 kHz
CHUNK_BYTES: Final = SAMPLES_PER_CHUNK * 2
CHUNK_S: Final = SAMPLES_PER_CHUNK / MIC_RATE
_NEWLINE: Final = b"\n"

type Mode = Literal["off", "wake", "turns"]
type Trigger = Literal["local", "wake"]


def encode_event(event: Event) -> bytes:
    """One Wyoming event as bytes on the wire (as ``wyoming.event.async_write_event`` frames it)."""
    header: dict[str, object] = {"type": event.type, "version": WYOMING_VERSION}
    data = json.dumps(event.data, ensure_ascii=False).encode() if event.data else b""
    if data:
        header["data_length"] = len(data)
    if event.payload:
        header["payload_length"] = len(event.payload)
    return json.dumps(header, ensure_ascii=False).encode() + _NEWLINE + data + (event.payload or b"")


@dataclass
class Reply:
    """One reply as the satellite received it."""

    rate: int
    width: int
    channels: int
    arrivals: list[tuple[int, float]] = field(default_factory=list)  # (arrival ns, seconds of audio)

    @property
    def seconds(self) -> float:
        """Audio received."""
        return sum(seconds for _, seconds in self.arrivals)

    def late_chunks(self, tolerance_s: float) -> int:
        """Chunks that arrived more than ``tolerance_s`` after continuous playback (from the first) needed them."""
        if not self.arrivals:
            return 0
        start = self.arrivals[0][0]
        due_ns = 0.0
        late = 0
        for arrived, seconds in self.arrivals:
            if arrived - (start + due_ns) > tolerance_s * 1e9:
                late += 1
            due_ns += seconds * 1e9
        return late


@dataclass
class MicAudio:
    """What the satellites' microphones hear."""

    background: bytes  # speech without a wake word (mode "wake"), looped
    command: bytes  # a spoken command (mode "turns", trigger "local")
    wake_command: bytes  # a wake-word recording, then the command (mode "turns", trigger "wake")
    command_tail: int = 0  # bytes of quiet at the end of ``command`` (and so of ``wake_command``)


class BenchSatellite:
    """One satellite (see the module docstring)."""

    def __init__(
        self,
        index: int,
        audio: MicAudio,
        *,
        snd_rate: int = 22050,
        trigger: Trigger = "local",
        chunk_samples: int = SAMPLES_PER_CHUNK,
    ) -> None:
        """``chunk_samples``: microphone samples per chunk (wyoming-satellite's ``--mic-command-samples-per-chunk``)."""
        self.index = index
        self.chunk_samples = chunk_samples
        self._chunk_bytes = chunk_samples * 2
        self.name = f"bench-{index:04d}"
        self.audio = audio
        self.snd_rate = snd_rate
        self.trigger: Trigger = trigger
        self.port = 0
        self.mode: Mode = "off"
        self.running = asyncio.Event()  # a controller sent run-satellite
        self.written: dict[int, int] = {}  # seq → write time (ns) of each microphone chunk
        self.replies: list[Reply] = []
        self.speech_ends: list[int] = []  # when the speech of each command ended (ns), as the user stopped
        self.turns_started = 0
        self.turns_finished = 0
        self.turn_timeouts = 0
        self.played_sent = 0
        self.write_backlog_max = 0  # largest send buffer seen (bytes the kernel has not taken yet)
        self._seq = 0
        self._server: asyncio.Server | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._mic: asyncio.Task[None] | None = None
        self._turns: asyncio.Task[None] | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._source = b""  # the audio being spoken, then silence
        self._cursor = 0
        self._speech_end = -1  # where the speech in ``_source`` ends (bytes), until that has been written
        self._background_cursor = 0
        self._in_turn = False
        self.between_turns = asyncio.Event()  # no conversation is going on
        self.between_turns.set()
        self._turn_over = asyncio.Event()
        self._want_turns = False
        self._playing_until = 0.0
        self._played_task: asyncio.Task[None] | None = None
        self._rng = random.Random(index)

    @property
    def uri(self) -> str:
        """``tcp://127.0.0.1:PORT`` for the bridge."""
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def in_turn(self) -> bool:
        """A conversation is going on."""
        return self._in_turn

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop streaming and close everything."""
        self._want_turns = False
        for task in (self._mic, self._turns, self._played_task, *self._connections):
            if task is not None and not task.done():
                task.cancel()
        await asyncio.gather(
            *(t for t in (self._mic, self._turns, self._played_task, *self._connections) if t is not None),
            return_exceptions=True,
        )
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # ------------------------------------------------------------------------------------------- modes

    def set_mode(self, mode: Mode, *, start_at: float, first_turn_at: float | None = None) -> None:
        """Switch mode: the microphone's first chunk is due at loop time ``start_at``, the first turn at
        ``first_turn_at`` (default: ``start_at``); both spread the satellites' load.
        """
        previous, self.mode = self.mode, mode
        if mode == "wake":
            self._want_turns = False
            self._send(self._run_pipeline(PipelineStage.WAKE))
        elif mode == "turns":
            self._want_turns = True
            if self.trigger == "wake" and previous != "wake":
                self._send(self._run_pipeline(PipelineStage.WAKE))
            if self._turns is None or self._turns.done():
                self._turns = asyncio.create_task(self._turn_loop(first_turn_at or start_at))
        if mode != "off" and (self._mic is None or self._mic.done()):
            self._mic = asyncio.create_task(self._stream(start_at))

    def stop_turns(self) -> None:
        """Start no new conversation (the current one goes on)."""
        self._want_turns = False

    async def stop_streaming(self) -> None:
        """Silence the microphone."""
        self.mode = "off"
        self._want_turns = False
        for task in (self._mic, self._turns):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._mic = self._turns = None
        self._in_turn = False
        self.between_turns.set()

    def _run_pipeline(self, start: PipelineStage) -> Event:
        restart = start == PipelineStage.WAKE
        event = RunPipeline(start_stage=start, end_stage=PipelineStage.TTS, restart_on_end=restart).event()
        event.data["snd_format"] = {"rate": self.snd_rate, "width": 2, "channels": 1}  # as wyoming-satellite 1.4.1
        return event

    # ------------------------------------------------------------------------------------------ microphone

    async def _stream(self, start_at: float) -> None:
        loop = asyncio.get_running_loop()
        index = 0
        while True:
            delay = start_at + index * self.chunk_samples / MIC_RATE - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            index += 1
            stamp = self._write_chunk(self._next_audio())
            if 0 <= self._speech_end <= self._cursor and self.mode == "turns":
                if stamp is not None:
                    after_ns = (self._cursor - self._speech_end) * 1_000_000_000 // (2 * MIC_RATE)
                    self.speech_ends.append(stamp - after_ns)
                self._speech_end = -1

    def _next_audio(self) -> bytearray:
        if self.mode == "wake":
            background = self.audio.background
            start = self._background_cursor
            size = self._chunk_bytes
            chunk = bytearray(background[start : start + size])
            self._background_cursor = (start + size) % (len(background) - size)
        else:
            size = self._chunk_bytes
            chunk = bytearray(self._source[self._cursor : self._cursor + size])
            self._cursor += size
        if len(chunk) < size:
            chunk.extend(bytes(size - len(chunk)))
        return chunk

    def _write_chunk(self, chunk: bytearray) -> int | None:
        """Write one chunk; its write time (ns), or None when no controller is connected."""
        writer = self._writer
        if writer is None or writer.is_closing():
            return None
        seq = self._seq
        self._seq += 1
        write_marker(chunk, self.index, seq)
        stamp = time.monotonic_ns()
        data = b'{"rate":16000,"width":2,"channels":1,"timestamp":%d}' % stamp
        header = b'{"type":"audio-chunk","version":"%s","data_length":%d,"payload_length":%d}\n' % (
            WYOMING_VERSION.encode(),
            len(data),
            len(chunk),
        )
        writer.write(header + data + chunk)
        self.written[seq] = stamp
        backlog = writer.transport.get_write_buffer_size()
        self.write_backlog_max = max(self.write_backlog_max, backlog)
        return stamp

    # -------------------------------------------------------------------------------------------- turns

    async def _turn_loop(self, start_at: float) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, start_at - loop.time()))
        while self._want_turns:
            self._turn_over.clear()
            self._in_turn = True
            self.between_turns.clear()
            self.turns_started += 1
            if self.trigger == "local":
                self._send(Detection(name="okay_nabu", timestamp=0).event())
                self._send(self._run_pipeline(PipelineStage.ASR))
                self._speak(self.audio.command)
            else:
                self._speak(self.audio.wake_command)
            try:
                await asyncio.wait_for(self._turn_over.wait(), timeout=30.0)
                self.turns_finished += 1
            except TimeoutError:
                self.turn_timeouts += 1
            self._in_turn = False
            self.between_turns.set()
            await asyncio.sleep(self._rng.uniform(0.3, 1.0))

    def _speak(self, audio: bytes) -> None:
        # A random lead-in of silence under one chunk: where the speech ends inside a 64 ms chunk varies, as it does
        # for a person, so the wait for the chunk that carries the end of the quiet is not the same every turn.
        lead = bytes(2 * self._rng.randrange(self.chunk_samples))
        self._source = lead + audio
        self._cursor = 0
        self._speech_end = len(self._source) - self.audio.command_tail

    # ------------------------------------------------------------------------------------------ controller

    def _send(self, event: Event) -> None:
        writer = self._writer
        if writer is not None and not writer.is_closing():
            writer.write(encode_event(event))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except ConnectionError, asyncio.IncompleteReadError:
            pass
        finally:
            self._connections.discard(task)
            if self._writer is writer:
                self._writer = None
                self.running.clear()
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reply: Reply | None = None
        while (event := await async_read_event(reader)) is not None:
            arrived = time.monotonic_ns()
            kind = event.type
            if kind == "audio-chunk" and reply is not None:
                seconds = len(event.payload or b"") / (reply.rate * reply.width * reply.channels)
                reply.arrivals.append((arrived, seconds))
                self._playing_until = max(self._playing_until, arrived / 1e9) + seconds
            elif kind == "describe":
                writer.write(encode_event(self._info().event()))
            elif kind == "ping":
                writer.write(encode_event(Pong(text=event.data.get("text")).event()))
            elif kind == "run-satellite":
                if self._writer is not None and self._writer is not writer:
                    return  # one controller at a time
                self._writer = writer
                self.running.set()
            elif kind == "pause-satellite":
                self.running.clear()
            elif kind == "audio-start":
                data = event.data
                reply = Reply(int(data["rate"]), int(data["width"]), int(data["channels"]))
                self.replies.append(reply)
            elif kind == "audio-stop":
                reply = None
                self._schedule_played()
            elif kind == "transcript":
                self._turn_over.set()

    def _schedule_played(self) -> None:
        async def played_later() -> None:
            await asyncio.sleep(max(0.0, self._playing_until - time.monotonic()))
            self._send(Played().event())
            self.played_sent += 1

        self._played_task = asyncio.create_task(played_later())

    def _info(self) -> Info:
        return Info(
            satellite=Satellite(
                name=self.name,
                attribution=Attribution(name="", url=""),
                installed=True,
                description="benchmark satellite",
                version="1.4.1",
                area="Bench",
            )
        )


async def close_quietly(satellites: list[BenchSatellite]) -> None:
    """Stop every satellite, whatever state it is in."""
    with contextlib.suppress(Exception):
        await asyncio.gather(*(s.stop() for s in satellites), return_exceptions=True)
