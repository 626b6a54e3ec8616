"""End to end with the real wyoming-satellite program (1.0.0, from PyPI) ↔ bridge ↔ emulator (real SDK, TLS).

The satellite runs as a subprocess in a virtualenv of its own (``wyoming_satellite_env``: 1.0.0 is the only
wyoming-satellite release on PyPI) with a stand-in microphone (``satellite_programs/mic.py``: WAVs at real-time
pace on cue, silence otherwise) and speaker (``satellite_programs/snd.py``: one raw PCM file per sound). Its
``--event-uri`` points at a Wyoming server in this test that records every event the satellite forwards (all it
gets from the bridge but audio, plus its own ``run-pipeline``, ``streaming-started``...), so each step can be awaited.

* Always streaming (no local wake word): the bridge hears the wake word in the satellite's stream, answers,
  and hears a second wake word after the first conversation, on the same connection all along.
* Local wake word: ``--wake-uri`` points at a fake wake service in this test; the satellite sends
  ``run-pipeline`` (from asr) and the bridge starts the turn at once.

What 1.0.0 does (read from its source, seen in these tests), unlike 1.4.1 (the latest release, on GitHub only):

* no ``ping``/``pong``: it forwards the bridge's pings to its event service and never answers them, so the bridge
  keeps it connected only because any event counts as liveness: its audio, while it streams. With a local wake
  word it sends nothing at all while it waits, and the bridge drops it after a ping interval plus the pong timeout
  (and reconnects); the local-wake test never leaves it idle that long;
* no ``played``: the bridge waits for the reply's duration plus a margin instead;
* ``run-pipeline`` is only ``start_stage``/``end_stage``: no ``snd_format`` (the bridge sends its default
  22050 Hz, which is also the satellite's ``--snd-command-rate``) and no ``restart_on_end`` (an always-streaming
  satellite sends one run-pipeline and then streams for ever; the bridge goes back to its wake word by itself);
* with a local wake word it sends the bridge no ``detection``, only ``run-pipeline`` (it forwards its detection to
  its event service alone), and sends its wake service ``detect`` but no ``audio-start``;
* no ``satellite-connected``/``satellite-disconnected`` events, no ``pause-satellite`` handling (it forwards the
  bridge's pause unhandled), no ``--version``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Self

import numpy as np
import pytest
from gemini_live_emulator import Emulator, Scenario
from wyoming.audio import AudioChunk
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.wake import Detect, Detection

from tests.audio import speech_pcm, write_wav

from .satellite_helpers import bridge_settings, running_bridge, wake_then_command
from .wyoming_satellite_env import PROGRAMS_DIR, SatelliteEnv, ensure_satellite_env

HOST = "127.0.0.1"
SATELLITE_NAME = "Kitchen satellite"
SND_RATE = 22050
WAIT_S = 60.0  # a safety net for a broken satellite or bridge, never a synchronisation
STARTUP_S = 30.0
STOP_S = 10.0
PORT_POLL_S = 0.05
LOG_TAIL_LINES = 60

TIME_TURN = {
    "user": "What time is it?",
    "model": [
        {"call": {"name": "get_current_time"}},
        {"say": "It is {result[output][time]} on {result[output][weekday]}."},
    ],
}
THANKS_TURN = {"user": "Thank you.", "model": [{"say": "You are welcome. Have a nice evening."}]}


@pytest.fixture(scope="session")
def satellite_env() -> SatelliteEnv:
    """wyoming-satellite 1.0.0's virtualenv (made on the first run on a machine, then cached)."""
    return ensure_satellite_env()


def loudness(pcm: bytes) -> float:
    """RMS of 16-bit PCM."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class RealSatellite:
    """``python -m wyoming_satellite`` as a subprocess; its stderr (``--debug`` log) collected line by line."""

    def __init__(
        self,
        env: SatelliteEnv,
        workdir: Path,
        mic_wavs: Sequence[Path],
        *,
        event_uri: str,
        wake_uri: str | None = None,
    ) -> None:
        self.env = env
        self.port = free_port()
        self.cue_dir = workdir / "mic-cues"
        self.snd_dir = workdir / "played"
        self.log_file = workdir / "wyoming-satellite.log"
        self.mic_wavs = list(mic_wavs)
        self.event_uri = event_uri
        self.wake_uri = wake_uri
        self.log: list[str] = []
        self._log_changed = asyncio.Condition()
        self._proc: asyncio.subprocess.Process | None = None
        self._exited: asyncio.Task[int] | None = None
        self._stderr: asyncio.Task[None] | None = None

    @property
    def uri(self) -> str:
        """Where the bridge connects."""
        return f"tcp://{HOST}:{self.port}"

    def command(self) -> list[str]:
        """The satellite's command line, as a user would write it (plus the test's event service)."""
        python = shlex.quote(str(self.env.python))
        mic = [python, shlex.quote(str(PROGRAMS_DIR / "mic.py")), "--cue-dir", shlex.quote(str(self.cue_dir))]
        mic += [shlex.quote(str(p)) for p in self.mic_wavs]
        snd = [python, shlex.quote(str(PROGRAMS_DIR / "snd.py")), shlex.quote(str(self.snd_dir))]
        command = [
            str(self.env.python),
            "-m",
            "wyoming_satellite",
            "--name",
            SATELLITE_NAME,
            "--uri",
            self.uri,
            "--no-zeroconf",
            "--mic-command",
            " ".join(mic),
            "--snd-command",
            " ".join(snd),
            "--snd-command-rate",
            str(SND_RATE),
            "--event-uri",
            self.event_uri,
            "--debug",
        ]
        if self.wake_uri is not None:
            command += ["--wake-uri", self.wake_uri, "--wake-word-name", "okay_nabu"]
        return command

    def cue(self, index: int) -> None:
        """Let the microphone say its ``index``-th WAV."""
        (self.cue_dir / f"play-{index}").touch()

    def played(self) -> list[bytes]:
        """What the satellite's speaker played, one entry per sound, in order."""
        return [p.read_bytes() for p in sorted(self.snd_dir.glob("*.raw"))]

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The end of the satellite's log, for failure messages."""
        return f"--- wyoming-satellite stderr (last {lines} lines) ---\n" + "\n".join(self.log[-lines:])

    def problems(self) -> list[str]:
        """Warnings, errors and tracebacks in the log (a failed mic, snd or event service...)."""
        return [line for line in self.log if line.startswith(("WARNING", "ERROR", "CRITICAL", "Traceback"))]

    def lines_with(self, text: str) -> list[str]:
        """Log lines containing ``text``."""
        return [line for line in self.log if text in line]

    async def start(self) -> None:
        """Start the satellite and wait until it accepts connections."""
        self.cue_dir.mkdir(parents=True, exist_ok=True)
        self.snd_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        self._proc = await asyncio.create_subprocess_exec(
            *self.command(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,  # its own process group: the mic and snd programs stop with it
        )
        self._exited = asyncio.create_task(self._proc.wait())
        self._stderr = asyncio.create_task(self._read_stderr())
        await self._wait_for_port()

    async def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        async for raw in self._proc.stderr:
            async with self._log_changed:
                self.log.append(raw.decode(errors="replace").rstrip())
                self._log_changed.notify_all()

    async def _wait_for_port(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_S
        while True:
            assert self._exited is not None
            if self._exited.done():
                raise AssertionError(f"wyoming-satellite exited with {self._exited.result()}\n{self.tail()}")
            try:
                _reader, writer = await asyncio.open_connection(HOST, self.port)
            except OSError:
                if loop.time() > deadline:
                    raise AssertionError(f"wyoming-satellite never listened on {self.uri}\n{self.tail()}") from None
                await asyncio.sleep(PORT_POLL_S)  # polling the port, not waiting for an outcome
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return

    async def stop(self) -> None:
        """Terminate the satellite and its mic/snd programs; kill them if they linger."""
        if self._proc is None or self._exited is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._exited), timeout=STOP_S)
                break
        with contextlib.suppress(ProcessLookupError):  # the mic program may outlive its parent by a chunk
            os.killpg(self._proc.pid, signal.SIGKILL)
        await self._exited
        if self._stderr is not None:
            await asyncio.wait_for(self._stderr, timeout=STOP_S)
        self.log_file.write_text("\n".join(self.log) + "\n")  # kept with the test's tmp_path

    async def wait_log(self, text: str, count: int = 1) -> None:
        """Until ``text`` has appeared in ``count`` log lines."""
        await self.expect(self._wait_log(text, count), f"{count} log line(s) with {text!r}")

    async def _wait_log(self, text: str, count: int) -> None:
        async with self._log_changed:
            await self._log_changed.wait_for(lambda: len(self.lines_with(text)) >= count)

    async def expect[T](self, awaitable: Awaitable[T], what: str) -> T:
        """Await ``awaitable`` (at most ``WAIT_S``); on timeout fail with the satellite's log."""
        try:
            return await asyncio.wait_for(awaitable, timeout=WAIT_S)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}\n{self.tail()}") from None

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        await self.stop()
        if exc is not None and "wyoming-satellite stderr" not in str(exc):
            exc.add_note(self.tail())


class WyomingService:
    """A Wyoming server on loopback that the satellite connects to; records every event it is sent."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.port = 0
        self._changed = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def uri(self) -> str:
        """``tcp://HOST:PORT`` for the satellite's option."""
        return f"tcp://{HOST}:{self.port}"

    def types(self) -> list[str]:
        """The types of the events received, in order."""
        return [e.type for e in self.events]

    def of_type(self, event_type: str) -> list[Event]:
        """The events of one type."""
        return [e for e in self.events if e.type == event_type]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Until ``predicate`` holds (checked whenever an event arrives)."""
        async with self._changed:
            await self._changed.wait_for(predicate)

    async def wait_count(self, event_type: str, count: int) -> None:
        """Until ``count`` events of ``event_type`` have arrived."""
        await self.wait_for(lambda: len(self.of_type(event_type)) >= count)

    async def respond(self, event: Event, writer: asyncio.StreamWriter) -> None:
        """Answer an event (nothing by default)."""

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while (event := await async_read_event(reader)) is not None:
                async with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()
                await self.respond(event, writer)
        except ConnectionError, asyncio.IncompleteReadError:
            pass  # the satellite went away mid-event
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()


class FakeWakeService(WyomingService):
    """A wake word service: ``detection`` of okay_nabu after ``loud_chunks`` loud chunks since the last ``detect``."""

    def __init__(self, loud_chunks: int = 3, threshold: float = 800.0) -> None:
        super().__init__()
        self.loud_chunks = loud_chunks
        self.threshold = threshold
        self._loud = 0
        self._armed = False

    async def respond(self, event: Event, writer: asyncio.StreamWriter) -> None:
        """Count loud audio after ``detect`` (1.0.0 arms its wake service with that alone); detect once per arming."""
        if Detect.is_type(event.type):
            self._loud, self._armed = 0, True
        elif AudioChunk.is_type(event.type) and self._armed:
            if loudness(AudioChunk.from_event(event).audio) >= self.threshold:
                self._loud += 1
            if self._loud >= self.loud_chunks:
                self._armed = False
                await async_write_event(Detection(name="okay_nabu").event(), writer)


@contextlib.asynccontextmanager
async def satellite_with_events(
    env: SatelliteEnv, workdir: Path, mic_wavs: Sequence[Path], wake_uri: str | None = None
) -> AsyncIterator[tuple[RealSatellite, WyomingService]]:
    """The event service, then the satellite forwarding to it; both stopped afterwards."""
    async with WyomingService() as events:
        async with RealSatellite(env, workdir, mic_wavs, event_uri=events.uri, wake_uri=wake_uri) as satellite:
            yield satellite, events


def mic_wav(path: Path, pcm: bytes) -> Path:
    """Write one utterance for the stand-in microphone."""
    write_wav(path, pcm, 16000)
    return path


def assert_reply_played(pcm: bytes, reply: str) -> None:
    """The sound is the whole reply: speech at 22050 Hz, as long and as loud as the emulator's rendering of it."""
    expected = speech_pcm(reply, "en-US", sample_rate=SND_RATE, voice="Kore")
    seconds, expected_s = len(pcm) / (2 * SND_RATE), len(expected) / (2 * SND_RATE)
    assert len(pcm) % 2 == 0
    assert abs(seconds - expected_s) <= 0.05, f"played {seconds:.3f} s of a {expected_s:.3f} s reply"
    assert loudness(pcm) > max(300.0, 0.8 * loudness(expected)), f"speech, not silence (RMS {loudness(pcm):.0f})"


def without_pings(types: list[str]) -> list[str]:
    """Event types but the bridge's pings (1.0.0 forwards them, unanswered, whenever they come)."""
    return [t for t in types if t != "ping"]


# How wyoming-satellite 1.0.0 reacts to its controller leaving: it has no pause-satellite, so any disconnect is
# "unexpected" to it, and its event handler may then write to the closed socket (a broken pipe it never awaits).
# Whether these lines are in its log by the time a test looks depends only on how fast it notices.
LEFT_BY_CONTROLLER = frozenset(
    {
        "WARNING:root:Server disconnected unexpectedly",
        "ERROR:asyncio:Task exception was never retrieved",
        "Traceback (most recent call last):",
    }
)


def problems_after_release(satellite: RealSatellite) -> list[str]:
    """The satellite's problems once the bridge let it go, except its own reaction to being let go."""
    problems = [line for line in satellite.problems() if line not in LEFT_BY_CONTROLLER]
    if "ERROR:asyncio:Task exception was never retrieved" in satellite.problems():
        assert satellite.lines_with("BrokenPipeError") or satellite.lines_with("ConnectionResetError")
    return problems


def bridge_problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The bridge's warnings and errors (a dropped connection, a failed turn...)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith(("wyoming_bridge", "gemini_live_engine")) and r.levelno >= logging.WARNING
    ]


async def test_real_satellite_always_streaming_two_wake_word_turns(
    emulator: Emulator, satellite_env: SatelliteEnv, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The bridge hears the wake word in wyoming-satellite's stream, twice; replies reach its speaker at 22050 Hz."""
    caplog.set_level(logging.INFO, logger="wyoming_bridge")
    caplog.set_level(logging.INFO, logger="gemini_live_engine")
    emulator.scenario = Scenario.from_data({"turns": [TIME_TURN, THANKS_TURN]})
    wavs = [
        mic_wav(tmp_path / "turn1.wav", wake_then_command("What time is it?")),
        mic_wav(tmp_path / "turn2.wav", wake_then_command("Thank you.")),
    ]
    loop = asyncio.get_running_loop()
    async with satellite_with_events(satellite_env, tmp_path, wavs) as (satellite, events):
        async with running_bridge(bridge_settings(emulator, (satellite.uri,))) as (bridge, watcher):
            connection = bridge.satellites[satellite.uri]
            await satellite.expect(events.wait_count("run-pipeline", 1), "the satellite's run-pipeline")
            await satellite.expect(connection.connected.wait(), "the bridge to connect")
            connected_at = loop.time()
            assert connection.name == SATELLITE_NAME

            satellite.cue(0)
            first = await satellite.expect(watcher.next(), "the first turn")
            await satellite.expect(events.wait_count("transcript", 1), "the first transcript at the satellite")
            await satellite.wait_log("Streaming audio", 2)  # run-satellite, then transcript: still streaming

            satellite.cue(1)
            second = await satellite.expect(watcher.next(), "the second turn")
            await satellite.expect(events.wait_count("transcript", 2), "the second transcript at the satellite")
            # 1.0.0 never answers a ping: only its audio satisfies the bridge's keepalive, for longer than a
            # silent satellite would have lasted (a ping interval plus the pong timeout).
            timings = connection.timings
            assert loop.time() - connected_at > timings.ping_interval_s + timings.pong_timeout_s
            assert len(events.of_type("ping")) >= 2, "the bridge kept pinging; the satellite forwarded each ping"
            assert connection.connected.is_set() and connection.connections == 1, "one connection all along"
            assert satellite.problems() == [], "nothing went wrong while the bridge controlled it"

        assert first.trigger == "wake word okay_nabu"
        assert first.user_text.strip() == "What time is it?"
        assert first.tool_calls and first.tool_calls[0].startswith("get_current_time")
        assert first.reply_text.strip().startswith("It is ") and "{" not in first.reply_text
        assert second.trigger == "wake word okay_nabu"
        assert second.user_text.strip() == "Thank you."
        assert second.reply_text.strip() == "You are welcome. Have a nice evening."

        # What the satellite got from the bridge (forwarded to its event service), and what it did itself.
        # No played after audio-stop; streaming-started again after each transcript (it never stopped streaming).
        turn = ["detection", "audio-start", "audio-stop", "synthesize", "transcript", "streaming-started"]
        start = ["run-satellite", "run-pipeline", "streaming-started"]
        end = ["pause-satellite"]  # the bridge frees the satellite when it stops (1.0.0 forwards it, unhandled)
        await satellite.expect(events.wait_count("pause-satellite", 1), "the bridge to let go")
        assert without_pings(events.types()) == start + turn + turn + end
        # Only stages: no snd_format, no restart_on_end; one run-pipeline, then audio for ever.
        assert events.of_type("run-pipeline")[0].data == {"start_stage": "wake", "end_stage": "tts"}
        # No snd_format: the bridge sends its default, 22050 Hz, which is the satellite's --snd-command-rate too.
        assert [(e.data["rate"], e.data["width"], e.data["channels"]) for e in events.of_type("audio-start")] == [
            (SND_RATE, 2, 1)
        ] * 2
        assert [e.data["text"] for e in events.of_type("transcript")] == ["What time is it?", "Thank you."]
        assert [e.data["text"] for e in events.of_type("synthesize")] == [
            first.reply_text.strip(),
            second.reply_text.strip(),
        ]

        played = satellite.played()
        assert len(played) == 2, "one sound per reply (no awake/done WAVs configured)"
        assert_reply_played(played[0], first.reply_text.strip())
        assert_reply_played(played[1], second.reply_text.strip())

        assert len(satellite.lines_with("Wake word detected")) == 2
        transcripts = satellite.lines_with("type='transcript'")
        assert len(transcripts) == 2 and "What time is it?" in transcripts[0] and "Thank you." in transcripts[1]
        assert problems_after_release(satellite) == []
        assert bridge_problems(caplog) == []

    heard = [t.transcript for c in emulator.connections for t in c.user_turns]
    assert heard == ["What time is it?", "Thank you."]


async def test_real_satellite_local_wake_word_starts_turn_at_once(
    emulator: Emulator, satellite_env: SatelliteEnv, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With its own wake service: run-pipeline(asr) → the bridge's turn at once; then back to its wake word."""
    caplog.set_level(logging.INFO, logger="wyoming_bridge")
    caplog.set_level(logging.INFO, logger="gemini_live_engine")
    emulator.scenario = Scenario.from_data({"turns": [TIME_TURN]})
    wavs = [mic_wav(tmp_path / "turn1.wav", wake_then_command("What time is it?"))]
    async with (
        FakeWakeService() as wake,
        satellite_with_events(satellite_env, tmp_path, wavs, wake.uri) as (
            satellite,
            events,
        ),
    ):
        await satellite.expect(wake.wait_count("detect", 1), "the satellite to arm its wake service")
        async with running_bridge(bridge_settings(emulator, (satellite.uri,))) as (bridge, watcher):
            connection = bridge.satellites[satellite.uri]
            await satellite.expect(connection.connected.wait(), "the bridge to connect")
            # run-satellite re-arms the wake service (detect): only audio after that can wake it.
            await satellite.expect(wake.wait_count("detect", 2), "wake detection re-armed by run-satellite")

            satellite.cue(0)
            turn = await satellite.expect(watcher.next(), "the turn")
            await satellite.expect(events.wait_count("transcript", 1), "the transcript at the satellite")
            await satellite.expect(wake.wait_count("detect", 3), "the satellite back on its wake word")
            # While it waits for its wake word, 1.0.0 sends the bridge nothing at all (no audio, no pong), so a
            # bridge whose keepalive wants some event drops it after a ping interval plus the pong timeout and
            # reconnects; here it is never idle that long, and streams all through the turn.
            assert connection.connections == 1
            assert satellite.problems() == [], "nothing went wrong while the bridge controlled it"

        assert turn.trigger == "satellite wake word"
        assert turn.user_text.strip() == "What time is it?"
        assert turn.reply_text.strip().startswith("It is ")

        assert events.of_type("run-pipeline")[0].data == {"start_stage": "asr", "end_stage": "tts"}
        # The satellite sends the bridge run-pipeline only; its detection goes to its event service alone.
        await satellite.expect(events.wait_count("pause-satellite", 1), "the bridge to let go")
        assert without_pings(events.types()) == [
            "run-satellite",
            "streaming-stopped",  # run-satellite: (re)start waiting for the wake word
            "run-pipeline",
            "detection",
            "streaming-started",
            "audio-start",
            "audio-stop",
            "synthesize",
            "transcript",
            "streaming-stopped",  # transcript: back to the wake word
            "pause-satellite",
        ]
        assert set(wake.types()) == {"detect", "audio-chunk"}, "no describe, no audio-start: detect, then audio"
        assert all(e.data == {"names": ["okay_nabu"]} for e in wake.of_type("detect"))
        assert not satellite.lines_with("Wake word detected"), "the bridge does not echo the satellite's detection"
        assert not [r for r in caplog.records if "satellite detected wake word" in r.getMessage()]
        assert len(satellite.lines_with("Waiting for wake word")) == 2  # run-satellite, then transcript

        played = satellite.played()
        assert len(played) == 1
        assert_reply_played(played[0], turn.reply_text.strip())
        assert problems_after_release(satellite) == []
        assert bridge_problems(caplog) == []

    assert [t.transcript for c in emulator.connections for t in c.user_turns] == ["What time is it?"]
