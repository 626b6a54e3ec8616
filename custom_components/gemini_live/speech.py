"""Gemini speech both ways: text to streamed audio (TTS), and audio to a transcript (STT).

TTS starts speaking before the text is complete: the text is cut into sentences as it arrives, each
batch of sentences is synthesized with ``streamGenerateContent`` (AUDIO), and the audio is passed on
chunk by chunk, in order, while the next batch is already being synthesized (one request ahead).
"""

from __future__ import annotations

import asyncio
import io
import re
import struct
import wave
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from enum import Enum, auto
from typing import Final

from google.genai import types
from homeassistant.exceptions import HomeAssistantError

from .client import GeminiClient, aclose_stream
from .const import DOMAIN, LOGGER, TTS_LANGUAGES

DEFAULT_RATE: Final = 24000  # what Gemini's TTS models produce
SAMPLE_WIDTH: Final = 2
UNSPECIFIED_DATA_LENGTH: Final = 0x7FFFF000  # sox's "length unspecified" (MS_UNSPEC), read to the end of the file
MAX_SENTENCE_CHARS: Final = 300  # longer runs without punctuation are cut at a space
LOOKAHEAD: Final = 1  # requests started while the current one is still being played

# A sentence ends at end punctuation (Latin, Arabic, CJK, ellipsis) plus closing quotes, then whitespace;
# or at a line break.
_SENTENCE_END: Final = re.compile(r"[.!?؟。！？…]+[\"'”’»)\]]*\s+|\n+")
_RATE: Final = re.compile(r"rate=(\d+)")
# The region a bare language means where Gemini speaks several (the others: the only one listed).
_PREFERRED_REGION: Final = {"en": "en-US", "es": "es-ES", "pt": "pt-BR", "nb": "nb-NO"}


class SentenceSplitter:
    """Text that arrives in pieces, handed out as whole sentences."""

    def __init__(self, max_chars: int = MAX_SENTENCE_CHARS) -> None:
        """Start with nothing buffered."""
        self._buffer = ""
        self._max_chars = max_chars

    def feed(self, text: str) -> list[str]:
        """Add text; return the sentences it completed."""
        self._buffer += text
        sentences: list[str] = []
        while match := _SENTENCE_END.search(self._buffer):
            sentence, self._buffer = self._buffer[: match.end()].strip(), self._buffer[match.end() :]
            if sentence:
                sentences.append(sentence)
        while len(self._buffer) > self._max_chars:
            cut = self._buffer.rfind(" ", 0, self._max_chars)
            cut = cut if cut > 0 else self._max_chars
            sentence, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if sentence:
                sentences.append(sentence)
        return sentences

    def flush(self) -> str:
        """Whatever is left at the end of the text."""
        rest, self._buffer = self._buffer.strip(), ""
        return rest


# ------------------------------------------------------------------------------------------------ TTS


def speech_language(language: str | None) -> str | None:
    """The language code Gemini TTS takes for a Home Assistant language (None: let Gemini detect it)."""
    if not language:
        return None
    if language in TTS_LANGUAGES:
        return language
    primary = language.split("-")[0].lower()
    if primary in _PREFERRED_REGION:
        return _PREFERRED_REGION[primary]
    return next((code for code in TTS_LANGUAGES if code.split("-")[0] == primary), None)


def tts_config(voice: str, language: str | None, temperature: float | None) -> types.GenerateContentConfig:
    """A TTS request's config: audio out, one prebuilt voice, and the language when one is fixed."""
    return types.GenerateContentConfig(
        response_modalities=[types.Modality.AUDIO],
        temperature=temperature,
        # No tools here: without this the SDK logs that automatic function calling is on, on every call.
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        speech_config=types.SpeechConfig(
            voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=voice)),
            language_code=language,
        ),
    )


def tts_prompt(text: str, style: str | None) -> str:
    """The text to speak, with the style instruction in front as Gemini TTS expects it ("Say cheerfully: ...")."""
    style = (style or "").strip().rstrip(":")
    return f"{style}: {text}" if style else text


@dataclass(frozen=True)
class AudioChunk:
    """16-bit mono PCM and its sample rate."""

    pcm: bytes
    rate: int


def pcm_rate(mime_type: str | None) -> int:
    """The sample rate in an ``audio/L16;rate=24000`` MIME type."""
    match = _RATE.search(mime_type or "")
    return int(match[1]) if match else DEFAULT_RATE


async def synthesize(
    client: GeminiClient, model: str, text: str, config: types.GenerateContentConfig
) -> AsyncIterator[AudioChunk]:
    """Speak ``text`` with one streamed request, chunk by chunk as the model produces it."""
    stream = await client.aio.models.generate_content_stream(model=model, contents=text, config=config)
    try:
        async for response in stream:
            for candidate in response.candidates or []:
                for part in (candidate.content.parts or []) if candidate.content else []:
                    blob = part.inline_data
                    if blob is not None and blob.data:
                        yield AudioChunk(blob.data, pcm_rate(blob.mime_type))
            if response.prompt_feedback and response.prompt_feedback.block_reason:
                LOGGER.warning("Gemini refused to speak the text (%s)", response.prompt_feedback.block_reason)
                raise HomeAssistantError(translation_domain=DOMAIN, translation_key="blocked")
    finally:
        await aclose_stream(stream)


def wav_header(rate: int) -> bytes:
    """The header of a streamed WAV, whose length is not known when the header goes out.

    A header saying 0 data bytes is a file of no samples to most readers (Python's ``wave``, sox, Home
    Assistant's own ESPHome and VoIP players). So the sizes say "unspecified" the way sox writes a WAV
    to a pipe (data length 0x7ffff000): readers then read the samples to the end of the file, sox and
    ffmpeg without a warning.
    """
    byte_rate = rate * SAMPLE_WIDTH
    return b"".join(
        (
            b"RIFF",
            struct.pack("<I", UNSPECIFIED_DATA_LENGTH + 36),
            b"WAVEfmt ",
            struct.pack("<IHHIIHH", 16, 1, 1, rate, byte_rate, SAMPLE_WIDTH, SAMPLE_WIDTH * 8),
            b"data",
            struct.pack("<I", UNSPECIFIED_DATA_LENGTH),
        )
    )


def wav_file(pcm: bytes, rate: int) -> bytes:
    """A complete WAV file."""
    with io.BytesIO() as buffer:
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(SAMPLE_WIDTH)
            wav.setframerate(rate)
            wav.writeframes(pcm)
        return buffer.getvalue()


class _Segments:
    """Sentences waiting to be synthesized, filled from the text stream by a reader task.

    ``on_put`` runs as each sentence arrives, so that its synthesis can start at once, even while
    the audio of an earlier sentence is still streaming.
    """

    def __init__(self, on_put: Callable[[], None]) -> None:
        self.items: deque[str] = deque()
        self.closed = False
        self.error: BaseException | None = None
        self._changed = asyncio.Event()
        self._on_put = on_put

    def put(self, text: str) -> None:
        self.items.append(text)
        self._changed.set()
        self._on_put()

    def close(self, error: BaseException | None = None) -> None:
        self.closed = True
        self.error = error
        self._changed.set()

    async def wait(self) -> None:
        """Until something changed: a sentence arrived (its synthesis may have started already) or the text ended."""
        if self.items or self.closed:
            return
        self._changed.clear()
        await self._changed.wait()

    async def read(self, text_stream: AsyncIterable[str]) -> None:
        """Cut the incoming text into sentences (run as a task)."""
        splitter = SentenceSplitter()
        try:
            async for piece in text_stream:
                for sentence in splitter.feed(piece):
                    self.put(sentence)
            if rest := splitter.flush():
                self.put(rest)
        except Exception as err:
            self.close(err)
        else:
            self.close()


class _Done(Enum):
    """The end of a synthesis's audio (an enum member, so that the queue's item type can name it)."""

    DONE = auto()


_DONE: Final = _Done.DONE


class _Synthesis:
    """One batch of text being synthesized in the background; its audio queues up for playing in order."""

    def __init__(self, text: str, speak: Callable[[str], AsyncIterator[AudioChunk]]) -> None:
        self.queue: asyncio.Queue[AudioChunk | Exception | _Done] = asyncio.Queue()
        self.task = asyncio.create_task(self._run(text, speak), name="gemini_live tts sentence")

    async def _run(self, text: str, speak: Callable[[str], AsyncIterator[AudioChunk]]) -> None:
        try:
            async for chunk in speak(text):
                self.queue.put_nowait(chunk)
        except Exception as err:
            self.queue.put_nowait(err)
        finally:
            self.queue.put_nowait(_DONE)

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        while (item := await self.queue.get()) is not _DONE:
            if isinstance(item, Exception):
                raise item
            yield item


async def stream_speech(
    text_stream: AsyncIterable[str], speak: Callable[[str], AsyncIterator[AudioChunk]]
) -> AsyncIterator[AudioChunk]:
    """Audio for text that is still arriving: each sentence is synthesized as soon as it is complete."""
    running: deque[_Synthesis] = deque()
    started = False

    def start_ready() -> None:
        nonlocal started
        while segments.items and len(running) <= LOOKAHEAD:
            # The first request is the first sentence alone, for the quickest first audio; later ones
            # take every sentence that is ready, for fewer requests.
            text = segments.items.popleft()
            while started and segments.items:
                text += " " + segments.items.popleft()
            started = True
            running.append(_Synthesis(text, speak))

    segments = _Segments(on_put=start_ready)
    reader = asyncio.create_task(segments.read(text_stream), name="gemini_live tts text")
    try:
        while True:
            start_ready()
            if not running:
                if segments.closed and not segments.items:
                    break
                await segments.wait()
                continue
            async for chunk in running[0].chunks():
                yield chunk
            running.popleft()
        if segments.error is not None:
            raise segments.error
    finally:
        tasks = [reader, *(synthesis.task for synthesis in running)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def wav_stream(chunks: AsyncIterator[AudioChunk]) -> AsyncGenerator[bytes]:
    """Audio chunks as a streamed WAV: the header (at the first chunk's rate), then raw PCM."""
    header_sent = False
    async for chunk in chunks:
        if not header_sent:
            header_sent = True
            yield wav_header(chunk.rate)
        yield chunk.pcm
    if not header_sent:
        yield wav_header(DEFAULT_RATE)


# ------------------------------------------------------------------------------------------------ STT


def stt_prompt(prompt: str, language: str | None) -> str:
    """The transcription instruction, with the expected language when it is known."""
    if not language:
        return prompt
    return f"{prompt}\nThe spoken language is {language}. Transcribe in that language, in its own script."


async def transcribe(
    client: GeminiClient, model: str, prompt: str, audio: bytes, *, mime_type: str, config: types.GenerateContentConfig
) -> str:
    """The transcript of one utterance (streamed back, joined)."""
    contents = types.Content(
        role="user", parts=[types.Part.from_text(text=prompt), types.Part.from_bytes(data=audio, mime_type=mime_type)]
    )
    stream = await client.aio.models.generate_content_stream(model=model, contents=contents, config=config)
    pieces: list[str] = []
    try:
        async for response in stream:
            if not response.candidates and response.prompt_feedback:
                LOGGER.warning("Gemini refused to transcribe the audio (%s)", response.prompt_feedback.block_reason)
                raise HomeAssistantError(translation_domain=DOMAIN, translation_key="blocked")
            for candidate in response.candidates or []:
                for part in (candidate.content.parts or []) if candidate.content else []:
                    if part.text and not part.thought:
                        pieces.append(part.text)
    finally:
        await aclose_stream(stream)
    return "".join(pieces).strip()
