"""The three Gemini REST calls of a cascaded turn, through the google-genai SDK: transcribe, answer, speak.

* :func:`transcribe`: ``generateContent`` on a text model with the conversation so far and the user's audio
  (a 16 kHz WAV) behind a prompt asking for a verbatim transcript.
* :func:`answer`: ``generateContent`` on the text model with the conversation and the user's words, the
  tools declared and automatic function calling off; while the model calls functions, the caller runs
  them and the model is asked again with the results (a bounded number of rounds).
* :func:`speak`: ``streamGenerateContent`` on a TTS model; its 24 kHz PCM (``audio/L16;codec=pcm;rate=24000``)
  is handed on in ~100 ms pieces as it arrives.

Each call is bounded by a timeout. :func:`rest_error` names why a call failed as a
:class:`~gemini_live_engine.errors.LiveError` (the same causes the Live engine reports: quota, credentials,
model, network).
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import time
import wave
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from ..audio import GEMINI_OUTPUT, AudioFormat, Converter
from ..errors import CLOSE_INVALID_ARGUMENT, CLOSE_POLICY, LiveError, classify, from_close
from .endpointing import SAMPLE_RATE

_LOGGER = logging.getLogger(__name__)

TRANSCRIBE_INSTRUCTION: Final = (
    "You are a speech-to-text engine. Reply with exactly the words spoken in the audio, in the language "
    "they were spoken in, and nothing else. Do not answer or comment on them."
)
TRANSCRIBE_PROMPT: Final = "Transcribe this audio verbatim."
MAX_TOOL_ROUNDS: Final = 5
REQUEST_TIMEOUT_S: Final = 60.0  # one generateContent call, or the wait for the next piece of streamed speech
AUDIO_PIECE_S: Final = 0.1  # AudioOut pieces of speech

_RATE: Final = re.compile(r"rate=(\d+)")

RunCalls: TypeAlias = Callable[[Sequence[types.FunctionCall]], Awaitable[list[types.Part]]]
"""Runs one round of the model's function calls; returns a ``function_response`` part for each."""


def wav_bytes(pcm16k: bytes) -> bytes:
    """16 kHz mono 16-bit PCM as a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm16k)
    return buffer.getvalue()


def text_of(content: types.Content | None) -> str:
    """The text parts of a model content, joined (thoughts left out)."""
    if content is None:
        return ""
    return "".join(part.text for part in content.parts or [] if part.text and not part.thought)


def _first_content(response: types.GenerateContentResponse) -> types.Content | None:
    candidates = response.candidates or []
    return candidates[0].content if candidates else None


def _finish_reason(response: types.GenerateContentResponse) -> str | None:
    if response.prompt_feedback is not None and response.prompt_feedback.block_reason is not None:
        return f"prompt blocked: {response.prompt_feedback.block_reason}"
    candidates = response.candidates or []
    reason = candidates[0].finish_reason if candidates else None
    return str(reason.value) if isinstance(reason, types.FinishReason) else reason


async def transcribe(
    client: genai.Client, model: str, history: Sequence[types.Content], pcm16k: bytes, language: str | None = None
) -> str:
    """What the user said in ``pcm16k`` (16 kHz mono PCM), with the conversation so far for context."""
    prompt = TRANSCRIBE_PROMPT if language is None else f"{TRANSCRIBE_PROMPT} The language is probably {language}."
    request = types.Content(
        role="user",
        parts=[types.Part.from_text(text=prompt), types.Part.from_bytes(data=wav_bytes(pcm16k), mime_type="audio/wav")],
    )
    config = types.GenerateContentConfig(
        system_instruction=TRANSCRIBE_INSTRUCTION,
        temperature=0.0,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    async with asyncio.timeout(REQUEST_TIMEOUT_S):
        response = await client.aio.models.generate_content(model=model, contents=[*history, request], config=config)
    return text_of(_first_content(response)).strip()


@dataclass
class Answer:
    """The model's answer to one user turn."""

    text: str
    contents: list[types.Content] = field(default_factory=list)
    """What the turn adds to the conversation after the user's words: function calls, their results, the answer."""
    tool_calls: int = 0
    requests: int = 0
    finish_reason: str | None = None


async def answer(
    client: genai.Client,
    model: str,
    contents: Sequence[types.Content],
    *,
    system_prompt: str | None,
    declarations: Sequence[types.FunctionDeclaration],
    run_calls: RunCalls,
    max_rounds: int = MAX_TOOL_ROUNDS,
    log_prefix: str = "",
) -> Answer:
    """Ask the model; run its function calls (``run_calls``) and ask again, ``max_rounds`` times at most.

    ``contents`` ends with the user's words. Function calls are sent back exactly as the model made them
    (Gemini 3 wants its thought signatures replayed).
    """
    config = types.GenerateContentConfig(
        system_instruction=system_prompt or None,
        tools=[types.Tool(function_declarations=list(declarations))] if declarations else None,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    result = Answer("")
    while True:
        result.requests += 1
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            response = await client.aio.models.generate_content(
                model=model, contents=[*contents, *result.contents], config=config
            )
        content = _first_content(response)
        calls = [part.function_call for part in (content.parts or []) if part.function_call] if content else []
        result.finish_reason = _finish_reason(response)
        if not calls:
            result.text = text_of(content).strip()
            if content is not None and content.parts:
                result.contents.append(types.Content(role="model", parts=content.parts))
            return result
        assert content is not None
        if result.requests > max_rounds:
            _LOGGER.warning(
                "%sthe model still calls functions after %d rounds; answering without them", log_prefix, max_rounds
            )
            result.text = text_of(content).strip()
            return result
        result.contents.append(types.Content(role="model", parts=content.parts))
        result.tool_calls += len(calls)
        result.contents.append(types.Content(role="user", parts=await run_calls(calls)))
        _LOGGER.debug("%ssending %d function result(s) to Gemini (model %s)", log_prefix, len(calls), model)


@dataclass
class Speech:
    """What :func:`speak` produced."""

    byte_count: int = 0
    first_audio_s: float | None = None  # seconds from the request to the first audio

    @property
    def seconds(self) -> float:
        """Length of the speech."""
        return GEMINI_OUTPUT.seconds(self.byte_count)


async def speak(
    client: genai.Client,
    model: str,
    text: str,
    on_audio: Callable[[bytes], None],
    *,
    voice: str | None,
    language: str | None,
) -> Speech:
    """Speak ``text``: hand each ~100 ms piece of 24 kHz mono PCM to ``on_audio`` as it streams in."""
    config = types.GenerateContentConfig(
        response_modalities=[types.Modality.AUDIO],
        speech_config=types.SpeechConfig(
            voice_config=(
                types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=voice)) if voice else None
            ),
            language_code=language,
        ),
    )
    speech = Speech()
    pieces = _Pieces(on_audio, GEMINI_OUTPUT.byte_count(AUDIO_PIECE_S))
    converter: Converter | None = None
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(REQUEST_TIMEOUT_S) as deadline:
        stream = await client.aio.models.generate_content_stream(model=model, contents=text, config=config)
        try:
            async for chunk in stream:
                deadline.reschedule(loop.time() + REQUEST_TIMEOUT_S)
                for blob in _audio_blobs(chunk):
                    rate = _rate(blob.mime_type or "")
                    if converter is None and rate != GEMINI_OUTPUT.rate:
                        converter = Converter(AudioFormat(rate, 2, 1), GEMINI_OUTPUT)
                    pcm = converter.convert(blob.data or b"") if converter is not None else blob.data or b""
                    if speech.first_audio_s is None and pcm:
                        speech.first_audio_s = time.monotonic() - started
                    speech.byte_count += len(pcm)
                    pieces.add(pcm)
        finally:
            if (close := getattr(stream, "aclose", None)) is not None:
                await close()  # release the connection even when the stream was not read to its end
    if converter is not None:
        tail = converter.flush()
        speech.byte_count += len(tail)
        pieces.add(tail)
    pieces.flush()
    return speech


def _audio_blobs(response: types.GenerateContentResponse) -> list[types.Blob]:
    """The audio parts of a streamed response chunk."""
    content = _first_content(response)
    blobs = [part.inline_data for part in (content.parts or [])] if content is not None else []
    return [blob for blob in blobs if blob is not None and blob.data and (blob.mime_type or "").startswith("audio/")]


def _rate(mime_type: str) -> int:
    """The sample rate a PCM MIME type names (``audio/L16;codec=pcm;rate=24000``); 24 kHz when it names none."""
    match = _RATE.search(mime_type)
    return int(match[1]) if match else GEMINI_OUTPUT.rate


class _Pieces:
    """Cuts a stream of PCM into pieces of a fixed size (the last one may be shorter)."""

    def __init__(self, out: Callable[[bytes], None], size: int) -> None:
        self._out = out
        self._size = size
        self._buffer = b""

    def add(self, pcm: bytes) -> None:
        data = self._buffer + pcm
        whole = len(data) - len(data) % self._size
        for start in range(0, whole, self._size):
            self._out(data[start : start + self._size])
        self._buffer = data[whole:]

    def flush(self) -> None:
        usable = len(self._buffer) - len(self._buffer) % 2
        if usable:
            self._out(self._buffer[:usable])
        self._buffer = b""


def rest_error(error: BaseException) -> LiveError:
    """The :class:`LiveError` for anything a REST call raised (HTTP statuses as REST reports them)."""
    if not isinstance(error, genai_errors.APIError):
        return classify(error)
    status = error.code
    text = (error.message or error.status or "").strip()
    detail = f"HTTP {status}: {text}" if text else f"HTTP {status}"
    if status == 429 or error.status == "RESOURCE_EXHAUSTED":
        return LiveError("quota", f"the Gemini quota is exhausted ({detail})", code=status, retryable=True)
    if status in (400, 401, 403):
        # The REST texts are the ones Live closes with (1007 invalid argument, 1008 credentials).
        named = from_close(CLOSE_INVALID_ARGUMENT if status == 400 else CLOSE_POLICY, text)
        if named.cause.startswith("auth_") or named.cause == "location_unsupported":
            return LiveError(named.cause, named.message, code=status)
        if status == 400:
            return LiveError("invalid_argument", f"the service refused the request as invalid ({detail})", code=status)
        return LiveError("auth_refused", f"the service refused the credentials ({detail})", code=status)
    if status == 404:
        return LiveError("model_not_found", f"the model or endpoint was not found ({detail})", code=status)
    if status == 500:
        return LiveError("internal", f"the service had an internal error ({detail})", code=status, retryable=True)
    if status == 408 or status > 500:
        return LiveError("unavailable", f"the service is unavailable ({detail})", code=status, retryable=True)
    return LiveError("http_error", f"the service refused the request ({detail})", code=status)
