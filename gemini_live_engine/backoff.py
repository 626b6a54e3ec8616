"""Jittered exponential backoff: the one place every reconnect loop takes its pauses from.

The Live session's reconnects, the warm standby's attempts to open a session and the bridge's reconnects to a
satellite each keep one :class:`Backoff`. After the n-th failure in a row (counting from 0) the pause is drawn
from ``[(1 - jitter) · c, c]`` with ``c = min(max_s, initial_s · 2ⁿ)``: it grows so that a peer that keeps
failing is not hammered, and it is jittered so that many clients that failed together (every satellite when
the service went down) do not come back in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """The pauses of one reconnect loop (see the module docstring)."""

    def __init__(
        self,
        initial_s: float,
        max_s: float,
        *,
        jitter: float = 0.5,
        rng: Callable[[], float] = random.random,
    ) -> None:
        """``jitter`` is the fraction of each pause that is random; ``rng`` returns a float in [0, 1)."""
        if initial_s < 0 or max_s < initial_s:
            raise ValueError(f"a backoff needs 0 <= initial_s <= max_s, not {initial_s} and {max_s}")
        if not 0.0 <= jitter <= 1.0:
            raise ValueError(f"jitter is a fraction from 0 to 1, not {jitter}")
        self.initial_s = initial_s
        self.max_s = max_s
        self.jitter = jitter
        self._rng = rng
        self._failures = 0

    @property
    def failures(self) -> int:
        """Failures in a row since the last :meth:`reset`."""
        return self._failures

    def failed(self) -> float:
        """Count a failure; return the pause before the next attempt."""
        ceiling = min(self.max_s, self.initial_s * 2.0 ** min(self._failures, 64))
        self._failures += 1
        return ceiling * (1.0 - self.jitter * self._rng())

    def reset(self) -> None:
        """An attempt succeeded: the next failure pauses ``initial_s`` (jittered) again."""
        self._failures = 0
