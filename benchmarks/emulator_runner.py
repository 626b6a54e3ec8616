"""The emulator for the benchmark: ``python -m benchmarks.emulator_runner [emulator options]``.

The same service as ``python -m gemini_live_emulator`` (same options, same JSON ready line on stdout), plus
a probe that records, without changing the emulator's code, when each Live connection ended a user turn (its
activity detection or the client's ``audioStreamEnd``), when it sent the first audio of each model turn and how
much audio it sent, and when each marked microphone chunk arrived (see
:mod:`benchmarks.common`). The marker also tells which satellite a connection serves. The harness asks for
the records over stdin (``{"cmd": "dump", "path": ...}``).
"""

from __future__ import annotations

import asyncio
import cProfile
import functools
import json
import logging
import os
import signal
import sys
import time
from array import array
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gemini_live_emulator.__main__ import build_parser, config_from_args
from gemini_live_emulator.live import OUTPUT_RATE, LiveConnection
from gemini_live_emulator.scenario import Scenario
from gemini_live_emulator.server import Emulator

from .common import ControlServer, read_marker

_LOGGER = logging.getLogger("benchmarks.emulator_runner")


class EmulatorProbe:
    """User turn ends, first reply audio per model turn and marked microphone arrivals, per satellite."""

    REPLY_FIELDS = ("satellite", "first_sent", "audio_ms")
    ARRIVAL_FIELDS = ("satellite", "seq", "arrived")
    USER_END_FIELDS = ("satellite", "ended")

    def __init__(self) -> None:
        self.replies: list[list[int]] = []  # [satellite, first audio sent (ns), audio bytes] per model turn
        self.user_ends: list[list[int]] = []  # [satellite, user turn ended (ns)] per user turn from audio
        self.arrivals = array("q")
        self._satellite: dict[int, int] = {}  # id(LiveConnection) → satellite index
        self._reply: dict[int, list[int]] = {}  # id(LiveConnection) → its model turn's row in ``replies``

    def reset(self) -> None:
        """Forget what was recorded (connections keep their satellite)."""
        self.replies = []
        self.user_ends = []
        self._reply = {}
        self.arrivals = array("q")

    def dump(self) -> dict[str, Any]:
        """The records as rows of REPLY_FIELDS, ARRIVAL_FIELDS and USER_END_FIELDS."""
        arrivals = self.arrivals.tolist()
        return {
            "replies": [[sat, sent, size * 1000 // (2 * OUTPUT_RATE)] for sat, sent, size in self.replies],
            "arrivals": [arrivals[i : i + 3] for i in range(0, len(arrivals), 3)],
            "user_ends": self.user_ends,
        }

    def install(self) -> None:
        """Wrap the connection's audio input, the end of its user turns and its sending."""
        probe = self
        on_audio = LiveConnection._on_audio
        user_ended = LiveConnection._user_ended
        send = LiveConnection._send

        @functools.wraps(user_ended)
        def _user_ended(connection: LiveConnection) -> None:
            if connection._user is not None:
                probe.user_ends.append([probe._satellite.get(id(connection), -1), time.monotonic_ns()])
            user_ended(connection)

        @functools.wraps(on_audio)
        async def _on_audio(connection: LiveConnection, blob: Mapping[str, Any]) -> None:
            arrived = time.monotonic_ns()
            data = blob.get("data")
            if isinstance(data, bytes | bytearray) and (marker := read_marker(data)) is not None:
                probe._satellite[id(connection)] = marker[0]
                probe.arrivals.extend((marker[0], marker[1], arrived))
            await on_audio(connection, blob)

        @functools.wraps(send)
        async def _send(connection: LiveConnection, message: dict[str, Any]) -> None:
            await send(connection, message)
            content = message.get("serverContent")
            if not isinstance(content, dict):
                return
            key = id(connection)
            audio = sum(
                len(part.get("inlineData", {}).get("data", b""))
                for part in content.get("modelTurn", {}).get("parts", [])
            )
            if audio:
                row = probe._reply.get(key)
                if row is None:
                    row = probe._reply[key] = [probe._satellite.get(key, -1), time.monotonic_ns(), 0]
                    probe.replies.append(row)
                row[2] += audio
            if content.get("turnComplete") or content.get("interrupted"):
                probe._reply.pop(key, None)

        LiveConnection._on_audio = _on_audio  # type: ignore[method-assign,assignment]
        LiveConnection._user_ended = _user_ended  # type: ignore[method-assign]
        LiveConnection._send = _send  # type: ignore[method-assign,assignment]


async def serve(argv: list[str]) -> None:
    """Serve the emulator and answer requests until ``stop``, the end of stdin, SIGINT or SIGTERM."""
    args = build_parser().parse_args(argv)
    probe = EmulatorProbe()
    probe.install()
    scenario = Scenario.from_file(args.scenario) if args.scenario else None
    control = ControlServer()
    await control.open()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Emulator(config_from_args(args), scenario, state_dir=args.state_dir) as emulator:
        assert emulator.info is not None
        control.answer({"ok": True, **emulator.info.as_dict()})
        stopping = asyncio.create_task(stop.wait())
        while not stop.is_set():
            reading = asyncio.create_task(control.next_request())
            await asyncio.wait([reading, stopping], return_when=asyncio.FIRST_COMPLETED)
            if not reading.done():
                reading.cancel()
                break
            request = reading.result()
            if request is None or request.get("cmd") == "stop":
                break
            if request.get("cmd") == "dump":
                await asyncio.to_thread(Path(request["path"]).write_text, json.dumps(probe.dump()))
                if request.get("reset"):
                    probe.reset()
                control.answer({"ok": True, "connections": len(emulator.connections)})
            else:
                control.answer({"ok": False, "error": f"unknown command {request.get('cmd')!r}"})
        stopping.cancel()
    control.answer({"ok": True})


def main() -> None:
    """Entry point; with BENCH_EMULATOR_PROFILE=PATH the emulator runs under cProfile (stats written to PATH)."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    profile_path = os.environ.get("BENCH_EMULATOR_PROFILE")
    if not profile_path:
        asyncio.run(serve(sys.argv[1:]))
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        asyncio.run(serve(sys.argv[1:]))
    finally:
        profile.disable()
        profile.dump_stats(profile_path)


if __name__ == "__main__":
    main()
