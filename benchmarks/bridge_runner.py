"""The bridge in a process of its own, for the benchmark: ``python -m benchmarks.bridge_runner CONFIG_JSON``.

It runs the real :class:`~wyoming_bridge.app.Bridge` with the settings the command line would give it (aimed
at the emulator), adds satellites when told, and answers the harness over stdin/stdout (see
:class:`~benchmarks.common.ControlServer`). Its log goes to stderr.

Probes (on unless ``"probes": false``) time the two audio hops inside this process without changing the
bridge's code: they wrap a few of its functions, recording ``time.monotonic_ns()`` (CLOCK_MONOTONIC, the
same clock the satellites stamp their chunks with) at these points:

* satellite → Gemini: the satellite's write time (in the chunk's ``timestamp``), the moment
  :meth:`TurnController.handle_event` receives the chunk, and the moment :meth:`Link.send` has handed that
  chunk's audio to the Live WebSocket (within the same task, so buffered pre-roll is told apart);
* Gemini → satellite: the time the Live SDK delivered the message (``Received.at``, stamped by the link
  as the SDK yields it), matched by the identity of the audio ``bytes`` through
  ``LiveSession._handle_message`` → ``Converter.convert`` → :meth:`SatelliteConnection.write` of each
  resulting audio chunk. Time the :class:`PlaybackPacer` deliberately holds audio back (at most
  ``playback_lead_s`` ahead of playback) is recorded too, so the bridge's own delay can be separated from
  the pacing;
* the wake-word detector's CPU time: the time spent in :meth:`WakeWordDetector.process`, a synchronous call
  (``time.perf_counter_ns``; on the bridge's own core, with nothing preempting it, that is CPU time;
  ``time.thread_time_ns`` would be exact but costs tens of microseconds a call on this VM);
* how long idle audio waits for wake-word detection: from :meth:`WakeWork.put` to the satellite's
  :meth:`TurnController.check_wake` being given that chunk (per satellite in order; what ``take``/``drop``
  remove or an overloaded backlog drops is not counted).

Each wrapper costs about a microsecond per chunk.
"""

from __future__ import annotations

import asyncio
import contextvars
import cProfile
import dataclasses
import functools
import gc
import io
import json
import logging
import os
import pstats
import sys
import time
from array import array
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wyoming.event import Event

from gemini_live_engine.audio import Converter
from gemini_live_engine.live.link import Link, Received
from gemini_live_engine.live.replay import Input
from gemini_live_engine.live.session import LiveSession
from wyoming_bridge.app import Bridge
from wyoming_bridge.satellites.connection import SatelliteConnection
from wyoming_bridge.satellites.playback import PlaybackPacer
from wyoming_bridge.satellites.turn import State, TurnController
from wyoming_bridge.satellites.wake import WakeDetection, WakeWordDetector
from wyoming_bridge.satellites.wake_work import WakeWork
from wyoming_bridge.settings import BridgeSettings, default_settings

from .common import ControlServer, read_marker, satellite_index

_LOGGER = logging.getLogger("benchmarks.bridge_runner")

PACED_S = 0.0005  # a pacer wait longer than this held the audio back on purpose
_STREAMING_STATES = frozenset({State.LISTENING, State.RESPONDING, State.FOLLOW_UP})


@dataclass(slots=True)
class _MicChunk:
    """One microphone chunk through the bridge (all times monotonic ns)."""

    satellite: int
    seq: int
    written: int  # the satellite's write time
    handled: int  # the turn controller got the event
    streaming: bool  # the turn was listening or responding: the chunk is due at Gemini
    task: asyncio.Task[Any] | None
    sent: int = 0  # its audio has been handed to the Live WebSocket


@dataclass(slots=True)
class _PlayState:
    """What a playback task is writing (one per ``TurnController._play`` task)."""

    satellite: int = -1
    delivered: int = 0  # the SDK delivered the audio being written
    remaining: int = 0  # bytes of it still to be written
    released: int = 0  # the pacer last let audio go after holding it back
    first: bool = False  # the next chunk is the first of a reply


_MIC: contextvars.ContextVar[_MicChunk | None] = contextvars.ContextVar("bench_mic", default=None)
_PLAY: contextvars.ContextVar[_PlayState | None] = contextvars.ContextVar("bench_play", default=None)


class Probes:
    """Timestamps of the audio hops and the wake-word detector's CPU time (see the module docstring)."""

    def __init__(self) -> None:
        # Flat arrays of int64 (a few dozen bytes per chunk), so that the records barely add to the RSS measured:
        # MIC_FIELDS per microphone chunk, REPLY_FIELDS per audio chunk written to a satellite.
        self.mic = array("q")
        self.reply = array("q")
        self.wake_cpu_ns = 0
        self.wake_calls = 0
        self.gc_pauses = array("q")  # (start, duration, generation) of each automatic garbage collection, ns
        self.explicit_gc = False
        self._gc_started = 0
        self._audio_in: dict[int, tuple[bytes, int, int]] = {}  # id(bytes) → (bytes, delivered, satellite)
        self.wake_queue = array("q")  # ns each idle chunk waited for wake-word detection
        self._queued: dict[int, deque[int]] = defaultdict(deque)  # id(listener) → put times of its waiting chunks

    MIC_FIELDS = ("satellite", "seq", "written", "handled", "sent", "streaming")
    REPLY_FIELDS = ("satellite", "delivered", "released", "written", "first")

    @property
    def size_bytes(self) -> int:
        """Memory the records take."""
        return (len(self.mic) + len(self.reply) + len(self.wake_queue)) * 8

    def reset(self) -> None:
        """Forget everything recorded so far."""
        self.mic = array("q")
        self.reply = array("q")
        self.wake_cpu_ns = 0
        self.wake_calls = 0
        self.gc_pauses = array("q")
        self.wake_queue = array("q")

    def dump(self) -> dict[str, Any]:
        """Everything recorded, as plain data (rows of MIC_FIELDS and REPLY_FIELDS)."""
        mic, reply = self.mic.tolist(), self.reply.tolist()
        m, r = len(self.MIC_FIELDS), len(self.REPLY_FIELDS)
        return {
            "mic": [mic[i : i + m] for i in range(0, len(mic), m)],
            "reply": [reply[i : i + r] for i in range(0, len(reply), r)],
            "wake_cpu_ns": self.wake_cpu_ns,
            "wake_calls": self.wake_calls,
            "wake_queue": self.wake_queue.tolist(),
            "gc_pauses": [self.gc_pauses[i : i + 3].tolist() for i in range(0, len(self.gc_pauses), 3)],
        }

    def watch_callbacks(self, threshold_ms: float) -> None:
        """Time every event-loop callback; log those that run longer than ``threshold_ms``, naming the task's
        coroutine and where it stopped (a diagnosis tool: about a microsecond per callback).
        """
        original = asyncio.events.Handle._run
        threshold_ns = threshold_ms * 1e6

        def _run(handle: asyncio.events.Handle) -> None:
            started = time.perf_counter_ns()
            original(handle)
            took = time.perf_counter_ns() - started
            if took > threshold_ns:
                _LOGGER.warning("callback took %.1f ms: %s", took / 1e6, _describe(handle))

        asyncio.events.Handle._run = _run  # type: ignore[method-assign,assignment]

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if self.explicit_gc:  # the runner's own gc.collect(), between measurements
            return
        if phase == "start":
            self._gc_started = time.monotonic_ns()
        elif self._gc_started:
            self.gc_pauses.extend((self._gc_started, time.monotonic_ns() - self._gc_started, info["generation"]))

    def install(self) -> None:
        """Wrap the functions the probes time; time the garbage collector's pauses."""
        gc.callbacks.append(self._on_gc)
        self._wrap_handle_event()
        self._wrap_link_send()
        self._wrap_handle_message()
        self._wrap_convert()
        self._wrap_pacer()
        self._wrap_write()
        self._wrap_wake()
        self._wrap_wake_work()

    def _wrap_handle_event(self) -> None:
        original = TurnController.handle_event
        records = self

        @functools.wraps(original)
        async def handle_event(controller: TurnController, event: Event) -> None:
            if event.type != "audio-chunk" or event.payload is None:
                await original(controller, event)
                return
            handled = time.monotonic_ns()
            marker = read_marker(event.payload)
            written = event.data.get("timestamp")
            if marker is None or not isinstance(written, int):
                await original(controller, event)
                return
            chunk = _MicChunk(
                marker[0], marker[1], written, handled, controller.state in _STREAMING_STATES, asyncio.current_task()
            )
            token = _MIC.set(chunk)
            try:
                await original(controller, event)
            finally:
                _MIC.reset(token)
                records.mic.extend(
                    (chunk.satellite, chunk.seq, chunk.written, chunk.handled, chunk.sent, int(chunk.streaming))
                )

        TurnController.handle_event = handle_event  # type: ignore[method-assign,assignment]

    @staticmethod
    def _wrap_link_send() -> None:
        original = Link.send

        @functools.wraps(original)
        async def send(link: Link, item: Input) -> None:
            await original(link, item)
            chunk = _MIC.get()
            if chunk is not None and not chunk.sent and item.kind == "audio" and chunk.task is asyncio.current_task():
                chunk.sent = time.monotonic_ns()

        Link.send = send  # type: ignore[method-assign,assignment]

    def _wrap_handle_message(self) -> None:
        original = LiveSession._handle_message
        audio_in = self._audio_in

        @functools.wraps(original)
        def handle_message(session: LiveSession, link: Link, received: Received) -> None:
            content = received.message.server_content
            if content is not None and content.model_turn is not None:
                delivered = int(received.at * 1e9)
                satellite = satellite_index(session.label)
                if len(audio_in) > 10_000:  # audio that was never played (a cut reply): forget it
                    audio_in.clear()
                for part in content.model_turn.parts or []:
                    blob = part.inline_data
                    if blob is not None and blob.data:
                        audio_in[id(blob.data)] = (blob.data, delivered, satellite)
            original(session, link, received)

        LiveSession._handle_message = handle_message  # type: ignore[method-assign,assignment]

    def _wrap_convert(self) -> None:
        original = Converter.convert
        audio_in = self._audio_in

        @functools.wraps(original)
        def convert(converter: Converter, pcm: bytes) -> bytes:
            out = original(converter, pcm)
            entry = audio_in.pop(id(pcm), None)
            if entry is not None and entry[0] is pcm:
                state = _PLAY.get()
                if state is None:
                    state = _PlayState()
                    _PLAY.set(state)
                state.satellite, state.delivered, state.remaining = entry[2], entry[1], len(out)
            return out

        Converter.convert = convert  # type: ignore[method-assign,assignment]

    @staticmethod
    def _wrap_pacer() -> None:
        original = PlaybackPacer.wait_for_room

        @functools.wraps(original)
        async def wait_for_room(pacer: PlaybackPacer, seconds: float) -> None:
            started = time.monotonic_ns()
            await original(pacer, seconds)
            now = time.monotonic_ns()
            state = _PLAY.get()
            if state is not None and now - started > PACED_S * 1e9:
                state.released = now

        PlaybackPacer.wait_for_room = wait_for_room  # type: ignore[method-assign,assignment]

    def _wrap_write(self) -> None:
        original = SatelliteConnection.write
        records = self

        @functools.wraps(original)
        async def write(connection: SatelliteConnection, event: Event) -> None:
            await original(connection, event)
            state = _PLAY.get()
            if event.type == "audio-start":  # written by the playback task before it converts the first audio
                if state is None:
                    state = _PlayState()
                    _PLAY.set(state)
                state.first = True
            elif state is None:
                return
            elif event.type == "audio-chunk" and state.remaining > 0 and event.payload:
                written = time.monotonic_ns()
                records.reply.extend((state.satellite, state.delivered, state.released, written, int(state.first)))
                state.first = False
                state.remaining -= len(event.payload)

        SatelliteConnection.write = write  # type: ignore[method-assign,assignment]

    def _wrap_wake(self) -> None:
        original = WakeWordDetector.process
        records = self

        @functools.wraps(original)
        def process(detector: WakeWordDetector, pcm16k: bytes) -> WakeDetection | None:
            started = time.perf_counter_ns()
            try:
                return original(detector, pcm16k)
            finally:
                records.wake_cpu_ns += time.perf_counter_ns() - started
                records.wake_calls += 1

        WakeWordDetector.process = process  # type: ignore[method-assign,assignment]

    def _wrap_wake_work(self) -> None:
        put, take, drop, check = WakeWork.put, WakeWork.take, WakeWork.drop, TurnController.check_wake
        queued, records = self._queued, self

        @functools.wraps(put)
        def put_(work: WakeWork, listener: Any, pcm: bytes) -> None:
            times = queued[id(listener)]
            times.append(time.monotonic_ns())
            put(work, listener, pcm)
            backlog = work._backlogs.get(listener)
            while len(times) > (len(backlog.chunks) if backlog is not None else 0):
                times.popleft()  # dropped as the backlog overflowed (or looked at already, synchronously)

        @functools.wraps(take)
        def take_(work: WakeWork, listener: Any) -> list[bytes]:
            queued.pop(id(listener), None)
            return take(work, listener)

        @functools.wraps(drop)
        def drop_(work: WakeWork, listener: Any) -> None:
            queued.pop(id(listener), None)
            drop(work, listener)

        @functools.wraps(check)
        def check_(controller: TurnController, pcm: bytes) -> None:
            times = queued.get(id(controller))
            if times:
                records.wake_queue.append(time.monotonic_ns() - times.popleft())
            check(controller, pcm)

        WakeWork.put = put_  # type: ignore[method-assign]
        WakeWork.take = take_  # type: ignore[method-assign]
        WakeWork.drop = drop_  # type: ignore[method-assign]
        TurnController.check_wake = check_  # type: ignore[method-assign]


def _describe(handle: asyncio.events.Handle) -> str:
    """A callback as ``task name: coroutine at file:line`` (where its coroutine is suspended now), or its repr."""
    callback = getattr(handle, "_callback", None)
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        coro = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        chain: list[str] = []
        while coro is not None and len(chain) < 12:
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
            if frame is None:
                break
            chain.append(f"{frame.f_code.co_qualname}:{frame.f_lineno}")
            coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
        return f"task {task.get_name()}: " + " > ".join(chain)
    return repr(callback)[:200]


EXPERIMENTS: tuple[str, ...] = ()  # none at the moment: no_deflate and raw_audio_send became the engine's own


def apply_experiments(names: list[str]) -> None:
    """Try a proposed change without making it in the bridge (benchmark runs only; off unless asked for)."""
    unknown = set(names) - set(EXPERIMENTS)
    if unknown:
        raise ValueError(f"unknown experiments {sorted(unknown)}; known: {', '.join(EXPERIMENTS) or 'none'}")


def settings_from(config: dict[str, Any]) -> BridgeSettings:
    """What ``gemini-live-bridge --gemini-base-url … --gemini-ca-file …`` would set, with no satellite yet."""
    return default_settings(
        (),
        config["api_key"],
        gemini_base_url=config["base_url"],
        gemini_ca_file=Path(config["ca_file"]),
        **({"model": config["model"]} if "model" in config else {}),
        voice="Kore",
        wake_words=tuple(config.get("wake_words", ["okay_nabu"])),
        follow_up_s=0.0,
        pipeline="live",  # the benchmark measures the Live path only
        **({"end_of_speech_ms": config["end_of_speech_ms"]} if "end_of_speech_ms" in config else {}),
    )


class Runner:
    """The bridge and the requests the harness may make of it."""

    def __init__(self, bridge: Bridge, probes: Probes) -> None:
        self.bridge = bridge
        self.probes = probes
        self._profile: cProfile.Profile | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "add": self._add,
            "stats": self._stats,
            "probe_reset": self._probe_reset,
            "probe_dump": self._probe_dump,
            "profile_start": self._profile_start,
            "profile_stop": self._profile_stop,
            "gc_freeze": self._gc_freeze,
            "wake_detectors": self._wake_detectors,
        }
        self._detectors: dict[
            str, tuple[object, object]
        ] = {}  # detectors (and options) taken away by wake_detectors(on=False)

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one request."""
        handler = self._handlers.get(str(request.get("cmd")))
        if handler is None:
            return {"ok": False, "error": f"unknown command {request.get('cmd')!r}"}
        return await handler(request)

    async def _add(self, request: dict[str, Any]) -> dict[str, Any]:
        """Control these satellites; answer once each is connected and has a warm Live session."""
        uris = [str(uri) for uri in request["uris"]]
        started = time.monotonic()
        for uri in uris:
            await self.bridge.add_satellite(uri)
        deadline = started + float(request.get("wait_s", 60.0))
        while time.monotonic() < deadline:
            if sum(self._ready(uri) for uri in uris) == len(uris):
                break
            await asyncio.sleep(0.05)
        ready = sum(self._ready(uri) for uri in uris)
        return {"ok": ready == len(uris), "ready": ready, "elapsed_s": time.monotonic() - started}

    def _ready(self, uri: str) -> bool:
        connection = self.bridge.satellites.get(uri)
        if connection is None or not connection.connected.is_set():
            return False
        source = getattr(connection.handler, "_sessions", None)  # the satellite's PipelineSource
        standby = getattr(source, "standby", None)
        return bool(getattr(standby, "ready", False))

    async def _stats(self, request: dict[str, Any]) -> dict[str, Any]:
        objects = 0
        if request.get("gc"):
            self.probes.explicit_gc = True
            try:
                gc.collect()
            finally:
                self.probes.explicit_gc = False
            objects = len(gc.get_objects())
        times = os.times()
        return {
            "ok": True,
            "gc_objects": objects,
            "gc_frozen": gc.get_freeze_count(),
            "cpu_s": times.user + times.system,
            "wake_cpu_ns": self.probes.wake_cpu_ns,
            "wake_calls": self.probes.wake_calls,
            "probe_bytes": self.probes.size_bytes,
            "tasks": len(asyncio.all_tasks()),
        }

    async def _wake_detectors(self, request: dict[str, Any]) -> dict[str, Any]:
        """Take every satellite's wake-word detector away (``on: false``) or give it back, to measure what it costs.

        Without one, a turn controller hands idle microphone audio to nothing (the bridge's path for satellites
        that detect the wake word themselves).
        """
        for uri, connection in self.bridge.satellites.items():
            controller = connection.handler
            if request.get("on", True):
                if uri in self._detectors:
                    controller._wake, controller._options = self._detectors.pop(uri)  # type: ignore[attr-defined]
            elif getattr(controller, "_wake", None) is not None:
                # The controller makes a detector when it has none and its options name wake words: take both.
                self._detectors[uri] = (controller._wake, controller._options)  # type: ignore[attr-defined]
                controller._wake = None  # type: ignore[attr-defined]
                controller._options = dataclasses.replace(controller._options, wake_words=())  # type: ignore[attr-defined]
        return {"ok": True, "off": len(self._detectors)}

    async def _gc_freeze(self, _request: dict[str, Any]) -> dict[str, Any]:
        """Move every object alive now out of the collector's sight (``gc.freeze``), as an experiment."""
        self.probes.explicit_gc = True
        try:
            gc.collect()
        finally:
            self.probes.explicit_gc = False
        gc.freeze()
        return {"ok": True, "frozen": gc.get_freeze_count()}

    async def _probe_reset(self, _request: dict[str, Any]) -> dict[str, Any]:
        self.probes.reset()
        return {"ok": True}

    async def _probe_dump(self, request: dict[str, Any]) -> dict[str, Any]:
        await asyncio.to_thread(Path(request["path"]).write_text, json.dumps(self.probes.dump()))
        return {"ok": True}

    async def _profile_start(self, _request: dict[str, Any]) -> dict[str, Any]:
        self._profile = cProfile.Profile()
        self._profile.enable()
        return {"ok": True}

    async def _profile_stop(self, request: dict[str, Any]) -> dict[str, Any]:
        profile, self._profile = self._profile, None
        if profile is None:
            return {"ok": False, "error": "no profile running"}
        profile.disable()
        path = Path(request["path"])
        profile.dump_stats(path)
        text = io.StringIO()
        stats = pstats.Stats(profile, stream=text)
        stats.sort_stats(request.get("sort", "tottime")).print_stats(int(request.get("top", 40)))
        path.with_suffix(".txt").write_text(text.getvalue())
        return {"ok": True}


async def serve(config: dict[str, Any]) -> None:
    """Run the bridge and answer requests until ``stop`` or the end of stdin."""
    apply_experiments(list(config.get("experiments", [])))
    probes = Probes()
    if config.get("probes", True):
        probes.install()
    if slow_ms := config.get("slow_callback_ms"):  # diagnosis: which callbacks hold the event loop this long
        probes.watch_callbacks(float(slow_ms))
    bridge = Bridge(settings_from(config))
    await bridge.start()
    runner = Runner(bridge, probes)
    control = ControlServer()
    await control.open()
    control.answer({"ok": True, "pid": os.getpid()})
    try:
        while (request := await control.next_request()) is not None:
            if request.get("cmd") == "stop":
                break
            try:
                control.answer(await runner.handle(request))
            except Exception as err:
                _LOGGER.exception("request %s failed", request.get("cmd"))
                control.answer({"ok": False, "error": f"{type(err).__name__}: {err}"})
    finally:
        await bridge.stop()
        control.answer({"ok": True})


def _monotonic(record: logging.LogRecord) -> bool:
    """Stamp log records with the monotonic clock, to line them up with the probes' records."""
    record.monotonic = time.monotonic()
    return True


def main() -> None:
    """Entry point: the configuration is one JSON argument."""
    config: dict[str, Any] = json.loads(sys.argv[1])
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_monotonic)
    handler.setFormatter(logging.Formatter("%(asctime)s [%(monotonic).3f] %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, str(config.get("log_level", "INFO"))), handlers=[handler])
    asyncio.run(serve(config))


if __name__ == "__main__":
    main()
