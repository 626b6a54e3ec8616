"""One satellite's connection: connect as its controller, describe, run-satellite, keepalive, reconnect.

A Wyoming satellite is a TCP server that accepts one controller. The bridge talks to it the way Home
Assistant's wyoming integration does (``describe`` → ``info`` → ``run-satellite``, ``ping``/``pong``),
reconnects with jittered exponential backoff (its own: 1 s, growing to 30 s while the satellite stays away;
Home Assistant waits a fixed 10 s), and hands every other event to a handler (the satellite's turn
controller). Malformed or oversized frames close this connection only.

Home Assistant pings every 2 s and waits 5 s for the pong; the bridge pings every 3.5 s and waits 3.5 s. A
satellite that stops answering is dropped within the same 7 s, with 43 % fewer pings: for a satellite waiting
for its own wake word the ping and its pong are most of what it costs the bridge (a bridge holds many).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlparse

from wyoming.event import Event, async_write_event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.satellite import PauseSatellite, RunSatellite

from gemini_live_engine.backoff import Backoff

from .framing import MAX_HEADER_BYTES, FrameError, read_event

_LOGGER = logging.getLogger(__name__)


class SatelliteGone(ConnectionError):
    """The satellite is not connected (any more)."""


class SatelliteHandler(Protocol):
    """What the connection tells the rest of the bridge."""

    async def connected(self, link: SatelliteConnection, info: Info) -> None:
        """The satellite is described and running."""

    async def handle_event(self, event: Event) -> None:
        """An event from the satellite (everything except ping/pong/info)."""

    async def disconnected(self) -> None:
        """The satellite went away; release whatever it held."""


@dataclass(frozen=True)
class KeepaliveTimings:
    """Ping cadence and pong timeout (see the module docstring), and the bridge's reconnect backoff."""

    ping_interval_s: float = 3.5
    pong_timeout_s: float = 3.5
    connect_timeout_s: float = 5.0
    reconnect_initial_s: float = 1.0
    reconnect_max_s: float = 30.0
    write_timeout_s: float = 5.0  # a satellite that takes no data for this long (frozen, powered off) is dropped


def parse_satellite_uri(uri: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` → (host, port)."""
    parsed = urlparse(uri)
    if parsed.scheme != "tcp" or not parsed.hostname or parsed.port is None:
        raise ValueError(f"a satellite is given as tcp://HOST:PORT, not {uri!r}")
    return parsed.hostname, parsed.port


class SatelliteConnection:
    """Keeps the bridge connected to one satellite for as long as it runs."""

    def __init__(
        self,
        uri: str,
        handler_factory: Callable[[SatelliteConnection], SatelliteHandler],
        timings: KeepaliveTimings | None = None,
    ) -> None:
        self.uri = uri
        self.host, self.port = parse_satellite_uri(uri)
        self.name = uri
        self.timings = timings or KeepaliveTimings()
        self.handler = handler_factory(self)
        self._writer: asyncio.StreamWriter | None = None
        self._write_lock = asyncio.Lock()
        self._alive = asyncio.Event()
        self._answers_pings = False
        self._stopping = asyncio.Event()
        self.connected = asyncio.Event()
        self.connections = 0  # how many times a connection was established (for tests and logs)
        self._reached = False  # the current attempt got a TCP connection

    async def run(self) -> None:
        """Connect, serve, and reconnect with jittered backoff until :meth:`stop`."""
        backoff = Backoff(self.timings.reconnect_initial_s, self.timings.reconnect_max_s)
        unreachable_logged = False
        while not self._stopping.is_set():
            served = False
            self._reached = False
            try:
                served = await self._serve_once()
            except (OSError, TimeoutError, FrameError, SatelliteGone) as err:
                reason = str(err) or type(err).__name__
                if self._reached:
                    _LOGGER.warning("[%s] connection lost: %s", self.name, reason)
                elif not unreachable_logged:
                    _LOGGER.warning("[%s] cannot reach the satellite: %s", self.name, reason)
                    unreachable_logged = True
                else:
                    _LOGGER.debug("[%s] still cannot reach the satellite: %s", self.name, reason)
            except Exception:  # a bug must not lose the satellite for good: log it and reconnect
                _LOGGER.exception("[%s] the connection failed unexpectedly", self.name)
            finally:
                await self._drop()
            if self._reached:
                unreachable_logged = False
            if self._stopping.is_set():
                break
            if served:
                backoff.reset()
            wait = backoff.failed()
            _LOGGER.info("[%s] reconnecting in %.1f s", self.name, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=wait)

    async def stop(self) -> None:
        """Stop serving: pause the satellite (frees its single controller slot) and disconnect."""
        self._stopping.set()
        if self._writer is not None:
            with contextlib.suppress(SatelliteGone, OSError):
                await self.write(PauseSatellite().event())
        await self._drop()

    async def write(self, event: Event) -> None:
        """Send an event to the satellite.

        A satellite that takes nothing for ``write_timeout_s`` (frozen, powered off, its buffers full) is dropped:
        the connection is aborted, so the keepalive never waits behind a write that cannot finish.
        """
        writer = self._writer
        if writer is None or writer.is_closing():
            raise SatelliteGone(self.name)
        try:
            async with asyncio.timeout(self.timings.write_timeout_s):
                async with self._write_lock:
                    await async_write_event(event, writer)
        except TimeoutError:
            _LOGGER.warning(
                "[%s] the satellite took no data for %.0f s; dropping the connection",
                self.name,
                self.timings.write_timeout_s,
            )
            writer.transport.abort()
            raise SatelliteGone(f"{self.name} stopped reading") from None
        except (ConnectionError, RuntimeError) as err:
            raise SatelliteGone(self.name) from err

    async def _serve_once(self) -> bool:
        """One connection's life; True when it got as far as running the satellite."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, limit=MAX_HEADER_BYTES),
            timeout=self.timings.connect_timeout_s,
        )
        self._reached = True
        self._writer = writer
        self._answers_pings = False
        await self.write(Describe().event())
        info = await self._await_info(reader)
        if info.satellite is not None and info.satellite.name:
            self.name = info.satellite.name
        await self.write(RunSatellite().event())
        self.connections += 1
        _LOGGER.info("[%s] connected at %s", self.name, self.uri)
        keepalive = asyncio.create_task(self._keepalive())
        try:
            await self.handler.connected(self, info)
            self.connected.set()
            await self._read_loop(reader)
        finally:
            keepalive.cancel()
            await asyncio.gather(keepalive, return_exceptions=True)
            self.connected.clear()
            await self.handler.disconnected()
        return True

    async def _await_info(self, reader: asyncio.StreamReader) -> Info:
        async with asyncio.timeout(self.timings.connect_timeout_s):
            while True:
                event = await read_event(reader)
                if event is None:
                    raise SatelliteGone(f"{self.name} closed before describing itself")
                if Info.is_type(event.type):
                    return Info.from_event(event)

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        while True:
            event = await read_event(reader)
            if event is None:
                _LOGGER.info("[%s] disconnected", self.name)
                return
            self._alive.set()  # any event proves the satellite is there (older satellites never answer pings)
            self._answers_pings = self._answers_pings or Pong.is_type(event.type)
            if Ping.is_type(event.type):
                await self.write(Pong(text=Ping.from_event(event).text).event())
            elif not (Pong.is_type(event.type) or Info.is_type(event.type)):
                await self.handler.handle_event(event)

    async def _keepalive(self) -> None:
        """Ping every few seconds; a satellite that sends nothing (no pong, no audio) is dropped and reconnected.

        Any event counts as an answer. Satellites older than the ping/pong events (wyoming-satellite 1.0) never
        answer a ping, and send nothing at all while they wait for their own wake word, so until a satellite has
        answered a ping it is also asked to ``describe`` itself, which every satellite answers.
        """
        while True:
            await asyncio.sleep(self.timings.ping_interval_s)
            self._alive.clear()
            await self.write(Ping().event())
            if not self._answers_pings:
                await self.write(Describe().event())
            try:
                await asyncio.wait_for(self._alive.wait(), timeout=self.timings.pong_timeout_s)
            except TimeoutError:
                _LOGGER.warning(
                    "[%s] no pong within %.0f s; dropping the connection", self.name, self.timings.pong_timeout_s
                )
                if self._writer is not None:
                    self._writer.close()
                return

    async def _drop(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, RuntimeError):
                await writer.wait_closed()


async def run_all(connections: list[SatelliteConnection], stop: Callable[[], Awaitable[None]]) -> None:
    """Serve every satellite until ``stop`` returns; then stop them all."""
    tasks = [asyncio.create_task(c.run(), name=f"satellite {c.uri}") for c in connections]
    try:
        await stop()
    finally:
        await asyncio.gather(*(c.stop() for c in connections), return_exceptions=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
