"""The platform's floor: ``python -m benchmarks.null_bridge``, a controller that only reads the satellites' chunks.

It connects to the satellites as the bridge does (``describe``, ``run-satellite``, answering ``ping``) and reads
their events with the bridge's own framing code, recording for each microphone chunk how long after the
satellite wrote it the chunk was read, and does nothing else. Run with the bridge's pinning and priority, its
delays are what the machine (kernel, scheduler, hypervisor, the satellites' process and everyone else's load)
adds before any bridge code runs: the floor under the bridge's hop latencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from array import array
from pathlib import Path
from typing import Any

from wyoming.event import async_write_event
from wyoming.info import Describe
from wyoming.ping import Pong
from wyoming.satellite import RunSatellite

from wyoming_bridge.satellites.connection import parse_satellite_uri
from wyoming_bridge.satellites.framing import MAX_HEADER_BYTES, FrameError, read_event

from .common import ControlServer

_LOGGER = logging.getLogger("benchmarks.null_bridge")


class NullBridge:
    """Reads every satellite's events and records each audio chunk's delay (ns)."""

    def __init__(self) -> None:
        self.delays = array("q")
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def add(self, uris: list[str]) -> int:
        """Connect to these satellites; the number connected."""
        connected = 0
        for uri in uris:
            host, port = parse_satellite_uri(uri)
            try:
                reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEADER_BYTES)
            except OSError as err:
                _LOGGER.warning("%s: %s", uri, err)
                continue
            await async_write_event(Describe().event(), writer)
            await async_write_event(RunSatellite().event(), writer)
            self._writers.append(writer)
            task = asyncio.create_task(self._read(reader, writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            connected += 1
        return connected

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(FrameError, OSError):
            while (event := await read_event(reader)) is not None:
                if event.type == "audio-chunk":
                    written = event.data.get("timestamp")
                    if isinstance(written, int):
                        self.delays.append(time.monotonic_ns() - written)
                elif event.type == "ping":
                    await async_write_event(Pong(text=event.data.get("text")).event(), writer)

    async def close(self) -> None:
        """Disconnect from every satellite."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.close()


async def serve() -> None:
    """Answer ``add``, ``dump`` and ``stop`` until stdin ends."""
    null = NullBridge()
    control = ControlServer()
    await control.open()
    control.answer({"ok": True, "pid": os.getpid()})
    try:
        while (request := await control.next_request()) is not None:
            command = request.get("cmd")
            if command == "stop":
                break
            answer: dict[str, Any]
            if command == "add":
                connected = await null.add([str(uri) for uri in request["uris"]])
                answer = {"ok": True, "connected": connected}
            elif command == "dump":
                data = json.dumps({"delays": null.delays.tolist()})
                await asyncio.to_thread(Path(request["path"]).write_text, data)
                null.delays = array("q")
                answer = {"ok": True}
            else:
                answer = {"ok": False, "error": f"unknown command {command!r}"}
            control.answer(answer)
    finally:
        await null.close()
        control.answer({"ok": True})


def main() -> None:
    """Entry point."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(serve())


if __name__ == "__main__":
    main()
