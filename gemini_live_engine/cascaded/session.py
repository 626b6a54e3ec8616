"""A conversation answered over Gemini's REST API when Gemini Live cannot be used: the cascaded fallback.

:class:`CascadedSession` is a :class:`~gemini_live_engine.voice_session.VoiceSession`, like
:class:`~gemini_live_engine.live.session.LiveSession`: 16 kHz audio and text in, the events of
:mod:`gemini_live_engine.events` out. Each user turn takes three requests (:mod:`.requests`):

1. the utterance is transcribed by a Gemini text model (``InputTranscript``);
2. the text model answers, with the session's tools (``ToolCallStarted``/``ToolCallFinished`` for each call,
   then ``OutputTranscript`` with the answer);
3. a Gemini TTS model speaks the answer (``AudioOut``, 24 kHz, streamed), then ``GenerationComplete`` and
   ``TurnComplete`` (waiting for input when the answer is a question).

The end of an utterance is found here (:mod:`.endpointing`): with ``vad_disabled`` it is what arrives between
:meth:`~CascadedSession.activity_start` and :meth:`~CascadedSession.activity_end`; otherwise local VAD ends
it after speech followed by ``silence_duration_ms`` of silence (700 ms by default), or
:meth:`~CascadedSession.end_audio_stream` does. Audio without speech is dropped without a request. The
session is half duplex: audio that arrives while a turn is being answered is ignored; typed text waits for
its turn. The conversation is kept as text across turns (the user's words, function calls and results, the
answers), so each request carries the whole of it.

With ``tell_fallback`` (True, or a :class:`FallbackTelling` shared by the sessions of one conversation
partner) the next turn also tells the user that the fast path is down: a ``Notice`` event, and the same
sentence spoken before the answer, in Arabic when the user spoke Arabic. It counts as told once that turn
has been answered to the end: a turn whose session is closed before (a turn the front end discards, say,
because the user did not address the assistant by name) leaves the notice to the next turn, in whichever
session of the partner comes next. The Arabic notice keeps the Latin name in a Unicode isolate
(U+2068 … U+2069), so that it reads right to left wherever it is shown; it is spoken without them.

A failed request ends the session with a fatal ``SessionError`` naming the cause (quota, credentials,
model, network), the last event; :meth:`~CascadedSession.close` cancels a turn in progress.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

from google import genai
from google.genai import types

from .. import defaults
from ..credentials import Credentials
from ..errors import LiveError, SessionFailed, classify
from ..events import (
    AudioOut,
    EventChannel,
    GenerationComplete,
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
from ..options import INPUT_RATE, LiveOptions
from ..tools import ToolExecutor, run_tool
from . import requests
from .endpointing import Endpointer

_LOGGER = logging.getLogger(__name__)

DEFAULT_SILENCE_MS: Final = 700

FIRST_STRONG_ISOLATE: Final = "\u2068"
POP_DIRECTIONAL_ISOLATE: Final = "\u2069"
FALLBACK_NOTICES: Final = {
    "en": "Gemini Live is not available right now, so this answer comes a slower way.",
    "ar": f"{FIRST_STRONG_ISOLATE}Gemini Live{POP_DIRECTIONAL_ISOLATE}"
    " غير متاح الآن، لذلك تصل هذه الإجابة بطريقة أبطأ.",
}
"""What the user is told (and hears) once when ``tell_fallback`` is set, by language of what they said.

Latin names inside Arabic text sit in an isolate: the text's direction is then that of its first strong
character outside isolates (Unicode's rule P2, and HTML's ``dir="auto"``), Arabic.
"""

_ARABIC_LETTER: Final = re.compile(r"[\u0620-\u064a\u066e-\u06d3\u06fa-\u06ff\u0750-\u077f\u08a0-\u08ff]")
_QUESTION_MARKS: Final = ("?", "؟")

SessionState: TypeAlias = Literal["new", "open", "closed"]


def fallback_notice(transcript: str) -> str:
    """The notice in the user's language: Arabic when what they said has Arabic letters, else English."""
    return FALLBACK_NOTICES["ar" if _ARABIC_LETTER.search(transcript) else "en"]


def without_isolates(text: str) -> str:
    """``text`` without direction isolates (for speech)."""
    return text.replace(FIRST_STRONG_ISOLATE, "").replace(POP_DIRECTIONAL_ISOLATE, "")


class FallbackTelling:
    """Whether the user has yet to be told that answers come the slower way (see the module docstring).

    One per conversation partner, shared by its cascaded sessions: :class:`~..pipeline.PipelineSource`
    sets ``pending`` when an outage starts; the session whose turn carries the notice clears it once that
    turn is answered to the end.
    """

    def __init__(self, pending: bool = False) -> None:
        self.pending = pending


@dataclass(frozen=True, slots=True)
class _Utterance:
    """One user turn to answer: audio to transcribe, or typed text."""

    audio: bytes | None = None
    text: str = ""


class CascadedSession:
    """A conversation through Gemini text and Gemini speech over REST; see the module docstring."""

    def __init__(
        self,
        credentials: Credentials,
        options: LiveOptions,
        tools: ToolExecutor | None = None,
        *,
        text_model: str = defaults.TEXT_MODEL,
        tts_model: str = defaults.TTS_MODEL,
        label: str = "",
        tell_fallback: bool | FallbackTelling = False,
    ) -> None:
        """``options``: voice, language, system prompt, ``vad_disabled``, ``silence_duration_ms``, tool timeout,
        endpoint; ``label`` names the session in log lines; ``tell_fallback``: tell the user once that this is
        the slower path (True for this session alone, or the partner's shared :class:`FallbackTelling`).
        """
        self.label = label
        self.text_model = text_model
        self.tts_model = tts_model
        self._credentials = credentials
        self._options = options
        self._tools = tools
        self._telling = (
            tell_fallback if isinstance(tell_fallback, FallbackTelling) else FallbackTelling(pending=tell_fallback)
        )
        self._prefix = f"[{label}] " if label else ""
        self._state: SessionState = "new"
        self._channel = EventChannel()
        self._inbox: asyncio.Queue[_Utterance] = asyncio.Queue()
        self._pending = 0  # utterances queued or being answered
        self._worker: asyncio.Task[None] | None = None
        self._endpointer = Endpointer(
            auto_end=not options.vad_disabled, silence_ms=options.silence_duration_ms or DEFAULT_SILENCE_MS
        )
        self._capturing = False  # push to talk: between activity_start and activity_end
        self._history: list[types.Content] = []
        self._turns = 0
        self._calls = 0
        self._replying = False  # the model has produced something in the current turn
        self._opened_at: float | None = None

    # ------------------------------------------------------------------------------------------- state

    @property
    def state(self) -> SessionState:
        """``new`` → ``open`` (:meth:`open`) → ``closed`` (:meth:`close`, or a fatal error)."""
        return self._state

    @property
    def is_open(self) -> bool:
        """Opened and usable."""
        return self._state == "open"

    @property
    def closed(self) -> bool:
        """Closed for good."""
        return self._state == "closed"

    @property
    def turn_active(self) -> bool:
        """A user turn is waiting to be answered or being answered (audio is ignored meanwhile)."""
        return self._pending > 0

    @property
    def history(self) -> Sequence[types.Content]:
        """The conversation so far, as the next request would carry it."""
        return tuple(self._history)

    # ------------------------------------------------------------------------------------------ public

    async def open(self) -> None:
        """Get the SDK client, so that credentials that cannot work fail here (:class:`LiveError`)."""
        if self._state != "new":
            raise RuntimeError("a CascadedSession is opened once")
        try:
            await self._credentials.client(self._options)
        except Exception as err:
            error = classify(err)
            _LOGGER.warning("%sCascaded session could not start: %s (cause %s)", self._prefix, error, error.cause)
            self._state = "closed"
            self._channel.end()
            if error is err:
                raise
            raise error from err
        if self.closed:  # close() was called meanwhile
            raise LiveError("closed", "the session was closed while it was opening")
        self._state = "open"
        self._opened_at = time.monotonic()
        self._worker = asyncio.create_task(self._run(), name=f"cascaded-session-{self.label}")
        _LOGGER.info(
            "%sCascaded session ready at %s (%s, text model %s, speech model %s)",
            self._prefix,
            self._options.base_url or "Google",
            self._credentials.describe(),
            self.text_model,
            self.tts_model,
        )

    async def send_audio(self, pcm16k: bytes) -> None:
        """Microphone audio: 16-bit little-endian mono PCM at 16 kHz, any chunk size (ignored while answering)."""
        if len(pcm16k) % 2:
            raise ValueError("16-bit PCM must have an even number of bytes")
        if not pcm16k or self.closed or self._pending:
            return
        if self._options.vad_disabled and not self._capturing:
            return
        utterance = self._endpointer.process(pcm16k)
        if utterance is not None:
            self._capturing = False
            self._queue(_Utterance(audio=utterance))

    async def send_text(self, text: str) -> None:
        """A typed user turn (no transcription); answered after the turn in progress, if any."""
        if not self.closed and text.strip():
            self._queue(_Utterance(text=text.strip()))

    async def add_model_context(self, text: str) -> None:
        """Something the assistant said outside the session (an announcement): context for the next turn."""
        if not self.closed and text.strip():
            self._history.append(types.Content(role="model", parts=[types.Part(text=text.strip())]))

    async def end_audio_stream(self) -> None:
        """The microphone paused: what was heard so far is the utterance, if it holds speech."""
        if self._options.vad_disabled or self.closed or self._pending:
            return
        utterance = self._endpointer.finish()
        if utterance is not None:
            self._queue(_Utterance(audio=utterance))

    async def activity_start(self) -> None:
        """The user started speaking (push to talk, ``vad_disabled`` only); ignored while answering."""
        self._require_manual_vad()
        self._endpointer.reset()
        self._capturing = not self.closed and not self._pending

    async def activity_end(self) -> None:
        """The user stopped speaking (push to talk): the audio since :meth:`activity_start` is the utterance."""
        self._require_manual_vad()
        if not self._capturing:
            return
        self._capturing = False
        seconds = self._endpointer.seconds
        utterance = self._endpointer.finish()
        if utterance is None:
            _LOGGER.info("%sNo speech in %.2f s of push-to-talk audio; nothing sent", self._prefix, seconds)
            return
        if not self.closed and not self._pending:
            self._queue(_Utterance(audio=utterance))

    def events(self) -> AsyncIterator[SessionEvent]:
        """The session's events until it closes; a fatal error is the last one. One consumer at a time."""
        return self._channel.stream()

    async def wait_closed(self) -> None:
        """Return once the session is closed."""
        await self._channel.wait_closed()

    async def close(self) -> None:
        """Close the session: the turn in progress is cancelled (running tool calls too) and the events end."""
        if self._state == "closed" and self._worker is None:
            self._channel.end()
            return
        self._state = "closed"
        worker, self._worker = self._worker, None
        if worker is not None and worker is not asyncio.current_task() and not worker.done():
            worker.cancel()
            await asyncio.wait([worker])
        self._channel.end()
        age = 0.0 if self._opened_at is None else time.monotonic() - self._opened_at
        _LOGGER.info("%sCascaded session closed after %.1f s and %d turn(s)", self._prefix, age, self._turns)

    # ------------------------------------------------------------------------------------------- input

    def _require_manual_vad(self) -> None:
        if not self._options.vad_disabled:
            raise ValueError("activity_start/activity_end need LiveOptions(vad_disabled=True)")

    def _queue(self, utterance: _Utterance) -> None:
        self._pending += 1
        self._inbox.put_nowait(utterance)

    # -------------------------------------------------------------------------------------------- turns

    async def _run(self) -> None:
        """Answer the user's turns one after the other."""
        try:
            while not self.closed:
                utterance = await self._inbox.get()
                try:
                    await self._turn(utterance)
                finally:
                    self._pending -= 1
        except SessionFailed as fatal:
            self._fail(fatal.error)
        except Exception as err:
            _LOGGER.exception("%sCascaded session failed unexpectedly", self._prefix)
            self._fail(LiveError("unexpected", f"unexpected error: {type(err).__name__}: {err}"))

    async def _turn(self, utterance: _Utterance) -> None:
        self._turns += 1
        self._replying = False
        prefix = f"{self._prefix}cascaded turn {self._turns}: "
        started = time.monotonic()
        try:
            client = await self._credentials.client(self._options)
        except Exception as err:
            raise SessionFailed(classify(err)) from err
        if utterance.audio is not None:
            text = await self._transcribe(client, utterance.audio, prefix)
            if not text:
                _LOGGER.info("%sthe transcript is empty; nothing to answer", prefix)
                self._emit(TurnComplete())
                return
        else:
            text = utterance.text
            _LOGGER.info("%sthe user typed %r", prefix, text)
        notice = None
        if self._telling.pending:
            notice = fallback_notice(text)
            _LOGGER.info("%stelling the user that Gemini Live is not available", prefix)
            self._emit(Notice(notice))
        user = types.Content(role="user", parts=[types.Part.from_text(text=text)])
        answer = await self._answer(client, user, prefix)
        self._history += [user, *answer.contents]
        if answer.text:
            self._replying = True
            self._emit(OutputTranscript(answer.text))
        spoken = " ".join(without_isolates(piece) for piece in (notice, answer.text) if piece)
        if spoken:
            await self._speak(client, spoken, prefix)
        self._emit(GenerationComplete())
        waiting = answer.text.rstrip().endswith(_QUESTION_MARKS)
        _LOGGER.info(
            "%sturn complete in %.0f ms%s",
            prefix,
            (time.monotonic() - started) * 1000,
            ", waiting for input" if waiting else "",
        )
        self._emit(TurnComplete(waiting_for_input=waiting))
        if notice is not None:
            self._telling.pending = False  # answered to the end: the user heard it

    async def _transcribe(self, client: genai.Client, pcm16k: bytes, prefix: str) -> str:
        _LOGGER.info(
            "%ssending %.2f s of audio to Gemini (model %s) for transcription",
            prefix,
            len(pcm16k) / (2 * INPUT_RATE),
            self.text_model,
        )
        started = time.monotonic()
        try:
            text = await requests.transcribe(client, self.text_model, self._history, pcm16k, self._options.language)
        except Exception as err:
            raise SessionFailed(self._request_failed("transcription", err, prefix)) from err
        _LOGGER.info("%stranscript received in %.0f ms: %r", prefix, (time.monotonic() - started) * 1000, text)
        self._emit(InputTranscript(text, finished=True))
        return text

    async def _answer(self, client: genai.Client, user: types.Content, prefix: str) -> requests.Answer:
        _LOGGER.info("%ssending the request to Gemini (model %s)", prefix, self.text_model)
        started = time.monotonic()
        declarations = self._tools.declarations() if self._tools is not None else []

        async def run_calls(calls: Sequence[types.FunctionCall]) -> list[types.Part]:
            return await self._run_calls(calls, prefix)

        try:
            answer = await requests.answer(
                client,
                self.text_model,
                [*self._history, user],
                system_prompt=self._options.system_prompt,
                declarations=declarations,
                run_calls=run_calls,
                log_prefix=prefix,
            )
        except Exception as err:
            raise SessionFailed(self._request_failed("answer", err, prefix)) from err
        calls = answer.tool_calls
        _LOGGER.info(
            "%sanswer received in %.0f ms: %d characters, %d tool call%s",
            prefix,
            (time.monotonic() - started) * 1000,
            len(answer.text),
            calls,
            "" if calls == 1 else "s",
        )
        if not answer.text:
            _LOGGER.warning("%sthe answer is empty (finish reason %s)", prefix, answer.finish_reason)
        return answer

    async def _speak(self, client: genai.Client, text: str, prefix: str) -> None:
        voice = self._options.voice
        _LOGGER.info(
            "%sconverting the answer to speech (model %s, voice %s)", prefix, self.tts_model, voice or "default"
        )
        started = time.monotonic()
        try:
            speech = await requests.speak(
                client, self.tts_model, text, self._audio_out, voice=voice, language=self._options.language
            )
        except Exception as err:
            raise SessionFailed(self._request_failed("speech", err, prefix)) from err
        first = "" if speech.first_audio_s is None else f", the first after {speech.first_audio_s * 1000:.0f} ms"
        _LOGGER.info(
            "%sspeech: %d bytes, %.2f s of audio in %.0f ms%s",
            prefix,
            speech.byte_count,
            speech.seconds,
            (time.monotonic() - started) * 1000,
            first,
        )

    def _audio_out(self, pcm: bytes) -> None:
        self._replying = True
        self._emit(AudioOut(pcm))

    def _request_failed(self, step: str, err: Exception, prefix: str) -> LiveError:
        error = requests.rest_error(err)
        _LOGGER.warning("%sthe %s request failed: %s (cause %s, code %s)", prefix, step, error, error.cause, error.code)
        return error

    # -------------------------------------------------------------------------------------------- tools

    async def _run_calls(self, calls: Sequence[types.FunctionCall], prefix: str) -> list[types.Part]:
        """Run one round of function calls at once; a ``function_response`` part for each, in order."""
        responses = await asyncio.gather(*(self._call(call, prefix) for call in calls))
        return [
            types.Part(function_response=types.FunctionResponse(id=call.id, name=call.name, response=response))
            for call, response in zip(calls, responses, strict=True)
        ]

    async def _call(self, call: types.FunctionCall, prefix: str) -> dict[str, Any]:
        """Run one call with the tool timeout: ``{"output": result}`` or ``{"error": message}`` for the model."""
        self._calls += 1
        name = call.name or ""
        call_id = call.id or f"cascaded-call-{self._calls}"  # REST calls carry no ids
        args = dict(call.args or {})
        self._replying = True
        self._emit(ToolCallStarted(call_id, name, args))
        _LOGGER.info("%sTool call %s started (%s)", prefix, name, call_id)
        started = time.monotonic()
        try:
            outcome = await run_tool(
                self._tools, call_id, name, args, timeout_s=self._options.tool_timeout_s, log_prefix=prefix
            )
        except asyncio.CancelledError:
            _LOGGER.info("%sTool call %s (%s) cancelled", prefix, name, call_id)
            self._emit(ToolCallFinished(call_id, name, cancelled=True))
            raise
        outcome_text = "done" if outcome.error is None else f"failed: {outcome.error}"
        elapsed_ms = (time.monotonic() - started) * 1000
        _LOGGER.info("%sTool call %s (%s) %s in %.0f ms", prefix, name, call_id, outcome_text, elapsed_ms)
        self._emit(ToolCallFinished(call_id, name, outcome.result, outcome.error))
        return outcome.response()

    # ------------------------------------------------------------------------------------------- events

    def _fail(self, error: LiveError) -> None:
        _LOGGER.error("%sCascaded session ended: %s (cause %s, code %s)", self._prefix, error, error.cause, error.code)
        self._state = "closed"
        self._worker = None
        if self._replying:
            self._emit(Interrupted())
        self._emit(SessionError(str(error), fatal=True, cause=error.cause))
        self._channel.end()

    def _emit(self, event: SessionEvent) -> None:
        self._channel.emit(event)
