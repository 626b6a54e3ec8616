"""Streaming speech, independent of the service: sentences as text arrives, audio in order with one
request ahead, errors and early stops handled, WAV framing."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import AsyncGenerator, AsyncIterator

import pytest

from custom_components.gemini_live.speech import (
    AudioChunk,
    SentenceSplitter,
    pcm_rate,
    speech_language,
    stream_speech,
    stt_prompt,
    tts_prompt,
    wav_stream,
)


def test_sentences_as_text_arrives() -> None:
    """A sentence is complete at its end mark and the space after it, in Latin and Arabic script."""
    splitter = SentenceSplitter()
    assert splitter.feed("The light is on") == []
    assert splitter.feed(". Shall I") == ["The light is on."]
    assert splitter.feed(" dim it? ") == ["Shall I dim it?"]
    assert splitter.feed("هل أطفئ الضوء؟ نعم") == ["هل أطفئ الضوء؟"]
    assert splitter.feed("\nVersion 3.5 is out") == ["نعم"]
    assert splitter.flush() == "Version 3.5 is out"
    assert splitter.flush() == ""


def test_long_runs_without_punctuation_are_cut() -> None:
    """A run longer than the limit is cut at a space, or where it must."""
    splitter = SentenceSplitter(max_chars=20)
    assert splitter.feed("one two three four five six seven") == ["one two three four"]
    assert splitter.flush() == "five six seven"
    splitter = SentenceSplitter(max_chars=10)
    assert splitter.feed("x" * 25) == ["x" * 10, "x" * 10]
    assert splitter.flush() == "x" * 5


def test_language_and_prompts() -> None:
    """Language codes Gemini TTS takes; the style in front of the text; the STT language hint."""
    assert speech_language("ar") == "ar-EG"
    assert speech_language("ar-EG") == "ar-EG"
    assert speech_language("en") == "en-US"
    assert speech_language("fr-CA") == "fr-FR"
    assert speech_language("xx") is None
    assert speech_language(None) is None
    assert tts_prompt("Hello.", "Say cheerfully:") == "Say cheerfully: Hello."
    assert tts_prompt("Hello.", " ") == "Hello."
    assert pcm_rate("audio/L16;codec=pcm;rate=16000") == 16000
    assert pcm_rate(None) == 24000
    assert stt_prompt("Transcribe.", None) == "Transcribe."
    assert "ar-EG" in stt_prompt("Transcribe.", "ar-EG")


class OverlapCheck:
    """The first request cannot finish until the second has started: a TTS that synthesized one
    sentence after the other would never finish (the test's timeout would end it)."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.second_started = asyncio.Event()

    def speak(self, text: str) -> AsyncIterator[AudioChunk]:
        self.started.append(text)
        if len(self.started) == 2:
            self.second_started.set()
        return self._chunks(text, first=len(self.started) == 1)

    async def _chunks(self, text: str, *, first: bool) -> AsyncIterator[AudioChunk]:
        yield AudioChunk(f"[{text} a]".encode(), 24000)
        if first:
            await self.second_started.wait()
        yield AudioChunk(f"[{text} b]".encode(), 24000)


async def text_of(*pieces: str) -> AsyncGenerator[str]:
    """A text stream."""
    for piece in pieces:
        yield piece


async def test_next_sentence_is_synthesized_while_the_first_plays() -> None:
    """Audio comes out in order, while the next request is already under way."""
    check = OverlapCheck()
    async with asyncio.timeout(5):
        audio = [chunk.pcm async for chunk in stream_speech(text_of("One. ", "Two. ", "Three. Four."), check.speak)]
    assert check.started[0] == "One."
    assert " ".join(check.started) == "One. Two. Three. Four."
    assert b"".join(audio) == b"".join(f"[{text} a][{text} b]".encode() for text in check.started)


async def test_audio_flows_while_the_text_waits() -> None:
    """The first sentence's audio comes out while the text stream is still waiting for more."""
    first_audio = asyncio.Event()

    async def reply() -> AsyncGenerator[str]:
        yield "First sentence. "
        await first_audio.wait()  # a TTS that waited for the whole text would never get past this
        yield "Second one."

    async def speak(text: str) -> AsyncIterator[AudioChunk]:
        yield AudioChunk(text.encode(), 24000)

    received: list[bytes] = []
    async with asyncio.timeout(5):
        async for chunk in stream_speech(reply(), speak):
            received.append(chunk.pcm)
            first_audio.set()
    assert received == [b"First sentence.", b"Second one."]


async def test_text_error_is_raised_after_the_audio_so_far() -> None:
    """A failing text stream: what was complete is spoken, then the error comes."""

    async def failing() -> AsyncGenerator[str]:
        yield "Hello there. "
        raise RuntimeError("the model stopped")

    async def speak(text: str) -> AsyncIterator[AudioChunk]:
        yield AudioChunk(text.encode(), 24000)

    received: list[bytes] = []
    with pytest.raises(RuntimeError, match="the model stopped"):
        async for chunk in stream_speech(failing(), speak):
            received.append(chunk.pcm)
    assert received == [b"Hello there."]


async def test_synthesis_error_and_early_stop_leave_nothing_running() -> None:
    """A failed request raises where the audio is read; a listener that stops early cancels the rest."""

    async def broken(text: str) -> AsyncIterator[AudioChunk]:
        raise ConnectionError("gone")
        yield AudioChunk(b"", 24000)  # pragma: no cover - makes this an async generator

    with pytest.raises(ConnectionError):
        async for _chunk in stream_speech(text_of("Hi. There."), broken):
            pass

    check = OverlapCheck()
    audio = stream_speech(text_of("One. Two. Three."), check.speak)
    async for _chunk in audio:
        break
    await audio.aclose()  # type: ignore[attr-defined]
    tasks = [task for task in asyncio.all_tasks() if task.get_name().startswith("gemini_live tts")]
    assert all(task.done() for task in tasks)


async def test_wav_framing() -> None:
    """The header comes first, at the audio's own rate, with an unspecified length that readers read to the end
    of the file; no audio is a bare header."""

    async def chunks(*items: AudioChunk) -> AsyncIterator[AudioChunk]:
        for item in items:
            yield item

    data = [
        piece async for piece in wav_stream(chunks(AudioChunk(b"\x01\x00" * 10, 16000), AudioChunk(b"\x02\x00", 16000)))
    ]
    with wave.open(io.BytesIO(data[0])) as header:
        assert header.getframerate() == 16000
    assert data[0][40:44] == (0x7FFFF000).to_bytes(4, "little")  # sox's "length unspecified"
    assert data[1:] == [b"\x01\x00" * 10, b"\x02\x00"]
    with wave.open(io.BytesIO(b"".join(data))) as wav:
        assert wav.readframes(wav.getnframes()) == b"\x01\x00" * 10 + b"\x02\x00"
    empty = [piece async for piece in wav_stream(chunks())]
    assert len(empty) == 1
    with wave.open(io.BytesIO(empty[0])) as header:
        assert header.getframerate() == 24000
