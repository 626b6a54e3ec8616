"""How often the whole process may try Gemini again after it said no: one budget per credentials and endpoint.

Each reconnect loop has its own :class:`~.backoff.Backoff`, but that alone does not stop many loops (every
satellite's warm session, every session's reconnects) from each retrying a service that refuses them all
for the same reason. A :class:`ConnectBudget` is shared by every session that uses the same credentials on
the same endpoint, and remembers refusals that concern them all:

* **quota** (HTTP 429 on connect, 1011 with Google's quota text, even right after ``setupComplete``): a
  cooldown of 30 s, doubling per refusal in a row up to 10 min, or the delay the service asked for
  (``RetryInfo.retryDelay``) when that is longer;
* **credentials refused** (1007/1008 about the key or token, HTTP 401/403): 60 s, doubling up to 30 min.

During a cooldown, attempts nobody waits for (warming a standby session, reconnecting a session whose turn
is over) wait it out, and a session hit by such a refusal ends at once instead of retrying. An attempt for a
person who is waiting (a turn) may still try once, so the first request after the service recovers is
answered. Any connection that served a turn, or lived a minute, ends the cooldown. Transient failures
(1011 internal, dropped connections) are left to each loop's own backoff.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import weakref
from collections.abc import Callable
from typing import Final

from .errors import LiveError
from .options import LiveOptions

_LOGGER = logging.getLogger(__name__)

QUOTA_CAUSES: Final = frozenset({"quota"})
AUTH_CAUSES: Final = frozenset(
    {
        "auth_invalid_key",
        "auth_expired_key",
        "auth_api_key_on_vertex",
        "auth_invalid_token",
        "auth_missing",
        "auth_refused",
        "auth_token_expired",
        "auth_refresh_failed",
        "auth_no_credentials",
        "auth_bad_service_account",
    }
)


class ConnectBudget:
    """Refusals shared by every session on one set of credentials and one endpoint (see the module docstring)."""

    def __init__(
        self,
        *,
        quota_initial_s: float = 30.0,
        quota_max_s: float = 600.0,
        auth_initial_s: float = 60.0,
        auth_max_s: float = 1800.0,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._quota = (quota_initial_s, quota_max_s)
        self._auth = (auth_initial_s, auth_max_s)
        self._clock = clock
        self._rng = rng
        self._refusals = 0  # refusals in a row
        self._until = 0.0  # clock time the cooldown ends
        self.reason: LiveError | None = None  # the refusal behind the cooldown
        self._over = asyncio.Event()

    @property
    def cooling_down(self) -> bool:
        """Gemini refused recently: background attempts must wait."""
        return self._clock() < self._until

    @property
    def remaining_s(self) -> float:
        """Seconds left in the cooldown (0 outside one)."""
        return max(0.0, self._until - self._clock())

    def refused(self, error: LiveError) -> bool:
        """Count ``error`` if it concerns every session (quota, credentials); True when it did."""
        if error.cause in QUOTA_CAUSES:
            initial, ceiling = self._quota
        elif error.cause in AUTH_CAUSES:
            initial, ceiling = self._auth
        else:
            return False
        pause = min(ceiling, initial * 2.0 ** min(self._refusals, 32))
        pause *= 1.0 - 0.25 * self._rng()  # jitter: sessions that were refused together do not return together
        if error.retry_after_s is not None:
            pause = max(pause, error.retry_after_s)
        first = self._refusals == 0  # the first refusal of this outage is the one worth a warning
        self._refusals += 1
        self._until = max(self._until, self._clock() + pause)
        self.reason = error
        if self._over.is_set():
            self._over = asyncio.Event()
        _LOGGER.log(
            logging.WARNING if first else logging.INFO,
            "Gemini refused a connection (%s): no new attempt for %.1f s (refusal %d in a row)",
            error,
            pause,
            self._refusals,
        )
        return True

    def healthy(self) -> None:
        """A connection served a turn or lived long enough: the refusals are over."""
        if self._refusals or self._until:
            if self.cooling_down:
                _LOGGER.info("Gemini accepts connections again")
            self._refusals = 0
            self._until = 0.0
            self.reason = None
            self._over.set()

    async def wait(self) -> None:
        """Wait until the cooldown (if any) is over."""
        while (left := self.remaining_s) > 0:
            over = self._over
            try:
                async with asyncio.timeout(left):
                    await over.wait()
            except TimeoutError:
                pass


_budgets: weakref.WeakKeyDictionary[object, dict[tuple[str | None, str | None], ConnectBudget]] = (
    weakref.WeakKeyDictionary()
)


def budget_for(credentials: object, options: LiveOptions) -> ConnectBudget:
    """The budget shared by every session using ``credentials`` on ``options``' endpoint (made on first use)."""
    per_endpoint = _budgets.setdefault(credentials, {})
    key = (options.base_url, options.api_version)
    budget = per_endpoint.get(key)
    if budget is None:
        budget = per_endpoint[key] = ConnectBudget(
            quota_initial_s=options.quota_cooldown_s,
            quota_max_s=options.quota_cooldown_max_s,
            auth_initial_s=options.auth_cooldown_s,
            auth_max_s=options.auth_cooldown_max_s,
        )
    return budget
