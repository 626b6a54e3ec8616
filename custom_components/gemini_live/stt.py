"""Gemini as a speech-to-text agent: the pipeline's audio, transcribed the moment it ends."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import override

from homeassistant.components import stt
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_PROMPT
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import GeminiLiveConfigEntry
from .chat import generate_config
from .const import (
    ARABIC_LOCALES,
    CONF_LANGUAGE,
    DEFAULT_STT_PROMPT,
    ENGLISH_LOCALES,
    LANGUAGE_AUTO,
    LOGGER,
    RECOMMENDED_STT_MODEL,
    SUBENTRY_STT,
    TTS_LANGUAGES,
)
from .entity import API_EXCEPTIONS, GeminiLiveEntity
from .speech import stt_prompt, transcribe, wav_file

PARALLEL_UPDATES = 0

SUPPORTED_LANGUAGES = sorted(
    {*ARABIC_LOCALES, *ENGLISH_LOCALES, *TTS_LANGUAGES, *(code.split("-")[0] for code in TTS_LANGUAGES)}
)


async def async_setup_entry(
    hass: HomeAssistant, entry: GeminiLiveConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """One STT agent per STT subentry."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_STT:
            async_add_entities([GeminiLiveSTTEntity(entry, subentry)], config_subentry_id=subentry.subentry_id)


class GeminiLiveSTTEntity(stt.SpeechToTextEntity, GeminiLiveEntity):
    """A Gemini speech-to-text agent."""

    def __init__(self, entry: GeminiLiveConfigEntry, subentry: ConfigSubentry) -> None:
        """Transcription model and prompt from the subentry."""
        super().__init__(entry, subentry, RECOMMENDED_STT_MODEL)

    @property
    @override
    def supported_languages(self) -> list[str]:
        """Gemini's languages, Arabic and English in all their regional tags."""
        return SUPPORTED_LANGUAGES

    @property
    @override
    def supported_formats(self) -> list[stt.AudioFormats]:
        """Raw PCM (sent as WAV) and Ogg."""
        return [stt.AudioFormats.WAV, stt.AudioFormats.OGG]

    @property
    @override
    def supported_codecs(self) -> list[stt.AudioCodecs]:
        """PCM and Opus."""
        return [stt.AudioCodecs.PCM, stt.AudioCodecs.OPUS]

    @property
    @override
    def supported_bit_rates(self) -> list[stt.AudioBitRates]:
        """16-bit samples."""
        return [stt.AudioBitRates.BITRATE_16]

    @property
    @override
    def supported_sample_rates(self) -> list[stt.AudioSampleRates]:
        """What voice satellites send."""
        return [stt.AudioSampleRates.SAMPLERATE_16000]

    @property
    @override
    def supported_channels(self) -> list[stt.AudioChannels]:
        """Mono."""
        return [stt.AudioChannels.CHANNEL_MONO]

    @override
    async def async_process_audio_stream(
        self, metadata: stt.SpeechMetadata, stream: AsyncIterable[bytes]
    ) -> stt.SpeechResult:
        """Collect the utterance and send it the moment it ends; the transcript streams back."""
        audio = bytearray()
        async for chunk in stream:
            audio += chunk
        if metadata.format == stt.AudioFormats.WAV:
            data, mime_type = wav_file(bytes(audio), metadata.sample_rate.value), "audio/wav"
        else:
            data, mime_type = bytes(audio), "audio/ogg"

        language = self.options.get(CONF_LANGUAGE, LANGUAGE_AUTO)
        prompt = stt_prompt(
            self.options.get(CONF_PROMPT, DEFAULT_STT_PROMPT),
            metadata.language if language == LANGUAGE_AUTO else language,
        )
        config = generate_config(self.model, self.model_options)
        try:
            text = await transcribe(self.client, self.model, prompt, data, mime_type=mime_type, config=config)
        except API_EXCEPTIONS as err:
            LOGGER.error("Transcription failed: %s", self.api_error(err))
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
        except HomeAssistantError as err:
            LOGGER.error("Transcription failed: %s", err)
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
        self.api_succeeded()
        if not text:
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
        return stt.SpeechResult(text, stt.SpeechResultState.SUCCESS)
