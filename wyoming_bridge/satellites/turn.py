"""One satellite's voice turns: wake → Live session → playback → end, as an explicit state machine.

States and transitions (``State``):

=============  ==========================================================  ==============================
state          what happens                                                leaves to
=============  ==========================================================  ==============================
IDLE           mic audio (always-streaming satellites) goes to the wake    STARTING on a wake word or on
               word detector (behind conversations' audio: wake_work.py);  the satellite's run-pipeline
               nothing reaches Gemini
STARTING       a ready Live session is taken from standby; the pre-roll    LISTENING
               and audio heard meanwhile are queued for it
LISTENING      mic audio → Gemini (16 kHz); the end of the user's speech   RESPONDING on reply audio;
               (the bridge's detector, or the satellite's audio-stop or    ENDING on a fatal error
               voice-stopped) is sent at once as audioStreamEnd, and
               Gemini's activity detection ends the user's turn
RESPONDING     reply audio → satellite (its snd_format, paced ≤200 ms      LISTENING on barge-in
               ahead); the mic is muted unless barge-in is enabled         (interrupted); FOLLOW_UP or
                                                                           ENDING once played
FOLLOW_UP      the model asked a question: listen without a wake word      LISTENING when the user
               for a few seconds                                           speaks; ENDING on timeout
ENDING         transcript + reply text to the satellite, session          IDLE
               released, wake words re-armed
=============  ==========================================================  ==============================

The end of speech (``--end-of-speech-ms``, :class:`~gemini_live_engine.end_of_speech.EndOfSpeech`) is judged on the
audio after the turn started (not on the pre-roll, which holds the wake word), while the user's audio reaches
Gemini: in STARTING (sent after the queued audio), LISTENING, FOLLOW_UP, and RESPONDING with barge-in.

Announcements from Home Assistant (:meth:`TurnController.announce`) play in IDLE and, for a conversation Home
Assistant starts, go on to FOLLOW_UP without a wake word. A muted satellite starts no turn.

With a spoken-name wake word (``--wake-phrase``), a turn only counts when the user's transcription starts
with the phrase: until that is known, reply audio is held back and tool calls wait; when it does not
match, the held audio is dropped, the tools never run and the session is discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeAlias

from google.genai import types
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Info
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.snd import Played
from wyoming.tts import Synthesize
from wyoming.vad import VoiceStopped
from wyoming.wake import Detection

from gemini_live_engine import defaults
from gemini_live_engine.audio import GEMINI_INPUT, GEMINI_OUTPUT, AudioFormat, Converter, mute
from gemini_live_engine.end_of_speech import EndOfSpeech
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
from gemini_live_engine.options import LiveOptions
from gemini_live_engine.tasks import BackgroundTasks
from gemini_live_engine.tools import ToolError, ToolExecutor
from gemini_live_engine.voice_session import SessionSource, VoiceSession

from . import events as satellite_events
from .connection import SatelliteConnection, SatelliteGone
from .events import BadEvent
from .playback import Playback
from .speech_gate import SpeechGate
from .wake import SpokenNameMatcher, WakeDetection, WakeWordDetector
from .wake_work import WakeWork

_LOGGER = logging.getLogger(__name__)

END_CONVERSATION_TOOL = "end_conversation"
INTERRUPTED_LISTEN_S = 8.0  # after a barge-in, how long to wait for the user's new request
_turn_ids = itertools.count(1)


class State(StrEnum):
    """Where a satellite is in a conversation."""

    IDLE = "idle"
    STARTING = "starting"
    LISTENING = "listening"
    RESPONDING = "responding"
    FOLLOW_UP = "follow_up"
    ENDING = "ending"


SessionSourceFactory: TypeAlias = Callable[[str, ToolExecutor | None], SessionSource]


class TurnObserver(Protocol):
    """Who follows a satellite's turns from outside (the link to Home Assistant)."""

    def satellite_changed(self, name: str, connected: bool, streams: bool) -> None:
        """The satellite connected or disconnected, or turned out to stream its microphone (bridge wake words)."""

    def state_changed(self, state: State, muted: bool) -> None:
        """The satellite's state changed."""

    def turn_started(self, log: TurnLog) -> None:
        """A turn began."""

    def heard(self, text: str) -> None:
        """A piece of the transcript of what the user said."""

    def turn_over(self, log: TurnLog) -> None:
        """A turn ended."""


@dataclass(frozen=True)
class SpokenAnnouncement:
    """What to say on the satellite outside a turn: recorded audio, or a text Gemini speaks itself."""

    text: str
    audio_format: AudioFormat | None  # None: Gemini says ``text`` (an instruction for the model)
    audio: asyncio.Queue[bytes | None] | None  # PCM in ``audio_format``, then None
    listen: bool  # afterwards, listen for the user without a wake word
    prompt: str | None = None  # context for that conversation


class SatelliteBusy(RuntimeError):
    """The satellite is in a conversation."""


class GatedTools:
    """Tools that run only once the user is known to have addressed the assistant (spoken-name mode)."""

    def __init__(self, inner: ToolExecutor, addressed: Callable[[], Awaitable[bool]]) -> None:
        self._inner = inner
        self._addressed = addressed

    def declarations(self) -> list[types.FunctionDeclaration]:
        """The inner executor's declarations."""
        return self._inner.declarations()

    async def call(self, call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Wait for the spoken-name decision; refuse when the user was not talking to the assistant."""
        if not await self._addressed():
            raise ToolError("the user was not talking to the assistant")
        return await self._inner.call(call_id, name, args)


@dataclass(frozen=True)
class TurnOptions:
    """How one satellite's turns behave."""

    wake_words: tuple[str, ...] = ("okay_nabu",)
    wake_refractory_s: float = 2.0
    wake_phrase: str | None = None
    preroll_s: float = 1.0
    barge_in: bool = False
    follow_up_s: float = 5.0
    playback_lead_s: float = 0.2
    played_timeout_s: float = 2.0  # extra wait for the satellite's "played" after the audio's own duration
    end_of_speech_ms: int = defaults.END_OF_SPEECH_MS  # quiet that ends the user's speech here; 0: Gemini decides


@dataclass
class TurnLog:
    """What one voice turn did (for logs, the demo and tests)."""

    turn_id: int
    trigger: str
    started_at: float = field(default_factory=time.monotonic)
    user_text: str = ""
    reply_text: str = ""
    tool_calls: list[str] = field(default_factory=list)
    first_reply_audio_at: float | None = None
    session_ready_at: float | None = None
    error: str | None = None
    accepted: bool = True


class TurnController:
    """Drives one satellite's conversations (a :class:`~.connection.SatelliteHandler`)."""

    def __init__(
        self,
        link: SatelliteConnection,
        sessions: SessionSourceFactory,
        options: TurnOptions,
        tools: ToolExecutor | None = None,
        on_turn_end: Callable[[TurnLog], Awaitable[None]] | None = None,
        *,
        observer: TurnObserver | None = None,
        wake_work: WakeWork | None = None,
    ) -> None:
        """``wake_work``: where idle audio waits for wake-word detection (one for the bridge; else its own)."""
        self._link = link
        self._observer = observer
        self._state = State.IDLE
        self._muted = False
        self._make_sessions = sessions
        self._options = options
        self._tools: ToolExecutor | None = tools
        if tools is not None and options.wake_phrase:
            self._tools = GatedTools(tools, self._wait_addressed)
        self._on_turn_end = on_turn_end
        self._sessions: SessionSource | None = None
        self._session: VoiceSession | None = None
        self._starter: asyncio.Task[None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._follow_up: asyncio.Task[None] | None = None
        self._follow_up_s = 0.0  # the window of listening without a wake word, and when it ends (loop time)
        self._follow_up_until = 0.0
        if options.wake_words:  # the detector itself is made once audio comes in IDLE (it holds ~0.13 MB)
            WakeWordDetector.check(options.wake_words, options.wake_refractory_s, options.preroll_s)
        self._wake: WakeWordDetector | None = None
        self._own_wake_work = wake_work is None
        self._wake_work = wake_work if wake_work is not None else WakeWork()
        self._end_of_speech = EndOfSpeech(options.end_of_speech_ms) if options.end_of_speech_ms > 0 else None
        self._matcher = SpokenNameMatcher(options.wake_phrase) if options.wake_phrase else None
        self._gate = SpeechGate() if options.wake_phrase else None
        self._mic: Converter | None = None
        self._mic_format: AudioFormat | None = None
        self._playback = Playback(link.write, lead_s=options.playback_lead_s, played_timeout_s=options.played_timeout_s)
        self._background = BackgroundTasks()  # held-back events replayed, a discarded turn being finished
        self._announcing = False
        self._bad_events: dict[tuple[str, str], int] = {}  # malformed events seen, per event type and field
        self._start_when_idle = False  # a run-pipeline came while the last turn was ending
        self._utterance_start = 0  # where the user's current utterance begins in the turn's transcript
        self._reply_start = 0  # where the model's current answer begins in the turn's reply text
        self._pending_audio: list[bytes | None] = []  # None: the end of the user's speech
        self._held: list[SessionEvent] = []  # reply held back until the spoken name is confirmed
        self._addressed: asyncio.Future[bool] | None = None
        self._end_requested = False
        self._interrupted = False
        self._streaming_satellite = False
        self.log: TurnLog | None = None
        self.turns: list[TurnLog] = []

    @property
    def state(self) -> State:
        """Where the satellite is in a conversation."""
        return self._state

    @state.setter
    def state(self, state: State) -> None:
        if state != self._state:
            self._state = state
            if self._observer is not None:
                self._observer.state_changed(state, self._muted)

    @property
    def muted(self) -> bool:
        """A muted satellite starts no turn (its wake word and run-pipeline are ignored)."""
        return self._muted

    def set_muted(self, muted: bool) -> None:
        """Mute or unmute the satellite."""
        if muted != self._muted:
            self._muted = muted
            _LOGGER.info("[%s] %s", self._link.name, "muted" if muted else "unmuted")
            if self._observer is not None:
                self._observer.state_changed(self._state, muted)

    def reconfigure(self, options: LiveOptions | None) -> None:
        """New session options or tools: the satellite's next session uses them."""
        if self._sessions is not None:
            self._sessions.reconfigure(options)

    # ------------------------------------------------------------------------------ satellite side

    async def connected(self, link: SatelliteConnection, info: Info) -> None:
        """A (re)connected satellite: prepare a warm session for its first wake word."""
        self._sessions = self._make_sessions(link.name, self._tools)
        if self._observer is not None:
            self._observer.satellite_changed(link.name, True, self._streaming_satellite)
        _LOGGER.info(
            "[%s] ready (wake words: %s%s)",
            link.name,
            ", ".join(self._options.wake_words) or "satellite's own",
            f"; spoken name {self._options.wake_phrase!r}" if self._options.wake_phrase else "",
        )

    async def disconnected(self) -> None:
        """The satellite left: end any turn and release the Live session (a half-finished turn is dropped)."""
        self._start_when_idle = False
        if self.state != State.IDLE:
            self._note("satellite disconnected mid-turn; releasing the Live session")
        await self._finish(send_events=False)
        self._wake_work.drop(self)
        if self._own_wake_work:
            await self._wake_work.close()
        await self._background.cancel_all()
        if self._sessions is not None:
            await self._sessions.close()
            self._sessions = None
        if self._observer is not None:
            self._observer.satellite_changed(self._link.name, False, self._streaming_satellite)

    async def handle_event(self, event: Event) -> None:
        """Events from the satellite; a malformed one is logged (naming its field) and skipped."""
        try:
            await self._dispatch(event)
        except BadEvent as bad:
            self._bad_events[bad.event_type, bad.field] = count = (
                self._bad_events.get((bad.event_type, bad.field), 0) + 1
            )
            if count == 1 or count % 1000 == 0:
                _LOGGER.warning("[%s] ignored a malformed event (%s; %d so far)", self._link.name, bad, count)

    async def _dispatch(self, event: Event) -> None:
        if AudioChunk.is_type(event.type):
            await self._on_mic(*satellite_events.audio_chunk(event))
        elif RunPipeline.is_type(event.type):
            await self._on_run_pipeline(event)
        elif Detection.is_type(event.type):
            detection = Detection.from_event(event)
            self._note(f"satellite detected wake word {detection.name}")
        elif Played.is_type(event.type):
            self._playback.played()
        elif AudioStop.is_type(event.type) or VoiceStopped.is_type(event.type):
            await self._on_satellite_end_of_speech(event.type)
        elif AudioStart.is_type(event.type):
            return
        else:
            _LOGGER.debug("[%s] ignoring %s", self._link.name, event.type)

    async def _on_run_pipeline(self, event: Event) -> None:
        start_stage, snd_format = satellite_events.run_pipeline(event)
        if snd_format is not None:
            self._playback.set_format(snd_format)
        if start_stage == PipelineStage.WAKE:
            if not self._streaming_satellite and self._observer is not None:
                self._observer.satellite_changed(self._link.name, True, True)
            self._streaming_satellite = True
            _LOGGER.info("[%s] streams its microphone; the bridge detects wake words", self._link.name)
        elif start_stage == PipelineStage.ASR and not self._muted:
            if self.state == State.IDLE:
                self._start_turn("satellite wake word")
            elif self.state == State.ENDING:
                self._start_when_idle = True  # the previous turn is being wrapped up: this one starts right after

    async def _on_mic(self, fmt: AudioFormat, audio: bytes) -> None:
        pcm = self._to_gemini(fmt, audio)
        if self.state == State.IDLE:
            if not self._muted and not self._announcing and (self._options.wake_words or self._gate is not None):
                self._wake_work.put(self, pcm)  # looked at behind conversations' audio: check_wake
        elif self.state == State.STARTING:
            self._heard_while_starting(pcm)
        elif self._session is not None:
            if self.state == State.RESPONDING and not self._options.barge_in:
                await self._send_audio(mute(pcm))
                return
            await self._send_audio(pcm)
            if self._speech_ended(pcm):
                await self._end_speech(f"{self._options.end_of_speech_ms} ms of quiet")
            elif self.state == State.FOLLOW_UP and self._end_of_speech is not None and self._end_of_speech.speaking:
                # The user is answering: the window runs from the last speech heard, not from the model's
                # question, so an answer begun near its end is not cut before its transcript comes back.
                self._follow_up_until = asyncio.get_running_loop().time() + self._follow_up_s

    def _heard_while_starting(self, pcm: bytes) -> None:
        """The turn's session is being readied: keep the audio (and where the speech ended) to send it after."""
        self._pending_audio.append(pcm)
        if self._speech_ended(pcm):
            self._pending_audio.append(None)

    def _speech_ended(self, pcm: bytes) -> bool:
        """Feed the end-of-speech detector the user's audio; True when it completes the end of an utterance."""
        return self._end_of_speech is not None and self._end_of_speech.process(pcm)

    async def _end_speech(self, why: str) -> None:
        """Tell the session the user has stopped speaking (``audioStreamEnd``): Gemini ends the turn at once."""
        if self._session is None:
            return
        self._note(f"end of speech ({why})")
        try:
            await self._session.end_audio_stream()
        except Exception as err:
            _LOGGER.debug("[%s] end of speech not sent: %s", self._link.name, err)

    async def _on_satellite_end_of_speech(self, event_type: str) -> None:
        """The satellite stopped streaming (its own VAD): the user's speech has ended."""
        if self.state == State.STARTING:
            self._pending_audio.append(None)
        elif self.state in (State.LISTENING, State.FOLLOW_UP):
            await self._end_speech(f"the satellite's {event_type}")

    def _to_gemini(self, fmt: AudioFormat, audio: bytes) -> bytes:
        if self._mic is None or fmt != self._mic_format:
            self._mic, self._mic_format = Converter(fmt, GEMINI_INPUT), fmt
        return self._mic.convert(audio)

    @property
    def wake_word_detector(self) -> WakeWordDetector | None:
        """The bridge's wake-word detector, once the satellite has streamed audio outside a turn (else None).

        A satellite that detects its own wake word never does, and holds no detector (its models and buffers).
        """
        return self._wake

    def check_wake(self, pcm: bytes) -> None:
        """Look for the wake word (or, in spoken-name mode, speech) in a chunk heard while idle.

        Called by :class:`~.wake_work.WakeWork`, later than the chunk was read; what the satellite sent after the
        chunk that completes the wake word is still queued there, and goes to the turn after the pre-roll.
        """
        if self.state != State.IDLE or self._muted or self._announcing:
            return  # a turn started (or the satellite was muted) after this chunk was queued
        if self._wake is None and self._options.wake_words:
            options = self._options
            self._wake = WakeWordDetector(options.wake_words, options.wake_refractory_s, options.preroll_s)
        if self._wake is not None:
            detection = self._wake.process(pcm)
            if detection is not None:
                self._background.spawn(self._tell_detection(detection), name=f"turn-detection-{self._link.name}")
                self._start_turn(
                    f"wake word {detection.name}", preroll=self._wake.preroll(), heard=self._wake_work.take(self)
                )
                return
        if self._gate is not None and self._gate.process(pcm):
            self._start_turn(
                "speech (spoken-name check)",
                preroll=self._gate.preroll(),
                needs_name=True,
                heard=self._wake_work.take(self),
            )

    async def _tell_detection(self, detection: WakeDetection) -> None:
        with contextlib.suppress(SatelliteGone):
            await self._link.write(Detection(name=detection.name, timestamp=int(detection.offset_s * 1000)).event())

    # ------------------------------------------------------------------------------ announcements

    async def announce(self, announcement: SpokenAnnouncement) -> None:
        """Say something outside a turn; with ``listen``, then listen for the user without a wake word.

        Recorded audio is played as it arrives and this returns once the satellite has played it (and, with
        ``listen``, once listening has begun). A text without audio starts a turn in which Gemini says it.
        Raises :class:`SatelliteBusy` during a conversation.
        """
        if self.state != State.IDLE or self._announcing:
            raise SatelliteBusy("the satellite is in a conversation")
        if announcement.audio_format is None or announcement.audio is None:
            self._note(f"announcing through Gemini: {announcement.text!r}")
            self._start_turn("announcement", say=announcement.text, context=announcement.prompt)
            return
        self._announcing = True
        self._note(f"announcing {announcement.text!r}" if announcement.text else "announcing audio")
        try:
            converter = Converter(announcement.audio_format, GEMINI_OUTPUT)
            self._playback.start()
            while (pcm := await announcement.audio.get()) is not None:
                self._playback.put(converter.convert(pcm))
            self._playback.put(converter.flush())
            await self._playback.finish_reply()
        finally:
            self._announcing = False
            await self._playback.close(send_stop=False)  # its sender task would outlive the connection
        if announcement.listen and self.state == State.IDLE:
            context = "\n".join(part for part in (announcement.prompt, announcement.text) if part)
            listen_s = max(self._options.follow_up_s, INTERRUPTED_LISTEN_S)
            self._start_turn("conversation started by Home Assistant", context=context or None, listen_s=listen_s)

    # --------------------------------------------------------------------------------- turns

    def _start_turn(
        self,
        trigger: str,
        preroll: bytes = b"",
        needs_name: bool = False,
        *,
        heard: list[bytes] | None = None,
        context: str | None = None,
        say: str | None = None,
        listen_s: float | None = None,
    ) -> None:
        """Start a turn.

        ``heard``: audio that followed the wake word (after ``preroll``). ``context`` goes to the session as
        something the assistant said, ``say`` as a request; with ``listen_s`` the turn listens that long for the
        user without a wake word (FOLLOW_UP) instead of waiting for speech.
        """
        if heard is None:
            self._wake_work.drop(self)  # idle audio still queued for the wake word is not part of this turn
        self.log = TurnLog(next(_turn_ids), trigger)
        self._utterance_start = self._reply_start = 0
        if self._observer is not None:
            self._observer.turn_started(self.log)
        self.state = State.STARTING
        self._end_requested = False
        self._interrupted = False
        self._addressed = asyncio.get_running_loop().create_future() if needs_name else None
        self._pending_audio = [preroll] if preroll else []
        if self._end_of_speech is not None:
            self._end_of_speech.reset()  # judged on what follows the wake word, not on the pre-roll
        for pcm in heard or ():
            self._heard_while_starting(pcm)
        self._note(f"turn started by {trigger}")
        # In a task of its own: taking a session can take seconds (no warm one, retries), and the satellite's
        # events must keep flowing meanwhile (its audio queues up; a silent link would be dropped as dead).
        self._starter = asyncio.create_task(
            self._open_session(self.log, context, say, listen_s), name=f"turn-start-{self._link.name}"
        )

    async def _open_session(
        self, log: TurnLog, context: str | None = None, say: str | None = None, listen_s: float | None = None
    ) -> None:
        """Take a ready session for the turn and send it the audio heard meanwhile, in order."""
        assert self._sessions is not None
        try:
            session = await self._sessions.take()
        except Exception as err:
            await self._fail(f"Gemini Live is unavailable: {err}")
            return
        if self.log is not log or self.state != State.STARTING:  # the turn ended meanwhile
            await session.close()
            return
        self._session = session
        log.session_ready_at = time.monotonic()
        self._note(f"session ready after {(log.session_ready_at - log.started_at) * 1000:.0f} ms")
        self._pump = asyncio.create_task(self._pump_events(session), name=f"turn-events-{self._link.name}")
        self._playback.start()
        if context:
            await session.add_model_context(context)
        if say:
            await session.send_text(say)
        while self._pending_audio and self.state == State.STARTING:  # newer audio queues behind it meanwhile
            pcm = self._pending_audio.pop(0)
            if pcm is None:
                await self._end_speech("heard while the session was being readied")
            else:
                await self._send_audio(pcm)
        if self.state == State.STARTING:
            if listen_s:
                self._listen_without_wake_word(listen_s, "a conversation Home Assistant started")
            else:
                self.state = State.LISTENING

    async def _send_audio(self, pcm: bytes) -> None:
        if self._session is None:
            return
        try:
            await self._session.send_audio(pcm)
        except Exception as err:
            _LOGGER.debug("[%s] audio not sent: %s", self._link.name, err)

    async def _pump_events(self, session: VoiceSession) -> None:
        async for event in session.events():
            if self._addressed is not None and not self._addressed.done():
                if isinstance(event, InputTranscript):
                    await self._on_session_event(event)
                    continue
                self._held.append(event)
                continue
            await self._on_session_event(event)
            if self.state in (State.ENDING, State.IDLE):
                return

    async def _on_session_event(self, event: SessionEvent) -> None:
        log = self.log
        assert log is not None
        if isinstance(event, InputTranscript):
            log.user_text = _continued(log.user_text, self._utterance_start, event.text)
            if self._observer is not None:
                self._observer.heard(event.text)
            if self.state == State.FOLLOW_UP and event.text.strip():
                self._cancel_follow_up()
                self.state = State.LISTENING
            if event.finished:
                self._note(f"user said {log.user_text.strip()!r}")
            self._check_addressed(event.finished)
        elif isinstance(event, AudioOut):
            if log.first_reply_audio_at is None:
                log.first_reply_audio_at = time.monotonic()
                self._note("first reply audio")
            if self.state in (State.STARTING, State.LISTENING, State.FOLLOW_UP):
                self._cancel_follow_up()
                self.state = State.RESPONDING
            self._playback.put(event.pcm)
        elif isinstance(event, OutputTranscript):
            log.reply_text = _continued(log.reply_text, self._reply_start, event.text)
        elif isinstance(event, Interrupted):
            self._note("interrupted by the user")
            self._interrupted = True
            await self._playback.interrupt()
            self.state = State.LISTENING
        elif isinstance(event, ToolCallStarted):
            log.tool_calls.append(f"{event.name}({event.args})")
        elif isinstance(event, ToolCallFinished):
            if event.name == END_CONVERSATION_TOOL and not event.cancelled and event.error is None:
                self._end_requested = True
        elif isinstance(event, TurnComplete):
            await self._on_turn_complete(event)
        elif isinstance(event, AnswerCut):
            # The connection moved mid-answer: the model answers again from the replayed input, so what was
            # played and transcribed of this answer is dropped (the user is not interrupting: no barge-in).
            self._note("the answer was cut by a reconnect; the model answers again")
            log.reply_text = log.reply_text[: self._reply_start]
            await self._playback.interrupt()
            if self.state == State.RESPONDING:
                self.state = State.LISTENING
        elif isinstance(event, Reconnected):
            if event.replayed_s > 0:
                log.user_text = log.user_text[: self._utterance_start]  # transcribed again from the replay
            self._note(f"Live session reconnected ({event.reason}; {event.replayed_s:.2f} s of audio replayed)")
        elif isinstance(event, Notice):
            self._note(f"notice: {event.text}")
        elif isinstance(event, SessionError) and event.fatal:
            await self._fail(event.message)

    async def _wait_addressed(self) -> bool:
        """For tool calls: True unless this turn waits on the spoken name and it was not said."""
        addressed = self._addressed
        return True if addressed is None else await asyncio.shield(addressed)

    def _check_addressed(self, finished: bool) -> None:
        """Spoken-name mode: decide once the transcription shows (or cannot show) the phrase."""
        if self._addressed is None or self._addressed.done() or self._matcher is None or self.log is None:
            return
        text = self.log.user_text
        if self._matcher.matches(text):
            self._addressed.set_result(True)
            self._note(f"spoken name {self._options.wake_phrase!r} heard")
            held, self._held = self._held, []
            for event in held:
                self._background.spawn(self._on_session_event(event), name=f"turn-held-{self._link.name}")
        elif finished or self._matcher.ruled_out(text):
            self._addressed.set_result(False)
            self.log.accepted = False
            self._held.clear()
            self._note("not addressed by the spoken name; nothing played, no tool run")
            self._background.spawn(self._finish(send_events=False), name=f"turn-discard-{self._link.name}")

    async def _on_turn_complete(self, event: TurnComplete) -> None:
        if self.log is not None:  # the next utterance and answer start here
            self._utterance_start, self._reply_start = len(self.log.user_text), len(self.log.reply_text)
        if self._interrupted:
            # The reply the user talked over is complete; the user's new request is on its way.
            self._interrupted = False
            self._listen_without_wake_word(max(self._options.follow_up_s, INTERRUPTED_LISTEN_S), "after barge-in")
            return
        if self.state == State.RESPONDING or self._playback.busy:
            await self._playback.finish_reply()
        if self.log is not None and self.log.reply_text:
            with contextlib.suppress(SatelliteGone):
                await self._link.write(Synthesize(text=self.log.reply_text.strip()).event())
        asks = event.waiting_for_input or (self.log is not None and self.log.reply_text.strip().endswith(("?", "؟")))
        if self._end_requested or not asks or self._options.follow_up_s <= 0:
            await self._finish(send_events=True)
            return
        self._listen_without_wake_word(self._options.follow_up_s, "the model asked a question")

    def _listen_without_wake_word(self, seconds: float, why: str) -> None:
        self.state = State.FOLLOW_UP
        if self._end_of_speech is not None:
            self._end_of_speech.reset()
        self._note(f"{why}: listening {seconds:.0f} s without a wake word")
        self._cancel_follow_up()
        self._follow_up_s = seconds
        self._follow_up_until = asyncio.get_running_loop().time() + seconds
        self._follow_up = asyncio.create_task(self._follow_up_timeout())

    async def _follow_up_timeout(self) -> None:
        loop = asyncio.get_running_loop()
        # A deadline that moves on while the user speaks: sleep until it, then look again.
        while (left := self._follow_up_until - loop.time()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(left)
        if self.state == State.FOLLOW_UP:
            self._note("no answer; conversation over")
            await self._finish(send_events=True)

    def _cancel_follow_up(self) -> None:
        if self._follow_up is not None and self._follow_up is not asyncio.current_task():
            self._follow_up.cancel()
        self._follow_up = None

    async def _fail(self, message: str) -> None:
        if self.log is not None:
            self.log.error = message
        _LOGGER.error("[%s turn %s] %s", self._link.name, self.log.turn_id if self.log else "-", message)
        with contextlib.suppress(SatelliteGone):
            await self._link.write(Error(text=message, code="gemini-live").event())
        await self._finish(send_events=True)

    async def _finish(self, *, send_events: bool) -> None:
        """End the conversation: tell the satellite, release the session, re-arm the wake word."""
        if self.state == State.IDLE:
            return
        self.state = State.ENDING
        self._cancel_follow_up()
        log = self.log
        if send_events and log is not None:
            with contextlib.suppress(SatelliteGone):
                await self._link.write(Transcript(text=log.user_text.strip()).event())
        await self._playback.close(send_stop=send_events)
        session, self._session = self._session, None
        current = asyncio.current_task()
        for task in (self._starter, self._pump):
            if task is not None and task is not current:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._starter = self._pump = None
        if session is not None:
            await session.close()
        if self._wake is not None:
            self._wake.reset()
        if self._gate is not None:
            self._gate.reset()
        self._addressed = None
        self._held.clear()
        self.state = State.IDLE
        if log is not None:
            self.turns.append(log)
            self._note(f"turn over (user {log.user_text.strip()!r}, reply {log.reply_text.strip()!r})")
            if self._observer is not None:
                self._observer.turn_over(log)
            if self._on_turn_end is not None:
                await self._on_turn_end(log)
        self.log = None
        if self._start_when_idle:
            self._start_when_idle = False
            if self.state == State.IDLE and not self._muted:
                self._start_turn("satellite wake word (heard while the last turn ended)")

    def _note(self, message: str) -> None:
        turn = self.log.turn_id if self.log is not None else "-"
        _LOGGER.info("[%s turn %s] %s", self._link.name, turn, message)


def turn_summary(log: TurnLog) -> dict[str, Any]:
    """A turn as plain data (for the demo's report)."""
    return {
        "turn": log.turn_id,
        "trigger": log.trigger,
        "user": log.user_text.strip(),
        "tools": log.tool_calls,
        "reply": log.reply_text.strip(),
        "error": log.error,
        "accepted": log.accepted,
    }


def _continued(text: str, start: int, piece: str) -> str:
    """``text`` with a transcript ``piece`` added; the first piece of a later utterance (or answer) of the same
    conversation, which begins at ``start``, is set apart from the one before by a space."""
    if start and len(text) == start and piece and not text[-1].isspace() and not piece[0].isspace():
        return f"{text} {piece}"
    return text + piece
