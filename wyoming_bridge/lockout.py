"""Failed attempts to prove a secret (a pairing token, a console password), counted per client address."""

from __future__ import annotations

import time


class Lockout:
    """Failed pairings per client address: after ``limit`` failures the address is refused for ``wait_s``.

    The count is taken before the proof is checked, so many connections opened at once cannot each try a
    guess in parallel.
    """

    def __init__(self, limit: int = 5, wait_s: float = 30.0, *, max_addresses: int = 4096) -> None:
        self._limit = limit
        self._wait_s = wait_s
        self._max_addresses = max_addresses
        self._failures: dict[str, tuple[int, float]] = {}  # address → (failures, refused until)

    def refused(self, address: str) -> bool:
        """Whether ``address`` must wait before it may try again."""
        failures, until = self._failures.get(address, (0, 0.0))
        if failures < self._limit:
            return False
        if time.monotonic() < until:
            return True
        self._failures.pop(address, None)  # the wait is over: a fresh start
        return False

    def failed(self, address: str) -> None:
        """Count a failed pairing from ``address``."""
        if len(self._failures) >= self._max_addresses and address not in self._failures:
            self._failures.pop(next(iter(self._failures)))  # forget the oldest
        failures, _until = self._failures.get(address, (0, 0.0))
        failures += 1
        self._failures[address] = (failures, time.monotonic() + self._wait_s)

    def succeeded(self, address: str) -> None:
        """A pairing from ``address`` succeeded: forget its failures."""
        self._failures.pop(address, None)
