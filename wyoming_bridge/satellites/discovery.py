"""Opt-in zeroconf discovery of Wyoming satellites (``_wyoming._tcp.local.``).

Speech services (whisper, piper, ...) announce the same service type, so every endpoint found is asked to
describe itself, and only those whose ``info.satellite`` is installed are controlled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from wyoming.event import async_write_event
from wyoming.info import Describe, Info
from zeroconf import ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from gemini_live_engine.tasks import BackgroundTasks

from .framing import read_event

_LOGGER = logging.getLogger(__name__)
SERVICE_TYPE = "_wyoming._tcp.local."


async def describe(host: str, port: int, timeout_s: float = 5.0) -> Info | None:
    """Ask a Wyoming endpoint what it is; None when it does not answer like one."""
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                await async_write_event(Describe().event(), writer)
                while (event := await read_event(reader)) is not None:
                    if Info.is_type(event.type):
                        return Info.from_event(event)
            finally:
                writer.close()
    except (OSError, TimeoutError, ValueError) as err:
        _LOGGER.debug("%s:%s did not describe itself: %s", host, port, err)
    return None


async def is_satellite(host: str, port: int) -> bool:
    """Whether the endpoint is an installed Wyoming satellite."""
    info = await describe(host, port)
    return info is not None and info.satellite is not None and bool(info.satellite.installed)


class SatelliteDiscovery:
    """Browse for satellites and report each new one once, as ``tcp://HOST:PORT``."""

    def __init__(self, found: Callable[[str], Awaitable[None]]) -> None:
        self._found = found
        self._seen: set[str] = set()
        self._zeroconf: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._tasks = BackgroundTasks()

    async def start(self) -> None:
        """Start browsing the local network."""
        self._zeroconf = AsyncZeroconf()
        self._browser = AsyncServiceBrowser(self._zeroconf.zeroconf, SERVICE_TYPE, handlers=[self._on_change])
        _LOGGER.info("Looking for Wyoming satellites with zeroconf")

    async def stop(self) -> None:
        """Stop browsing."""
        if self._browser is not None:
            await self._browser.async_cancel()
        if self._zeroconf is not None:
            await self._zeroconf.async_close()
        await self._tasks.cancel_all()

    def _on_change(self, zeroconf: object, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Added:
            self._tasks.spawn(self._resolve(service_type, name), name=f"zeroconf-resolve-{name}")

    async def _resolve(self, service_type: str, name: str) -> None:
        assert self._zeroconf is not None
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(self._zeroconf.zeroconf, 3000) or info.port is None:
            return
        for host in info.parsed_scoped_addresses():
            await self.consider(host, info.port)
            return

    async def consider(self, host: str, port: int) -> None:
        """Control this endpoint if it is a satellite not seen before."""
        uri = f"tcp://{host}:{port}"
        if uri in self._seen:
            return
        self._seen.add(uri)
        if await is_satellite(host, port):
            _LOGGER.info("Found satellite at %s", uri)
            await self._found(uri)
        else:
            _LOGGER.debug("%s is a Wyoming service, not a satellite", uri)
