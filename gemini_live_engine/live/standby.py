"""A warm Live session per satellite, set up before the wake word, so the user is answered without a connect.

A :class:`StandbySession` keeps one :class:`~.session.LiveSession` open and set up. Its keeper task goes
through these states:

``stopped`` → ``warming`` (opening a session; while the service is down it retries quietly, logging once)
→ ``ready`` (one warm session) → ``renewing`` (the warm connection reached ``max_age_s``, or
:meth:`StandbySession.reconfigure` changed its setup: a new session is opened before the old one is closed)
→ ``ready`` … and ``idle`` (no activity for ``idle_close_s``: the warm
session is closed, so an empty room costs nothing, until :meth:`take` or :meth:`touch`) → ``closed``.

:meth:`StandbySession.take` hands the warm session over at once (opening one only when none is ready) and,
with ``warm_after_take``, starts warming the next. A goAway on the warm session is handled by the session
itself (it resumes on a new connection); the renewal at ``max_age_s`` normally comes before any goAway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Literal, TypeAlias

from .. import defaults
from ..backoff import Backoff
from ..budget import budget_for
from ..credentials import Credentials
from ..errors import LiveError
from ..options import LiveOptions
from ..tools import ToolExecutor
from .session import LiveSession

_LOGGER = logging.getLogger(__name__)

StandbyState: TypeAlias = Literal["stopped", "warming", "ready", "renewing", "idle", "closed"]


class StandbySession:
    """Keeps a set-up Live session ready for one satellite."""

    def __init__(
        self,
        credentials: Credentials,
        options: LiveOptions,
        tools: ToolExecutor | None = None,
        *,
        label: str = "",
        max_age_s: float = 480.0,
        idle_close_s: float | None = defaults.IDLE_CLOSE_S,
        warm_after_take: bool = True,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 60.0,
    ) -> None:
        """``max_age_s``: renew a warm connection this old (the service sends goAway at ~9 min).

        ``idle_close_s``: close the warm session after this long without :meth:`take`/:meth:`touch`
        (None: never). ``retry_*``: pauses between attempts while no session can be opened.
        """
        self._credentials = credentials
        self._options = options
        self._tools = tools
        self._label = label
        self._prefix = f"[{label}] " if label else ""
        self._max_age_s = max_age_s
        self._idle_close_s = idle_close_s
        self._warm_after_take = warm_after_take
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._state: StandbyState = "stopped"
        self._state_changed = asyncio.Event()
        self._changed = asyncio.Event()  # wakes the keeper: take, touch, close
        self._warm: LiveSession | None = None
        self._want_warm = True
        self._stale = False  # the warm session was set up before a reconfigure
        self._last_activity = time.monotonic()
        self._down = False  # opening failed, and it was logged
        self._keeper: asyncio.Task[None] | None = None
        self._budget = budget_for(credentials, options)

    @property
    def state(self) -> StandbyState:
        """What the keeper is doing (see the module docstring)."""
        return self._state

    @property
    def ready(self) -> bool:
        """Whether :meth:`take` would return at once."""
        return self._warm is not None and self._warm.is_open

    @property
    def down(self) -> bool:
        """Live cannot be used right now: the last attempt to open a warm session failed, or Gemini refuses."""
        return self._down or self._budget.cooling_down

    def start(self) -> None:
        """Start keeping a warm session (call from the event loop)."""
        if self._keeper is None and self._state != "closed":
            self._last_activity = time.monotonic()
            self._keeper = asyncio.create_task(self._keep(), name=f"live-standby-{self._label}")

    async def take(self) -> LiveSession:
        """The warm session, now; or a new one when none is ready (raises :class:`LiveError` if that fails)."""
        if self._state == "closed":
            raise RuntimeError("the standby session is closed")
        self._activity(want_warm=self._warm_after_take)
        session = self._warm
        if session is not None and session.is_open:
            self._warm = None
            _LOGGER.info("%sUsing the warm Live session (set up %.1f s ago)", self._prefix, session.age_s)
            return session
        _LOGGER.info("%sNo warm Live session is ready; opening one", self._prefix)
        session = LiveSession(self._credentials, self._options, self._tools, label=self._label)
        await session.open()
        return session

    def reconfigure(self, options: LiveOptions | None = None) -> None:
        """The setup changed (new ``options``, or new tool declarations): the warm session is renewed now.

        Sessions opened from now on use ``options``; a session already handed out keeps its own.
        """
        if options is not None:
            self._options = options
            self._budget = budget_for(self._credentials, options)
        self._stale = True
        self._changed.set()

    def touch(self) -> None:
        """Someone may talk soon: count it as activity and warm a session if none is kept."""
        if self._state != "closed":
            self._activity(want_warm=True)

    async def wait_state(self, *states: StandbyState) -> None:
        """Return once the keeper is in one of ``states``."""
        while self._state not in states:
            changed = self._state_changed
            await changed.wait()

    async def close(self) -> None:
        """Stop keeping sessions and close the warm one."""
        self._set_state("closed")
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.cancel()
            await asyncio.wait([keeper])
        await self._drop_warm("closing")

    # ----------------------------------------------------------------------------------------- keeper

    def _activity(self, *, want_warm: bool) -> None:
        self._last_activity = time.monotonic()
        self._want_warm = want_warm
        self._changed.set()

    def _set_state(self, state: StandbyState) -> None:
        if state != self._state:
            _LOGGER.debug("%sStandby: %s → %s", self._prefix, self._state, state)
            self._state = state
            self._state_changed.set()
            self._state_changed = asyncio.Event()

    def _idle_due(self) -> bool:
        return self._idle_close_s is not None and time.monotonic() - self._last_activity >= self._idle_close_s

    async def _keep(self) -> None:
        while True:
            self._changed.clear()
            if self._idle_due() or not self._want_warm:
                if self._warm is not None:
                    _LOGGER.info("%sClosing the warm Live session (no activity)", self._prefix)
                    await self._drop_warm("idle")
                self._set_state("idle")
                await self._changed.wait()
                continue
            warm = self._warm
            if warm is None or warm.closed:
                self._warm = None
                self._set_state("warming")
                self._stale = False  # this session is set up with the current options
                session = await self._open_quietly()
                if session is not None:
                    self._warm = session
                    self._set_state("ready")
                continue
            renew_in = self._max_age_s - warm.connection_age_s
            if renew_in <= 0 or self._stale:
                self._stale = False
                await self._renew()
                continue
            timeout = renew_in
            if self._idle_close_s is not None:
                timeout = min(timeout, self._idle_close_s - (time.monotonic() - self._last_activity))
            await self._wait_change(max(0.0, timeout), warm)

    async def _renew(self) -> None:
        """Open a new warm session before closing the old one, so one is always ready."""
        self._set_state("renewing")
        session = await self._open_quietly()
        if session is None:
            return
        old, self._warm = self._warm, session
        if old is not None:  # None: the old one was taken meanwhile
            await old.close()
        _LOGGER.info("%sRenewed the warm Live session", self._prefix)
        self._set_state("ready")

    async def _open_quietly(self) -> LiveSession | None:
        """Open a session, retrying for as long as it takes (None when the standby goes idle meanwhile)."""
        backoff = Backoff(self._retry_initial_s, self._retry_max_s)
        while not self._idle_due():
            await self._budget.wait()  # nobody waits for this session: Gemini's refusals are respected in full
            session = LiveSession(self._credentials, self._options, self._tools, label=self._label, quiet=True)
            try:
                await session.open()
            except LiveError as err:
                if not self._down:
                    self._down = True
                    # A refusal the shared budget logged already (quota, credentials) is not logged twice.
                    level = logging.INFO if self._budget.reason is err else logging.WARNING
                    _LOGGER.log(level, "%sNo warm Live session can be opened (%s); retrying quietly", self._prefix, err)
                else:
                    _LOGGER.debug("%sStill no warm Live session: %s", self._prefix, err)
                await asyncio.sleep(backoff.failed())
                continue
            if self._down:
                self._down = False
                _LOGGER.info("%sGemini Live is reachable again; a warm session is ready", self._prefix)
            return session
        return None

    async def _wait_change(self, wait_s: float, warm: LiveSession) -> None:
        """Wait for a take/touch/close, the warm session closing, or ``wait_s``."""
        waiters = [asyncio.create_task(self._changed.wait()), asyncio.create_task(warm.wait_closed())]
        try:
            await asyncio.wait(waiters, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    async def _drop_warm(self, why: str) -> None:
        session, self._warm = self._warm, None
        if session is not None:
            _LOGGER.debug("%sClosing the warm Live session (%s)", self._prefix, why)
            await session.close()
