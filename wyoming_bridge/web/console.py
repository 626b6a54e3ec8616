"""One browser of the web voice console: its messages in, the session's events out (docs/web-console.md).

A :class:`ConsoleConnection` is made once the browser's ``hello`` was accepted (:mod:`.server` checks the
password). With the bridge transport it holds one conversation (a :class:`~..voice_session.VoiceSession`
from the configured pipeline) across turns until the browser clears it: microphone audio is resampled to
16 kHz (soxr) and sent on (in automatic mode the end of the user's speech is told at once, as for satellites:
:class:`~gemini_live_engine.end_of_speech.EndOfSpeech`), and the session's events go back as JSON and 24 kHz
PCM. With the direct
transport the browser talks to Gemini Live itself; the bridge mints its ephemeral tokens and runs the
tool calls the browser forwards, so the long-lived key and the tools stay here.

Bad input (malformed JSON, an unknown message, odd audio) is answered with an ``error`` message and the
connection stays open.
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
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias, cast

from aiohttp import WSMsgType, web

from gemini_live_engine import defaults
from gemini_live_engine.audio import GEMINI_INPUT, AudioFormat, Converter
from gemini_live_engine.end_of_speech import EndOfSpeech
from gemini_live_engine.errors import LiveError
from gemini_live_engine.events import (
    AudioOut,
    InputTranscript,
    Interrupted,
    Notice,
    OutputTranscript,
    SessionError,
    SessionEvent,
    ToolCallFinished,
    ToolCallStarted,
    TurnComplete,
)
from gemini_live_engine.live.tokens import TokenMinter
from gemini_live_engine.options import LiveOptions
from gemini_live_engine.pipeline import Pipeline
from gemini_live_engine.tasks import BackgroundTasks
from gemini_live_engine.tools import ToolExecutor, run_tool
from gemini_live_engine.voice_session import SessionSource, VoiceSession

_LOGGER = logging.getLogger(__name__)

Mode: TypeAlias = Literal["push_to_talk", "auto"]
MODES: Final[tuple[Mode, ...]] = ("push_to_talk", "auto")
OUTPUT_RATE: Final = 24000
MIN_RATE: Final = 8000
MAX_RATE: Final = 96000
# Microphone audio goes to the session in pieces of at least 60 ms: a send costs about the same for 20 ms as
# for 60 ms (the SDK's message building dominates), and 40 ms more delay is far below a turn's latency.
SEND_BYTES: Final = int(GEMINI_INPUT.bytes_per_second * 0.06)
_turn_ids = itertools.count(1)
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,4}$")  # BCP 47, as browsers give it


class BadMessage(Exception):
    """A message the console protocol does not allow; ``code`` names it for the browser."""

    def __init__(self, message: str, code: str = "bad_message") -> None:
        super().__init__(message)
        self.code = code


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


@dataclass(frozen=True)
class ConsoleContext:
    """What every console connection shares: the bridge's pipeline, options, tools and token minter."""

    pipeline: Pipeline
    live_options: LiveOptions
    tools: ToolExecutor
    sessions: Callable[[str, LiveOptions], SessionSource]  # label, options → a started source
    minter: TokenMinter | None  # set in direct mode
    # A console silent this long loses its session (the next turn opens a new one).
    idle_close_s: float = defaults.IDLE_CLOSE_S
    # Automatic mode: quiet after the user's speech that ends the turn at once (audioStreamEnd); 0: Gemini decides.
    end_of_speech_ms: int = defaults.END_OF_SPEECH_MS

    def options_for(self, mode: Mode) -> LiveOptions:
        """Push to talk marks the user's speech itself (activityStart/End); automatic mode uses Gemini's VAD."""
        return dataclasses.replace(self.live_options, vad_disabled=mode == "push_to_talk")


class ConsoleConnection:
    """Drives one browser's conversation (see the module docstring)."""

    def __init__(self, ws: web.WebSocketResponse, context: ConsoleContext, label: str, hello: Hello) -> None:
        self._ws = ws
        self._context = context
        self.label = label
        self._mode: Mode = hello.mode
        self._language = hello.language
        self._direct = context.minter is not None
        self._mic = Converter(AudioFormat(hello.rate, 2, 1), GEMINI_INPUT)
        self._mic_pending = bytearray()  # 16 kHz audio not sent yet (see SEND_BYTES)
        self._end_of_speech = EndOfSpeech(context.end_of_speech_ms) if context.end_of_speech_ms > 0 else None
        self._source: SessionSource | None = None
        self._session: VoiceSession | None = None
        self._pump: asyncio.Task[None] | None = None
        self._talking = False  # push to talk: between start and stop
        self._listening = False  # automatic mode: the browser streams its microphone
        self._turn: int | None = None
        self._turn_started = 0.0
        self._first_audio = False
        self._user_text = ""
        self._tool_tasks = BackgroundTasks()

    # ------------------------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Serve the browser until it goes away."""
        _LOGGER.info(
            "[%s] console connected (%s transport, %s, pipeline %s, browser language %s)",
            self.label,
            "direct" if self._direct else "bridge",
            self._mode.replace("_", " "),
            self._context.pipeline,
            self._language or "unknown",
        )
        await self._send(
            {
                "type": "ready",
                "transport": "direct" if self._direct else "bridge",
                "pipeline": self._context.pipeline,
                "output_rate": OUTPUT_RATE,
                "session": self.label,
            }
        )
        if not self._direct:
            self._source = self._context.sessions(self.label, self._context.options_for(self._mode))
        try:
            while True:
                try:
                    message = await self._ws.receive(timeout=self._context.idle_close_s)
                except TimeoutError:
                    await self._idle()
                    continue
                if message.type == WSMsgType.BINARY:
                    await self._guarded(self._on_audio, message.data)
                elif message.type == WSMsgType.TEXT:
                    await self._guarded(self._on_text_frame, message.data)
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

    async def _guarded(self, handler: Callable[[Any], Any], payload: Any) -> None:
        try:
            await handler(payload)
        except BadMessage as err:
            _LOGGER.info("[%s] console: %s (%s)", self.label, err, err.code)
            await self._send({"type": "error", "code": err.code, "message": str(err)})
        except Exception as err:  # one failed message must not end the browser's connection
            _LOGGER.exception("[%s] console: failed to handle a message", self.label)
            await self._send({"type": "error", "code": "internal", "message": f"{type(err).__name__}: {err}"})

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

    # ------------------------------------------------------------------------------------- messages

    async def _on_text_frame(self, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError as err:
            raise BadMessage(f"not JSON: {err}") from None
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
        _LOGGER.info("[%s] console mode: %s (a new conversation)", self.label, self._mode.replace("_", " "))
        await self._end_session()
        if self._source is not None:
            await self._source.close()
            self._source = self._context.sessions(self.label, self._context.options_for(self._mode))
        await self._state("idle")

    async def _on_clear(self) -> None:
        _LOGGER.info("[%s] console cleared the history", self.label)
        await self._end_session()
        await self._send({"type": "cleared"})
        await self._state("idle")

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
        self._begin_turn("push to talk")
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
        self._log_turn("end of speech (button released)")
        await self._state("thinking")

    async def _on_typed(self, text: str) -> None:
        session = await self._ensure_session("typed text")
        if session is None:
            return
        self._begin_turn("typed text")
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
            self._listening = True
            if self._session is None or self._turn is None:
                session = await self._ensure_session("automatic")
                if session is None:
                    return
                if self._turn is None:
                    self._begin_turn("automatic")
        self._mic_pending += self._mic.convert(data)
        if len(self._mic_pending) >= SEND_BYTES:
            await self._flush_mic()

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
        assert self._source is not None
        await self._state("connecting")
        try:
            session = await self._source.take()
        except LiveError as err:
            _LOGGER.warning("[%s] console: no session can be opened: %s", self.label, err)
            await self._send({"type": "error", "code": "unavailable", "message": f"Gemini cannot be used: {err}"})
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
        self._turn = None
        if pump is not None and pump is not asyncio.current_task():
            pump.cancel()
        try:
            if session is not None:
                await session.close()
        finally:
            if pump is not None and pump is not asyncio.current_task():
                await asyncio.gather(pump, return_exceptions=True)

    def _replying(self) -> bool:
        return self._turn is not None and self._first_audio

    def _begin_turn(self, trigger: str) -> None:
        self._turn = next(_turn_ids)
        self._turn_started = time.monotonic()
        self._first_audio = False
        self._user_text = ""
        self._log_turn(f"turn started ({trigger})")

    def _log_turn(self, message: str) -> None:
        _LOGGER.info("[%s turn %s] %s", self.label, self._turn if self._turn is not None else "-", message)

    async def _forward(self, session: VoiceSession) -> None:
        """The session's events to the browser, until the session ends."""
        async for event in session.events():
            await self._on_event(event)
        if self._session is session:  # it ended on its own (a fatal error): the next turn opens a new one
            self._session = None
            self._turn = None

    async def _on_event(self, event: SessionEvent) -> None:
        if isinstance(event, AudioOut):
            if not self._first_audio:
                self._first_audio = True
                self._log_turn(f"first reply audio after {(time.monotonic() - self._turn_started) * 1000:.0f} ms")
                await self._state("speaking")
            if not self._ws.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await self._ws.send_bytes(event.pcm)
        elif isinstance(event, InputTranscript):
            self._user_text += event.text
            await self._send({"type": "transcript", "role": "user", "text": event.text, "final": event.finished})
            if event.finished:
                self._log_turn(f"user said {self._user_text.strip()!r}")
                if self._mode == "auto":
                    await self._state("thinking")
        elif isinstance(event, OutputTranscript):
            await self._send({"type": "transcript", "role": "model", "text": event.text, "final": False})
        elif isinstance(event, Interrupted):
            self._log_turn("interrupted by the user")
            self._first_audio = False
            await self._send({"type": "interrupted"})
        elif isinstance(event, ToolCallStarted):
            self._log_turn(f"tool call {event.name}")
            await self._send({"type": "tool", "name": event.name, "status": "started"})
        elif isinstance(event, ToolCallFinished):
            status = "failed" if event.error or event.cancelled else "finished"
            await self._send({"type": "tool", "name": event.name, "status": status})
        elif isinstance(event, Notice):
            await self._send({"type": "notice", "text": event.text})
        elif isinstance(event, TurnComplete):
            self._log_turn("turn complete")
            self._turn = None
            self._first_audio = False
            await self._send({"type": "turn_complete"})
            await self._state("listening" if self._mode == "auto" and self._listening else "idle")
        elif isinstance(event, SessionError):
            await self._send(
                {"type": "error", "code": "unavailable" if event.fatal else "session", "message": event.message}
            )
            if event.fatal:
                self._log_turn(f"session ended: {event.message}")
                await self._state("idle")

    # ---------------------------------------------------------------------------------- direct mode

    async def _on_token(self) -> None:
        minter = self._context.minter
        assert minter is not None
        options = self._context.options_for(self._mode)
        try:
            token = await minter.mint(options, self._context.tools.declarations())
        except LiveError as err:
            _LOGGER.warning("[%s] console: no ephemeral token: %s", self.label, err)
            await self._send({"type": "error", "code": "token_failed", "message": f"no token: {err}"})
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
        for call in calls:
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                raise BadMessage("each call needs a name")
        self._tool_tasks.spawn(self._run_tools(calls), name=f"console-tools-{self.label}")

    async def _run_tools(self, calls: list[dict[str, Any]]) -> None:
        responses = await asyncio.gather(*(self._run_tool(call) for call in calls))
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
