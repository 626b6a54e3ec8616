"""The TTS agent against the emulator: audio streams out before the text has finished arriving, in
Gemini's voices and with a speaking style, in English and Arabic."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import re
import wave
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import homeassistant.components
import numpy as np
import pytest
from gemini_live_emulator import Emulator
from homeassistant.components import tts
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from custom_components.gemini_live.const import CONF_LANGUAGE, CONF_STYLE, CONF_VOICE, SUBENTRY_TTS, VOICES

from .common import entity_of, subentry_of

WAV_HEADER_BYTES = 44


def esphome_stream_wav() -> Any:
    """Home Assistant's own streaming WAV reader (ESPHome satellites), loaded without the ESPHome package
    (whose __init__ needs aioesphomeapi)."""
    path = Path(homeassistant.components.__file__).parent / "esphome" / "wav_parser.py"
    spec = importlib.util.spec_from_file_location("esphome_wav_parser", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.stream_wav


STREAM_TIMEOUT_S = 10


def tts_entity(hass: HomeAssistant, entry: ConfigEntry) -> Any:
    """The entry's TTS entity object."""
    return hass.data[tts.DATA_COMPONENT].get_entity(entity_of(hass, entry, SUBENTRY_TTS, "tts"))


def pcm_of(wav_bytes: bytes) -> tuple[bytes, int]:
    """The PCM and rate of a WAV (the streamed kind, whose header leaves the length unspecified, included)."""
    with wave.open(io.BytesIO(wav_bytes[:WAV_HEADER_BYTES])) as header:
        rate = header.getframerate()
        assert header.getsampwidth() == 2
        assert header.getnchannels() == 1
    return wav_bytes[WAV_HEADER_BYTES:], rate


def rms(pcm: bytes) -> float:
    """Loudness of 16-bit PCM."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


async def speak(entity: Any, text: str, options: dict[str, Any] | None = None) -> bytes:
    """The PCM the entity makes for a whole message."""
    extension, data = await entity.async_get_tts_audio(text, "en-US", options or {})
    assert extension == "wav"
    pcm, rate = pcm_of(data)
    assert rate == 24000
    return pcm


async def test_audio_streams_before_the_text_is_complete(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """The first sentence is heard while the rest of the reply has not even been written.

    The text stream holds its last sentence back until the first audio arrives: a TTS that waited
    for the whole message would never produce that audio, and the stream would fail.
    """
    entity_id = entity_of(hass, developer_entry, SUBENTRY_TTS, "tts")
    first_audio = asyncio.Event()
    events: list[str] = []

    async def reply() -> AsyncGenerator[str]:
        events.append("text: first sentence")
        yield "The kitchen light "
        yield "is on now. "
        await asyncio.wait_for(first_audio.wait(), STREAM_TIMEOUT_S)
        events.append("text: the rest")
        yield "The front door is locked. Good night."

    stream = tts.async_create_stream(hass, entity_id, "en-US", {tts.ATTR_PREFERRED_FORMAT: "wav"})
    assert stream.supports_streaming_input
    stream.async_set_message_stream(reply())
    chunks: list[bytes] = []
    async with asyncio.timeout(STREAM_TIMEOUT_S):
        async for chunk in stream.async_stream_result():
            chunks.append(chunk)
            if len(chunks) == 2:  # the WAV header, then the first audio
                events.append("audio: first chunk")
                first_audio.set()
    assert events == ["text: first sentence", "audio: first chunk", "text: the rest"]

    header = chunks[0]
    assert len(header) == WAV_HEADER_BYTES
    with wave.open(io.BytesIO(header)) as wav:
        assert wav.getframerate() == 24000
    pcm, _rate = pcm_of(b"".join(chunks))
    assert len(pcm) / (2 * 24000) > 2.0  # all three sentences
    assert rms(pcm) > 300


async def test_whole_message(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """A complete message becomes one WAV file with the right length."""
    _extension, data = await tts_entity(hass, developer_entry).async_get_tts_audio(
        "Hello there. How are you today?", "en-US", {}
    )
    with wave.open(io.BytesIO(data)) as wav:
        assert wav.getnframes() > 24000  # more than a second
        assert wav.getnframes() * 2 == len(data) - WAV_HEADER_BYTES


async def test_voices_languages_and_defaults(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """All 30 voices, Arabic as ar, ar-EG and English; the subentry's voice is the default."""
    entity = tts_entity(hass, developer_entry)
    voices = entity.async_get_supported_voices("ar")
    assert [voice.voice_id for voice in voices] == [name for name, _ in VOICES]
    assert len(voices) == 30
    assert {"ar", "ar-EG", "en", "en-US"} <= set(entity.supported_languages)
    assert entity.default_options == {tts.ATTR_VOICE: "Kore", "style": ""}
    assert entity.default_language == "en-US"


async def test_voice_and_style_are_used(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """Another voice sounds different; a style instruction is sent in front of the text."""
    entity = tts_entity(hass, developer_entry)
    text = "The kitchen light is on."
    kore = await speak(entity, text, {tts.ATTR_VOICE: "Kore"})
    puck = await speak(entity, text, {tts.ATTR_VOICE: "Puck"})
    assert kore != puck
    styled = await speak(entity, text, {tts.ATTR_VOICE: "Kore", "style": "Say cheerfully"})
    # The emulator speaks what it is sent, instruction included (a real model follows it instead).
    assert len(styled) > len(kore) * 1.3


async def test_arabic_with_a_fixed_language(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """A TTS agent set to Egyptian Arabic speaks Arabic text, through the pipeline's stream API."""
    subentry = subentry_of(developer_entry, SUBENTRY_TTS)
    hass.config_entries.async_update_subentry(
        developer_entry,
        subentry,
        data={**subentry.data, CONF_LANGUAGE: "ar-EG", CONF_VOICE: "Puck", CONF_STYLE: "Speak warmly"},
    )
    await hass.async_block_till_done()
    entity = tts_entity(hass, developer_entry)
    assert entity.default_language == "ar-EG"
    assert entity.default_options == {tts.ATTR_VOICE: "Puck", "style": "Speak warmly"}
    stream = tts.async_create_stream(hass, entity.entity_id, "ar", {tts.ATTR_PREFERRED_FORMAT: "wav", "style": ""})
    stream.async_set_message("تم تشغيل ضوء المطبخ. تصبح على خير.")
    data = b"".join([chunk async for chunk in stream.async_stream_result()])
    pcm, rate = pcm_of(data)
    assert rate == 24000
    assert len(pcm) / (2 * rate) > 1.0
    assert rms(pcm) > 300


async def test_empty_text_is_an_empty_wav(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """Nothing to say: a valid WAV without frames."""

    async def nothing() -> AsyncGenerator[str]:
        yield "   "

    response = await tts_entity(hass, developer_entry).async_stream_tts_audio(
        tts.TTSAudioRequest("en-US", {}, nothing())
    )
    data = b"".join([chunk async for chunk in response.data_gen])
    assert pcm_of(data) == (b"", 24000)


async def test_quota_error(hass: HomeAssistant, developer_entry: ConfigEntry, emulator: Emulator) -> None:
    """A refused synthesis raises a translated error from the audio stream."""
    emulator.config.faults.reject_rest = 1

    async def text() -> AsyncGenerator[str]:
        yield "Hello there."

    response = await tts_entity(hass, developer_entry).async_stream_tts_audio(tts.TTSAudioRequest("en-US", {}, text()))
    with pytest.raises(HomeAssistantError) as err:
        async for _chunk in response.data_gen:
            pass
    assert err.value.translation_key == "api_quota_exceeded"


async def test_streamed_wav_plays_to_the_end_in_every_reader(
    hass: HomeAssistant, developer_entry: ConfigEntry, tmp_path: Path
) -> None:
    """TTS as WAV through Home Assistant's stream (the path tts_get_url and the pipelines take): Python's
    wave, sox, and Home Assistant's own ESPHome WAV reader all get every sample, although the header went
    out before the length was known."""
    entity_id = entity_of(hass, developer_entry, SUBENTRY_TTS, "tts")
    stream = tts.async_create_stream(hass, entity_id, "en-US", {tts.ATTR_PREFERRED_FORMAT: "wav"})
    stream.async_set_message("The kitchen light is on. The front door is locked.")
    data = b"".join([chunk async for chunk in stream.async_stream_result()])
    pcm = data[WAV_HEADER_BYTES:]
    samples = len(pcm) // 2
    assert samples > 24000  # more than a second of speech

    with wave.open(io.BytesIO(data)) as wav:
        assert wav.readframes(wav.getnframes()) == pcm

    path = tmp_path / "reply.wav"
    await asyncio.to_thread(path.write_bytes, data)
    sox = await asyncio.create_subprocess_exec(
        "sox", str(path), "-n", "stat", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _out, err = await sox.communicate()
    assert sox.returncode == 0, err
    stat = err.decode()
    assert re.search(r"Samples read:\s+(\d+)", stat)[1] == str(samples), stat
    assert "WARN" not in stat

    async def as_stream() -> AsyncGenerator[bytes]:
        for start in range(0, len(data), 1000):
            yield data[start : start + 1000]

    played = b"".join(
        [
            chunk
            async for chunk, _last in esphome_stream_wav()(
                as_stream(), expected_channels=1, expected_width=2, expected_sample_rate=24000
            )
        ]
    )
    assert played == pcm
