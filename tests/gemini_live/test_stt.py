"""The STT agent against the emulator, with real speech (espeak-ng) in English and Arabic.

The emulator cannot recognise speech: it answers a transcription request with what the scenario says
the user said. What is tested is the integration's side: the audio arrives as a WAV Gemini accepts,
the request is a transcription, and the transcript comes back to the pipeline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from gemini_live_emulator import Emulator, Scenario, Turn
from homeassistant.components import stt
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from custom_components.gemini_live.const import CONF_LANGUAGE, SUBENTRY_STT
from tests.audio import speech_pcm

from .common import entity_of, subentry_of

CHUNK_BYTES = 1280  # 40 ms at 16 kHz, as satellites send it


def metadata(language: str) -> stt.SpeechMetadata:
    """What a voice satellite sends."""
    return stt.SpeechMetadata(
        language=language,
        format=stt.AudioFormats.WAV,
        codec=stt.AudioCodecs.PCM,
        bit_rate=stt.AudioBitRates.BITRATE_16,
        sample_rate=stt.AudioSampleRates.SAMPLERATE_16000,
        channel=stt.AudioChannels.CHANNEL_MONO,
    )


async def chunks(pcm: bytes) -> AsyncIterator[bytes]:
    """The utterance in satellite-sized chunks."""
    for start in range(0, len(pcm), CHUNK_BYTES):
        yield pcm[start : start + CHUNK_BYTES]


def stt_entity(hass: HomeAssistant, entry: ConfigEntry) -> Any:
    """The entry's STT entity object."""
    entity = stt.async_get_speech_to_text_entity(hass, entity_of(hass, entry, SUBENTRY_STT, "stt"))
    assert entity is not None
    return entity


@pytest.mark.parametrize(
    ("said", "language", "fixed_language"),
    [
        ("turn on the kitchen light", "en-US", None),
        ("شغل ضوء المطبخ", "ar", None),
        ("ولع النور في المطبخ", "ar", "ar-EG"),
    ],
)
async def test_transcribes_speech(  # noqa: PLR0917 - parametrized
    hass: HomeAssistant,
    developer_entry: ConfigEntry,
    emulator: Emulator,
    said: str,
    language: str,
    fixed_language: str | None,
) -> None:
    """Spoken English and Arabic come back as text in their own script."""
    if fixed_language:
        subentry = subentry_of(developer_entry, SUBENTRY_STT)
        hass.config_entries.async_update_subentry(
            developer_entry, subentry, data={**subentry.data, CONF_LANGUAGE: fixed_language}
        )
        await hass.async_block_till_done()
    emulator.scenario = Scenario(turns=(Turn(user=said, steps=()),))
    entity = stt_entity(hass, developer_entry)
    assert language in entity.supported_languages
    pcm = speech_pcm(said, "ar-EG" if language.startswith("ar") else "en-US", sample_rate=16000)
    result = await entity.internal_async_process_audio_stream(metadata(language), chunks(pcm))
    assert result == stt.SpeechResult(said, stt.SpeechResultState.SUCCESS)


async def test_supported_formats(hass: HomeAssistant, vertex_entry: ConfigEntry) -> None:
    """What the pipeline may send, and every Arabic and English tag."""
    entity = stt_entity(hass, vertex_entry)
    assert entity.supported_formats == [stt.AudioFormats.WAV, stt.AudioFormats.OGG]
    assert entity.supported_codecs == [stt.AudioCodecs.PCM, stt.AudioCodecs.OPUS]
    assert entity.supported_bit_rates == [stt.AudioBitRates.BITRATE_16]
    assert entity.supported_sample_rates == [stt.AudioSampleRates.SAMPLERATE_16000]
    assert entity.supported_channels == [stt.AudioChannels.CHANNEL_MONO]
    assert {"ar", "ar-EG", "ar-SA", "ar-MA", "en", "en-US", "en-GB"} <= set(entity.supported_languages)


async def test_vertex_transcription(hass: HomeAssistant, vertex_entry: ConfigEntry) -> None:
    """The same through Vertex AI (the default scenario's first turn is what was said)."""
    pcm = speech_pcm("turn on the kitchen light", "en-US", sample_rate=16000)
    result = await stt_entity(hass, vertex_entry).internal_async_process_audio_stream(metadata("en"), chunks(pcm))
    assert result.text == "turn on the kitchen light"


async def test_ogg_audio(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """Ogg/Opus from the pipeline goes to Gemini as it is, labelled audio/ogg."""
    ogg = stt.SpeechMetadata(
        language="en",
        format=stt.AudioFormats.OGG,
        codec=stt.AudioCodecs.OPUS,
        bit_rate=stt.AudioBitRates.BITRATE_16,
        sample_rate=stt.AudioSampleRates.SAMPLERATE_16000,
        channel=stt.AudioChannels.CHANNEL_MONO,
    )
    result = await stt_entity(hass, developer_entry).internal_async_process_audio_stream(ogg, chunks(b"OggS" * 100))
    assert result.text == "turn on the kitchen light"


async def test_error_is_an_error_result(hass: HomeAssistant, developer_entry: ConfigEntry, emulator: Emulator) -> None:
    """A refused request is an error result for the pipeline, not an exception."""
    emulator.config.faults.reject_rest = 1
    pcm = speech_pcm("hello", "en-US", sample_rate=16000)
    result = await stt_entity(hass, developer_entry).internal_async_process_audio_stream(metadata("en"), chunks(pcm))
    assert result == stt.SpeechResult(None, stt.SpeechResultState.ERROR)
