"""A spoken request through a real Assist pipeline made of the three Gemini agents: espeak-ng audio in,
the light really on, Gemini's spoken answer out."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator

import pytest
from gemini_live_emulator import Emulator, Say, Scenario, Turn
from homeassistant.components import assist_pipeline, stt, tts
from homeassistant.components.assist_pipeline.pipeline import async_update_pipeline
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Context, HomeAssistant
from homeassistant.setup import async_setup_component

from custom_components.gemini_live.const import SUBENTRY_CONVERSATION, SUBENTRY_STT, SUBENTRY_TTS
from tests.audio import silence, speech_pcm

from .common import entity_of

CHUNK_BYTES = 1280
WAV_HEADER_BYTES = 44
LONG_ANSWER = (
    "The kitchen light is on now, and the rest of the house is dark and quiet. Sleep well, and see you in the morning."
)


async def audio(pcm: bytes) -> AsyncIterator[bytes]:
    """A satellite's stream: the utterance, then a little silence."""
    pcm += silence(0.3, 16000)
    for start in range(0, len(pcm), CHUNK_BYTES):
        yield pcm[start : start + CHUNK_BYTES]


@pytest.fixture
async def pipeline_id(hass: HomeAssistant, developer_entry: ConfigEntry) -> str:
    """The preferred pipeline, made of Gemini's STT, conversation agent and TTS."""
    assert await async_setup_component(hass, "assist_pipeline", {})
    pipeline = assist_pipeline.async_get_pipeline(hass)
    await async_update_pipeline(
        hass,
        pipeline,
        conversation_engine=entity_of(hass, developer_entry, SUBENTRY_CONVERSATION, "conversation"),
        conversation_language="en",
        language="en",
        stt_engine=entity_of(hass, developer_entry, SUBENTRY_STT, "stt"),
        stt_language="en",
        tts_engine=entity_of(hass, developer_entry, SUBENTRY_TTS, "tts"),
        tts_language="en-US",
        tts_voice="Puck",
    )
    return pipeline.id


async def run(hass: HomeAssistant, pipeline_id: str, pcm: bytes) -> list[assist_pipeline.PipelineEvent]:
    """Run the pipeline on spoken audio; return its events."""
    events: list[assist_pipeline.PipelineEvent] = []
    await assist_pipeline.async_pipeline_from_audio_stream(
        hass,
        context=Context(),
        event_callback=events.append,
        stt_metadata=stt.SpeechMetadata(
            language="en",
            format=stt.AudioFormats.WAV,
            codec=stt.AudioCodecs.PCM,
            bit_rate=stt.AudioBitRates.BITRATE_16,
            sample_rate=stt.AudioSampleRates.SAMPLERATE_16000,
            channel=stt.AudioChannels.CHANNEL_MONO,
        ),
        stt_stream=audio(pcm),
        pipeline_id=pipeline_id,
        tts_audio_output={tts.ATTR_PREFERRED_FORMAT: "wav"},  # no conversion: no ffmpeg needed
    )
    return events


def event_data(events: list[assist_pipeline.PipelineEvent], kind: assist_pipeline.PipelineEventType) -> dict:
    """The data of the first event of a kind."""
    return next(event.data for event in events if event.type == kind) or {}


async def spoken_answer(hass: HomeAssistant, events: list[assist_pipeline.PipelineEvent]) -> float:
    """Seconds of speech in the TTS result the satellite would play (a streamed WAV: header, then PCM)."""
    token = event_data(events, assist_pipeline.PipelineEventType.TTS_END)["tts_output"]["token"]
    stream = tts.async_get_stream(hass, token)
    assert stream is not None
    data = b"".join([chunk async for chunk in stream.async_stream_result()])
    with wave.open(io.BytesIO(data[:WAV_HEADER_BYTES])) as header:
        rate = header.getframerate()
    assert rate == 24000
    return len(data[WAV_HEADER_BYTES:]) / (2 * rate)


@pytest.mark.usefixtures("lights")
async def test_spoken_request_turns_on_the_light(hass: HomeAssistant, pipeline_id: str) -> None:
    """ "Turn on the kitchen light", spoken: transcribed, acted on through Assist, answered aloud."""
    events = await run(hass, pipeline_id, speech_pcm("turn on the kitchen light", "en-US", sample_rate=16000))
    kinds = [event.type for event in events]
    assert assist_pipeline.PipelineEventType.ERROR not in kinds, events
    assert event_data(events, assist_pipeline.PipelineEventType.STT_END)["stt_output"]["text"] == (
        "turn on the kitchen light"
    )
    intent_output = event_data(events, assist_pipeline.PipelineEventType.INTENT_END)["intent_output"]
    assert intent_output["response"]["speech"]["plain"]["speech"] == "Done, the kitchen light is on."
    assert hass.states.get("light.kitchen_light").state == "on"
    assert await spoken_answer(hass, events) > 1.0


@pytest.mark.usefixtures("lights")
async def test_long_answer_streams_to_tts(hass: HomeAssistant, pipeline_id: str, emulator: Emulator) -> None:
    """A long answer is streamed: the pipeline hands the text to TTS while Gemini is still writing."""
    emulator.scenario = Scenario(turns=(Turn(user="good night", steps=(Say(LONG_ANSWER),)),))
    events = await run(hass, pipeline_id, speech_pcm("good night", "en-US", sample_rate=16000))
    progress = [e.data for e in events if e.type == assist_pipeline.PipelineEventType.INTENT_PROGRESS and e.data]
    assert any(data.get("tts_start_streaming") for data in progress)
    assert sum(1 for data in progress if data.get("chat_log_delta", {}).get("content")) > 3
    assert await spoken_answer(hass, events) > 3.0
