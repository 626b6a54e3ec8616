"""Failed attempts to prove a secret (a pairing token, a console password), counted per client address and in all.

An attempt is counted before its proof is checked (:meth:`Lockout.attempt`), so that many connections
opened at once cannot each try a guess in parallel: once an address has failed ``limit`` times it waits
``wait_s``, and once ``global_limit`` attempts from any addresses failed within ``wait_s`` everyone waits
until the oldest of them is that old (many addresses, one guesser).
"""

from __future__ import annotations

import time
from collections import deque


class Lockout:
    """Failed attempts per client address and in all (see the module docstring)."""

    def __init__(
        self, limit: int = 5, wait_s: float = 30.0, *, global_limit: int | None = None, max_addresses: int = 4096
    ) -> None:
        """``global_limit``: failures from all addresses within ``wait_s`` that refuse everyone (4 × ``limit``)."""
        self._limit = limit
        self._wait_s = wait_s
        self._global_limit = global_limit if global_limit is not None else 4 * limit
        self._max_addresses = max_addresses
        self._failures: dict[str, tuple[int, float]] = {}  # address → (failures, refused until)
        self._recent: deque[float] = deque(maxlen=self._global_limit)  # when the latest failures happened

    def refused(self, address: str) -> bool:
        """Whether ``address`` must wait before it may try again (it, or everyone, failed too often)."""
        return self._address_refused(address) or self.globally_refused()

    def globally_refused(self) -> bool:
        """Whether ``global_limit`` attempts failed within ``wait_s``, from whichever addresses."""
        recent = self._recent
        return len(recent) >= self._global_limit and time.monotonic() - recent[0] < self._wait_s

    def attempt(self, address: str) -> bool:
        """Count an attempt from ``address`` before its proof is checked; False (not counted) when refused.

        The attempt counts as failed until :meth:`succeeded` says otherwise.
        """
        if self.refused(address):
            return False
        self.failed(address)
        return True

    def failed(self, address: str) -> None:
        """Count a failed attempt from ``address``."""
        if len(self._failures) >= self._max_addresses and address not in self._failures:
            self._failures.pop(next(iter(self._failures)))  # forget the oldest
        failures, _until = self._failures.get(address, (0, 0.0))
        now = time.monotonic()
        self._failures[address] = (failures + 1, now + self._wait_s)
        self._recent.append(now)

    def succeeded(self, address: str) -> None:
        """An attempt from ``address`` succeeded: forget its failures (and the attempt counted in all)."""
        if self._failures.pop(address, None) is not None and self._recent:
            self._recent.pop()

    def _address_refused(self, address: str) -> bool:
        failures, until = self._failures.get(address, (0, 0.0))
        if failures < self._limit:
            return False
        if time.monotonic() < until:
            return True
        self._failures.pop(address, None)  # the wait is over: a fresh start
        return False
