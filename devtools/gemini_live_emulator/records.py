"""What the emulator remembers: each connection's traffic (for tests to assert on) and resumable sessions."""

from __future__ import annotations

import copy
import secrets
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class UserTurnRecord:
    """One user turn as the emulator took it."""

    transcript: str | None  # the scripted transcript, or typed text
    audio: bytearray = field(default_factory=bytearray)  # 16 kHz PCM the turn was made of
    audio_rate: int = 16000
    text: str | None = None  # typed input (realtimeInput.text / clientContent)
    interrupted_model: bool = False

    @property
    def audio_seconds(self) -> float:
        """Duration of the turn's audio."""
        return len(self.audio) / (2 * self.audio_rate)


@dataclass
class ConnectionRecord:
    """Everything one Live connection sent and how it ended."""

    path: str
    backend: str
    api_version: str
    auth_kind: str | None = None
    deflate: bool = False  # permessage-deflate was negotiated
    setup: dict[str, Any] | None = None
    resumed_from: str | None = None
    audio_bytes: int = 0  # all realtime audio received (any rate), in bytes
    audio: bytearray = field(default_factory=bytearray)  # all realtime audio at 16 kHz, as received
    messages: list[dict[str, Any]] = field(default_factory=list)  # every parsed client message
    user_turns: list[UserTurnRecord] = field(default_factory=list)
    tool_responses: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str | None = None
    closed: bool = False


@dataclass(frozen=True)
class RestRequestRecord:
    """One ``generateContent`` / ``streamGenerateContent`` call as the emulator parsed it."""

    verb: str
    model: str
    backend: str
    contents: list[dict[str, Any]]  # the request's conversation (bytes already decoded)
    script_position: int | None  # the scenario turn a spoken turn was given (None: no audio in the turn)
    body: dict[str, Any] = field(default_factory=dict, repr=False)  # the whole request, as parsed


@dataclass
class ConversationState:
    """The part of a session that survives resumption: history and position in the scenario."""

    history: list[dict[str, Any]] = field(default_factory=list)  # {"role": "user"|"model", "text": ...}
    user_turns: int = 0
    next_call_id: int = 1
    system_instruction: str | None = None

    def snapshot(self) -> ConversationState:
        """A deep copy to keep behind a handle."""
        return copy.deepcopy(self)


@dataclass
class _Saved:
    state: ConversationState
    saved_at: float


class ResumptionStore:
    """Resumption handles and the conversation state each one restores (valid for ``ttl_s``)."""

    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._saved: dict[str, _Saved] = {}

    def save(self, state: ConversationState) -> str:
        """Keep a snapshot and return its new handle."""
        self._expire()
        handle = secrets.token_urlsafe(24)
        self._saved[handle] = _Saved(state.snapshot(), time.time())
        return handle

    def restore(self, handle: str) -> ConversationState | None:
        """The state behind ``handle``, or None when it is unknown or expired."""
        self._expire()
        saved = self._saved.get(handle)
        return saved.state.snapshot() if saved else None

    def _expire(self) -> None:
        limit = time.time() - self._ttl_s
        for handle in [h for h, s in self._saved.items() if s.saved_at < limit]:
            del self._saved[handle]
