"""Gemini's native voices as a text-to-speech agent that speaks while the text is still being written."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any, override

from homeassistant.components import tts
from homeassistant.components.tts.entity import TTSAudioRequest, TTSAudioResponse
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import GeminiLiveConfigEntry
from .chat import supports_sampling
from .const import (
    ARABIC_LOCALES,
    CONF_LANGUAGE,
    CONF_STYLE,
    CONF_TEMPERATURE,
    CONF_VOICE,
    DEFAULT_VOICE,
    ENGLISH_LOCALES,
    LANGUAGE_AUTO,
    RECOMMENDED_TTS_MODEL,
    SUBENTRY_TTS,
    TTS_LANGUAGES,
    VOICES,
)
from .entity import API_EXCEPTIONS, GeminiLiveEntity
from .speech import (
    DEFAULT_RATE,
    AudioChunk,
    speech_language,
    stream_speech,
    synthesize,
    tts_config,
    tts_prompt,
    wav_file,
    wav_stream,
)

PARALLEL_UPDATES = 0

ATTR_STYLE = CONF_STYLE
# Gemini's own list, each language without its region, and Arabic and English in every regional tag a
# voice assistant may carry (Gemini speaks them all; the tag also picks the accent when it is fixed).
SUPPORTED_LANGUAGES = sorted(
    {*TTS_LANGUAGES, *(code.split("-")[0] for code in TTS_LANGUAGES), *ARABIC_LOCALES, *ENGLISH_LOCALES}
)
_VOICES = [tts.Voice(name, f"{name} ({character})") for name, character in VOICES]


async def async_setup_entry(
    hass: HomeAssistant, entry: GeminiLiveConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """One TTS agent per TTS subentry."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_TTS:
            async_add_entities([GeminiLiveTTSEntity(entry, subentry)], config_subentry_id=subentry.subentry_id)


class GeminiLiveTTSEntity(tts.TextToSpeechEntity, GeminiLiveEntity):
    """A Gemini text-to-speech agent."""

    _attr_supported_languages = SUPPORTED_LANGUAGES

    def __init__(self, entry: GeminiLiveConfigEntry, subentry: ConfigSubentry) -> None:
        """Default language and voice from the subentry."""
        super().__init__(entry, subentry, RECOMMENDED_TTS_MODEL)
        # Home Assistant's TTS manager needs the entity's own name (it refuses None, the device's name).
        self._attr_has_entity_name = False
        self._attr_name = subentry.title
        self._attr_supported_options = [tts.ATTR_VOICE, ATTR_STYLE]
        language = self.options.get(CONF_LANGUAGE, LANGUAGE_AUTO)
        self._fixed_language: str | None = None if language == LANGUAGE_AUTO else language
        self._attr_default_language = self._fixed_language or "en-US"
        self._voice: str = self.options.get(CONF_VOICE, DEFAULT_VOICE)
        self._style: str = self.options.get(CONF_STYLE, "")
        self._attr_default_options = {tts.ATTR_VOICE: self._voice, ATTR_STYLE: self._style}

    @callback
    @override
    def async_get_supported_voices(self, language: str) -> list[tts.Voice]:
        """All of Gemini's voices speak every language."""
        return _VOICES

    @override
    async def async_stream_tts_audio(self, request: TTSAudioRequest) -> TTSAudioResponse:
        """Speak text while it is still arriving: audio for the first sentence comes before the rest is known."""
        return TTSAudioResponse("wav", wav_stream(self._audio(request.message_gen, request.options)))

    @override
    async def async_get_tts_audio(self, message: str, language: str, options: dict[str, Any]) -> tts.TtsAudioType:
        """Speak a whole message (sentences synthesized as in streaming, then one WAV file)."""

        async def whole() -> AsyncGenerator[str]:
            yield message

        pcm = bytearray()
        rate = DEFAULT_RATE
        async for chunk in self._audio(whole(), options):
            pcm += chunk.pcm
            rate = chunk.rate
        return "wav", wav_file(bytes(pcm), rate)

    async def _audio(self, text: AsyncGenerator[str], options: Mapping[str, Any]) -> AsyncGenerator[AudioChunk]:
        """Gemini detects the language of the text, unless the subentry fixes one."""
        voice = options.get(tts.ATTR_VOICE) or self._voice
        style = options.get(ATTR_STYLE, self._style)
        temperature = self.model_options.get(CONF_TEMPERATURE) if supports_sampling(self.model) else None
        config = tts_config(voice, speech_language(self._fixed_language), temperature)

        def speak(sentence: str) -> AsyncIterator[AudioChunk]:
            return synthesize(self.client, self.model, tts_prompt(sentence, style), config)

        try:
            async for chunk in stream_speech(text, speak):
                yield chunk
        except API_EXCEPTIONS as err:
            raise self.api_error(err) from err
        self.api_succeeded()
