"""Helpers for tests that drive the emulator's Live endpoint through the real google-genai SDK."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.genai import types

MIC_RATE = 16000
REPLY_RATE = 24000


@dataclass
class TurnLog:
    """Everything the client saw during one model turn (up to and including turnComplete)."""

    messages: list[types.LiveServerMessage] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    input_text: str = ""
    output_text: str = ""
    tool_calls: list[types.FunctionCall] = field(default_factory=list)
    cancelled_ids: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # the order of what arrived, by kind

    @property
    def reply_seconds(self) -> float:
        """Duration of the reply audio."""
        return len(self.audio) / (2 * REPLY_RATE)

    def last(self, kind: str) -> types.LiveServerMessage:
        """The last message of a kind (as named in ``events``)."""
        for message, event in zip(reversed(self.messages), reversed(self.events), strict=True):
            if event == kind:
                return message
        raise AssertionError(f"no {kind} in {self.events}")


def classify(message: types.LiveServerMessage) -> str:
    """A short name for what a server message carries."""
    content = message.server_content
    if content is not None:
        for name in ("interrupted", "turn_complete", "generation_complete"):
            if getattr(content, name):
                return name
        if content.input_transcription is not None:
            return "input_transcription"
        if content.output_transcription is not None:
            return "output_transcription"
        if content.model_turn is not None:
            return "audio"
    for name in (
        "tool_call",
        "tool_call_cancellation",
        "go_away",
        "session_resumption_update",
        "setup_complete",
    ):
        if getattr(message, name) is not None:
            return name
    return "other"


async def collect_turn(
    session: Any,
    answer: Callable[[types.FunctionCall], dict[str, Any] | None] | None = None,
    log: TurnLog | None = None,
) -> TurnLog:
    """Receive until turnComplete; answer tool calls with ``answer`` (None: leave them unanswered)."""
    log = log or TurnLog()
    async for message in session.receive():
        kind = classify(message)
        log.messages.append(message)
        log.events.append(kind)
        content = message.server_content
        if content is not None:
            if content.input_transcription is not None and content.input_transcription.text:
                log.input_text += content.input_transcription.text
            if content.output_transcription is not None and content.output_transcription.text:
                log.output_text += content.output_transcription.text
        if message.data:
            log.audio.extend(message.data)
        if message.tool_call_cancellation is not None:
            log.cancelled_ids.extend(message.tool_call_cancellation.ids or [])
        if message.tool_call is not None:
            calls = message.tool_call.function_calls or []
            log.tool_calls.extend(calls)
            if answer is not None:
                responses = [
                    types.FunctionResponse(id=call.id, name=call.name, response=result)
                    for call in calls
                    if (result := answer(call)) is not None
                ]
                if responses:
                    await session.send_tool_response(function_responses=responses)
    return log


async def send_audio(session: Any, pcm: bytes, rate: int = MIC_RATE, chunk_ms: int = 100) -> None:
    """Stream PCM in microphone-sized chunks (unpaced: the emulator's activity detection runs on audio time)."""
    chunk = rate * 2 * chunk_ms // 1000
    for start in range(0, len(pcm), chunk):
        await session.send_realtime_input(
            audio=types.Blob(data=pcm[start : start + chunk], mime_type=f"audio/pcm;rate={rate}")
        )


def live_url(emulator: Any, path: str) -> str:
    """``wss://`` URL of a path on the emulator."""
    return str(emulator.base_url).replace("https://", "wss://") + path


DEV_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
VERTEX_PATH = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"


def raw_connect(emulator: Any, url: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """A plain ``websockets`` client (no SDK) trusting the emulator's CA."""
    import ssl

    import websockets

    context = ssl.create_default_context(cafile=emulator.ca_file)
    return websockets.connect(url, ssl=context, additional_headers=headers or {}, **kwargs)
