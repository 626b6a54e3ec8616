"""The web console's costs: ``uv run python -m benchmarks.console``.

For each pipeline (Live, cascaded) and each number N of consoles, the bridge runs as its own process
(``python -m wyoming_bridge --web 127.0.0.1:0``) against the emulator (another process), and N console
clients in this process speak to it over the console's WebSocket protocol, as the page does: push to talk,
2 s of real speech sent in real time at 48 kHz (20 ms frames, which the bridge resamples to 16 kHz), then
release. Printed per run: the time from the release to the first reply audio at the client (p50/p99 over
every turn), and the bridge's CPU per streaming console (its process's CPU time while the consoles speak,
divided by N). The emulator answers at once (``--generation-speed 0``), so the latencies are the bridge's,
the SDK's and the emulator's own work on one machine, not Google's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp
import numpy as np
import soxr

from tests.audio import silence, speech_pcm

from .common import process_cpu_s

FRAME_S = 0.02
RATE = 48000
SPEECH_S = 2.0


@dataclass
class Run:
    """One pipeline at one N."""

    pipeline: str
    consoles: int
    latencies_ms: list[float] = field(default_factory=list)
    speaking_cpu_s: float = 0.0
    speaking_wall_s: float = 0.0
    failures: int = 0


def speech_48k() -> bytes:
    """2 s of real speech (espeak-ng) at 48 kHz."""
    pcm = speech_pcm("Turn on the kitchen light, please.", "en-US") + silence(0.5, 16000)
    samples = np.frombuffer(pcm, dtype=np.int16)[: int(SPEECH_S * 16000)]
    return bytes(soxr.resample(samples, 16000, RATE).astype(np.int16).tobytes())


async def start_process(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def start_bridge(emulator: dict[str, str], pipeline: str) -> tuple[asyncio.subprocess.Process, str]:
    """The bridge with only the console, and the console's URL (read from its log)."""
    process = await start_process(
        "-m",
        "wyoming_bridge",
        "--web",
        "127.0.0.1:0",
        "--pipeline",
        pipeline,
        "--gemini-base-url",
        emulator["base_url"],
        "--gemini-ca-file",
        emulator["ca_file"],
        "--api-key",
        emulator["api_key"],
    )
    assert process.stderr is not None
    async with asyncio.timeout(60):
        while True:
            line = (await process.stderr.readline()).decode()
            if not line:
                raise RuntimeError("the bridge exited before serving the console")
            if found := re.search(r"Web voice console at (http://\S+/)", line):
                asyncio.get_running_loop().create_task(_drain(process.stderr))
                return process, found.group(1)


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


async def console(url: str, speech: bytes, turns: int, run: Run, speaking: asyncio.Barrier) -> None:
    """One console: ``turns`` push-to-talk turns, timing release → first reply audio."""
    frame = int(RATE * FRAME_S) * 2
    async with aiohttp.ClientSession() as http, http.ws_connect(url + "ws") as ws:
        await ws.send_json({"type": "hello", "mode": "push_to_talk", "rate": RATE})
        assert (await ws.receive_json())["type"] == "ready"
        for _ in range(turns):
            await speaking.wait()  # every console speaks at the same time
            await ws.send_json({"type": "start"})
            started = time.monotonic()
            for number, offset in enumerate(range(0, len(speech), frame)):
                await ws.send_bytes(speech[offset : offset + frame])
                await asyncio.sleep(max(0.0, started + (number + 1) * FRAME_S - time.monotonic()))
            await ws.send_json({"type": "stop"})
            released = time.monotonic()
            first: float | None = None
            while True:
                message = await asyncio.wait_for(ws.receive(), timeout=60)
                if message.type == aiohttp.WSMsgType.BINARY and first is None:
                    first = time.monotonic()
                elif message.type == aiohttp.WSMsgType.TEXT:
                    data = json.loads(message.data)
                    if data["type"] == "turn_complete":
                        break
                    if data["type"] == "error" and data["code"] == "unavailable":
                        run.failures += 1
                        break
                elif message.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                    raise ConnectionError(f"console closed: {message.type}")
            if first is not None:
                run.latencies_ms.append((first - released) * 1000)
            await speaking.wait()  # the turn is over for everyone before the next starts


async def measure(emulator: dict[str, str], pipeline: str, consoles: int, turns: int) -> Run:
    run = Run(pipeline, consoles)
    bridge, url = await start_bridge(emulator, pipeline)
    speech = speech_48k()
    speaking = asyncio.Barrier(consoles + 1)
    try:
        tasks = [asyncio.create_task(console(url, speech, turns, run, speaking)) for _ in range(consoles)]
        for _ in range(turns):
            await speaking.wait()  # they start speaking
            cpu, wall = process_cpu_s(bridge.pid), time.monotonic()
            await asyncio.sleep(SPEECH_S)  # they speak for this long (the measuring window)
            run.speaking_cpu_s += process_cpu_s(bridge.pid) - cpu
            run.speaking_wall_s += time.monotonic() - wall
            await speaking.wait()  # the turn is over
        await asyncio.gather(*tasks)
    finally:
        bridge.terminate()
        await bridge.wait()
    return run


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def report(runs: Sequence[Run]) -> str:
    lines = [
        "pipeline   N  turns  release → first reply audio p50 / p99 (ms)  bridge CPU per speaking console",
        "---------  -  -----  -------------------------------------------  -------------------------------",
    ]
    for run in runs:
        cpu = 100 * run.speaking_cpu_s / run.speaking_wall_s / run.consoles if run.speaking_wall_s else 0.0
        lines.append(
            f"{run.pipeline:<9} {run.consoles:>2}  {len(run.latencies_ms):>5}  "
            f"{percentile(run.latencies_ms, 50):>19.0f} / {percentile(run.latencies_ms, 99):<21.0f}  "
            f"{cpu:>6.2f} % of a core" + (f"  ({run.failures} failed)" if run.failures else "")
        )
    if any(run.latencies_ms for run in runs):
        mean = statistics.fmean(v for run in runs for v in run.latencies_ms)
        lines.append(f"(mean over all turns {mean:.0f} ms)")
    return "\n".join(lines)


async def amain(pipelines: Sequence[str], sizes: Sequence[int], turns: int) -> int:
    emulator = await start_process("-m", "gemini_live_emulator", "--generation-speed", "0")
    assert emulator.stdout is not None
    assert emulator.stderr is not None
    info = json.loads(await asyncio.wait_for(emulator.stdout.readline(), timeout=60))
    asyncio.get_running_loop().create_task(_drain(emulator.stderr))
    runs = []
    try:
        for pipeline in pipelines:
            for size in sizes:
                runs.append(await measure(info, pipeline, size, turns))
                print(report(runs[-1:]).splitlines()[2], flush=True)
    finally:
        emulator.terminate()
        await emulator.wait()
    print()
    print(report(runs))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.console", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipelines", nargs="+", default=["live", "cascaded"], choices=["live", "cascaded"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1, 10], help="numbers of consoles (default 1 10)")
    parser.add_argument("--turns", type=int, default=5, help="push-to-talk turns per console (default 5)")
    options = parser.parse_args(argv)
    return asyncio.run(amain(options.pipelines, options.sizes, options.turns))


if __name__ == "__main__":
    sys.exit(main())
