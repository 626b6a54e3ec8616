"""What a Live session hands its consumer: audio, transcripts, tool calls and the session's own news.

Every event is a small frozen dataclass; a consumer reads them with ``async for event in session.events()``
and matches on the type. Audio out is 16-bit little-endian mono PCM at 24 kHz, as Gemini sends it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, TypeAlias

OUTPUT_RATE = 24000  # Hz of AudioOut.pcm


@dataclass(frozen=True, slots=True)
class AudioOut:
    """A chunk of the model's spoken reply (24 kHz s16le mono)."""

    pcm: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class InputTranscript:
    """A piece of the transcript of what the user said (a delta); ``finished`` marks the end of the utterance."""

    text: str
    finished: bool = False


@dataclass(frozen=True, slots=True)
class OutputTranscript:
    """A piece of the transcript of the model's spoken reply (a delta)."""

    text: str


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The model stopped speaking (barge-in, or its answer was cut by a reconnect): stop playback now."""


@dataclass(frozen=True, slots=True)
class GenerationComplete:
    """The model has produced all of its reply (playback may still be going on)."""


@dataclass(frozen=True, slots=True)
class TurnComplete:
    """The model's turn is over.

    ``waiting_for_input`` is True when the model asked something and expects an answer;
    ``reason`` is the service's ``turnCompleteReason`` (e.g. ``"NEED_MORE_INPUT"``), None for a normal end.
    """

    waiting_for_input: bool = False
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    """The model called a function; the session is running it."""

    call_id: str
    name: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCallFinished:
    """A function call ended: a ``result``, an ``error`` (sent to the model), or ``cancelled`` by the model."""

    call_id: str
    name: str
    result: dict[str, Any] | None = None
    error: str | None = None
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class AnswerCut:
    """The model's answer was cut because the connection moved (not by the user): stop playing it.

    The model answers again on the new connection, from the user's replayed input.
    """


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The session moved to a new connection (goAway, a dropped connection, a service error); ``reason`` says why.

    ``replayed_s`` of the user's audio went to the new connection again: its transcription comes again too,
    so a consumer drops what it kept of the utterance in progress.
    """

    reason: str
    replayed_s: float = field(default=0.0, compare=False)


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should be told once (e.g. answers come through the slower cascaded path)."""

    text: str


@dataclass(frozen=True, slots=True)
class SessionError:
    """Something went wrong. ``fatal``: the session is closed and no more events follow.

    ``cause`` is the short machine name of :class:`~gemini_live_engine.errors.LiveError` when there is one.
    """

    message: str
    fatal: bool
    cause: str | None = None


SessionEvent: TypeAlias = (
    AudioOut
    | InputTranscript
    | OutputTranscript
    | Interrupted
    | AnswerCut
    | GenerationComplete
    | TurnComplete
    | ToolCallStarted
    | ToolCallFinished
    | Reconnected
    | Notice
    | SessionError
)


class EventStream:
    """A session's events, in order, until it closes (one consumer at a time)."""

    def __init__(self, queue: asyncio.Queue[SessionEvent | None]) -> None:
        self._queue = queue

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> SessionEvent:
        event = await self._queue.get()
        if event is None:
            self._queue.put_nowait(None)  # the end stays visible to any later reader
            raise StopAsyncIteration
        return event


class EventChannel:
    """Where a session puts its events: in order, nothing after the end, and a way to wait for the end."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[SessionEvent | None] = asyncio.Queue()
        self._ended = False
        self._closed = asyncio.Event()

    def emit(self, event: SessionEvent) -> None:
        """Queue an event (dropped once the channel has ended)."""
        if not self._ended:
            self._queue.put_nowait(event)

    def end(self) -> None:
        """No more events: readers stop after the ones queued; :meth:`wait_closed` returns."""
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(None)
        self._closed.set()

    def stream(self) -> EventStream:
        """The events for one consumer."""
        return EventStream(self._queue)

    async def wait_closed(self) -> None:
        """Return once the channel has ended."""
        await self._closed.wait()
