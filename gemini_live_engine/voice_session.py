"""What a conversation partner (a satellite, a browser) needs from a session, whichever path answers.

:class:`~.live.session.LiveSession` (Gemini Live) and :class:`~.cascaded.session.CascadedSession`
(Gemini text plus Gemini speech over REST) both satisfy :class:`VoiceSession`: 16 kHz audio and text in;
the events of :mod:`.live.events` out (24 kHz reply audio, transcripts, tool calls, turn ends, errors).
A :class:`SessionSource` hands them out, ready, one conversation partner at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from .events import SessionEvent
from .options import LiveOptions


class VoiceSession(Protocol):
    """One conversation with Gemini (see the module docstring)."""

    label: str

    @property
    def is_open(self) -> bool:
        """Set up and usable."""
        ...

    @property
    def closed(self) -> bool:
        """Closed for good."""
        ...

    async def send_audio(self, pcm16k: bytes) -> None:
        """Microphone audio: 16-bit little-endian mono PCM at 16 kHz, any chunk size."""
        ...

    async def send_text(self, text: str) -> None:
        """A typed user turn."""
        ...

    async def add_model_context(self, text: str) -> None:
        """Something the assistant said outside the session (an announcement): context, not a new turn."""
        ...

    async def end_audio_stream(self) -> None:
        """The microphone paused: what was heard so far is a finished utterance."""
        ...

    async def activity_start(self) -> None:
        """The user started speaking (push to talk)."""
        ...

    async def activity_end(self) -> None:
        """The user stopped speaking (push to talk): the turn is over."""
        ...

    def events(self) -> AsyncIterator[SessionEvent]:
        """The session's events until it closes; a fatal error is the last one."""
        ...

    async def close(self) -> None:
        """Close the session; running tool calls are cancelled."""
        ...


class SessionSource(Protocol):
    """Where a conversation partner's ready sessions come from (a :class:`~.pipeline.PipelineSource`)."""

    async def take(self) -> VoiceSession:
        """A set-up session, ready for audio."""
        ...

    def reconfigure(self, options: LiveOptions | None = None) -> None:
        """Sessions from now on use ``options`` (None: the same) and the tools' current declarations."""
        ...

    async def close(self) -> None:
        """Close whatever is held."""
        ...
