"""The user's input since the last resumption handle, to replay to a new connection so nothing is lost.

A resumed session knows only what its handle covers. Everything the user sent after that (audio, typed
text, activity marks) is kept here and sent again, in order, to the next connection; input that arrives
while no connection is up waits here too. A handle that arrives at time *t* covers audio sent before
*t* minus a small overlap (audio still in flight when the service made the handle is not covered, and
hearing a fraction of a second twice is better than losing it); text and activity marks are covered once
a model turn has completed after them. Audio is bounded (oldest dropped first).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, TypeAlias

InputKind: TypeAlias = Literal["audio", "text", "model_context", "activity_start", "activity_end", "audio_stream_end"]


@dataclass(slots=True)
class Input:
    """One piece of user input, numbered in the order it was given."""

    seq: int
    kind: InputKind
    audio: bytes = b""
    text: str = ""
    sent_at: float = 0.0  # loop time it was last sent (or buffered)


class ReplayBuffer:
    """Input not yet covered by a resumption handle, oldest first."""

    def __init__(self, max_audio_bytes: int, overlap_s: float) -> None:
        self._items: list[Input] = []
        self._next_seq = 0
        self._audio_bytes = 0
        self._max_audio_bytes = max_audio_bytes
        self._overlap_s = overlap_s
        self.dropped_audio = False  # audio was dropped for the bound since the last handle

    def add(self, kind: InputKind, now: float, *, audio: bytes = b"", text: str = "") -> Input:
        """Keep a new piece of input."""
        item = Input(self._next_seq, kind, audio, text, now)
        self._next_seq += 1
        self._items.append(item)
        self._audio_bytes += len(audio)
        if self._audio_bytes > self._max_audio_bytes:
            self._trim()
        return item

    def _trim(self) -> None:
        drop = 0
        while self._audio_bytes > self._max_audio_bytes and drop < len(self._items):
            self._audio_bytes -= len(self._items[drop].audio)
            drop += 1
        del self._items[:drop]
        self.dropped_audio = True

    def covered(self, handle_at: float, turn_completed_at: float) -> None:
        """A resumption handle arrived at ``handle_at``: forget what it covers."""
        audio_before = handle_at - self._overlap_s
        kept = [
            item
            for item in self._items
            if (item.sent_at >= audio_before if item.kind == "audio" else item.sent_at >= turn_completed_at)
        ]
        self._items = kept
        self._audio_bytes = sum(len(item.audio) for item in kept)
        self.dropped_audio = False

    def after(self, seq: int) -> Input | None:
        """The oldest input numbered after ``seq`` (input may be added while a replay is under way)."""
        index = bisect.bisect_right(self._items, seq, key=lambda item: item.seq)
        return self._items[index] if index < len(self._items) else None

    def __iter__(self) -> Iterator[Input]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    @property
    def audio_bytes(self) -> int:
        """Audio kept, in bytes."""
        return self._audio_bytes
