"""What the benchmark's processes share: the audio marker, the JSON-line control channel, /proc readings.

Every benchmark satellite writes a small marker into the first samples of each microphone chunk: four
magic samples, its index and the chunk's sequence number, each as a 4-bit nibble. The samples stay within
±15 (about -80 dBFS over a 10 ms frame), so neither the wake-word detector nor the emulator's activity
detection takes them for sound, and the bridge forwards 16 kHz audio byte for byte, so the marker reaches
the emulator unchanged (except where the bridge mutes the microphone while the satellite speaks).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import struct
import sys
from pathlib import Path
from typing import Any, Final

MARKER_MAGIC: Final = (9, -9, 5, -5)
_MARKER: Final = struct.Struct("<11h")
MARKER_BYTES: Final = _MARKER.size
MAX_SATELLITES: Final = 1 << 12
MAX_SEQ: Final = 1 << 16

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
_CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
_PAGE_KB: Final = os.sysconf("SC_PAGE_SIZE") // 1024


def write_marker(chunk: bytearray, satellite: int, seq: int) -> None:
    """Stamp ``(satellite, seq)`` into the first :data:`MARKER_BYTES` of a 16-bit PCM chunk."""
    if not 0 <= satellite < MAX_SATELLITES or not 0 <= seq < MAX_SEQ:
        raise ValueError(f"marker out of range: satellite {satellite}, seq {seq}")
    _MARKER.pack_into(
        chunk,
        0,
        *MARKER_MAGIC,
        (satellite >> 8) & 15,
        (satellite >> 4) & 15,
        satellite & 15,
        (seq >> 12) & 15,
        (seq >> 8) & 15,
        (seq >> 4) & 15,
        seq & 15,
    )


def read_marker(pcm: bytes | bytearray | memoryview) -> tuple[int, int] | None:
    """``(satellite, seq)`` from a chunk that starts with a marker, else None."""
    if len(pcm) < MARKER_BYTES:
        return None
    values = _MARKER.unpack_from(pcm, 0)
    if values[:4] != MARKER_MAGIC:
        return None
    s2, s1, s0, q3, q2, q1, q0 = values[4:]
    return (s2 << 8) | (s1 << 4) | s0, (q3 << 12) | (q2 << 8) | (q1 << 4) | q0


def satellite_index(name: str) -> int:
    """The index in a benchmark satellite's name (``bench-0042`` → 42); -1 for any other name."""
    prefix, _, number = name.rpartition("-")
    return int(number) if prefix.endswith("bench") and number.isdigit() else -1


def process_cpu_s(pid: int) -> float:
    """CPU seconds of a process: its live threads' time on a CPU in nanoseconds (``/proc/PID/task/*/schedstat``),
    or, where the kernel keeps no schedstats, user + system time in clock ticks (``/proc/PID/stat``).
    """
    if not Path(f"/proc/{pid}/schedstat").exists():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    total_ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):  # a thread that ended meanwhile
            total_ns += int(task.joinpath("schedstat").read_text().split()[0])
    return total_ns / 1e9


def machine_cpu_s() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot, all cores together, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq) / _CLOCK_TICKS, steal / _CLOCK_TICKS


def process_rss_kb(pid: int) -> int:
    """Resident set size of a process in KiB, from /proc."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_KB


def set_autogroup_nice(nice: int) -> bool:
    """Give this process's scheduler autogroup a nice value; False where that is not possible.

    With ``kernel.sched_autogroup_enabled`` (this machine), CFS first shares the CPU fairly between sessions
    (autogroups) and applies a process's own nice value only within its session: raising a benchmark process's
    priority over other people's work takes a session of its own with a nice value of its own.
    """
    try:
        Path("/proc/self/autogroup").write_text(str(nice))
    except OSError:
        return False
    return True


class ControlServer:
    """The child's side of the control channel: JSON requests on stdin, one JSON answer per line on stdout."""

    def __init__(self) -> None:
        self._reader: asyncio.StreamReader | None = None

    async def open(self) -> None:
        """Attach to stdin (call from the event loop)."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        self._reader = reader

    async def next_request(self) -> dict[str, Any] | None:
        """The next request, or None when the parent closed stdin."""
        assert self._reader is not None
        line = await self._reader.readline()
        if not line:
            return None
        request: dict[str, Any] = json.loads(line)
        return request

    @staticmethod
    def answer(message: dict[str, Any]) -> None:
        """Send one answer (or the ready line)."""
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


class ChildProcess:
    """The parent's side: a child process started with a control channel, its log in a file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_path: Path,
        cpus: set[int] | None,
        *,
        nice: int = 0,
        own_group_nice: int | None = None,
    ) -> None:
        """``cpus``: pin the child to these cores; ``nice``: its nice value (below the parent's needs root);
        ``own_group_nice``: start it in a session (scheduler autogroup) of its own, with this nice value.
        """
        self.name = name
        self._argv = argv
        self._log_path = log_path
        self._cpus = cpus
        self._nice = nice
        self._own_group_nice = own_group_nice
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    @property
    def pid(self) -> int:
        """The child's process id."""
        assert self._process is not None
        return self._process.pid

    async def start(self, timeout_s: float) -> dict[str, Any]:
        """Start the child and return its ready line."""
        cpus, nice, group_nice = self._cpus, self._nice, self._own_group_nice

        def pin() -> None:
            if cpus:
                os.sched_setaffinity(0, cpus)
            if group_nice is not None:
                os.setsid()
                set_autogroup_nice(group_nice)
            if nice != os.nice(0):
                with contextlib.suppress(OSError):  # not allowed: run at the parent's priority
                    os.nice(nice - os.nice(0))

        log = self._log_path.open("ab")
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                cwd=REPO_ROOT,
                preexec_fn=pin,
                limit=1 << 20,
            )
        finally:
            log.close()
        return await self._read(timeout_s)

    async def request(self, cmd: str, timeout_s: float = 30.0, **fields: Any) -> dict[str, Any]:
        """Send a request and wait for its answer."""
        async with self._lock:
            assert self._process is not None
            assert self._process.stdin is not None
            self._process.stdin.write((json.dumps({"cmd": cmd, **fields}) + "\n").encode())
            await self._process.stdin.drain()
            answer = await self._read(timeout_s)
        if not answer.get("ok", False):
            raise RuntimeError(f"{self.name}: {cmd} failed: {answer.get('error')}")
        return answer

    async def _read(self, timeout_s: float) -> dict[str, Any]:
        assert self._process is not None
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), timeout=timeout_s)
        if not line:
            raise RuntimeError(f"{self.name} exited (code {await self._process.wait()}); see {self._log_path}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def stop(self, timeout_s: float = 15.0) -> None:
        """Ask the child to stop; terminate it, then kill it, if it does not."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(RuntimeError, TimeoutError, OSError, ValueError):
            await self.request("stop", timeout_s=timeout_s)
        try:
            await asyncio.wait_for(process.wait(), timeout=timeout_s)
        except TimeoutError:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=5.0)
            except TimeoutError:
                process.kill()
                await process.wait()
