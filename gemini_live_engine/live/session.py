"""One Gemini Live session: audio and text in; audio, transcripts and tool calls out, across connections.

A session outlives its connections (:class:`~.link.Link`). It is in one of these states:

``new`` → ``connecting`` (:meth:`LiveSession.open`: connect + ``setupComplete``, retrying what can be
retried) → ``open`` ⇄ ``reconnecting`` → ``closed``.

It moves to ``reconnecting`` when

* the service sends ``goAway``: as soon as the session is resumable (the model is not answering and no
  tool call runs, and the service has sent a handle since), or at the latest ``renew_before_go_away_s``
  before the connection ends, even mid-answer (then the answer is cut: ``Interrupted``);
* the connection drops or fails with a retryable error (1006, 1011, 5xx on connect, network):
  at once the first time, then with jittered exponential backoff, ``max_retries`` times in a row at most
  (a completed turn or a connection that lived a minute resets the count), then a fatal ``SessionError``.

A refusal that concerns every session on the same credentials (quota: 429 on connect or 1011 with the quota
text; credentials refused) is not retried here: it goes to the shared :class:`~..budget.ConnectBudget`,
which makes background attempts wait, and the session ends with a ``SessionError`` naming it.

Reconnecting resumes with the latest resumption handle and replays the user's input the handle does not
cover (:mod:`.replay`), followed by what the user said while no connection was up, so nothing is lost.
Errors that cannot be retried (1007, 1008: credentials, model, invalid setup) end the session with a
``SessionError`` naming the cause (and :meth:`LiveSession.open` raises :class:`~.errors.LiveError`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Final, Literal, TypeAlias

import websockets
from google.genai import types

from .. import redact
from ..backoff import Backoff
from ..budget import budget_for
from ..credentials import Credentials
from ..errors import LiveError, SessionFailed, classify
from ..events import (
    AnswerCut,
    AudioOut,
    EventChannel,
    GenerationComplete,
    InputTranscript,
    Interrupted,
    OutputTranscript,
    Reconnected,
    SessionError,
    SessionEvent,
    TurnComplete,
)
from ..options import INPUT_RATE, LiveOptions
from ..tools import ToolExecutor
from .link import Link, Lost, Received
from .replay import InputKind, ReplayBuffer
from .tool_calls import ToolCalls

_LOGGER = logging.getLogger(__name__)

HEALTHY_CONNECTION_S: Final = 60.0  # a connection that lived this long clears the count of failures
GO_AWAY_DEFAULT_LEFT_S: Final = 10.0  # when a goAway does not say how long is left

SessionState: TypeAlias = Literal["new", "connecting", "open", "reconnecting", "closed"]

_SEND_ERRORS = (websockets.ConnectionClosed, ConnectionResetError)


class LiveSession:
    """A Gemini Live session for one conversation partner (a satellite); see the module docstring."""

    def __init__(
        self,
        credentials: Credentials,
        options: LiveOptions,
        tools: ToolExecutor | None = None,
        *,
        label: str = "",
        quiet: bool = False,
    ) -> None:
        """``label`` names the session in log lines; ``quiet`` logs :meth:`open`'s attempts at debug level."""
        redact.install()
        self.label = label
        self._credentials = credentials
        self._options = options
        self._tools = tools
        self._quiet = quiet
        self._prefix = f"[{label}] " if label else ""
        self._state: SessionState = "new"
        self._channel = EventChannel()
        self._link: Link | None = None
        self._links = 0
        self._runner: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()
        self._replay = ReplayBuffer(int(options.replay_max_s * INPUT_RATE * 2), options.replay_overlap_s)
        self._tool_calls = ToolCalls(tools, options.tool_timeout_s, self._emit, self._respond, self._prefix)
        self._handle: str | None = None
        self._resumable = False  # the service sent a handle since the model last did anything
        self._turn_active = False
        self._go_away_deadline: float | None = None
        self._last_turn_complete_at = float("-inf")
        self._backoff = Backoff(options.backoff_initial_s, options.backoff_max_s)  # failed connections in a row
        self._budget = budget_for(credentials, options)
        self._opened_at: float | None = None

    # ------------------------------------------------------------------------------------------- state

    @property
    def state(self) -> SessionState:
        """Where the session is in its life (see the module docstring)."""
        return self._state

    @property
    def is_open(self) -> bool:
        """Set up and usable (input given while it reconnects is delivered afterwards)."""
        return self._state in ("open", "reconnecting")

    @property
    def closed(self) -> bool:
        """Closed for good (by :meth:`close` or a fatal error)."""
        return self._state == "closed"

    @property
    def age_s(self) -> float:
        """Seconds since the session was opened (0 before)."""
        return 0.0 if self._opened_at is None else time.monotonic() - self._opened_at

    @property
    def connection_age_s(self) -> float:
        """Seconds since the current connection was set up (0 without one)."""
        link = self._link
        return 0.0 if link is None or not link.connected_at else time.monotonic() - link.connected_at

    @property
    def turn_active(self) -> bool:
        """The model is answering (from its first reply or tool call until ``turnComplete``)."""
        return self._turn_active

    # ------------------------------------------------------------------------------------------ public

    async def open(self) -> None:
        """Connect and set up, retrying retryable failures; raises :class:`LiveError` when it cannot."""
        if self._state != "new":
            raise RuntimeError("a LiveSession is opened once")
        self._state = "connecting"
        try:
            link = await self._connect_with_retries(None)
        except BaseException:
            self._state = "closed"
            self._channel.end()
            raise
        if self.closed:  # close() was called while connecting
            await link.close()
            raise LiveError("closed", "the session was closed while it was opening")
        self._backoff.reset()
        self._quiet = False  # quiet only while opening: later reconnects are worth a warning
        self._link = link
        self._opened_at = time.monotonic()
        try:
            await self._flush(link)  # input given while connecting
        except BaseException:  # cancelled (the standby closing, a satellite gone): the connection is closed too
            await self.close()
            raise
        self._runner = asyncio.create_task(self._run(), name=f"live-session-{self.label}")

    async def send_audio(self, pcm16k: bytes) -> None:
        """Send microphone audio: 16-bit little-endian mono PCM at 16 kHz, any chunk size."""
        if len(pcm16k) % 2:
            raise ValueError("16-bit PCM must have an even number of bytes")
        if pcm16k:
            await self._input("audio", audio=pcm16k)

    async def send_text(self, text: str) -> None:
        """Send typed text as a user turn."""
        await self._input("text", text=text)

    async def add_model_context(self, text: str) -> None:
        """Something the assistant said outside the session (an announcement): context, not a new turn."""
        await self._input("model_context", text=text)

    async def end_audio_stream(self) -> None:
        """The microphone paused: the service flushes its activity detection (nothing to do with manual VAD)."""
        if not self._options.vad_disabled:
            await self._input("audio_stream_end")

    async def activity_start(self) -> None:
        """The user started speaking (only with ``vad_disabled``)."""
        self._require_manual_vad()
        await self._input("activity_start")

    async def activity_end(self) -> None:
        """The user stopped speaking (only with ``vad_disabled``)."""
        self._require_manual_vad()
        await self._input("activity_end")

    def events(self) -> AsyncIterator[SessionEvent]:
        """The session's events until it closes; a fatal error is the last one. One consumer at a time."""
        return self._channel.stream()

    async def wait_closed(self) -> None:
        """Return once the session is closed."""
        await self._channel.wait_closed()

    async def close(self) -> None:
        """Close the session and its connection; running tool calls are cancelled."""
        if self._state == "closed" and self._runner is None:
            return
        self._state = "closed"
        runner, self._runner = self._runner, None
        if runner is not None and runner is not asyncio.current_task() and not runner.done():
            runner.cancel()
            await asyncio.wait([runner])
        await self._shut_down()
        _LOGGER.info("%sLive session closed after %.1f s", self._prefix, self.age_s)

    # ------------------------------------------------------------------------------------------- input

    def _require_manual_vad(self) -> None:
        if not self._options.vad_disabled:
            raise ValueError("activity_start/activity_end need LiveOptions(vad_disabled=True)")

    async def _input(self, kind: InputKind, *, audio: bytes = b"", text: str = "") -> None:
        """Keep the input for replay and send it now, or later when no connection is up."""
        if self._state == "closed":
            return
        item = self._replay.add(kind, time.monotonic(), audio=audio, text=text)
        if self._state != "open":
            return
        async with self._send_lock:
            link = self._link
            if self._state != "open" or link is None:
                return  # a reconnect began meanwhile: its replay delivers the input
            # A send fails when the connection is gone: the receiving side reports why, the replay resends it.
            with contextlib.suppress(*_SEND_ERRORS):
                await link.send(item)

    async def _flush(self, link: Link) -> bool:
        """Send the replay buffer to a new connection (in order, including input that arrives meanwhile)."""
        async with self._send_lock:
            seq = -1
            while (item := self._replay.after(seq)) is not None:
                item.sent_at = time.monotonic()
                try:
                    await link.send(item)
                except _SEND_ERRORS:
                    return False  # the new connection is gone already: the next reconnect replays it all
                seq = item.seq
            self._state = "open"
        return True

    async def _respond(self, link: Link, response: types.FunctionResponse) -> None:
        """Send a tool response on the connection its call came from, if that is still the current one."""
        if link is not self._link or self._state != "open":
            _LOGGER.debug("%sDropping the response to %s: its connection is gone", self._prefix, response.id)
            return
        try:
            await link.send_tool_response(response)
        except _SEND_ERRORS:
            _LOGGER.debug("%sCould not send the response to %s: connection closed", self._prefix, response.id)

    # ---------------------------------------------------------------------------------------- connect

    async def _connect_with_retries(self, handle: str | None) -> Link:
        """Connect; retry retryable failures with jittered exponential backoff while failures allow."""
        while True:
            try:
                return await self._connect(handle)
            except LiveError as err:
                if self._budget.refused(err) or not err.retryable:
                    raise
                if self._backoff.failures >= self._options.max_retries:
                    raise
                delay = self._backoff.failed()
                level = logging.DEBUG if self._quiet else logging.WARNING
                _LOGGER.log(
                    level,
                    "%sConnecting to Gemini Live failed: %s; retry %d of %d in %.2f s",
                    self._prefix,
                    err,
                    self._backoff.failures,
                    self._options.max_retries,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _connect(self, handle: str | None) -> Link:
        """One connection attempt: credentials, setup, ``setupComplete``."""
        self._links += 1
        link = Link(self._links)
        options = self._options
        started = time.monotonic()
        _LOGGER.log(
            logging.DEBUG if self._quiet else logging.INFO,
            "%sConnecting to Gemini Live at %s (%s, model %s)%s",
            self._prefix,
            options.base_url or "Google",
            self._credentials.describe(),
            options.model,
            ", resuming" if handle else "",
        )
        try:
            client = await self._credentials.client(options)
            declarations = self._tools.declarations() if self._tools is not None else []
            await link.open(
                client, options.model, options.connect_config(declarations, handle), options.connect_timeout_s
            )
        except Exception as err:
            error = classify(err)
            level = logging.DEBUG if self._quiet else logging.WARNING
            _LOGGER.log(
                level, "%sLive connection failed: %s (cause %s, code %s)", self._prefix, error, error.cause, error.code
            )
            if error is err:
                raise
            raise error from err
        _LOGGER.info(
            "%sLive setup complete in %.0f ms (connection %d, %s)",
            self._prefix,
            (time.monotonic() - started) * 1000,
            link.number,
            "resumed" if handle else "new session",
        )
        return link

    # ------------------------------------------------------------------------------------- main loop

    async def _run(self) -> None:
        """Take each connection's messages in order; reconnect when it goes away."""
        try:
            while True:
                link = self._link
                assert link is not None
                item = await self._next(link)
                if item is None:
                    await self._reconnect("goAway: the model was still busy at the deadline", forced=True)
                elif isinstance(item, Lost):
                    await self._recover(link, item.error)
                else:
                    self._handle_message(link, item)
                    if self._go_away_deadline is not None and self._resumable_now():
                        await self._reconnect("goAway")
        except SessionFailed as fatal:
            await self._fail(fatal.error)
        except Exception as err:
            _LOGGER.exception("%sLive session failed unexpectedly", self._prefix)
            await self._fail(LiveError("unexpected", f"unexpected error: {type(err).__name__}: {err}"))

    async def _next(self, link: Link) -> Received | Lost | None:
        """The connection's next message; None when the goAway deadline passes first."""
        deadline = self._go_away_deadline
        if deadline is None:
            return await link.receive()
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                return await link.receive()  # cancelling it at the deadline loses no message
        except TimeoutError:
            return None

    def _resumable_now(self) -> bool:
        if self._turn_active or self._tool_calls.running:
            return False
        return self._resumable or not self._options.session_resumption

    async def _recover(self, link: Link, error: LiveError) -> None:
        """A connection was lost: reconnect if the error allows and failures remain."""
        if time.monotonic() - link.connected_at >= HEALTHY_CONNECTION_S:
            self._backoff.reset()
            self._budget.healthy()
        if self._budget.refused(error) or not error.retryable or self._backoff.failures >= self._options.max_retries:
            raise SessionFailed(error)
        first = self._backoff.failures == 0
        delay = self._backoff.failed()
        if not first:  # the first reconnect is at once; a connection that keeps failing is retried ever slower
            _LOGGER.info("%sReconnecting in %.2f s", self._prefix, delay)
            await asyncio.sleep(delay)
        _LOGGER.warning(
            "%sLive connection lost: %s (cause %s, code %s); reconnecting (%d of %d)",
            self._prefix,
            error,
            error.cause,
            error.code,
            self._backoff.failures,
            self._options.max_retries,
        )
        await self._reconnect(f"{error.cause}: {error}")

    async def _reconnect(self, reason: str, *, forced: bool = False) -> None:
        """Move to a new connection: resume with the latest handle and replay what it does not cover."""
        old = self._link
        self._state = "reconnecting"
        self._go_away_deadline = None
        self._resumable = False
        if forced:
            _LOGGER.warning("%sReconnecting before the connection ends; the answer in progress is cut", self._prefix)
        await self._tool_calls.cancel_all()
        if self._turn_active:
            self._turn_active = False
            self._emit(AnswerCut())
        if old is not None:
            await old.close()
        handle = self._handle if self._options.session_resumption else None
        while True:
            try:
                link = await self._connect_with_retries(handle)
                break
            except LiveError as err:
                if handle is not None and err.cause == "invalid_argument":
                    _LOGGER.warning(
                        "%sThe service refused to resume the session (%s); starting anew", self._prefix, err
                    )
                    message = "the conversation could not be resumed; it continues in a new session"
                    self._emit(SessionError(message, fatal=False, cause="resume_refused"))
                    self._handle = handle = None
                    continue
                raise SessionFailed(err) from err
        self._link = link
        replay_s = self._replay.audio_bytes / (INPUT_RATE * 2)
        if await self._flush(link):
            _LOGGER.info(
                "%sReconnected (%s): %s, %.2f s of audio replayed",
                self._prefix,
                reason,
                "resumed" if handle else "new session",
                replay_s,
            )
            self._emit(Reconnected(reason, replay_s))

    async def _fail(self, error: LiveError) -> None:
        _LOGGER.error("%sLive session ended: %s (cause %s, code %s)", self._prefix, error, error.cause, error.code)
        self._state = "closed"
        self._runner = None
        if self._turn_active:
            self._turn_active = False
            self._emit(AnswerCut())
        self._emit(SessionError(str(error), fatal=True, cause=error.cause))
        await self._shut_down()

    async def _shut_down(self) -> None:
        await self._tool_calls.cancel_all()
        link, self._link = self._link, None
        if link is not None:
            await link.close()
        self._channel.end()

    def _emit(self, event: SessionEvent) -> None:
        self._channel.emit(event)

    # -------------------------------------------------------------------------------------- messages

    def _handle_message(self, link: Link, received: Received) -> None:
        message = received.message
        if message.session_resumption_update is not None:
            self._on_resumption_update(message.session_resumption_update, received.at)
        if message.go_away is not None:
            self._on_go_away(message.go_away)
        if message.tool_call is not None:
            self._model_active()
            for call in message.tool_call.function_calls or []:
                self._tool_calls.start(link, call)
        if message.tool_call_cancellation is not None:
            ids = message.tool_call_cancellation.ids or []
            _LOGGER.info("%sThe model cancelled tool call(s) %s", self._prefix, ", ".join(ids))
            self._tool_calls.cancel(ids)
        if message.server_content is not None:
            self._on_content(message.server_content, received.at)
        if message.usage_metadata is not None:
            usage = message.usage_metadata
            _LOGGER.debug(
                "%sTokens: prompt %s, response %s, total %s",
                self._prefix,
                usage.prompt_token_count,
                usage.response_token_count,
                usage.total_token_count,
            )

    def _model_active(self) -> None:
        self._turn_active = True
        self._resumable = False

    def _on_resumption_update(self, update: types.LiveServerSessionResumptionUpdate, at: float) -> None:
        if update.resumable and update.new_handle:
            self._handle = update.new_handle
            self._resumable = True
            self._replay.covered(at, self._last_turn_complete_at)
        elif update.resumable is False:
            self._resumable = False

    def _on_go_away(self, go_away: types.LiveServerGoAway) -> None:
        left = _duration_s(go_away.time_left)
        self._go_away_deadline = time.monotonic() + max(0.0, left - self._options.renew_before_go_away_s)
        _LOGGER.info(
            "%sgoAway: the connection ends in %.1f s; reconnecting %s",
            self._prefix,
            left,
            "now" if self._resumable_now() else "once the model is done",
        )

    def _on_content(self, content: types.LiveServerContent, at: float) -> None:
        heard = content.input_transcription
        if heard is not None and (heard.text or heard.finished):
            self._emit(InputTranscript(heard.text or "", bool(heard.finished)))
        if content.interrupted:
            self._resumable = False
            _LOGGER.info("%sThe model was interrupted", self._prefix)
            self._emit(Interrupted())
        said = content.output_transcription
        if said is not None and said.text:
            self._model_active()
            self._emit(OutputTranscript(said.text))
        if content.model_turn is not None:
            for part in content.model_turn.parts or []:
                blob = part.inline_data
                if blob is not None and blob.data and (blob.mime_type or "").startswith("audio/"):
                    self._model_active()
                    self._emit(AudioOut(blob.data))
        if content.generation_complete:
            self._emit(GenerationComplete())
        if content.turn_complete:
            self._turn_active = False
            self._resumable = False
            self._backoff.reset()
            self._budget.healthy()
            self._last_turn_complete_at = at
            if not self._options.session_resumption:
                self._replay.covered(at, at)  # a new session would start after this turn
            reason = content.turn_complete_reason
            reason_name = reason.value if isinstance(reason, types.TurnCompleteReason) else reason
            waiting = bool(content.waiting_for_input)
            _LOGGER.info(
                "%sTurn complete%s%s",
                self._prefix,
                f" ({reason_name})" if reason_name else "",
                ", waiting for input" if waiting else "",
            )
            self._emit(TurnComplete(waiting, reason_name))


def _duration_s(value: str | None) -> float:
    """A ``google.protobuf.Duration`` string (``"50s"``, ``"0.500s"``) in seconds."""
    if not value:
        return GO_AWAY_DEFAULT_LEFT_S
    try:
        return float(value.strip().removesuffix("s"))
    except ValueError:
        return GO_AWAY_DEFAULT_LEFT_S
