"""Helpers for the Live engine's tests: options aimed at the emulator, speech streaming, event collection."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

from gemini_live_emulator import Emulator
from google.genai import types

from gemini_live_engine import (
    AudioOut,
    LiveOptions,
    LiveSession,
    OutputTranscript,
    SessionError,
    SessionEvent,
    TurnComplete,
)
from gemini_live_engine.tools import ToolError
from gemini_live_engine.voice_session import VoiceSession

MIC_RATE = 16000
CHUNK_BYTES = MIC_RATE * 2 * 100 // 1000  # 100 ms
EVENT_TIMEOUT_S = 30.0  # a safety net for a broken engine, never a synchronisation


def options_for(emulator: Emulator, **overrides: Any) -> LiveOptions:
    """Options aimed at the emulator, with retry timing small enough for tests."""
    options = LiveOptions(
        base_url=emulator.base_url,
        ca_file=emulator.ca_file,
        backoff_initial_s=0.02,
        backoff_max_s=0.1,
        connect_timeout_s=10.0,
    )
    return dataclasses.replace(options, **overrides)


def chunks(pcm: bytes, size: int = CHUNK_BYTES) -> list[bytes]:
    """``pcm`` cut into microphone-sized chunks."""
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


async def send_speech(session: LiveSession, pcm: bytes) -> None:
    """Stream PCM in 100 ms chunks, unpaced (the emulator's activity detection runs on audio time)."""
    for chunk in chunks(pcm):
        await session.send_audio(chunk)


async def collect(
    session: VoiceSession, until: Callable[[SessionEvent], bool] = lambda e: isinstance(e, TurnComplete)
) -> list[SessionEvent]:
    """Events up to and including the first one ``until`` accepts (or the end of the session)."""
    events: list[SessionEvent] = []
    async with asyncio.timeout(EVENT_TIMEOUT_S):
        async for event in session.events():
            events.append(event)
            if until(event):
                break
    return events


def fatal(event: SessionEvent) -> bool:
    """A fatal session error."""
    return isinstance(event, SessionError) and event.fatal


def reply_text(events: list[SessionEvent]) -> str:
    """The model's transcript in ``events``."""
    return "".join(e.text for e in events if isinstance(e, OutputTranscript))


def reply_audio(events: list[SessionEvent]) -> bytes:
    """The model's audio in ``events``."""
    return b"".join(e.pcm for e in events if isinstance(e, AudioOut))


def kinds(events: list[SessionEvent]) -> list[str]:
    """Event type names, runs collapsed; reply audio and its transcript count as one kind ("Reply")."""
    names = ["Reply" if isinstance(e, AudioOut | OutputTranscript) else type(e).__name__ for e in events]
    return [name for i, name in enumerate(names) if i == 0 or name != names[i - 1]]


def declaration(name: str) -> types.FunctionDeclaration:
    """A BLOCKING function without parameters."""
    return types.FunctionDeclaration(name=name, description=f"The {name} function.", behavior=types.Behavior.BLOCKING)


class ScriptedTools:
    """A tool executor for tests: each function runs a coroutine the test supplies; calls are recorded."""

    def __init__(self, **functions: Callable[[dict[str, Any]], Any]) -> None:
        self._functions = functions
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.started = asyncio.Event()
        self.cancelled: list[str] = []

    def declarations(self) -> list[types.FunctionDeclaration]:
        """One declaration per function."""
        return [declaration(name) for name in self._functions]

    async def call(self, call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run the test's function; record cancellation."""
        self.calls.append((call_id, name, args))
        self.started.set()
        function = self._functions.get(name)
        if function is None:
            raise ToolError(f"unknown function {name}")
        try:
            result: dict[str, Any] = await function(args)
        except asyncio.CancelledError:
            self.cancelled.append(call_id)
            raise
        return result


def live_connection_tasks() -> list[asyncio.Task[Any]]:
    """The tasks of Live connections still running: links' own tasks and the WebSocket's keepalive (open sockets)."""
    return [
        task
        for task in asyncio.all_tasks()
        if (task.get_name().startswith("live-link-") or task.get_coro().__qualname__ == "Connection.keepalive")  # type: ignore[union-attr]
        and not task.done()
        and not task.cancelling()
    ]
