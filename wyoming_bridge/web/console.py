"""One browser of the web voice console: its messages in, the session's events out (docs/web-console.md).

A :class:`ConsoleConnection` is made once the browser's ``hello`` was accepted (:mod:`.server` checks the
host, the origin and the password). With the bridge transport it holds one conversation across turns until
the browser clears it: microphone audio is resampled to 16 kHz (soxr) and sent on, and the session's events
go back as JSON and 24 kHz PCM; in automatic mode the end of the user's speech is told at once, as for
satellites (:class:`~gemini_live_engine.end_of_speech.EndOfSpeech`). The conversation's session (a
:class:`~gemini_live_engine.voice_session.VoiceSession` from the configured pipeline, in the browser's
language) is opened when the browser first needs it, of the kind its mode needs (push to talk marks the
speech itself; automatic mode lets Gemini's activity detection end each turn), and it is the only one the
console holds: at most
:class:`~.limits.SessionSlots` ``limit`` consoles hold one at a time.

With a spoken name (``--wake-phrase``) a spoken turn counts only when the user's transcription starts with
it, as on satellites: until that is known the reply is held back and tool calls wait; when it does not,
nothing is played, no tool runs and the session is discarded (the next turn opens a new one). Typed text is
addressed to the assistant by being typed.

With the direct transport the browser talks to Gemini Live itself; the bridge mints its ephemeral tokens
(at a bounded rate per console and per address) and runs the tool calls the browser forwards (a bounded
number per message), so the long-lived key and the tools stay here.

Bad input (an unknown message, odd audio) is answered with an ``error`` message and the connection stays
open; a frame that is not JSON at all closes it. Errors carry a ``code`` (and a ``cause``) the page words in
its own language; ``message`` is the English detail, also in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias, cast

from aiohttp import WSCloseCode, WSMsgType, web

from gemini_live_engine import defaults
from gemini_live_engine.audio import GEMINI_INPUT, AudioFormat, Converter
from gemini_live_engine.end_of_speech import EndOfSpeech
from gemini_live_engine.errors import LiveError
from gemini_live_engine.events import (
    AnswerCut,
    AudioOut,
    InputTranscript,
    Interrupted,
    Notice,
    OutputTranscript,
    Reconnected,
    SessionError,
    SessionEvent,
    ToolCallFinished,
    ToolCallStarted,
    TurnComplete,
)
from gemini_live_engine.live.tokens import TokenMinter
from gemini_live_engine.options import LiveOptions
from gemini_live_engine.pipeline import REFUSED_EVERYWHERE, Pipeline
from gemini_live_engine.tasks import BackgroundTasks
from gemini_live_engine.tools import ToolExecutor, run_tool
from gemini_live_engine.vad import Vad
from gemini_live_engine.voice_session import SessionSource, VoiceSession

from ..satellites.turn import GatedTools
from ..satellites.wake import SpokenNameMatcher
from .limits import RateLimit, RateLimits, SessionSlots

_LOGGER = logging.getLogger(__name__)

Mode: TypeAlias = Literal["push_to_talk", "auto"]
MODES: Final[tuple[Mode, ...]] = ("push_to_talk", "auto")
OUTPUT_RATE: Final = 24000
MIN_RATE: Final = 8000
MAX_RATE: Final = 96000
# Microphone audio goes to the session in pieces of at least 60 ms: a send costs about the same for 20 ms as
# for 60 ms (the SDK's message building dominates), and 40 ms more delay is far below a turn's latency.
SEND_BYTES: Final = int(GEMINI_INPUT.bytes_per_second * 0.06)
DEFAULT_MAX_SESSIONS: Final = 4  # consoles holding a Gemini session at once (--web-max-sessions)
MAX_CALLS_PER_MESSAGE: Final = 16  # tool calls one tool_call message may carry (Gemini sends a handful at most)
MAX_RUNNING_CALLS: Final = 32  # tool calls of one console running at once
TOKENS_PER_CONSOLE: Final = (3, 1 / 20)  # direct mode: a burst of 3 ephemeral tokens, then one per 20 s
TOKENS_PER_ADDRESS: Final = (10, 1 / 10)  # and from one address, whatever its consoles: 10, then one per 10 s
CLOSE_NOT_JSON: Final = WSCloseCode.INVALID_TEXT  # 1007: a text frame that is not JSON
_VAD_FRAME: Final = 320  # 10 ms at 16 kHz
_VAD_SPEECH: Final = 0.5
_turn_ids = itertools.count(1)
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,4}$")  # BCP 47, as browsers give it
_REFUSED_CREDENTIALS: Final = REFUSED_EVERYWHERE | {"auth_refused", "auth_api_key_on_vertex"}


class BadMessage(Exception):
    """A message the console protocol does not allow; ``code`` names it for the browser."""

    def __init__(self, message: str, code: str = "bad_message") -> None:
        super().__init__(message)
        self.code = code


class NotJson(BadMessage):
    """A text frame that is not JSON at all: the connection is closed."""


@dataclass(frozen=True)
class Hello:
    """The browser's first message."""

    mode: Mode
    rate: int
    language: str | None
    password: str | None = dataclasses.field(repr=False)


def parse_hello(data: Any) -> Hello:
    """Validate a ``hello`` message (raises :class:`BadMessage`)."""
    if not isinstance(data, dict) or data.get("type") != "hello":
        raise BadMessage("the first message must be hello")
    mode = data.get("mode", "push_to_talk")
    if mode not in MODES:
        raise BadMessage(f"mode must be one of {', '.join(MODES)}")
    rate = data.get("rate", 16000)
    if not isinstance(rate, int) or isinstance(rate, bool) or not MIN_RATE <= rate <= MAX_RATE:
        raise BadMessage(f"rate must be a whole number of Hz from {MIN_RATE} to {MAX_RATE}", "bad_audio")
    language = data.get("language")
    password = data.get("password")
    return Hello(
        mode=cast(Mode, mode),
        rate=rate,
        language=language if isinstance(language, str) and _LANGUAGE_TAG.match(language) else None,
        password=password if isinstance(password, str) else None,
    )


def error_code(error: LiveError) -> str:
    """The console's error code for a session that cannot be had or ended: ``credentials`` or ``unavailable``."""
    return "credentials" if error.cause in _REFUSED_CREDENTIALS else "unavailable"


@dataclass(frozen=True)
class ConsoleContext:
    """What every console connection shares: the bridge's pipeline, options, tools and token minter."""

    pipeline: Pipeline
    live_options: LiveOptions
    tools: ToolExecutor
    # label, options, tools → a source that opens a session when one is taken (nothing kept warm)
    sessions: Callable[[str, LiveOptions, ToolExecutor], SessionSource]
    minter: TokenMinter | None  # set in direct mode
    # A console silent this long loses its session (the next turn opens a new one).
    idle_close_s: float = defaults.IDLE_CLOSE_S
    wake_phrase: str | None = None  # spoken turns must start with it (bridge transport only)
    # Why the bridge's own credentials cannot work, as found at start (None: fine, or not known).
    credentials_problem: Callable[[], LiveError | None] = lambda: None
    # Automatic mode: quiet after the user's speech that ends the turn at once (audioStreamEnd); 0: Gemini decides.
    end_of_speech_ms: int = defaults.END_OF_SPEECH_MS

    def options_for(self, mode: Mode, language: str | None = None) -> LiveOptions:
        """Push to talk marks the user's speech itself (activityStart/End); automatic mode uses Gemini's VAD.

        ``language``: the browser's (its page's) language, which the session speaks; else the bridge's own.
        """
        return dataclasses.replace(
            self.live_options, vad_disabled=mode == "push_to_talk", language=language or self.live_options.language
        )


@dataclass
class ConsoleLimits:
    """What the server's consoles share: the session slots, and the token bucket of each client address."""

    sessions: SessionSlots
    tokens_per_address: RateLimits = field(default_factory=lambda: RateLimits(*TOKENS_PER_ADDRESS))


@dataclass
class _Turn:
    """One turn of the conversation, for the log and the spoken-name check."""

    number: int
    trigger: str
    started_at: float = field(default_factory=time.monotonic)
    speech_ended_at: float | None = None  # the button released, or the last speech heard (automatic mode)
    first_audio: bool = False
    user_text: str = ""
    reply_text: str = ""
    addressed: asyncio.Future[bool] | None = None  # spoken-name mode: decided once the transcript shows it
    held: list[SessionEvent] = field(default_factory=list)  # events held back until then

    @property
    def undecided(self) -> bool:
        return self.addressed is not None and not self.addressed.done()


class ConsoleConnection:
    """Drives one browser's conversation (see the module docstring)."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        context: ConsoleContext,
        label: str,
        hello: Hello,
        *,
        address: str = "?",
        limits: ConsoleLimits | None = None,
    ) -> None:
        self._ws = ws
        self._context = context
        self.label = label
        self._address = address
        self._limits = limits or ConsoleLimits(SessionSlots(DEFAULT_MAX_SESSIONS))
        self._mode: Mode = hello.mode
        self._language = hello.language
        self._direct = context.minter is not None
        self._mic = Converter(AudioFormat(hello.rate, 2, 1), GEMINI_INPUT)
        self._mic_pending = bytearray()  # 16 kHz audio not sent yet (see SEND_BYTES)
        self._vad = Vad()  # automatic mode: when the user stopped speaking (for the latency in the log)
        self._vad_pending = b""
        self._matcher = SpokenNameMatcher(context.wake_phrase) if context.wake_phrase and not self._direct else None
        self._tools: ToolExecutor = (
            GatedTools(context.tools, self._wait_addressed) if self._matcher is not None else context.tools
        )
        self._end_of_speech = EndOfSpeech(context.end_of_speech_ms) if context.end_of_speech_ms > 0 else None
        self._source: SessionSource | None = None
        self._session: VoiceSession | None = None
        self._pump: asyncio.Task[None] | None = None
        self._talking = False  # push to talk: between start and stop
        self._listening = False  # automatic mode: the browser streams its microphone
        self._turn: _Turn | None = None
        self._addressed: asyncio.Future[bool] | None = None  # the latest turn's spoken-name decision
        self._last_active = time.monotonic()
        self._tool_tasks = BackgroundTasks()
        self._running_calls = 0
        self._tokens = RateLimit(*TOKENS_PER_CONSOLE)

    # ------------------------------------------------------------------------------------ lifecycle

    @property
    def in_turn(self) -> bool:
        """In the middle of a turn (its session must not be taken away for another console)."""
        return self._turn is not None or self._talking

    @property
    def last_active(self) -> float:
        """When the browser last sent something."""
        return self._last_active

    async def run(self) -> None:
        """Serve the browser until it goes away."""
        _LOGGER.info(
            "[%s] console connected (%s transport, %s, pipeline %s, language %s%s)",
            self.label,
            "direct" if self._direct else "bridge",
            self._mode.replace("_", " "),
            self._context.pipeline,
            self._session_language() or "from the speech",
            f", spoken name {self._context.wake_phrase!r}" if self._matcher is not None else "",
        )
        await self._send(
            {
                "type": "ready",
                "transport": "direct" if self._direct else "bridge",
                "pipeline": self._context.pipeline,
                "output_rate": OUTPUT_RATE,
                "session": self.label,
                "language": self._session_language(),
                "wake_phrase": self._context.wake_phrase if self._matcher is not None else None,
            }
        )
        problem = self._context.credentials_problem()
        if problem is not None:
            await self._send_unavailable(problem)
        try:
            while True:
                try:
                    message = await self._ws.receive(timeout=self._context.idle_close_s)
                except TimeoutError:
                    await self._idle()
                    continue
                self._last_active = time.monotonic()
                if message.type == WSMsgType.BINARY:
                    await self._guarded(self._on_audio, message.data)
                elif message.type == WSMsgType.TEXT:
                    if not await self._guarded(self._on_text_frame, message.data):
                        break
                elif message.type == WSMsgType.ERROR:
                    _LOGGER.info("[%s] console connection failed: %s", self.label, self._ws.exception())
                    break
                else:  # closing or closed
                    break
        finally:
            await self._shut_down()
            _LOGGER.info("[%s] console disconnected", self.label)

    async def _idle(self) -> None:
        """Nothing from the browser for a long while (it may be gone): release the conversation's session."""
        if self._session is not None and self._turn is None:  # never in the middle of an answer
            _LOGGER.info("[%s] console idle for %.0f s: closing its session", self.label, self._context.idle_close_s)
            await self._end_session()
            await self._send({"type": "cleared"})
            await self._state("idle")

    async def give_up_session(self) -> None:
        """Another console needs the session slot this idle one holds: its conversation ends."""
        if self._session is None:
            return
        _LOGGER.info("[%s] console: its session is closed to make room for another console", self.label)
        await self._end_session()
        await self._send({"type": "cleared", "reason": "busy"})
        await self._state("idle")

    async def _guarded(self, handler: Callable[[Any], Any], payload: Any) -> bool:
        """Handle one message; False when the connection must close (a frame that is not JSON)."""
        try:
            await handler(payload)
        except NotJson as err:
            _LOGGER.warning("[%s] console: %s; closing the connection", self.label, err)
            await self._send({"type": "error", "code": err.code, "message": str(err)})
            await self._ws.close(code=CLOSE_NOT_JSON, message=b"not JSON")
            return False
        except BadMessage as err:
            _LOGGER.info("[%s] console: %s (%s)", self.label, err, err.code)
            await self._send({"type": "error", "code": err.code, "message": str(err)})
        except Exception as err:  # one failed message must not end the browser's connection
            _LOGGER.exception("[%s] console: failed to handle a message", self.label)
            await self._send({"type": "error", "code": "internal", "message": f"{type(err).__name__}: {err}"})
        return True

    async def _shut_down(self) -> None:
        await self._tool_tasks.cancel_all()
        await self._end_session()
        if self._source is not None:
            await self._source.close()
            self._source = None

    async def _send(self, message: dict[str, Any]) -> None:
        if not self._ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._ws.send_str(json.dumps(message, ensure_ascii=False))

    async def _state(self, state: str) -> None:
        await self._send({"type": "state", "state": state})

    async def _send_unavailable(self, error: LiveError) -> None:
        """A session cannot be had: the page words it by ``code`` and ``cause`` in its own language."""
        await self._send({"type": "error", "code": error_code(error), "cause": error.cause, "message": str(error)})

    def _session_language(self) -> str | None:
        return self._language or self._context.live_options.language

    # ------------------------------------------------------------------------------------- messages

    async def _on_text_frame(self, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError as err:
            raise NotJson(f"not JSON: {err}") from None
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise BadMessage("a message is a JSON object with a type")
        kind = data["type"]
        if kind in ("token", "tool_call"):
            if not self._direct:
                raise BadMessage(f"{kind} is only used in direct mode", "not_direct")
            await (self._on_token() if kind == "token" else self._on_tool_call(data))
            return
        if kind == "mode":
            await self._on_mode(data.get("mode"))
            return
        if kind == "clear":
            await self._on_clear()
            return
        if self._direct and kind in ("start", "stop", "text"):
            raise BadMessage(f"in direct mode the browser sends {kind} to Gemini itself", "not_direct")
        if kind == "start":
            await self._on_start()
        elif kind == "stop":
            await self._on_stop()
        elif kind == "text":
            value = data.get("text")
            if not isinstance(value, str) or not value.strip():
                raise BadMessage("text needs a non-empty text")
            await self._on_typed(value.strip())
        else:
            raise BadMessage(f"unknown message type {kind!r}")

    async def _on_mode(self, mode: Any) -> None:
        if mode not in MODES:
            raise BadMessage(f"mode must be one of {', '.join(MODES)}")
        if mode == self._mode:
            return
        self._mode = cast(Mode, mode)
        self._listening = False
        _LOGGER.info("[%s] console mode: %s (a new conversation)", self.label, self._mode.replace("_", " "))
        await self._end_session()
        if self._source is not None:  # the next session is set up for the new mode
            await self._source.close()
            self._source = None
        await self._state("idle")

    async def _on_clear(self) -> None:
        _LOGGER.info("[%s] console cleared the history", self.label)
        await self._end_session()
        await self._send({"type": "cleared"})
        await self._state("listening" if self._mode == "auto" and self._listening else "idle")

    async def _on_start(self) -> None:
        if self._mode == "auto":
            self._listening = True
            await self._state("listening")
            return
        session = await self._ensure_session("push to talk")
        if session is None:
            return
        if self._replying():
            await self._send({"type": "interrupted"})  # the user talks over the reply
        self._talking = True
        self._begin_turn("push to talk", spoken=True)
        with contextlib.suppress(ValueError):
            await session.activity_start()
        await self._state("listening")

    async def _on_stop(self) -> None:
        await self._flush_mic()
        if self._mode == "auto":
            self._listening = False
            if self._session is not None:
                await self._session.end_audio_stream()
            await self._state("idle")
            return
        if not self._talking:
            return
        self._talking = False
        if self._session is not None:
            with contextlib.suppress(ValueError):
                await self._session.activity_end()
        if self._turn is not None:
            self._turn.speech_ended_at = time.monotonic()
        self._log_turn("end of speech (button released)")
        await self._state("thinking")

    async def _on_typed(self, text: str) -> None:
        session = await self._ensure_session("typed text")
        if session is None:
            return
        self._begin_turn("typed text", spoken=False)
        assert self._turn is not None
        self._turn.speech_ended_at = time.monotonic()
        await self._send({"type": "transcript", "role": "user", "text": text, "final": True})
        await session.send_text(text)
        await self._state("thinking")

    async def _on_audio(self, data: bytes) -> None:
        if self._direct:
            raise BadMessage("in direct mode the browser sends its audio to Gemini itself", "not_direct")
        if len(data) % 2:
            raise BadMessage("audio is 16-bit PCM: an even number of bytes", "bad_audio")
        if self._mode == "push_to_talk" and not self._talking:
            return  # the button is not held: nothing to say
        if self._mode == "auto":
            if not self._listening:
                return
            if self._session is None or self._turn is None:
                session = await self._ensure_session("automatic")
                if session is None:
                    self._listening = False
                    return
                if self._turn is None:
                    self._begin_turn("automatic", spoken=True)
        pcm = self._mic.convert(data)
        if self._mode == "auto":
            self._note_speech(pcm)
        self._mic_pending += pcm
        if len(self._mic_pending) >= SEND_BYTES:
            await self._flush_mic()

    def _note_speech(self, pcm: bytes) -> None:
        """Automatic mode: remember when speech was last heard (the end of speech the log counts from)."""
        data = self._vad_pending + pcm
        whole = len(data) - len(data) % _VAD_FRAME
        self._vad_pending = data[whole:]
        for start in range(0, whole, _VAD_FRAME):
            if self._vad.process_10ms(data[start : start + _VAD_FRAME]) >= _VAD_SPEECH and self._turn is not None:
                self._turn.speech_ended_at = time.monotonic()

    async def _flush_mic(self) -> None:
        """Send the microphone audio gathered so far (browsers send 20 ms frames; Gemini gets ≥60 ms pieces)."""
        pcm, self._mic_pending = bytes(self._mic_pending), bytearray()
        if self._session is not None and pcm:
            await self._session.send_audio(pcm)
            if self._mode == "auto" and self._end_of_speech is not None and self._end_of_speech.process(pcm):
                self._log_turn(f"end of speech ({self._end_of_speech.silence_ms} ms of quiet)")
                await self._session.end_audio_stream()

    # ------------------------------------------------------------------------------------- sessions

    async def _ensure_session(self, why: str) -> VoiceSession | None:
        if self._session is not None and not self._session.closed:
            return self._session
        problem = self._context.credentials_problem()
        if problem is not None:
            _LOGGER.warning("[%s] console: no session: %s", self.label, problem)
            await self._send_unavailable(problem)
            await self._state("idle")
            return None
        if not await self._limits.sessions.acquire(self):
            _LOGGER.warning(
                "[%s] console: no session: %d consoles are in a conversation already",
                self.label,
                self._limits.sessions.limit,
            )
            await self._send({"type": "error", "code": "busy", "message": "too many consoles are talking at once"})
            await self._state("idle")
            return None
        if self._source is None:
            self._source = self._context.sessions(
                self.label, self._context.options_for(self._mode, self._language), self._tools
            )
        await self._state("connecting")
        try:
            session = await self._source.take()
        except LiveError as err:
            self._limits.sessions.release(self)
            _LOGGER.warning("[%s] console: no session can be opened: %s (cause %s)", self.label, err, err.cause)
            await self._send_unavailable(err)
            await self._state("idle")
            return None
        _LOGGER.info("[%s] console session ready (%s)", self.label, why)
        self._session = session
        self._pump = asyncio.create_task(self._forward(session), name=f"console-{self.label}")
        return session

    async def _end_session(self) -> None:
        session, self._session = self._session, None
        pump, self._pump = self._pump, None
        self._talking = False
        self._mic_pending = bytearray()
        turn, self._turn = self._turn, None
        if turn is not None and turn.addressed is not None and not turn.addressed.done():
            turn.addressed.set_result(False)  # tools waiting on the name give up
        self._limits.sessions.release(self)
        if pump is not None and pump is not asyncio.current_task():
            pump.cancel()
        try:
            if session is not None:
                await session.close()
        finally:
            if pump is not None and pump is not asyncio.current_task():
                await asyncio.gather(pump, return_exceptions=True)

    def _replying(self) -> bool:
        return self._turn is not None and self._turn.first_audio

    def _begin_turn(self, trigger: str, *, spoken: bool) -> None:
        addressed = asyncio.get_running_loop().create_future() if spoken and self._matcher is not None else None
        # Kept past the turn's end: a tool call of a discarded turn that starts late must still be refused.
        self._addressed = addressed
        self._turn = _Turn(next(_turn_ids), trigger, addressed=addressed)
        self._log_turn(f"turn started ({trigger})")

    def _log_turn(self, message: str) -> None:
        _LOGGER.info("[%s turn %s] %s", self.label, self._turn.number if self._turn is not None else "-", message)

    async def _wait_addressed(self) -> bool:
        """For tool calls: True unless the latest spoken turn waits on the spoken name, or it was not said."""
        addressed = self._addressed
        return True if addressed is None else await asyncio.shield(addressed)

    async def _forward(self, session: VoiceSession) -> None:
        """The session's events to the browser, until the session ends."""
        async for event in session.events():
            turn = self._turn
            if turn is not None and turn.undecided:
                if isinstance(event, InputTranscript):
                    await self._on_event(event)
                    if not await self._check_addressed(turn, finished=event.finished):
                        return
                elif isinstance(event, TurnComplete | SessionError):
                    turn.held.append(event)
                    if not await self._check_addressed(turn, finished=True):
                        return
                else:
                    turn.held.append(event)
                continue
            await self._on_event(event)
        if self._session is session:  # it ended on its own (a fatal error): the next turn opens a new one
            self._session = None
            self._turn = None
            self._limits.sessions.release(self)

    async def _check_addressed(self, turn: _Turn, *, finished: bool) -> bool:
        """Spoken-name mode: decide once the transcript shows (or cannot show) the name; False when discarded."""
        assert self._matcher is not None
        assert turn.addressed is not None
        if self._matcher.matches(turn.user_text):
            turn.addressed.set_result(True)
            self._log_turn(f"spoken name {self._context.wake_phrase!r} heard")
            held, turn.held = turn.held, []
            for event in held:
                await self._on_event(event)
            return True
        if not finished and not self._matcher.ruled_out(turn.user_text):
            return True
        turn.addressed.set_result(False)
        turn.held.clear()
        self._log_turn(
            f"not addressed by the spoken name {self._context.wake_phrase!r} (user {turn.user_text.strip()!r}): "
            "nothing played, no tool run, the session discarded"
        )
        await self._end_session()
        await self._send({"type": "not_addressed", "wake_phrase": self._context.wake_phrase})
        await self._state("listening" if self._mode == "auto" and self._listening else "idle")
        return False

    async def _on_event(self, event: SessionEvent) -> None:
        turn = self._turn
        if isinstance(event, AudioOut):
            if turn is not None and not turn.first_audio:
                turn.first_audio = True
                if turn.speech_ended_at is not None:
                    waited = (time.monotonic() - turn.speech_ended_at) * 1000
                    self._log_turn(f"first reply audio {waited:.0f} ms after the end of speech")
                else:
                    self._log_turn("first reply audio")
                await self._state("speaking")
            if not self._ws.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await self._ws.send_bytes(event.pcm)
        elif isinstance(event, InputTranscript):
            if turn is not None:
                turn.user_text += event.text
            await self._send({"type": "transcript", "role": "user", "text": event.text, "final": event.finished})
            if event.finished:
                self._log_turn(f"user said {turn.user_text.strip() if turn is not None else event.text!r}")
                if self._mode == "auto":
                    await self._state("thinking")
        elif isinstance(event, OutputTranscript):
            if turn is not None:
                turn.reply_text += event.text
            await self._send({"type": "transcript", "role": "model", "text": event.text, "final": False})
        elif isinstance(event, AnswerCut):
            # The connection moved mid-answer (not a barge-in): the model answers again from the replayed input.
            self._log_turn("the answer was cut by a reconnect; the model answers again")
            if turn is not None:
                turn.reply_text = ""
                turn.first_audio = False
            await self._send({"type": "answer_cut"})
        elif isinstance(event, Reconnected):
            self._log_turn(f"Live session reconnected ({event.reason}; {event.replayed_s:.2f} s of audio replayed)")
            if event.replayed_s > 0 and turn is not None and turn.user_text:
                turn.user_text = ""  # transcribed again from the replay
                await self._send({"type": "utterance_replayed"})
        elif isinstance(event, Interrupted):
            self._log_turn("interrupted by the user")
            if turn is not None:
                turn.first_audio = False
            await self._send({"type": "interrupted"})
        elif isinstance(event, ToolCallStarted):
            self._log_turn(f"tool call {event.name}")
            await self._send({"type": "tool", "name": event.name, "status": "started"})
        elif isinstance(event, ToolCallFinished):
            status = "failed" if event.error or event.cancelled else "finished"
            await self._send({"type": "tool", "name": event.name, "status": status})
        elif isinstance(event, Notice):
            self._log_turn(f"notice: {event.text}")
            await self._send({"type": "notice", "text": event.text})
        elif isinstance(event, TurnComplete):
            if turn is not None:
                self._log_turn(f"turn complete (user {turn.user_text.strip()!r}, reply {turn.reply_text.strip()!r})")
            self._turn = None
            await self._send({"type": "turn_complete"})
            await self._state("listening" if self._mode == "auto" and self._listening else "idle")
        elif isinstance(event, SessionError):
            if event.fatal:
                self._log_turn(f"session ended: {event.message}")
                code = error_code(LiveError(event.cause or "unavailable", event.message))
                await self._send({"type": "error", "code": code, "cause": event.cause, "message": event.message})
                await self._state("idle")
            else:
                await self._send({"type": "error", "code": "session", "cause": event.cause, "message": event.message})

    # ---------------------------------------------------------------------------------- direct mode

    async def _on_token(self) -> None:
        minter = self._context.minter
        assert minter is not None
        if not self._tokens.take() or not self._limits.tokens_per_address.take(self._address):
            _LOGGER.warning(
                "[%s] console: ephemeral token refused: too many asked for (from %s)", self.label, self._address
            )
            await self._send({"type": "error", "code": "slow_down", "message": "too many tokens asked for; wait"})
            return
        options = self._context.options_for(self._mode, self._language)
        try:
            token = await minter.mint(options, self._context.tools.declarations())
        except LiveError as err:
            _LOGGER.warning("[%s] console: no ephemeral token: %s", self.label, err)
            await self._send(
                {"type": "error", "code": "token_failed", "cause": err.cause, "message": f"no token: {err}"}
            )
            return
        _LOGGER.info("[%s] console: ephemeral token handed to the browser (%s)", self.label, self._mode)
        await self._send(
            {
                "type": "token",
                "url": token.url,
                "token": token.token,
                "setup": {"model": token.model},
                "expire_time": token.expire_time,
            }
        )

    async def _on_tool_call(self, data: dict[str, Any]) -> None:
        calls = data.get("calls")
        if not isinstance(calls, list) or not calls:
            raise BadMessage("tool_call needs a list of calls")
        if len(calls) > MAX_CALLS_PER_MESSAGE:
            raise BadMessage(f"a tool_call message carries at most {MAX_CALLS_PER_MESSAGE} calls")
        for call in calls:
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                raise BadMessage("each call needs a name")
        if self._running_calls + len(calls) > MAX_RUNNING_CALLS:
            raise BadMessage(f"at most {MAX_RUNNING_CALLS} tool calls run at once", "slow_down")
        self._running_calls += len(calls)
        self._tool_tasks.spawn(self._run_tools(calls), name=f"console-tools-{self.label}")

    async def _run_tools(self, calls: list[dict[str, Any]]) -> None:
        try:
            responses = await asyncio.gather(*(self._run_tool(call) for call in calls))
        finally:
            self._running_calls -= len(calls)
        await self._send({"type": "tool_result", "responses": list(responses)})

    async def _run_tool(self, call: dict[str, Any]) -> dict[str, Any]:
        call_id = str(call.get("id", ""))
        name = str(call["name"])
        args = call.get("args") if isinstance(call.get("args"), dict) else {}
        assert isinstance(args, dict)
        _LOGGER.info("[%s] console tool call %s(%s)", self.label, name, args)
        timeout_s = self._context.live_options.tool_timeout_s
        outcome = await run_tool(
            self._context.tools, call_id, name, args, timeout_s=timeout_s, log_prefix=f"[{self.label}] "
        )
        await self._send({"type": "tool", "name": name, "status": "failed" if outcome.error else "finished"})
        return {"id": call_id, "name": name, "response": outcome.response()}
