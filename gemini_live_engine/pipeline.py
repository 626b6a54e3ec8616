"""Which pipeline answers a turn: Gemini Live (warm standby), the cascaded REST path, or Live with fallback.

One :class:`PipelineSource` per conversation partner (a satellite, a console connection); its :meth:`take`
hands out a ready :class:`~.voice_session.VoiceSession`:

* ``live``: the warm Live session (:class:`~.live.standby.StandbySession`); a failure reaches the caller.
* ``cascaded``: a :class:`~.cascaded.session.CascadedSession` (Gemini text + Gemini speech over REST).
* ``auto``: Live while it works. When it cannot be used (the model is not available, Live refuses the
  credentials, the connection keeps failing, or no session is set up within ``live_wait_s``) the turn goes
  to the cascaded path at once, with one log line saying why, and the user is told once per outage (the
  cascaded session speaks a short notice first; it counts as told once a turn carrying it was answered to
  the end, see :class:`~.cascaded.session.FallbackTelling`). The standby keeps trying Live quietly in the
  background; once a warm session is ready again, turns go back to Live. Credentials that the REST API
  would refuse just the same (an API key that is not valid or expired, a refused access token, none at
  all) are not a reason to fall back: that :class:`~.errors.LiveError` reaches the caller.

With ``warm=False`` (the web console: a conversation holds its session across turns) nothing is kept
warm: :meth:`PipelineSource.take` opens the session it hands out, so a partner holds one session at a
time and only once it talks. Only while Live is down does the standby run, to find out when it is back.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final, Literal

from . import defaults
from .cascaded.session import CascadedSession, FallbackTelling
from .credentials import Credentials
from .errors import LiveError
from .live.standby import StandbySession
from .options import LiveOptions
from .tasks import BackgroundTasks
from .tools import ToolExecutor
from .voice_session import VoiceSession

_LOGGER = logging.getLogger(__name__)

Pipeline = Literal["live", "cascaded", "auto"]
PIPELINES: Final[tuple[Pipeline, ...]] = ("live", "cascaded", "auto")

LIVE_WAIT_S: Final = 3.0  # auto: a turn waits this long for a new Live session (the warm one is instant)
REFUSED_EVERYWHERE: Final = frozenset(
    {
        "auth_invalid_key",
        "auth_expired_key",
        "auth_invalid_token",
        "auth_missing",
        "auth_no_credentials",
        "auth_bad_service_account",
    }
)
"""Causes of a Live failure that the REST API (the cascaded path) would meet just the same."""


class PipelineSource:
    """Ready sessions for one conversation partner, from the pipeline the settings choose."""

    def __init__(
        self,
        pipeline: Pipeline,
        credentials: Credentials,
        options: LiveOptions,
        tools: ToolExecutor | None,
        *,
        label: str,
        text_model: str,
        tts_model: str,
        idle_close_s: float | None = defaults.IDLE_CLOSE_S,
        live_wait_s: float = LIVE_WAIT_S,
        warm: bool = True,
    ) -> None:
        """``live_wait_s`` (auto): how long a turn waits for Live to be set up before the cascaded path answers.

        ``warm``: keep a Live session set up before it is needed (False: open one when it is taken).
        """
        self.pipeline = pipeline
        self._warm = warm
        self._live_wait_s = live_wait_s
        self._credentials = credentials
        self._options = options
        self._tools = tools
        self._label = label
        self._prefix = f"[{label}] " if label else ""
        self._text_model = text_model
        self._tts_model = tts_model
        self._standby = (
            StandbySession(credentials, options, tools, label=label, idle_close_s=idle_close_s, warm_after_take=warm)
            if pipeline != "cascaded"
            else None
        )
        self._live_down = False  # auto: Live failed and turns go through the cascaded path
        self._telling = FallbackTelling()  # auto: the user is yet to be told about this outage
        self._late = BackgroundTasks()  # auto: Live sessions still opening after the wait, closed once open

    @property
    def standby(self) -> StandbySession | None:
        """The warm Live session keeper (None for the cascaded pipeline)."""
        return self._standby

    def reconfigure(self, options: LiveOptions | None = None) -> None:
        """The setup changed (new ``options``, or new tool declarations): sessions from now on use it.

        The warm Live session is renewed at once; a session already handed out keeps its own setup.
        """
        if options is not None:
            self._options = options
        if self._standby is not None:
            self._standby.reconfigure(options)
            self._standby.start()  # a source made before its configuration starts warming now

    def start(self) -> None:
        """Start warming a Live session (call from the event loop; nothing to do with ``warm=False``)."""
        if self._standby is not None and self._warm:
            self._standby.start()

    async def take(self) -> VoiceSession:
        """A ready session; raises :class:`~.live.errors.LiveError` when none can be had."""
        standby = self._standby
        if standby is None:
            return await self._cascaded()
        if self.pipeline == "live":
            return await standby.take()
        if standby.ready:
            if self._live_down:
                self._live_down = False
                self._telling.pending = False
                _LOGGER.info("%sGemini Live can be used again; answering through Live", self._prefix)
            return await standby.take()
        if not standby.down and not self._live_down:
            opening = asyncio.create_task(standby.take(), name=f"live-open-{self._label}")
            await asyncio.wait([opening], timeout=self._live_wait_s)
            if opening.done():
                try:
                    return opening.result()
                except LiveError as err:
                    if err.cause in REFUSED_EVERYWHERE:
                        _LOGGER.warning(
                            "%sGemini Live refused the credentials (%s); the cascaded path would use the same "
                            "ones, so there is no fallback",
                            self._prefix,
                            err,
                        )
                        raise
                    reason = f"{err} (cause {err.cause})"
            else:
                self._abandon(opening)
                reason = f"no Live session could be set up within {self._live_wait_s:g} s"
        else:
            standby.touch()  # keep trying Live in the background
            reason = "it is still unavailable"
        if not self._live_down:
            _LOGGER.warning(
                "%sGemini Live cannot be used: %s; answering through Gemini text and speech (cascaded)",
                self._prefix,
                reason,
            )
            self._telling.pending = True
            if not self._warm:
                standby.start()  # find out, in the background, when Live is back
        else:
            _LOGGER.info("%sGemini Live: %s; answering through the cascaded path", self._prefix, reason)
        self._live_down = True
        return await self._cascaded(self._telling)

    async def _cascaded(self, telling: FallbackTelling | None = None) -> CascadedSession:
        session = CascadedSession(
            self._credentials,
            self._options,
            self._tools,
            text_model=self._text_model,
            tts_model=self._tts_model,
            label=self._label,
            tell_fallback=telling or False,
        )
        await session.open()
        return session

    def _abandon(self, opening: asyncio.Task[VoiceSession]) -> None:
        """Let a Live session that came too late finish opening in the background, then close it.

        Cancelling it would wait for its half-open connection to close; the turn is already answered
        by the cascaded path.
        """
        self._late.spawn(self._close_once_open(opening), name=f"live-late-{self._label}")

    @staticmethod
    async def _close_once_open(opening: asyncio.Task[VoiceSession]) -> None:
        try:
            session = await opening  # cancelling this task cancels the opening too
        except LiveError:
            return
        await session.close()

    async def close(self) -> None:
        """Close the warm Live session, if any, and any session still opening."""
        await self._late.cancel_all()
        if self._standby is not None:
            await self._standby.close()
