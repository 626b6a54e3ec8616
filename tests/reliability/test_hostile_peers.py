"""Hostile and broken peers, on both of the bridge's network sides: satellites that send malformed events or
stop reading, and clients that abuse the link endpoint. The offender alone is affected; the process stays up,
well-behaved satellites keep being served, and file descriptors return to their baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from gemini_live_demo.simulated_satellite import SimulatedSatellite
from gemini_live_emulator import Emulator, Say, Scenario, Turn
from wyoming.audio import AudioChunk
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Attribution, Describe, Info, Satellite
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite

from tests.audio import silence
from tests.bridge.link_helpers import FakeHome
from tests.bridge.satellite_helpers import bridge_settings, running_bridge, wake_then_command
from wyoming_bridge.satellites.connection import KeepaliveTimings, SatelliteConnection

TOKEN = "hostile-test-token"
WAIT_S = 30.0  # a safety net, never a synchronisation

BAD_EVENTS = (
    Event("audio-chunk", {"rate": 16000, "width": 3, "channels": 1}, b"\x00\x00\x00"),
    Event("audio-chunk", {"rate": 0, "width": 2, "channels": 1}, b"\x00\x00"),
    Event("audio-chunk", {"rate": 16000, "width": 2, "channels": 0}, b"\x00\x00"),
    Event("audio-chunk", {"rate": "16000", "width": 2, "channels": 1}, b"\x00\x00"),
    Event("audio-chunk", {"width": 2, "channels": 1}, b"\x00\x00"),
    Event("audio-chunk", {"rate": 16000, "width": 2, "channels": 1}, b"\x00\x00\x00"),
    Event("run-pipeline", {"end_stage": "tts"}),
    Event("run-pipeline", {"start_stage": "dance", "end_stage": "tts"}),
    Event(
        "run-pipeline",
        {"start_stage": "wake", "end_stage": "tts", "snd_format": {"rate": 0, "width": 2, "channels": 1}},
    ),
)


GARBAGE = (
    b"\x00\xff\xfe garbage\r\n\r\n",
    b"GET /link HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n",
    b"GET /link HTTP/9.9\r\nHost: x\r\n\r\n",
    b"POST /link HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\n",
)


def open_sockets() -> int:
    """Sockets this process holds now (a leaked connection shows here)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


class RawSatellite:
    """A satellite written by hand on the wyoming framing, so it can misbehave as a real device might."""

    def __init__(self, mic: bytes, bad: tuple[Event, ...] = (), *, rcvbuf: int | None = None) -> None:
        self.mic = mic
        self.bad = bad
        self.rcvbuf = rcvbuf
        self.connections = 0
        self.stop_reading = asyncio.Event()  # the first connection freezes: it reads and writes nothing more
        self._tasks: set[asyncio.Task[None]] = set()
        self.transcript = asyncio.Event()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def uri(self) -> str:
        """Where the bridge reaches it."""
        return f"tcp://127.0.0.1:{self.port}"

    async def __aenter__(self) -> RawSatellite:
        sock = socket.socket()
        if self.rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        sock.bind(("127.0.0.1", 0))
        self._server = await asyncio.start_server(self._serve, sock=sock)
        self.port = sock.getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self._server.close_clients()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while not (self.stop_reading.is_set() and number == 1):
                event = await async_read_event(reader)
                if event is None:
                    return
                if Describe.is_type(event.type):
                    info = Info(
                        satellite=Satellite(
                            name="raw", attribution=Attribution("", ""), installed=True, description=None, version=None
                        )
                    )
                    await async_write_event(info.event(), writer)
                elif Ping.is_type(event.type):
                    await async_write_event(Pong().event(), writer)
                elif RunSatellite.is_type(event.type):
                    self._tasks.add(asyncio.create_task(self._stream(writer)))
                elif event.type == "transcript":
                    self.transcript.set()
            await asyncio.Event().wait()  # frozen: neither reads nor writes any more
        except ConnectionError, asyncio.IncompleteReadError:
            return

    async def _stream(self, writer: asyncio.StreamWriter) -> None:
        run = RunPipeline(start_stage=PipelineStage.WAKE, end_stage=PipelineStage.TTS, restart_on_end=True).event()
        await async_write_event(run, writer)
        for bad in self.bad:
            await async_write_event(bad, writer)
        step = 2048
        for start in range(0, len(self.mic), step):
            chunk = AudioChunk(rate=16000, width=2, channels=1, audio=self.mic[start : start + step])
            await async_write_event(chunk.event(), writer)
            await asyncio.sleep(0.016)  # four times real time, as a microphone delivers it


async def test_malformed_events_are_named_and_the_satellite_stays_served(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Each malformed audio-chunk and run-pipeline gets a log line naming the field; the satellite keeps its
    connection (no reconnect) and its next turn is answered; the other satellite is untouched."""
    caplog.set_level(logging.INFO)
    emulator.scenario = Scenario(
        turns=(
            Turn(user="What time is it?", steps=(Say("It is noon."),)),
            Turn(user="What time is it?", steps=(Say("It is noon."),)),
        )
    )
    mic = wake_then_command("What time is it?")
    async with RawSatellite(mic + silence(2.0, 16000), BAD_EVENTS) as raw, SimulatedSatellite(mic, speed=4.0) as good:
        async with running_bridge(bridge_settings(emulator, (raw.uri, good.uri))) as (_bridge, watcher):
            turns = [await watcher.next(), await watcher.next()]
            await asyncio.wait_for(raw.transcript.wait(), WAIT_S)
    assert [t.error for t in turns] == [None, None]
    assert raw.connections == 1, "kept, not dropped and reconnected"
    bad = [r.getMessage() for r in caplog.records if "ignored a malformed event" in r.getMessage()]
    named = " ".join(bad)
    for field in ("audio-chunk: width", "audio-chunk: rate", "audio-chunk: channels", "audio-chunk: payload",
                  "run-pipeline: start_stage", "run-pipeline: snd_format.rate"):  # fmt: skip
        assert field in named, field
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_satellite_that_stops_reading_is_dropped_and_reconnected() -> None:
    """A satellite that takes no more data (frozen, powered off) is dropped within the write time-out, even with
    a write blocked on it (which used to hold the keepalive's ping for ever), and the bridge reconnects."""
    handled: list[str] = []
    reconnected = asyncio.Event()

    class Handler:
        def __init__(self, link: SatelliteConnection) -> None:
            self.link = link

        async def connected(self, link: SatelliteConnection, info: Info) -> None:
            handled.append("connected")
            if handled.count("connected") == 2:
                reconnected.set()
                return
            raw.stop_reading.set()
            try:
                for _ in range(4000):  # far more than the socket buffers hold: the write blocks
                    await link.write(AudioChunk(rate=22050, width=2, channels=1, audio=bytes(4096)).event())
            except ConnectionError:
                handled.append("write gave up")

        async def handle_event(self, event: Event) -> None:
            return

        async def disconnected(self) -> None:
            handled.append("disconnected")

    timings = KeepaliveTimings(ping_interval_s=0.2, pong_timeout_s=30.0, reconnect_initial_s=0.05, write_timeout_s=1.0)
    async with RawSatellite(b"", rcvbuf=4096) as raw:
        connection = SatelliteConnection(raw.uri, Handler, timings)
        runner = asyncio.create_task(connection.run())
        try:
            await asyncio.wait_for(reconnected.wait(), WAIT_S)
        finally:
            await connection.stop()
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
    assert handled[:4] == ["connected", "write gave up", "disconnected", "connected"]


@asynccontextmanager
async def linked(emulator: Emulator, tmp_path: Path, satellites: tuple[str, ...] = ()) -> AsyncIterator[Any]:
    """A bridge serving the link; its guard's handshake deadline short for the test."""
    settings = bridge_settings(emulator, satellites, uri="tcp://127.0.0.1:0", data_dir=tmp_path, pairing_token=TOKEN)
    async with running_bridge(settings) as (bridge, watcher):
        assert bridge.link_server is not None and bridge.link_server.guard is not None
        bridge.link_server.guard.handshake_s = 0.5
        yield bridge, watcher


async def eof(reader: asyncio.StreamReader) -> None:
    """Read until the server closes the connection."""
    async with asyncio.timeout(WAIT_S):
        while await reader.read(4096):
            pass


async def test_the_link_endpoint_survives_garbage_floods_and_slow_peers(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Malformed requests, 1,000 connect/drop cycles, 50 idle connections and a request sent a byte at a time:
    no traceback, idle and slow peers closed, sockets back to their baseline, pairing still works."""
    caplog.set_level(logging.INFO)
    async with linked(emulator, tmp_path) as (bridge, _watcher):
        port = bridge.link_server.port
        async with FakeHome(f"ws://127.0.0.1:{port}/link", TOKEN) as home:  # the test client's own set-up, first
            assert home.welcome["type"] == "welcome"
        baseline = open_sockets()
        for garbage in GARBAGE:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(garbage)
            with contextlib.suppress(ConnectionResetError):  # the bridge may refuse before it has read it all
                await writer.drain()
                await eof(reader)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        for _ in range(1000):
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.transport.abort()
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(50)]
        assert bridge.link_server.guard.open_connections <= bridge.link_server.guard.max_per_address
        await asyncio.gather(*(eof(reader) for reader, _writer in idle))  # refused at once, or closed when idle
        slow_reader, slow_writer = await asyncio.open_connection("127.0.0.1", port)
        for byte in b"GET /li":
            slow_writer.write(bytes([byte]))
            await slow_writer.drain()
        await eof(slow_reader)  # a request that never completes is closed
        for _reader, writer in [*idle, (slow_reader, slow_writer)]:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        async with FakeHome(f"ws://127.0.0.1:{port}/link", TOKEN) as home:
            assert home.welcome["type"] == "welcome"
        assert bridge.link_server.guard.open_connections == 0
        assert open_sockets() <= baseline
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no traceback, no error"
    assert not any("never retrieved" in r.getMessage() for r in caplog.records)
