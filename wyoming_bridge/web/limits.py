"""What one browser, one address, or all consoles together may take: Gemini sessions and ephemeral tokens.

* :class:`SessionSlots`: at most ``limit`` consoles hold a Gemini session at once. A console that needs one
  when all are taken gets the slot of the console that has been idle longest (it loses its conversation,
  and is told so); when every holder is in the middle of a turn, it is refused.
* :class:`RateLimit` / :class:`RateLimits`: token buckets (a burst, then a steady rate), alone or per key
  (a client address), for what costs money or quota each time: direct mode's ephemeral tokens.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol


class SlotHolder(Protocol):
    """A console that may hold a Gemini session."""

    label: str

    @property
    def in_turn(self) -> bool:
        """In the middle of a turn: its session must not be taken away."""
        ...

    @property
    def last_active(self) -> float:
        """When the browser last did something (``time.monotonic()``)."""
        ...

    async def give_up_session(self) -> None:
        """Close its session for another console (it has lost its slot already)."""
        ...


class SessionSlots:
    """The consoles holding a Gemini session, at most ``limit`` (see the module docstring)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one console session must be allowed")
        self.limit = limit
        self._holders: set[SlotHolder] = set()

    def __len__(self) -> int:
        return len(self._holders)

    async def acquire(self, holder: SlotHolder) -> bool:
        """A slot for ``holder`` (True), taken from the longest idle holder if need be; False when none can be."""
        if holder in self._holders:
            return True
        if len(self._holders) < self.limit:
            self._holders.add(holder)
            return True
        idle = [other for other in self._holders if not other.in_turn]
        if not idle:
            return False
        victim = min(idle, key=lambda other: other.last_active)
        self._holders.discard(victim)
        self._holders.add(holder)  # reserved before waiting, so that no one else takes it meanwhile
        await victim.give_up_session()
        return True

    def release(self, holder: SlotHolder) -> None:
        """``holder`` holds no session any more."""
        self._holders.discard(holder)


class RateLimit:
    """A token bucket: ``burst`` at once, then one more every ``1 / per_s`` seconds."""

    def __init__(self, burst: int, per_s: float) -> None:
        self._burst = float(burst)
        self._per_s = per_s
        self._tokens = float(burst)
        self._at = time.monotonic()

    def take(self) -> bool:
        """Take one if there is one."""
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._per_s)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class RateLimits:
    """One :class:`RateLimit` per key (a client address); the least recently used keys are forgotten."""

    def __init__(self, burst: int, per_s: float, *, max_keys: int = 4096) -> None:
        self._burst = burst
        self._per_s = per_s
        self._max_keys = max_keys
        self._limits: OrderedDict[str, RateLimit] = OrderedDict()

    def take(self, key: str) -> bool:
        """Take one for ``key`` if it has one."""
        limit = self._limits.get(key)
        if limit is None:
            limit = self._limits[key] = RateLimit(self._burst, self._per_s)
            while len(self._limits) > self._max_keys:
                self._limits.popitem(last=False)
        else:
            self._limits.move_to_end(key)
        return limit.take()
