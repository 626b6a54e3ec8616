"""Helpers for end-to-end tests: a bridge aimed at the emulator, driving simulated satellites over real TCP."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

from gemini_live_emulator import Emulator
from wyoming.audio import AudioChunk, AudioStop
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Attribution, Info, Satellite
from wyoming.ping import Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.snd import Played
from wyoming.wake import Detection

from tests.audio import read_wav, silence, speech_pcm
from wyoming_bridge.app import Bridge
from wyoming_bridge.satellites.turn import TurnLog
from wyoming_bridge.settings import BridgeSettings, default_settings

WAKEWORD_DIR = Path(__file__).parents[1] / "data" / "wakeword"
TURN_TIMEOUT_S = 60.0  # a safety net for a broken bridge, never a synchronisation


def bridge_settings(emulator: Emulator, satellites: tuple[str, ...], **overrides: Any) -> BridgeSettings:
    """Settings as the command line would give them, aimed at the emulator."""
    values: dict[str, Any] = {
        "api_key": emulator.api_key,
        "gemini_base_url": emulator.base_url,
        "gemini_ca_file": Path(emulator.ca_file),
        "voice": "Kore",
        "follow_up_s": 0.0,
        "tool_timeout_s": 5.0,
        "log_format": "%(message)s",
    }
    values |= overrides
    return default_settings(satellites, values.pop("api_key"), **values)


def wake_then_command(command: str, language: str = "en-US", wake_file: str = "okay_nabu_2.wav") -> bytes:
    """Microphone audio: a real recording of the wake word, then the spoken command (16 kHz)."""
    wake, rate = read_wav(WAKEWORD_DIR / wake_file)
    assert rate == 16000
    return wake + speech_pcm(command, language) + silence(0.2, 16000)


class TurnWatcher:
    """Collects finished turns from the bridge's callback."""

    def __init__(self) -> None:
        self.turns: asyncio.Queue[TurnLog] = asyncio.Queue()

    async def __call__(self, log: TurnLog) -> None:
        await self.turns.put(log)

    async def next(self) -> TurnLog:
        """The next finished turn."""
        return await asyncio.wait_for(self.turns.get(), timeout=TURN_TIMEOUT_S)


@asynccontextmanager
async def running_bridge(
    settings: BridgeSettings, *, service_silence_ms: int | None = None, **kwargs: Any
) -> AsyncIterator[tuple[Bridge, TurnWatcher]]:
    """A started bridge and a watcher of its turns; stopped afterwards.

    ``service_silence_ms``: the silence window the bridge asks Gemini's activity detection for
    (``silenceDurationMs``); a long one shows which turns the bridge ended itself.
    """
    watcher = TurnWatcher()
    bridge = Bridge(settings, on_turn_end=watcher, **kwargs)
    if service_silence_ms is not None:
        bridge.live_options = dataclasses.replace(bridge.live_options, silence_duration_ms=service_silence_ms)
    await bridge.start()
    try:
        yield bridge, watcher
    finally:
        await bridge.stop()


class SatelliteServer:
    """A satellite's TCP server for tests: a free port, and every task it starts cancelled when it stops.

    A subclass's ``_serve(reader, writer)`` handles one connection (and adds its task to ``_tasks``).
    """

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def uri(self) -> str:
        """For ``--satellite``."""
        return f"tcp://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class StreamStoppingSatellite(SatelliteServer):
    """A satellite with its own wake word and VAD, as wyoming-satellite with ``--vad``: on ``run-satellite`` it
    sends ``detection`` and ``run-pipeline`` from the asr stage, streams ``mic`` (1024-sample chunks, 4× real time)
    and then ``audio-stop``, its own end of speech; it answers ``played`` at once and records what it is sent.
    """

    def __init__(self, mic: bytes) -> None:
        super().__init__()
        self.mic = mic
        self.events: list[Event] = []
        self.transcript_received = asyncio.Event()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while (event := await async_read_event(reader)) is not None:
                if event.type == "describe":
                    info = Info(satellite=Satellite("VAD satellite", Attribution("", ""), True, "", "1.4.1"))
                    await async_write_event(info.event(), writer)
                elif event.type == "ping":
                    await async_write_event(Pong().event(), writer)
                elif event.type == "run-satellite":
                    self._tasks.add(asyncio.create_task(self._speak(writer)))
                else:
                    self.events.append(event)
                    if event.type == "audio-stop":
                        await async_write_event(Played().event(), writer)
                    elif event.type == "transcript":
                        self.transcript_received.set()
        except ConnectionError:
            pass
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(ConnectionError):
                writer.close()

    async def _speak(self, writer: asyncio.StreamWriter) -> None:
        await async_write_event(Detection(name="okay_nabu", timestamp=0).event(), writer)
        pipeline = RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event()
        pipeline.data["snd_format"] = {"rate": 22050, "width": 2, "channels": 1}
        await async_write_event(pipeline, writer)
        for start in range(0, len(self.mic), 2048):
            chunk = AudioChunk(rate=16000, width=2, channels=1, audio=self.mic[start : start + 2048])
            await async_write_event(chunk.event(), writer)
            await asyncio.sleep(0.016)  # 64 ms of audio at 4× real time
        await async_write_event(AudioStop().event(), writer)


async def bridge_process(
    emulator: Emulator, *options: str, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    """``python -m wyoming_bridge`` aimed at the emulator, with ``options`` and debug logs on stderr.

    The key comes in the environment (``GEMINI_API_KEY``), as the docs advise; ``env`` adds or replaces variables.
    """
    environment = {**os.environ, "GEMINI_API_KEY": emulator.api_key, **(env or {})}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wyoming_bridge",
        *options,
        "--gemini-base-url",
        emulator.base_url,
        "--gemini-ca-file",
        emulator.ca_file,
        "--debug",
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in environment.items() if v},
    )
