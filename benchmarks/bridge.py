"""The bridge benchmark: ``uv run python -m benchmarks.bridge`` (options: ``--help``; README.md beside this file).

Three processes on one machine: the bridge (:mod:`benchmarks.bridge_runner`, the real ``Bridge``, pinned to
one core by default), the emulator (:mod:`benchmarks.emulator_runner`) and, in this process, N satellites
(:mod:`benchmarks.satellites`), both pinned to the other cores. For each N (1, 20 and 100 by default), a fresh
bridge goes through these phases:

1. **idle**: a warm-up satellite, then N satellites connect and wait for their own wake word (each gets a warm
   Live session); the bridge's RSS growth per satellite, and its CPU while they idle;
2. **wake**: the N satellites stream background speech (no wake word) to the bridge's wake-word detector;
   the detector's CPU and the bridge's CPU per always-streaming satellite;
3. **turns**: the N satellites hold conversation after conversation in real time; the two audio hops'
   latency (probes inside the bridge), first reply audio (emulator sends → satellite receives), the end of the
   user's speech → first reply audio at the satellite, the bridge's CPU per stream and RSS per streaming
   satellite, and chunks that came late or never.

All timestamps are ``time.monotonic_ns()``, which every process on the machine reads from the same clock.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import random
import shutil
import sys
import time
import wave
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from gemini_live_emulator.speech import Synthesizer

from gemini_live_engine import defaults

from .bridge_runner import EXPERIMENTS
from .common import REPO_ROOT, ChildProcess, machine_cpu_s, process_cpu_s, process_rss_kb
from .satellites import MIC_RATE, SAMPLES_PER_CHUNK, BenchSatellite, MicAudio, Trigger, close_quietly

WAKE_WORD_WAV = REPO_ROOT / "tests" / "data" / "wakeword" / "okay_nabu_2.wav"
COMMAND = "Turn on the kitchen light, please."
BACKGROUND = (
    "The weather today is mild, with a light breeze from the west. Remember to water the plants, and pick up "
    "some bread on the way home. The meeting has moved to Thursday afternoon, right after lunch."
)

# Unless --no-priority (and as root): the bridge's (and the null bridge's) session and the emulator's session.
# The satellites stay in this process, in the caller's session, so that Ctrl-C still reaches them.
BRIDGE_NICE = -10
EMULATOR_NICE = -5

# The product's quality bars (shared/PRODUCT.md).
HOP_P99_MS = 5.0
HOP_AT_N = 20
FIRST_REPLY_MS = 30.0
END_OF_SPEECH_OVER_MS = 40.0  # end of speech → first reply audio: at most the bridge's threshold + this + the model's
SERVICE_SILENCE_MS = 500  # the emulator's silence window (silenceDurationMs, HIGH sensitivity), which the bridge keeps
SPEECH_FLOOR_DBFS = -50.0  # the command's speech ends with its last 10 ms frame at least this loud
IDLE_MB = 2.0
WAKE_CPU_PCT = 1.0
SCALE_N = 100


@dataclass
class Options:
    """How the benchmark runs."""

    sizes: list[int]
    idle_s: float
    wake_s: float
    turns_s: float
    drain_s: float
    late_ms: float
    generation_speed: float
    trigger: Trigger
    pin: bool
    out_dir: Path
    profile: int | None
    seed: int
    gc_freeze: bool
    conversations: int
    priority: bool
    slow_callback_ms: float
    py_spy: str | None
    floor_s: float
    experiments: list[str]
    end_of_speech_ms: int | None = None  # the bridge's --end-of-speech-ms (None: its default)
    chunk_samples: int = SAMPLES_PER_CHUNK  # microphone samples per chunk the satellites send


@dataclass
class SizeResult:
    """What one N measured (latencies in ms)."""

    n: int
    hop_in: list[float] = field(default_factory=list)  # satellite wrote → bridge sent to the Live WebSocket
    hop_in_read: list[float] = field(default_factory=list)  # satellite wrote → bridge's turn controller got it
    floor: list[float] = field(default_factory=list)  # satellite wrote → a do-nothing reader read it (null bridge)
    hop_out: list[float] = field(default_factory=list)  # SDK delivered → written to the satellite (pacing excluded)
    hop_out_raw: list[float] = field(default_factory=list)  # the same, pacing included
    first_reply: list[float] = field(default_factory=list)  # emulator sent first audio → satellite received it
    first_reply_bridge: list[float] = field(default_factory=list)  # SDK delivered first audio → written
    to_gemini: list[float] = field(default_factory=list)  # satellite wrote → emulator received (marked chunks)
    # idle chunk read → given to wake-word detection, in the turns phase (in the wake phase, the first second
    # includes making every satellite's detector)
    wake_queue: list[float] = field(default_factory=list)
    speech_to_reply: list[float] = field(default_factory=list)  # the user's speech ended → first reply audio read
    speech_to_turn_end: list[float] = field(default_factory=list)  # the user's speech ended → emulator ended the turn
    model_first_audio: list[float] = field(default_factory=list)  # emulator ended the user turn → sent first audio
    # the satellite wrote the chunk that completes the threshold's quiet after the speech → emulator ended the turn
    quiet_sent_to_turn_end: list[float] = field(default_factory=list)
    cpu_idle_pct: float = 0.0  # bridge CPU per idle satellite, % of a core
    cpu_wake_pct: float = 0.0  # bridge CPU per always-streaming satellite (no turn), % of a core
    wake_detector_pct: float = 0.0  # time in the wake-word detector per always-streaming satellite, % of a core
    cpu_no_wake_pct: float = 0.0  # bridge CPU per always-streaming satellite with the detectors taken away
    conversations: int = 0  # satellites holding conversations in the turns phase (the others stream for wake words)
    cpu_turns_pct: float = 0.0  # bridge CPU per streaming satellite in the turns phase, % of a core
    cpu_conversation_pct: float = 0.0  # the same per conversing satellite, wake-word streams' share taken out
    cpu_turns_total_pct: float = 0.0  # bridge CPU, % of a core, during the turns phase
    rss_base_mb: float = 0.0
    mem_idle_mb: float = 0.0  # RSS growth per idle satellite
    mem_streaming_mb: float = 0.0  # RSS growth per satellite in the turns phase (all streaming)
    connect_s: float = 0.0
    mic_chunks: int = 0
    mic_late: int = 0
    mic_dropped: int = 0  # written but never handled by the bridge
    mic_unsent: int = 0  # handled during a turn but never sent to Gemini
    reply_chunks: int = 0
    reply_late: int = 0  # reply chunks that reached the satellite late, whatever the cause
    reply_late_bridge: int = 0  # reply chunks the bridge itself held more than late_ms (pacing excluded)
    reply_missing_ms: float = 0.0  # reply audio the emulator sent that no satellite received
    replies: int = 0
    turns: int = 0
    turn_timeouts: int = 0
    gc_objects: int = 0  # objects the bridge's garbage collector tracks, with N idle satellites
    gc_pauses: list[float] = field(default_factory=list)  # the bridge's garbage-collector pauses in the turns
    emulator_pct: float = 0.0  # the emulator's CPU during the turns, % of one core
    harness_pct: float = 0.0  # the satellites' process CPU during the turns, % of one core
    other_load_pct: float = 0.0  # CPU used by other processes on the machine during the turns, % of one core
    steal_pct: float = 0.0  # CPU the hypervisor took from the machine during the turns, % of one core
    notes: list[str] = field(default_factory=list)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (nan for no values)."""
    return float(np.percentile(values, q)) if values else float("nan")


def fmt_dist(values: Sequence[float]) -> str:
    """``p50 / p99 / max (count)`` in ms."""
    if not values:
        return "n/a"
    return f"{percentile(values, 50):6.2f} / {percentile(values, 99):6.2f} / {max(values):7.2f}  ({len(values)})"


# ------------------------------------------------------------------------------------------------ audio


def quiet_tail(pcm: bytes, floor_dbfs: float = SPEECH_FLOOR_DBFS) -> int:
    """Bytes of 16 kHz 16-bit audio after its last 10 ms frame at least ``floor_dbfs`` loud (the speech's end)."""
    samples = np.frombuffer(pcm, dtype="<i2", count=len(pcm) // 320 * 160).astype(np.float64).reshape(-1, 160)
    power = np.mean(np.square(samples / 32768), axis=1)
    loud = np.flatnonzero(power >= 10 ** (floor_dbfs / 10))
    return len(pcm) - (int(loud[-1]) + 1) * 320 if loud.size else 0


def make_audio() -> MicAudio:
    """Real speech for the microphones: espeak-ng (as the tests use) and a real wake-word recording."""
    synthesizer = Synthesizer()
    command = synthesizer.synthesize(COMMAND, "en-US", sample_rate=16000)
    background = synthesizer.synthesize(BACKGROUND, "en-US", sample_rate=16000) + bytes(16000)
    with wave.open(str(WAKE_WORD_WAV), "rb") as wav:
        if (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) != (16000, 2, 1):
            raise ValueError(f"{WAKE_WORD_WAV} is not 16 kHz 16-bit mono")
        wake = wav.readframes(wav.getnframes())
    return MicAudio(
        background=background, command=command, wake_command=wake + command, command_tail=quiet_tail(command)
    )


# ---------------------------------------------------------------------------------------------- phases


class Bench:
    """One benchmark run: the emulator, then a fresh bridge and N satellites for each size."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.audio = make_audio()
        self.emulator: ChildProcess | None = None
        self.emulator_info: dict[str, Any] = {}
        cpus = sorted(os.sched_getaffinity(0))
        self.bridge_cpus: set[int] | None = None
        self.load_cpus: set[int] | None = None
        if options.pin and len(cpus) >= 2:
            self.bridge_cpus, self.load_cpus = {cpus[0]}, set(cpus[1:])
        self.rng = random.Random(options.seed)
        self._base_kb = 0  # the bridge's RSS with only the warm-up satellite
        self.priority = options.priority and os.geteuid() == 0

    async def run(self) -> list[SizeResult]:
        """Every size, in order."""
        options = self.options
        options.out_dir.mkdir(parents=True, exist_ok=True)
        if self.load_cpus:
            os.sched_setaffinity(0, self.load_cpus)
        self.emulator = ChildProcess(
            "emulator",
            [
                sys.executable,
                "-m",
                "benchmarks.emulator_runner",
                "--generation-speed",
                str(options.generation_speed),
            ],
            options.out_dir / "emulator.log",
            self.load_cpus,
            nice=EMULATOR_NICE if self.priority else 0,
            own_group_nice=EMULATOR_NICE if self.priority else None,
        )
        self.emulator_info = await self.emulator.start(timeout_s=60)
        results = []
        try:
            for n in options.sizes:
                print(f"N={n}: running ...", file=sys.stderr, flush=True)
                started = time.monotonic()
                result = await self.run_size(n)
                print(f"N={n}: done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
                results.append(result)
        finally:
            await self.emulator.stop()
        return results

    async def run_size(self, n: int) -> SizeResult:
        """One fresh bridge with a warm-up satellite and N more."""
        options = self.options
        info = self.emulator_info
        config: dict[str, Any] = {"api_key": info["api_key"], "base_url": info["base_url"], "ca_file": info["ca_file"]}
        if options.slow_callback_ms:
            config["slow_callback_ms"] = options.slow_callback_ms
        if options.experiments:
            config["experiments"] = options.experiments
        if options.end_of_speech_ms is not None:
            config["end_of_speech_ms"] = options.end_of_speech_ms
        bridge = ChildProcess(
            "bridge",
            [sys.executable, "-m", "benchmarks.bridge_runner", json.dumps(config)],
            options.out_dir / f"bridge-n{n}.log",
            self.bridge_cpus,
            nice=BRIDGE_NICE if self.priority else 0,
            own_group_nice=BRIDGE_NICE if self.priority else None,
        )
        satellites = [
            BenchSatellite(i, self.audio, trigger=options.trigger, chunk_samples=options.chunk_samples)
            for i in range(n + 1)
        ]
        result = SizeResult(n)
        try:
            for satellite in satellites:
                await satellite.start()
            await self._floor(satellites[1:], result)
            await bridge.start(timeout_s=60)
            await self._idle(bridge, satellites, result)
            await self._wake(bridge, satellites[1:], result)
            await self._turns(bridge, satellites[1:], result)
        finally:
            await bridge.stop()
            await close_quietly(satellites)
        return result

    async def _floor(self, satellites: list[BenchSatellite], result: SizeResult) -> None:
        """The same streams read by a controller that does nothing else, with the bridge's pinning and priority."""
        null = ChildProcess(
            "null bridge",
            [sys.executable, "-m", "benchmarks.null_bridge"],
            self.options.out_dir / f"null-bridge-n{len(satellites)}.log",
            self.bridge_cpus,
            nice=BRIDGE_NICE if self.priority else 0,
            own_group_nice=BRIDGE_NICE if self.priority else None,
        )
        await null.start(timeout_s=30)
        try:
            await null.request("add", uris=[s.uri for s in satellites], timeout_s=60.0)
            await asyncio.gather(*(s.running.wait() for s in satellites))
            self._spread(satellites)
            await asyncio.sleep(1.0 + self.options.floor_s)
            await asyncio.gather(*(s.stop_streaming() for s in satellites))
            await asyncio.sleep(0.3)
            path = self.options.out_dir / f"null-bridge-n{len(satellites)}.json"
            await null.request("dump", path=str(path), timeout_s=60.0)
            delays = json.loads(path.read_text())["delays"]
            skip = len(delays) // (int(self.options.floor_s) + 1)  # the first second: start-up
            result.floor = [delay / 1e6 for delay in delays[skip:]]
        finally:
            await null.stop()
        for satellite in satellites:
            satellite.mode = "off"

    async def _idle(self, bridge: ChildProcess, satellites: list[BenchSatellite], result: SizeResult) -> None:
        pid, n = bridge.pid, len(satellites) - 1
        await bridge.request("add", uris=[satellites[0].uri], wait_s=60.0, timeout_s=70.0)
        await asyncio.sleep(1.0)
        if self.options.gc_freeze:
            await bridge.request("gc_freeze")
        await bridge.request("stats", gc=True)
        base_kb = process_rss_kb(pid)
        started = time.monotonic()
        answer = await bridge.request("add", uris=[s.uri for s in satellites[1:]], wait_s=90.0, timeout_s=100.0)
        result.connect_s = time.monotonic() - started
        if answer.get("ready") != n:
            result.notes.append(f"only {answer.get('ready')} of {n} satellites got ready")
        await asyncio.sleep(1.0)
        cpu, at = process_cpu_s(pid), time.monotonic()
        await asyncio.sleep(self.options.idle_s)
        result.cpu_idle_pct = 100 * (process_cpu_s(pid) - cpu) / (n * (time.monotonic() - at))
        stats = await bridge.request("stats", gc=True)
        result.gc_objects = int(stats["gc_objects"])
        result.rss_base_mb = base_kb / 1024
        result.mem_idle_mb = (process_rss_kb(pid) - base_kb) / 1024 / n
        self._base_kb = base_kb

    def _spread(self, satellites: list[BenchSatellite], conversations: int = 0, turn_spread_s: float = 0.0) -> int:
        """Start streaming: the first ``conversations`` satellites hold conversations, the others stream for the
        wake word; chunks and turns spread out. Returns the start time (ns).
        """
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.1
        for index, satellite in enumerate(satellites):
            satellite.set_mode(
                "turns" if index < conversations else "wake",
                start_at=start + self.rng.uniform(0, self.options.chunk_samples / MIC_RATE),
                first_turn_at=start + self.rng.uniform(0, turn_spread_s),
            )
        return time.monotonic_ns()

    async def _wake(self, bridge: ChildProcess, satellites: list[BenchSatellite], result: SizeResult) -> None:
        """Always-streaming satellites: the bridge's CPU with the wake-word detectors, then without them."""
        pid, n = bridge.pid, len(satellites)
        await bridge.request("probe_reset")
        since = self._spread(satellites)
        await asyncio.sleep(1.0)  # the wake-word models have warmed up
        before = await bridge.request("stats")
        cpu, at = process_cpu_s(pid), time.monotonic()
        await asyncio.sleep(self.options.wake_s)
        after = await bridge.request("stats")
        stream_s = n * (time.monotonic() - at)
        result.cpu_wake_pct = 100 * (process_cpu_s(pid) - cpu) / stream_s
        result.wake_detector_pct = 100 * (after["wake_cpu_ns"] - before["wake_cpu_ns"]) / 1e9 / stream_s
        await bridge.request("wake_detectors", on=False)
        await asyncio.sleep(0.5)
        cpu, at = process_cpu_s(pid), time.monotonic()
        await asyncio.sleep(self.options.wake_s)
        result.cpu_no_wake_pct = 100 * (process_cpu_s(pid) - cpu) / (n * (time.monotonic() - at))
        await bridge.request("wake_detectors", on=True)
        await asyncio.gather(*(s.stop_streaming() for s in satellites))
        await asyncio.sleep(1.0)
        dump = await self._dump(bridge, "wake", n)
        self._count_mic(dump["mic"], satellites, since, result)

    async def _turns(self, bridge: ChildProcess, satellites: list[BenchSatellite], result: SizeResult) -> None:
        options = self.options
        pid, n = bridge.pid, len(satellites)
        assert self.emulator is not None
        await bridge.request("probe_reset")
        await self.emulator.request("dump", path=str(options.out_dir / "discard.json"), reset=True)
        for satellite in satellites:
            satellite.replies.clear()
            satellite.speech_ends.clear()
        if options.profile == n:
            await bridge.request("profile_start")
        result.conversations = conversations = min(n, options.conversations)
        since = self._spread(satellites, conversations, turn_spread_s=3.0)
        ours = (pid, self.emulator.pid, os.getpid())
        sampler = await self._start_py_spy(pid, n)
        cpu, at, (busy, steal), ours_s = process_cpu_s(pid), time.monotonic(), machine_cpu_s(), self._cpu(ours)
        emulator_s, harness_s = process_cpu_s(self.emulator.pid), process_cpu_s(os.getpid())
        await asyncio.sleep(options.turns_s)
        cpu_s, window = process_cpu_s(pid) - cpu, time.monotonic() - at
        busy_after, steal_after = machine_cpu_s()
        result.other_load_pct = 100 * max(0.0, busy_after - busy - (self._cpu(ours) - ours_s)) / window
        result.steal_pct = 100 * (steal_after - steal) / window
        result.emulator_pct = 100 * (process_cpu_s(self.emulator.pid) - emulator_s) / window
        result.harness_pct = 100 * (process_cpu_s(os.getpid()) - harness_s) / window
        if sampler is not None:
            result.notes.append(await self._finish_py_spy(sampler, n))
        result.cpu_turns_pct = 100 * cpu_s / (n * window)
        result.cpu_turns_total_pct = 100 * cpu_s / window
        wake_share = (n - conversations) * result.cpu_wake_pct / 100 * window
        result.cpu_conversation_pct = 100 * (cpu_s - wake_share) / (conversations * window)
        if options.profile == n:
            path = options.out_dir / f"profile-n{n}.pstats"
            await bridge.request("profile_stop", path=str(path), timeout_s=120.0)
            result.notes.append(f"profiled (latencies are not representative): {path.with_suffix('.txt')}")
        stats = await bridge.request("stats")  # no gc.collect(): it would stall the streams being measured
        result.mem_streaming_mb = (process_rss_kb(pid) - self._base_kb - stats["probe_bytes"] / 1024) / 1024 / n
        for satellite in satellites:
            satellite.stop_turns()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(s.between_turns.wait() for s in satellites)), options.drain_s)
        if unfinished := sum(s.in_turn for s in satellites):
            result.notes.append(f"{unfinished} conversations still going after the {options.drain_s:.0f} s drain")
        await asyncio.gather(*(s.stop_streaming() for s in satellites))
        await asyncio.sleep(1.0)
        dump = await self._dump(bridge, "turns", n)
        emulator_path = options.out_dir / f"emulator-turns-n{n}.json"
        await self.emulator.request("dump", path=str(emulator_path), reset=True, timeout_s=120.0)
        emulated = json.loads(emulator_path.read_text())
        self._count_mic(dump["mic"], satellites, since, result)
        self._hops(dump, result)
        result.wake_queue += [ns / 1e6 for ns in dump["wake_queue"]]
        result.gc_pauses = [duration / 1e6 for _start, duration, _generation in dump["gc_pauses"]]
        self._replies(satellites, emulated, result)
        result.turns = sum(s.turns_finished for s in satellites)
        result.turn_timeouts = sum(s.turn_timeouts for s in satellites)

    async def _start_py_spy(self, pid: int, n: int) -> asyncio.subprocess.Process | None:
        """py-spy sampling the bridge for the conversation window, if asked for this N."""
        wanted = self.options.py_spy
        if wanted is None or (wanted != "all" and int(wanted) != n):
            return None
        command = [path] if (path := shutil.which("py-spy")) else ["uv", "tool", "run", "--from", "py-spy", "py-spy"]
        raw = self.options.out_dir / f"py-spy-n{n}.raw"
        return await asyncio.create_subprocess_exec(
            *command,
            "record",
            "--pid",
            str(pid),
            "--rate",
            "250",
            "--duration",
            str(int(self.options.turns_s)),
            "--format",
            "raw",
            "--output",
            str(raw),
            "--nonblocking",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

    async def _finish_py_spy(self, sampler: asyncio.subprocess.Process, n: int) -> str:
        try:
            await asyncio.wait_for(sampler.wait(), timeout=30.0)
        except TimeoutError:
            sampler.kill()
            await sampler.wait()
        raw = self.options.out_dir / f"py-spy-n{n}.raw"
        if not raw.exists():
            return "py-spy recorded nothing (is it installed?)"
        text = hot_spots(raw.read_text())
        path = raw.with_suffix(".txt")
        path.write_text(text)
        return f"py-spy hot spots: {path}"

    @staticmethod
    def _cpu(pids: Sequence[int]) -> float:
        return sum(process_cpu_s(pid) for pid in pids)

    async def _dump(self, bridge: ChildProcess, phase: str, n: int) -> dict[str, Any]:
        path = self.options.out_dir / f"bridge-{phase}-n{n}.json"
        await bridge.request("probe_dump", path=str(path), timeout_s=60.0)
        dump: dict[str, Any] = json.loads(path.read_text())
        return dump

    # -------------------------------------------------------------------------------------------- analysis

    def _count_mic(
        self, rows: list[list[int]], satellites: list[BenchSatellite], since_ns: int, result: SizeResult
    ) -> None:
        """Microphone chunks written since ``since_ns``: late (> late_ms to the bridge or to Gemini) or lost."""
        late_ns = self.options.late_ms * 1e6
        handled: set[tuple[int, int]] = set()
        for index, seq, written, got, sent, streaming in rows:
            handled.add((index, seq))
            if max(got, sent) - written > late_ns:
                result.mic_late += 1
            if streaming and not sent:
                result.mic_unsent += 1
        for satellite in satellites:
            for seq, written in satellite.written.items():
                if written >= since_ns:
                    result.mic_chunks += 1
                    if (satellite.index, seq) not in handled:
                        result.mic_dropped += 1

    def _hops(self, dump: dict[str, Any], result: SizeResult) -> None:
        for _satellite, _seq, written, got, sent, _streaming in dump["mic"]:
            if sent:
                result.hop_in.append((sent - written) / 1e6)
            result.hop_in_read.append((got - written) / 1e6)
        for _satellite, delivered, released, written, first in dump["reply"]:
            result.hop_out.append(hop := (written - max(delivered, released)) / 1e6)
            if hop > self.options.late_ms:
                result.reply_late_bridge += 1
            result.hop_out_raw.append((written - delivered) / 1e6)
            if first:
                result.first_reply_bridge.append((written - delivered) / 1e6)

    def _replies(self, satellites: list[BenchSatellite], emulated: dict[str, Any], result: SizeResult) -> None:
        """First reply audio and completeness: each satellite reply paired with the emulator's model turn."""
        sent_by: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for satellite, first_sent, audio_ms in emulated["replies"]:
            sent_by[satellite].append((first_sent, audio_ms))
        user_ends: dict[int, list[int]] = defaultdict(list)
        for satellite, ended in emulated.get("user_ends", []):
            user_ends[satellite].append(ended)
        written = {s.index: s.written for s in satellites}
        for satellite, seq, arrived in emulated["arrivals"]:
            stamp = written.get(satellite, {}).get(seq)
            if stamp is not None:
                result.to_gemini.append((arrived - stamp) / 1e6)
        tolerance_s = self.options.late_ms / 1000
        for satellite in satellites:
            turns = sorted(sent_by.get(satellite.index, []))
            for reply in satellite.replies:
                if not reply.arrivals:
                    continue
                result.replies += 1
                result.reply_chunks += len(reply.arrivals)
                result.reply_late += reply.late_chunks(tolerance_s)
                first_arrival = reply.arrivals[0][0]
                matches = [t for t in turns if t[0] <= first_arrival]
                if not matches:
                    result.notes.append(f"{satellite.name}: a reply the emulator has no record of")
                    continue
                first_sent, audio_ms = matches[-1]
                turns.remove(matches[-1])
                result.first_reply.append((first_arrival - first_sent) / 1e6)
                self._end_of_speech(satellite, (first_arrival, first_sent), user_ends[satellite.index], result)
                result.reply_missing_ms += max(0.0, audio_ms - reply.seconds * 1000 - 25.0)  # 25 ms: rounding

    def _end_of_speech(
        self, satellite: BenchSatellite, reply: tuple[int, int], user_ends: list[int], result: SizeResult
    ) -> None:
        """The user's speech ended → the emulator ended the turn → it sent the first reply audio → the satellite.

        ``reply``: when the satellite read its first audio, and when the emulator sent it.
        """
        first_arrival, first_sent = reply
        spoken = [t for t in satellite.speech_ends if t <= first_arrival]
        ended = [t for t in user_ends if t <= first_sent]
        if not spoken or not ended or ended[-1] < spoken[-1]:
            return  # a reply to something else (or the turn ended before the speech did: not this measurement)
        result.speech_to_reply.append((first_arrival - spoken[-1]) / 1e6)
        result.speech_to_turn_end.append((ended[-1] - spoken[-1]) / 1e6)
        result.model_first_audio.append((first_sent - ended[-1]) / 1e6)
        writes = list(satellite.written.values())  # in the order written
        quiet_at = spoken[-1] + end_of_speech_threshold(self.options) * 1_000_000
        index = bisect.bisect_left(writes, quiet_at)
        if index < len(writes):
            result.quiet_sent_to_turn_end.append((ended[-1] - writes[index]) / 1e6)


# ---------------------------------------------------------------------------------------------- report


IDLE_FRAMES = frozenset({"selectors.py:EpollSelector.select"})


def hot_spots(collapsed: str, top: int = 40) -> str:
    """py-spy's collapsed stacks → the functions with the most samples, by own time and including callees."""
    own: dict[str, int] = defaultdict(int)
    inclusive: dict[str, int] = defaultdict(int)
    total = idle = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(frame) for frame in stack.split(";")]
        if frames[-1] in IDLE_FRAMES:  # the event loop waiting for work
            idle += count
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "no busy samples\n"
    lines = [
        f"{total} samples of the bridge at work ({idle} more waiting in epoll, left out)",
        "",
        "own time (% of busy samples):",
    ]
    lines += [f"{100 * c / total:6.2f}%  {name}" for name, c in sorted(own.items(), key=lambda i: -i[1])[:top]]
    lines += ["", "including callees (% of busy samples):"]
    lines += [f"{100 * c / total:6.2f}%  {name}" for name, c in sorted(inclusive.items(), key=lambda i: -i[1])[:top]]
    return "\n".join(lines) + "\n"


def _frame_name(frame: str) -> str:
    """``function (path/to/file.py:123)`` → ``file.py:function``, without line numbers (which split a function)."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    short = "/".join(path.split("/")[-2:]) if path else "?"
    return f"{short}:{name}"


def report(results: list[SizeResult], options: Options, pinned: bool) -> str:
    """The tables and the verdict against the product's quality bars."""
    lines = [
        "",
        f"Bridge benchmark: {options.turns_s:.0f} s of conversations per N (at most {options.conversations} at once, "
        f"the other satellites stream for the wake word; trigger {options.trigger}; emulator generation speed "
        f"{options.generation_speed:g}x); late = over {options.late_ms:.0f} ms; "
        + ("bridge pinned to one core, satellites + emulator on the other(s)" if pinned else "no CPU pinning")
        + (f"; EXPERIMENTS: {', '.join(options.experiments)}" if options.experiments else "")
        + f"; microphone chunks of {options.chunk_samples} samples"
        + f"; end of speech: {end_of_speech_threshold(options)} ms"
        + (" (the service's window, --end-of-speech-ms 0)" if options.end_of_speech_ms == 0 else " (the bridge)")
        + (
            f"; bridge in a session of its own at nice {BRIDGE_NICE}, emulator at {EMULATOR_NICE} (shielded from "
            "other processes)"
            if options.priority
            else ""
        ),
        "",
        "Latency (ms): p50 / p99 / max  (samples)",
        f"{'N':>4}  {'sat→Gemini hop (bridge)':<36}{'Gemini→sat hop (bridge)':<36}{'first reply audio (e2e)':<36}",
    ]
    for r in results:
        lines.append(f"{r.n:>4}  {fmt_dist(r.hop_in):<36}{fmt_dist(r.hop_out):<36}{fmt_dist(r.first_reply):<36}")
    lines += [
        "",
        "More latency (ms): p50 / p99 / max  (samples)",
        f"{'N':>4}  {'floor: sat→null bridge':<36}{'sat→bridge read':<36}{'Gemini→sat incl. pacing':<36}"
        f"{'first reply, bridge part':<36}{'sat→emulator (marked)':<36}{'idle chunk read → wake word':<36}",
    ]
    for r in results:
        lines.append(
            f"{r.n:>4}  {fmt_dist(r.floor):<36}{fmt_dist(r.hop_in_read):<36}{fmt_dist(r.hop_out_raw):<36}"
            f"{fmt_dist(r.first_reply_bridge):<36}{fmt_dist(r.to_gemini):<36}{fmt_dist(r.wake_queue):<36}"
        )
    threshold = end_of_speech_threshold(options)
    lines += [
        "",
        f"End of the user's speech (ms; the bridge ends it after {threshold} ms of quiet"
        + (", i.e. the service's own window)" if options.end_of_speech_ms == 0 else ")")
        + ": p50 / p99 / max  (samples)",
        f"{'N':>4}  {'speech end → first reply at sat':<36}{'speech end → emulator turn end':<36}"
        f"{'model: turn end → first audio':<36}{'first reply − model':<36}{'quiet sent → turn end':<36}",
    ]
    for r in results:
        over = [a - m for a, m in zip(r.speech_to_reply, r.model_first_audio, strict=True)]
        lines.append(
            f"{r.n:>4}  {fmt_dist(r.speech_to_reply):<36}{fmt_dist(r.speech_to_turn_end):<36}"
            f"{fmt_dist(r.model_first_audio):<36}{fmt_dist(over):<36}{fmt_dist(r.quiet_sent_to_turn_end):<36}"
        )
    lines.append(
        "  quiet sent → turn end: from the satellite writing the chunk that completes the threshold's quiet (the "
        f"first moment a {1000 * options.chunk_samples / MIC_RATE:.0f} ms chunk can carry it) to the emulator ending "
        "the turn"
    )
    lines += [
        "",
        "Cost of the bridge process: CPU in % of one core (from /proc), memory as RSS growth per satellite",
        f"{'N':>4}  {'conv':>5}{'total':>8}{'per stream':>11}{'per conv':>9}{'wake sat':>9}{'no-wake sat':>12}"
        f"{'wake word':>10}{'(in det.)':>10}{'idle sat':>9}{'MB idle':>8}{'MB stream':>10}{'base MB':>8}"
        f"{'connect':>8}",
    ]
    for r in results:
        lines.append(
            f"{r.n:>4}  {r.conversations:>5}{r.cpu_turns_total_pct:>7.1f}%{r.cpu_turns_pct:>10.2f}%"
            f"{r.cpu_conversation_pct:>8.2f}%{r.cpu_wake_pct:>8.2f}%{r.cpu_no_wake_pct:>11.2f}%"
            f"{r.cpu_wake_pct - r.cpu_no_wake_pct:>9.2f}%{r.wake_detector_pct:>9.2f}%{r.cpu_idle_pct:>8.3f}%"
            f"{r.mem_idle_mb:>8.2f}{r.mem_streaming_mb:>10.2f}{r.rss_base_mb:>8.0f}{r.connect_s:>7.1f}s"
        )
    lines.append(
        "  total / per stream / per conv: the conversation phase (per conv: the wake-word streams' share taken out); "
        "wake sat / no-wake sat: per always-streaming satellite with and without the wake-word detectors; wake "
        "word: their difference; (in det.): time measured inside the detector"
    )
    lines += [
        "",
        "Chunks (wake + turns phases)",
        f"{'N':>4}  {'mic written':>12}{'late':>7}{'dropped':>9}{'unsent':>8}{'reply chunks':>14}{'late@sat':>9}"
        f"{'by bridge':>10}{'missing ms':>11}{'replies':>9}{'turns':>7}{'timeouts':>9}",
    ]
    for r in results:
        lines.append(
            f"{r.n:>4}  {r.mic_chunks:>12}{r.mic_late:>7}{r.mic_dropped:>9}{r.mic_unsent:>8}{r.reply_chunks:>14}"
            f"{r.reply_late:>9}{r.reply_late_bridge:>10}{r.reply_missing_ms:>11.0f}{r.replies:>9}{r.turns:>7}"
            f"{r.turn_timeouts:>9}"
        )
    lines += [
        "",
        "During the conversations (% of one core): the emulator, the satellites, other processes on the machine, "
        "hypervisor steal; the bridge's garbage-collector pauses",
    ]
    for r in results:
        lines.append(
            f"{r.n:>4}  emulator {r.emulator_pct:4.0f}%   satellites {r.harness_pct:4.0f}%   "
            f"other load {r.other_load_pct:5.0f}%   steal {r.steal_pct:4.1f}%   GC pauses "
            f"{len(r.gc_pauses)}, longest {max(r.gc_pauses, default=0.0):.1f} ms, "
            f"{sum(p > 5 for p in r.gc_pauses)} over 5 ms ({r.gc_objects} objects tracked when idle)"
        )
    lines += ["", "Quality bars (shared/PRODUCT.md)"]
    by_n = {r.n: r for r in results}

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    if (at_hop := by_n.get(HOP_AT_N)) is not None:
        p_in, p_out = percentile(at_hop.hop_in, 99), percentile(at_hop.hop_out, 99)
        lines.append(
            f"  {verdict(p_in < HOP_P99_MS and p_out < HOP_P99_MS)} p99 per audio hop < {HOP_P99_MS:g} ms at "
            f"N={HOP_AT_N}: sat→Gemini {p_in:.2f} ms, Gemini→sat {p_out:.2f} ms (the machine's floor: p99 "
            f"{percentile(at_hop.floor, 99):.2f} ms)"
        )
    for r in results:
        p99 = percentile(r.first_reply, 99)
        lines.append(
            f"  {verdict(p99 < FIRST_REPLY_MS)} first reply audio < {FIRST_REPLY_MS:g} ms at N={r.n}: "
            f"p99 {p99:.2f} ms (max {max(r.first_reply, default=float('nan')):.2f})"
        )
    for r in results:
        over = [a - m for a, m in zip(r.speech_to_reply, r.model_first_audio, strict=True)]
        p99 = percentile(over, 99)
        lines.append(
            f"  {verdict(p99 <= threshold + END_OF_SPEECH_OVER_MS)} end of speech → first reply audio ≤ threshold "
            f"{threshold} ms + {END_OF_SPEECH_OVER_MS:g} ms + the model's first-audio time at N={r.n}: p99 "
            f"{p99:.1f} ms over the model's (p50 {percentile(over, 50):.1f})"
        )
    if (at_scale := by_n.get(SCALE_N)) is not None:
        r = at_scale
        bad = r.mic_late + r.mic_dropped + r.mic_unsent + r.reply_late_bridge
        lines.append(
            f"  {verdict(bad == 0 and r.reply_missing_ms == 0 and r.cpu_turns_total_pct < 100)} {SCALE_N} streaming "
            f"satellites on one core: {r.cpu_turns_total_pct:.0f}% of the core, {r.mic_late} late / "
            f"{r.mic_dropped + r.mic_unsent} lost mic chunks, {r.reply_late_bridge} reply chunks held late by the "
            f"bridge ({r.reply_late} late at the satellites, any cause), {r.reply_missing_ms:.0f} ms of reply audio "
            "missing"
        )
    for r in results:
        lines.append(
            f"  {verdict(r.mem_idle_mb < IDLE_MB)} idle satellite < {IDLE_MB:g} MB at N={r.n}: {r.mem_idle_mb:.2f} MB"
        )
    for r in results:
        wake = r.cpu_wake_pct - r.cpu_no_wake_pct
        lines.append(
            f"  {verdict(wake < WAKE_CPU_PCT)} wake word < {WAKE_CPU_PCT:g}% of a core per always-streaming "
            f"satellite at N={r.n}: {wake:.2f}% (measured inside the detector {r.wake_detector_pct:.2f}%; "
            f"the whole bridge per always-streaming satellite {r.cpu_wake_pct:.2f}%)"
        )
    for r in results:
        lines.extend(f"  note N={r.n}: {note}" for note in r.notes)
    return "\n".join(lines)


def end_of_speech_threshold(options: Options) -> int:
    """The quiet after which the user's turn ends: the bridge's threshold, or the service's window with 0."""
    chosen = defaults.END_OF_SPEECH_MS if options.end_of_speech_ms is None else options.end_of_speech_ms
    return chosen or SERVICE_SILENCE_MS


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bridge",
        description="N simulated satellites streaming through the bridge to the emulator: hop latency, first reply "
        "audio, CPU and memory per satellite, late and lost chunks, wake-word CPU.",
    )
    parser.add_argument("--sizes", default="1,20,100", help="comma-separated satellite counts (default: 1,20,100)")
    parser.add_argument(
        "--floor-seconds", type=float, default=4.0, help="the null bridge's streaming window per N (default: 4)"
    )
    parser.add_argument("--idle-seconds", type=float, default=3.0, help="idle window per N (default: 3)")
    parser.add_argument(
        "--wake-seconds",
        type=float,
        default=5.0,
        help="always-streaming window per N, with and again without the wake-word detectors (default: 5)",
    )
    parser.add_argument("--turn-seconds", type=float, default=20.0, help="conversation window per N (default: 20)")
    parser.add_argument(
        "--drain-seconds", type=float, default=15.0, help="longest wait for conversations to end (default: 15)"
    )
    parser.add_argument("--late-ms", type=float, default=100.0, help="a chunk this late counts as late (default: 100)")
    parser.add_argument(
        "--generation-speed",
        type=float,
        default=4.0,
        help="emulator reply audio, times real time (default: 4, the emulator's own default)",
    )
    parser.add_argument(
        "--trigger",
        choices=("local", "wake"),
        default="local",
        help="local: satellites detect the wake word themselves; wake: they speak it and the bridge detects it",
    )
    parser.add_argument(
        "--conversations",
        type=int,
        default=5,
        help="at most this many satellites hold conversations at once; the others stream for the wake word "
        "(default: 5, what the emulator keeps up with on one shared core: its activity detection alone costs "
        "~3.5%% of a core per conversation)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin the bridge to one core")
    parser.add_argument(
        "--no-priority",
        action="store_true",
        help="run the bridge at the usual priority (default, as root: nice -10, shielding it from other processes)",
    )
    parser.add_argument(
        "--profile", type=int, metavar="N", help="cProfile the bridge during the conversations of this N"
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "benchmarks", help="records and logs")
    parser.add_argument(
        "--py-spy",
        metavar="N",
        nargs="?",
        const="all",
        help="sample the bridge with py-spy (on PATH, or via `uv tool run`) during the conversations of N (or of "
        "every N): hot spots in out/benchmarks/py-spy-nN.txt",
    )
    parser.add_argument(
        "--experiment",
        action="append",
        choices=EXPERIMENTS,
        help="try a proposed change in the bridge process only (repeatable; see benchmarks/bridge_runner.py)",
    )
    parser.add_argument(
        "--chunk-samples",
        type=int,
        default=SAMPLES_PER_CHUNK,
        choices=(256, 512, 1024),
        help="microphone samples per chunk the satellites send (wyoming-satellite's --mic-command-samples-per-chunk; "
        f"default {SAMPLES_PER_CHUNK}, 64 ms)",
    )
    parser.add_argument(
        "--end-of-speech-ms",
        type=int,
        metavar="MS",
        help=f"the bridge's --end-of-speech-ms (default: its own, {defaults.END_OF_SPEECH_MS}; 0: the emulator's "
        f"{SERVICE_SILENCE_MS} ms silence window ends the user's turn)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--slow-callback-ms",
        type=float,
        default=0.0,
        help="diagnosis: log (in the bridge's log) every event-loop callback that holds the loop this long, with "
        "the task and where its coroutine stopped",
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="experiment: gc.freeze() in the bridge once it has started (moves start-up objects out of the "
        "garbage collector's full collections)",
    )
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    if not sizes or min(sizes) < 1 or max(sizes) > 1000:
        parser.error("--sizes takes counts between 1 and 1000")
    for name in ("floor_seconds", "idle_seconds", "wake_seconds", "turn_seconds", "drain_seconds"):
        if not 0 < getattr(args, name) <= 120:
            parser.error(f"--{name.replace('_', '-')} takes 0 < seconds <= 120")
    return Options(
        sizes=sizes,
        idle_s=args.idle_seconds,
        wake_s=args.wake_seconds,
        turns_s=args.turn_seconds,
        drain_s=args.drain_seconds,
        late_ms=args.late_ms,
        generation_speed=args.generation_speed,
        trigger=args.trigger,
        pin=not args.no_pin,
        out_dir=args.out,
        profile=args.profile,
        seed=args.seed,
        gc_freeze=args.gc_freeze,
        conversations=max(1, args.conversations),
        priority=not args.no_priority,
        slow_callback_ms=args.slow_callback_ms,
        py_spy=args.py_spy,
        floor_s=args.floor_seconds,
        experiments=args.experiment or [],
        end_of_speech_ms=args.end_of_speech_ms,
        chunk_samples=args.chunk_samples,
    )


async def amain(options: Options) -> int:
    """Run, print the report, save the raw results."""
    bench = Bench(options)
    results = await bench.run()
    text = report(results, options, pinned=bench.bridge_cpus is not None)
    print(text)
    summary = [
        {
            key: (value if not isinstance(value, list) or key == "notes" else _summary(value))
            for key, value in vars(r).items()
        }
        for r in results
    ]
    (options.out_dir / "results.json").write_text(json.dumps(summary, indent=1))
    (options.out_dir / "report.txt").write_text(text + "\n")
    return 0


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values, default=float("nan")),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    return asyncio.run(amain(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
