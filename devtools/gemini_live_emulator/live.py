"""The Live WebSocket (BidiGenerateContent): one connection from upgrade to close, as the real service behaves.

A connection goes through these states:

``upgrade`` (auth that the service checks before the socket opens: 429 fault)
→ ``awaiting setup`` (first frame must be ``setup``; credentials and model checked; ``setupComplete``)
→ ``serving``: client frames are handled as they arrive while at most one model turn runs:
   user audio → activity detection → end of the user's turn → model turn (transcriptions, audio, tool
   calls) → ``generationComplete`` → ``turnComplete`` once the reply has had time to play.
   New user activity during a model turn interrupts it (barge-in).
→ ``closed`` (by the client, by a fault, by an error with the service's close code and reason, or by goAway
   running out).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import soxr
from aiohttp import WSMsgType, web

from . import wire
from .auth import AuthError, Caller, bearer_from_header
from .messages import CLIENT_MESSAGE_MLDEV, CLIENT_MESSAGE_VERTEX
from .protojson import ProtoJsonError, parse_json
from .records import ConnectionRecord, ConversationState, UserTurnRecord
from .scenario import Call, Fault, Pause, Refuse, Say, Step, ToolResult, Turn, default_turn, render
from .speech import detect_language
from .vad import ActivityDetector, ActivitySettings

if TYPE_CHECKING:
    from .server import Emulator

_LOGGER = logging.getLogger(__name__)

INPUT_RATE = 16000
OUTPUT_RATE = 24000
OUTPUT_MIME = "audio/pcm;rate=24000"
AUDIO_TOKENS_PER_SECOND = 32
_RATE = re.compile(r"rate=(\d+)")


@dataclass(frozen=True)
class LiveEndpoint:
    """Which Live endpoint a connection came in on."""

    backend: Literal["mldev", "vertex"]
    api_version: str
    constrained: bool


class CloseConnection(Exception):
    """Close the connection with this code and reason (the service's own texts)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class _PendingCall:
    id: str
    name: str
    blocking: bool
    on_result: tuple[Step, ...]
    future: asyncio.Future[Mapping[str, Any]] | None


@dataclass
class _ModelTurn:
    """A model turn waiting to run: the reply to a user turn, or a follow-up to a NON_BLOCKING tool result."""

    turn: Turn
    user: UserTurnRecord | None
    results: list[ToolResult] = field(default_factory=list)
    script_index: int | None = None  # the scenario turn it uses
    completed: bool = False  # turnComplete was sent


async def handle_live(request: web.Request, endpoint: LiveEndpoint, emulator: Emulator) -> web.StreamResponse:
    """Serve one Live WebSocket connection."""
    faults = emulator.config.faults
    if faults.reject_connects > 0:
        faults.reject_connects -= 1
        _LOGGER.info("Live upgrade refused with 429 (injected fault)")
        return web.json_response(wire.quota_body(faults.retry_delay_s), status=429)
    ws = web.WebSocketResponse(
        max_msg_size=emulator.config.max_frame_bytes, autoping=True, compress=True, autoclose=True
    )
    await ws.prepare(request)
    record = ConnectionRecord(
        path=request.path, backend=endpoint.backend, api_version=endpoint.api_version, deflate=bool(ws.compress)
    )
    emulator.connections.append(record)
    connection = LiveConnection(request, ws, endpoint, emulator, record)
    await connection.run()
    return ws


def _credentials(request: web.Request, endpoint: LiveEndpoint) -> tuple[str | None, str | None, str | None]:
    """(API key, OAuth bearer token, ephemeral token) as the request carries them."""
    api_key = request.headers.get("x-goog-api-key") or request.query.get("key")
    authorization = request.headers.get("Authorization")
    bearer = bearer_from_header(authorization, "Bearer")
    ephemeral = request.query.get("access_token") or bearer_from_header(authorization, "Token")
    if endpoint.constrained and ephemeral is None and api_key and api_key.startswith("auth_tokens/"):
        ephemeral = api_key
    return api_key, bearer, ephemeral


class LiveConnection:
    """One Live connection: setup, then client frames handled as they come, and model turns one at a time."""

    def __init__(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        endpoint: LiveEndpoint,
        emulator: Emulator,
        record: ConnectionRecord,
    ) -> None:
        self._request = request
        self._ws = ws
        self._endpoint = endpoint
        self._emulator = emulator
        self._config = emulator.config
        self._record = record
        self._schema = CLIENT_MESSAGE_VERTEX if endpoint.backend == "vertex" else CLIENT_MESSAGE_MLDEV
        self._send_lock = asyncio.Lock()
        self._state = ConversationState()
        self._setup: dict[str, Any] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._queue: asyncio.Queue[_ModelTurn] = asyncio.Queue()
        self._current: asyncio.Task[None] | None = None
        self._pending_calls: dict[str, _PendingCall] = {}
        self._detector: ActivityDetector | None = None
        self._manual_activity = False
        self._user: UserTurnRecord | None = None  # the user turn being spoken
        self._play_end = 0.0  # when the client will have played all reply audio sent so far (loop time)
        self._generating = False
        self._answering: list[_ModelTurn] = []  # user turns heard on this connection, in order
        self._faulted = False  # an injected fault ends this connection
        self._resumption = False
        self._last_handle: str | None = None  # the handle a client moving on would resume with
        self._transparent = False
        self._client_index = -1
        self._resamplers: dict[int, soxr.ResampleStream] = {}
        self._connected_at = time.monotonic()

    # ----------------------------------------------------------------------------------------- lifecycle

    async def run(self) -> None:
        """Serve the connection until it closes."""
        try:
            await self._serve()
        except CloseConnection as close:
            await self._close(close.code, close.reason)
        except ConnectionResetError:
            _LOGGER.debug("Live connection reset by the client")
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self._release_unanswered()
            if not self._ws.closed:
                await self._ws.close()
            self._record.closed = True
            if self._record.close_code is None:
                self._record.close_code = self._ws.close_code

    async def _serve(self) -> None:
        api_key, bearer, ephemeral = _credentials(self._request, self._endpoint)
        caller = self._authorize(api_key, bearer)
        message = await self._receive_setup()
        await self._apply_setup(message["setup"], caller, ephemeral)
        self._start(self._model_loop())
        self._start(self._resumption_ticker())
        if self._config.faults.go_away_after_s is not None:
            self._start(self._go_away_timer(self._config.faults.go_away_after_s))
        async for frame in self._ws:
            if frame.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                await self._handle(self._parse(frame.data))
            elif frame.type == WSMsgType.ERROR:
                self._record_close(wire.CLOSE_TOO_BIG, str(self._ws.exception()))
                break
        _LOGGER.debug("Live connection closed by the client (%s)", self._ws.close_code)

    def _authorize(self, api_key: str | None, bearer: str | None) -> Caller | None:
        """Checks made on the upgrade request itself; ephemeral tokens are checked after setup."""
        try:
            if self._endpoint.constrained:
                return None
            if self._endpoint.backend == "vertex":
                return self._emulator.credentials.authorize_vertex(bearer, api_key)
            return self._emulator.credentials.authorize_developer(api_key)
        except AuthError as err:
            raise CloseConnection(err.close_code, err.reason) from err

    def _start(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, CloseConnection):
            self._start(self._close(error.code, error.reason))
        elif isinstance(error, ConnectionResetError):
            return
        elif error is not None:
            _LOGGER.error("Live connection task failed", exc_info=error)
            self._start(self._close(wire.CLOSE_INTERNAL, wire.REASON_INTERNAL))

    def _record_close(self, code: int, reason: str) -> None:
        if self._record.close_code is None:
            self._record.close_code = code
            self._record.close_reason = reason

    async def _close(self, code: int, reason: str) -> None:
        reason = wire.truncate_reason(reason)
        self._record_close(code, reason)
        _LOGGER.info("Closing Live connection: %s %s", code, reason)
        await self._ws.close(code=code, message=reason.encode())

    def _abort(self) -> None:
        """Drop the TCP connection without a close frame (a network failure, as the client sees it)."""
        self._record_close(1006, "connection dropped")
        transport = self._request.transport
        if transport is not None:
            transport.abort()

    # --------------------------------------------------------------------------------------------- input

    def _parse(self, data: str | bytes) -> dict[str, Any]:
        try:
            message = parse_json(data, self._schema, api_version=self._endpoint.api_version)
        except ProtoJsonError as err:
            raise CloseConnection(wire.CLOSE_INVALID_ARGUMENT, str(err)) from err
        self._client_index += 1
        self._record.messages.append(message)
        return message

    async def _receive_setup(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self._config.setup_timeout_s):
                frame = await self._ws.receive()
        except TimeoutError as err:
            raise CloseConnection(wire.CLOSE_INTERNAL, "Deadline expired before operation could complete.") from err
        if frame.type == WSMsgType.ERROR:
            raise CloseConnection(wire.CLOSE_TOO_BIG, wire.REASON_TOO_BIG)
        if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            raise ConnectionResetError("closed before setup")
        message = self._parse(frame.data)
        if "setup" not in message:
            raise CloseConnection(wire.CLOSE_INVALID_ARGUMENT, wire.REASON_INVALID_ARGUMENT)
        return message

    async def _apply_setup(self, setup: dict[str, Any], caller: Caller | None, ephemeral: str | None) -> None:
        handle = setup.get("sessionResumption", {}).get("handle")
        if self._endpoint.constrained:
            try:
                caller = self._emulator.credentials.authorize_ephemeral(ephemeral, resuming=bool(handle))
            except AuthError as err:
                raise CloseConnection(err.close_code, err.reason) from err
            setup = _apply_constraints(setup, caller)
        assert caller is not None
        self._record.auth_kind = caller.kind
        self._check_model(setup)
        if not caller.credential_valid:
            raise CloseConnection(wire.CLOSE_INVALID_ARGUMENT, wire.REASON_API_KEY_INVALID)
        if "TEXT" in setup.get("generationConfig", {}).get("responseModalities", []):
            raise CloseConnection(wire.CLOSE_INVALID_ARGUMENT, wire.REASON_TEXT_MODALITY)
        if handle:
            restored = self._emulator.resumption.restore(handle)
            if restored is None:
                raise CloseConnection(wire.CLOSE_INVALID_ARGUMENT, wire.REASON_INVALID_ARGUMENT)
            self._state = restored
            self._record.resumed_from = handle
            self._last_handle = handle
        self._setup = setup
        self._record.setup = setup
        self._resumption = "sessionResumption" in setup
        self._transparent = bool(setup.get("sessionResumption", {}).get("transparent"))
        activity = ActivitySettings.from_setup(setup.get("realtimeInputConfig", {}).get("automaticActivityDetection"))
        self._manual_activity = activity.disabled
        self._detector = None if activity.disabled else ActivityDetector(activity)
        if self._config.faults.setup_delay_ms:
            await asyncio.sleep(self._config.faults.setup_delay_ms / 1000)
        await self._send({"setupComplete": {}})
        faults = self._config.faults
        if faults.quota_after_setup > 0:
            # Quota exhausted mid-session, as the service reports it (1011 with its quota text, ~0.1 s on).
            faults.quota_after_setup -= 1
            raise CloseConnection(wire.CLOSE_INTERNAL, wire.REASON_QUOTA)
        _LOGGER.info(
            "Live session set up: %s on %s %s (%s)",
            setup.get("model"),
            self._endpoint.backend,
            self._endpoint.api_version,
            "resumed" if handle else "new",
        )
        if self._resumption:
            await self._send_resumption_update()

    def _check_model(self, setup: Mapping[str, Any]) -> None:
        model = str(setup.get("model", ""))
        if self._endpoint.backend == "vertex":
            name = model.rsplit("/", 1)[-1]
            known = self._config.vertex_live_models
            valid_form = model.startswith(("projects/", "publishers/google/models/"))
            if not valid_form or name not in known:
                raise CloseConnection(
                    wire.CLOSE_POLICY,
                    f"Publisher Model `{model}` was not found or your project does not have access to it. "
                    "Please ensure you are using a valid model version.",
                )
            return
        name = model.removeprefix("models/")
        if name not in self._config.live_models:
            raise CloseConnection(wire.CLOSE_POLICY, wire.model_not_found_reason(model, self._endpoint.api_version))
        if name.startswith("gemini-3.8-live") and _lookup(setup, ("proactivity", "proactiveAudio")) is False:
            raise CloseConnection(wire.CLOSE_INVALID_ARGUMENT, wire.REASON_INVALID_ARGUMENT)

    async def _handle(self, message: dict[str, Any]) -> None:
        if "setup" in message:
            raise CloseConnection(wire.CLOSE_INVALID_ARGUMENT, wire.REASON_INVALID_ARGUMENT)
        if "realtimeInput" in message:
            await self._on_realtime_input(message["realtimeInput"])
        elif "clientContent" in message:
            await self._on_client_content(message["clientContent"])
        elif "toolResponse" in message:
            await self._on_tool_response(message["toolResponse"])
        elif "contextUpdate" in message:
            self._on_context_update(message["contextUpdate"])

    async def _on_realtime_input(self, realtime: dict[str, Any]) -> None:
        for blob in [realtime["audio"]] if "audio" in realtime else []:
            await self._on_audio(blob)
        for blob in realtime.get("mediaChunks", []):
            if str(blob.get("mimeType", "")).startswith("audio/"):
                await self._on_audio(blob)
        if "activityStart" in realtime:
            if not self._manual_activity:
                raise CloseConnection(wire.CLOSE_INVALID_ARGUMENT, wire.REASON_INVALID_ARGUMENT)
            await self._user_started()
        if "activityEnd" in realtime:
            if not self._manual_activity:
                raise CloseConnection(wire.CLOSE_INVALID_ARGUMENT, wire.REASON_INVALID_ARGUMENT)
            self._user_ended()
        if realtime.get("audioStreamEnd"):
            if self._manual_activity:
                raise CloseConnection(wire.CLOSE_INVALID_ARGUMENT, wire.REASON_INVALID_ARGUMENT)
            assert self._detector is not None
            for event in self._detector.flush():
                await self._on_activity(event)
        if "text" in realtime:
            await self._on_typed(realtime["text"])

    async def _on_audio(self, blob: Mapping[str, Any]) -> None:
        mime = str(blob.get("mimeType", ""))
        if not mime.startswith("audio/pcm"):
            raise CloseConnection(wire.CLOSE_INVALID_ARGUMENT, wire.REASON_INVALID_ARGUMENT)
        match = _RATE.search(mime)
        rate = int(match.group(1)) if match else INPUT_RATE
        data: bytes = blob.get("data", b"")
        if len(data) % 2:
            raise CloseConnection(wire.CLOSE_INVALID_ARGUMENT, wire.REASON_INVALID_ARGUMENT)
        self._record.audio_bytes += len(data)
        pcm = data if rate == INPUT_RATE else self._resample(data, rate)
        self._record.audio.extend(pcm)
        if self._user is not None:
            self._user.audio.extend(pcm)
        if self._detector is not None:
            for event in self._detector.process(pcm, INPUT_RATE):
                await self._on_activity(event)

    def _resample(self, data: bytes, rate: int) -> bytes:
        stream = self._resamplers.get(rate)
        if stream is None:
            stream = self._resamplers[rate] = soxr.ResampleStream(rate, INPUT_RATE, 1, dtype="int16")
        out = stream.resample_chunk(np.frombuffer(data, dtype=np.int16))
        return bytes(out.tobytes())

    async def _on_activity(self, event: Any) -> None:
        if event.kind == "start":
            await self._user_started(prefix_s=max(0.0, event.offset))
        elif event.kind == "end":
            self._user_ended()

    async def _user_started(self, prefix_s: float | None = None) -> None:
        """Start of the user's activity: a new user turn, interrupting the model if it is speaking."""
        if self._user is not None:
            return
        interrupting = self._model_active() and self._interrupts()
        self._user = UserTurnRecord(transcript=None, interrupted_model=interrupting)
        self._record.user_turns.append(self._user)
        if prefix_s is not None:
            # The detector commits start of speech after the speech began: keep the audio from its onset.
            start = int(prefix_s * INPUT_RATE) * 2
            self._user.audio.extend(self._record.audio[start:])
        if interrupting:
            await self._interrupt()

    def _user_ended(self) -> None:
        user, self._user = self._user, None
        if user is None:
            return
        self._queue_user_turn(user, text=None)

    async def _on_typed(self, text: str) -> None:
        interrupting = self._model_active()
        if interrupting:
            await self._interrupt()
        user = UserTurnRecord(transcript=text, text=text, interrupted_model=interrupting)
        self._record.user_turns.append(user)
        self._queue_user_turn(user, text=text)

    async def _on_client_content(self, content: Mapping[str, Any]) -> None:
        texts: list[str] = []
        for turn in content.get("turns", []):
            text = "".join(part.get("text", "") for part in turn.get("parts", []))
            self._state.history.append({"role": turn.get("role", "user"), "text": text})
            if turn.get("role", "user") == "user" and text:
                texts.append(text)
        if content.get("turnComplete"):
            if self._model_active():
                await self._interrupt()
            text = texts[-1] if texts else ""
            user = UserTurnRecord(transcript=text, text=text)
            self._record.user_turns.append(user)
            self._queue_user_turn(user, text=text, add_history=False)

    def _on_context_update(self, update: Mapping[str, Any]) -> None:
        if "systemInstruction" in update:
            self._setup["systemInstruction"] = update["systemInstruction"]
        if "tools" in update:
            self._setup["tools"] = update["tools"].get("tools", [])

    def _queue_user_turn(self, user: UserTurnRecord, *, text: str | None, add_history: bool = True) -> None:
        self._state.user_turns += 1
        # The script runs across every Live session of the emulator: a client that opens a new session per
        # wake word still walks through the scenario in order.
        index = self._emulator.replayed_position(self._record.resumed_from) if not self._answering else None
        if index is None:
            index = self._emulator.next_script_position()
        turn = self._emulator.scenario.turn_for(index, text)
        if turn is None:
            turn = default_turn(text, self._language(), user.audio_seconds)
        elif user.transcript is None:
            user.transcript = turn.user
        if add_history:
            self._state.history.append({"role": "user", "text": user.transcript or ""})
        _LOGGER.info(
            "User turn %d ended (%.2f s audio, text %r)", self._state.user_turns, user.audio_seconds, user.transcript
        )
        model_turn = _ModelTurn(turn, user, script_index=index)
        self._answering.append(model_turn)
        self._queue.put_nowait(model_turn)

    def _release_unanswered(self) -> None:
        """The client closed the connection before the model finished a turn: if it moves to a resumed session
        and replays the user's input, the replay gets the same scripted turn, as the service answers a replayed
        utterance afresh. A connection that is not resumed leaves the turn used up (a client that gave up on
        the turn), and so does a turn cut by an injected fault, so that a script can say what the retry gets."""
        if self._faulted or self._last_handle is None:
            return
        for model_turn in self._answering:
            if not model_turn.completed and model_turn.script_index is not None:
                self._emulator.hold_for_replay(self._last_handle, model_turn.script_index)
                return

    async def _on_tool_response(self, response: Mapping[str, Any]) -> None:
        self._record.tool_responses.append(dict(response))
        for function_response in response.get("functionResponses", []):
            call = self._match_call(function_response)
            result = function_response.get("response", {})
            self._state.history.append({"role": "tool", "name": call.name, "response": result})
            if function_response.get("willContinue"):
                continue
            del self._pending_calls[call.id]
            if call.blocking:
                assert call.future is not None
                if not call.future.done():
                    call.future.set_result(result)
                continue
            await self._on_non_blocking_result(call, result, function_response.get("scheduling", "WHEN_IDLE"))

    def _match_call(self, function_response: Mapping[str, Any]) -> _PendingCall:
        call_id = function_response.get("id")
        if call_id:
            call = self._pending_calls.get(call_id)
        elif self._endpoint.backend == "vertex":  # Vertex accepts responses without ids: match by name
            name = function_response.get("name")
            call = next((c for c in self._pending_calls.values() if c.name == name), None)
        else:
            call = None
        if call is None:
            raise CloseConnection(wire.CLOSE_INVALID_ARGUMENT, wire.REASON_INVALID_ARGUMENT)
        return call

    async def _on_non_blocking_result(self, call: _PendingCall, result: Mapping[str, Any], scheduling: str) -> None:
        if scheduling == "SILENT" or not call.on_result:
            return
        follow_up = _ModelTurn(Turn(user=None, steps=call.on_result), None, [ToolResult(call.name, result)])
        if scheduling == "INTERRUPT" and self._model_active():
            await self._interrupt(cancel_calls=False)
        self._queue.put_nowait(follow_up)

    # -------------------------------------------------------------------------------------------- model

    def _model_active(self) -> bool:
        return self._current is not None and not self._current.done()

    def _interrupts(self) -> bool:
        handling = self._setup_value(("realtimeInputConfig", "activityHandling"))
        return bool(handling != "NO_INTERRUPTION")

    async def _model_loop(self) -> None:
        while True:
            model_turn = await self._queue.get()
            self._current = asyncio.create_task(self._generate(model_turn))
            try:
                await asyncio.wait([self._current])
            except asyncio.CancelledError:
                self._current.cancel()
                raise
            if not self._current.cancelled() and (error := self._current.exception()) is not None:
                raise error

    async def _interrupt(self, *, cancel_calls: bool = True) -> None:
        """Barge-in: stop the model turn; ``interrupted``, then ``turnComplete``; cancel its pending calls."""
        task = self._current
        if task is None or task.done():
            return
        task.cancel()
        await asyncio.wait([task])
        if cancel_calls:
            ids = [call_id for call_id, call in self._pending_calls.items() if call.blocking]
            for call_id in ids:
                del self._pending_calls[call_id]
            if ids:
                await self._send({"toolCallCancellation": {"ids": ids}})
        await self._send({"serverContent": {"interrupted": True}})
        await self._send({"serverContent": {"turnComplete": True}})
        self._play_end = 0.0
        self._generating = False
        _LOGGER.info("Model turn interrupted")
        if self._resumption:
            await self._send_resumption_update()

    async def _generate(self, model_turn: _ModelTurn) -> None:
        turn, results = model_turn.turn, model_turn.results
        self._generating = True
        if self._resumption:
            await self._send({"sessionResumptionUpdate": {"resumable": False}})
        if model_turn.user is not None:
            await self._send_input_transcription(model_turn.user)
        if self._config.faults.first_audio_delay_ms:
            await asyncio.sleep(self._config.faults.first_audio_delay_ms / 1000)
        spoken: list[str] = []
        produced = False
        reason: str | None = "NEED_MORE_INPUT" if turn.expect_reply else None
        steps = list(turn.steps)
        while steps:
            step = steps.pop(0)
            if isinstance(step, Call):
                calls = [step]
                while steps and isinstance(steps[0], Call):
                    calls.append(steps.pop(0))  # type: ignore[arg-type]
                results.extend(await self._call_tools(calls))
                produced = True
            elif isinstance(step, Say):
                text = render(step.text, results)
                await self._speak(text, step.language or turn.language)
                spoken.append(text)
                produced = True
            elif isinstance(step, Pause):
                await asyncio.sleep(step.ms / 1000)
            elif isinstance(step, Refuse):
                reason = step.reason
                break
            elif isinstance(step, Fault):
                await self._fault(step)
        if produced:
            await self._send({"serverContent": {"generationComplete": True}})
        delay = self._play_end - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)  # the service holds turnComplete back until the reply has played
        if spoken:
            self._state.history.append({"role": "model", "text": " ".join(spoken)})
        content: dict[str, Any] = {"turnComplete": True}
        if reason is not None:
            content["turnCompleteReason"] = reason
            if reason == "NEED_MORE_INPUT":
                content["waitingForInput"] = True
        self._generating = False
        model_turn.completed = True
        await self._send({"serverContent": content, "usageMetadata": self._usage(model_turn, spoken)})
        _LOGGER.info("Model turn complete (%d spoken parts)", len(spoken))
        if self._resumption:
            await self._send_resumption_update()

    async def _send_input_transcription(self, user: UserTurnRecord) -> None:
        if user.text is not None or not user.transcript or "inputAudioTranscription" not in self._setup:
            return
        words = user.transcript.split(" ")
        for i, piece in enumerate(_pieces(words, 3)):
            message: dict[str, Any] = {"text": piece if i == 0 else " " + piece}
            await self._send({"serverContent": {"inputTranscription": message}})
        await self._send({"serverContent": {"inputTranscription": {"finished": True}}})

    async def _speak(self, text: str, language: str | None) -> None:
        language = language or detect_language(text, default=self._language() or "en-US")
        voice = self._setup_value(
            ("generationConfig", "speechConfig", "voiceConfig", "prebuiltVoiceConfig", "voiceName")
        )
        pcm = await asyncio.to_thread(
            self._emulator.synthesizer.synthesize, text, language, sample_rate=OUTPUT_RATE, voice=voice
        )
        chunk_bytes = OUTPUT_RATE * 2 * self._config.audio_chunk_ms // 1000
        chunks = [pcm[i : i + chunk_bytes] for i in range(0, len(pcm), chunk_bytes)] or [b""]
        words = text.split(" ")
        transcribe = "outputAudioTranscription" in self._setup
        sent_words = 0
        loop = asyncio.get_running_loop()
        for index, chunk in enumerate(chunks):
            seconds = len(chunk) / (OUTPUT_RATE * 2)
            if self._config.generation_speed > 0:
                await asyncio.sleep(seconds / self._config.generation_speed)
            if transcribe:
                due = round(len(words) * (index + 1) / len(chunks))
                if due > sent_words:
                    piece = " ".join(words[sent_words:due])
                    await self._send(
                        {"serverContent": {"outputTranscription": {"text": piece if sent_words == 0 else " " + piece}}}
                    )
                    sent_words = due
            await self._send(
                {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": OUTPUT_MIME, "data": chunk}}]}}}
            )
            now = loop.time()
            self._play_end = max(self._play_end, now) + seconds

    async def _call_tools(self, calls: list[Call]) -> list[ToolResult]:
        """Send one ``toolCall``; wait for the BLOCKING functions' responses."""
        behaviors = self._function_behaviors()
        pending: list[_PendingCall] = []
        function_calls = []
        loop = asyncio.get_running_loop()
        for call in calls:
            call_id = f"function-call-{self._state.next_call_id}"
            self._state.next_call_id += 1
            blocking = behaviors.get(call.name) != "NON_BLOCKING"
            pending_call = _PendingCall(
                call_id, call.name, blocking, call.on_result, loop.create_future() if blocking else None
            )
            self._pending_calls[call_id] = pending_call
            pending.append(pending_call)
            function_calls.append({"id": call_id, "name": call.name, "args": dict(call.args)})
        await self._send({"toolCall": {"functionCalls": function_calls}})
        _LOGGER.info("Tool call sent: %s", ", ".join(c.name for c in calls))
        results = []
        for pending_call in pending:
            if pending_call.future is not None:
                results.append(ToolResult(pending_call.name, await pending_call.future))
        return results

    def _function_behaviors(self) -> dict[str, str]:
        behaviors: dict[str, str] = {}
        for tool in self._setup.get("tools", []):
            for declaration in tool.get("functionDeclarations", []):
                behaviors[declaration.get("name", "")] = declaration.get("behavior", "BLOCKING")
        return behaviors

    async def _fault(self, fault: Fault) -> None:
        _LOGGER.info("Injecting fault: %s", fault.kind)
        self._faulted = fault.kind != "go_away"  # the faults that end the connection
        if fault.kind == "internal_error":
            raise CloseConnection(wire.CLOSE_INTERNAL, wire.REASON_INTERNAL)
        if fault.kind == "quota":
            raise CloseConnection(wire.CLOSE_INTERNAL, wire.REASON_QUOTA)
        if fault.kind == "drop":
            self._abort()
            raise ConnectionResetError("dropped")
        self._start(self._go_away_timer(0.0))

    def _usage(self, model_turn: _ModelTurn, spoken: list[str]) -> dict[str, Any]:
        user = model_turn.user
        prompt_audio = round(user.audio_seconds * AUDIO_TOKENS_PER_SECOND) if user else 0
        prompt_text = sum(len(str(entry.get("text", ""))) // 4 for entry in self._state.history)
        response = sum(len(text) for text in spoken) // 2
        prompt = prompt_audio + prompt_text + 1
        response_key = "candidates" if self._endpoint.backend == "vertex" else "response"
        usage: dict[str, Any] = {
            "promptTokenCount": prompt,
            f"{response_key}TokenCount": response,
            "totalTokenCount": prompt + response,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_text + 1}],
            f"{response_key}TokensDetails": [{"modality": "AUDIO", "tokenCount": response}],
        }
        if prompt_audio:
            usage["promptTokensDetails"].append({"modality": "AUDIO", "tokenCount": prompt_audio})
        return usage

    def _language(self) -> str | None:
        value = self._setup_value(("generationConfig", "speechConfig", "languageCode"))
        return value if isinstance(value, str) else None

    def _setup_value(self, path: Sequence[str]) -> Any:
        return _lookup(self._setup, path)

    # ----------------------------------------------------------------------------------- session limits

    async def _send_resumption_update(self) -> None:
        self._last_handle = self._emulator.resumption.save(self._state)
        update: dict[str, Any] = {"newHandle": self._last_handle, "resumable": True}
        if self._transparent:
            update["lastConsumedClientMessageIndex"] = str(self._client_index)
        await self._send({"sessionResumptionUpdate": update})

    async def _resumption_ticker(self) -> None:
        interval = self._config.resumption_update_interval_s
        while self._resumption and interval > 0:
            await asyncio.sleep(interval)
            if not self._generating and not self._pending_calls and self._user is None:
                await self._send_resumption_update()

    async def _go_away_timer(self, after_s: float) -> None:
        await asyncio.sleep(after_s)
        time_left = self._config.faults.go_away_time_left_s
        await self._send({"goAway": {"timeLeft": wire.format_duration(time_left)}})
        _LOGGER.info("goAway sent (%s left)", time_left)
        await asyncio.sleep(time_left)
        raise CloseConnection(wire.CLOSE_POLICY, wire.REASON_GO_AWAY_ABORT)

    # --------------------------------------------------------------------------------------------- output

    async def _send(self, message: dict[str, Any]) -> None:
        frame = wire.encode_frame(_encode_bytes(message))
        async with self._send_lock:
            if self._ws.closed:
                raise ConnectionResetError("connection closed")
            await self._ws.send_bytes(frame)


def _lookup(value: Any, path: Sequence[str]) -> Any:
    """A nested field of a parsed message, or None where any level is missing."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _pieces(words: Sequence[str], size: int) -> list[str]:
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


def _encode_bytes(value: Any) -> Any:
    """Server JSON carries bytes as standard base64."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _encode_bytes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode_bytes(v) for v in value]
    return value


def _apply_constraints(setup: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """An ephemeral token's locked setup fields override what the client asked for."""
    token = caller.ephemeral
    if token is None or token.setup is None:
        return setup
    if token.field_mask is None:
        locked = dict(token.setup)
        if "sessionResumption" in setup:
            locked["sessionResumption"] = setup["sessionResumption"]
        return locked
    merged = dict(setup)
    for path in token.field_mask:
        _copy_path(token.setup, merged, path.split("."))
    return merged


def _copy_path(source: Mapping[str, Any], target: dict[str, Any], path: list[str]) -> None:
    head, rest = path[0], path[1:]
    if head not in source:
        return
    if not rest:
        target[head] = source[head]
        return
    child = target.setdefault(head, {})
    if isinstance(child, dict) and isinstance(source[head], Mapping):
        _copy_path(source[head], child, rest)
