"""The emulator's REST API, driven by the real google-genai SDK (raw HTTP where the wire itself matters)."""

from __future__ import annotations

import asyncio
import io
import json
import ssl
import threading
import time
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gemini_live_emulator import wire
from gemini_live_emulator.config import EmulatorConfig
from gemini_live_emulator.generation import steps_for_round
from gemini_live_emulator.scenario import Say, Scenario
from gemini_live_emulator.server import Emulator
from gemini_live_emulator.speech import Synthesizer
from google import genai
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import Request
from google.genai import errors, types
from google.oauth2 import service_account

TEXT_MODEL = "gemini-3.1-flash-lite"
TTS_MODEL = "gemini-3.1-flash-tts-preview"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
LONG_REPLY = (
    "It is sunny and warm today, with a light breeze from the sea. No rain is expected before the "
    "weekend, so the washing can stay outside."
)

TURN_ON_LIGHT = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="HassTurnOn",
            description="Turns on a device",
            parameters=types.Schema(type=types.Type.OBJECT, properties={"name": types.Schema(type=types.Type.STRING)}),
        )
    ]
)
NO_AUTOMATIC_CALLS = types.AutomaticFunctionCallingConfig(disable=True)


def sdk_http_options(emulator: Emulator, api_version: str | None = None) -> types.HttpOptions:
    """google-genai 3.4.0's options for a TLS endpoint with a private CA.

    ``client_args["verify"]`` is the sync httpx client's CA; ``async_client_args["ssl"]`` is what the SDK
    hands aiohttp (async REST) and websockets (Live).
    """
    context = ssl.create_default_context(cafile=emulator.ca_file)
    return types.HttpOptions(
        base_url=emulator.base_url,
        api_version=api_version,
        client_args={"verify": context},
        async_client_args={"ssl": context},
    )


@asynccontextmanager
async def sdk_client(emulator: Emulator, **kwargs: Any) -> AsyncIterator[genai.Client]:
    """A google-genai client aimed at the emulator; its sync and async halves are closed afterwards."""
    api_version = kwargs.pop("api_version", None)
    if not kwargs.get("vertexai"):
        kwargs.setdefault("api_key", emulator.api_key)
    client = genai.Client(http_options=sdk_http_options(emulator, api_version), **kwargs)
    try:
        yield client
    finally:
        client.close()
        await client.aio.aclose()


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """Default pacing, so that streamed answers really come over time."""
    return EmulatorConfig(resumption_update_interval_s=0.0)


@pytest.fixture
async def genai_client(emulator: Emulator) -> AsyncIterator[genai.Client]:
    """A Developer API client with the emulator's API key."""
    async with sdk_client(emulator) as client:
        yield client


@pytest.fixture
def scenario() -> Scenario:
    """A tool-call turn, a long spoken answer, and a turn that is only what the user said (for STT)."""
    return Scenario.from_data(
        {
            "turns": [
                {
                    "user": "turn on the kitchen light",
                    "model": [
                        {"call": {"name": "HassTurnOn", "args": {"name": "kitchen light"}}},
                        {"say": "Done: the kitchen light is {result[state]}."},
                    ],
                },
                {"user": "what is the weather like", "model": [{"say": LONG_REPLY}]},
                {"user": "please refuse this", "model": [{"refuse": "RESPONSE_REJECTED"}]},
                {"user": "something forbidden", "model": [{"refuse": True}]},
                {"user": "break now", "model": [{"fault": "internal_error"}]},
                {"user": "drop the line", "model": [{"say": "Hanging up now, goodbye."}, {"fault": "drop"}]},
            ]
        }
    )


def _pcm_seconds(pcm: bytes, rate: int = 24000) -> float:
    return len(pcm) / (2 * rate)


def _rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def _wav(pcm: bytes, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[aiohttp.ClientSession]:
    """A raw HTTP client trusting the emulator's CA."""
    context = ssl.create_default_context(cafile=emulator.ca_file)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        yield session


# ------------------------------------------------------------------------------------------- models


async def test_models_list_pages_and_get(genai_client: genai.Client, emulator: Emulator) -> None:
    """models.list follows nextPageToken across pages; models.get returns the Model (sync and async)."""
    pager = await asyncio.to_thread(genai_client.models.list, config={"page_size": 3})
    assert len(pager.page) == 3
    sync_names = [model.name for model in await asyncio.to_thread(list, pager)]
    async_names = [model.name async for model in await genai_client.aio.models.list(config={"page_size": 4})]
    assert sync_names == async_names
    assert f"models/{TEXT_MODEL}" in sync_names
    assert f"models/{TTS_MODEL}" in sync_names
    assert "models/gemini-3.8-live" in sync_names
    assert len(sync_names) == len(set(sync_names)) > 4

    text = await genai_client.aio.models.get(model=TEXT_MODEL)
    assert text.name == f"models/{TEXT_MODEL}"
    assert text.display_name == "Gemini 3.1 Flash Lite"
    assert text.supported_actions is not None
    assert {"generateContent", "countTokens"} <= set(text.supported_actions)
    assert text.input_token_limit == 1048576
    assert text.thinking is True
    assert text.max_temperature == 2
    live = await asyncio.to_thread(genai_client.models.get, model="gemini-3.8-live")
    assert live.supported_actions == ["bidiGenerateContent"]
    tts = await genai_client.aio.models.get(model=TTS_MODEL)
    assert tts.supported_actions is not None
    assert "generateContent" in tts.supported_actions


async def test_unknown_model(genai_client: genai.Client) -> None:
    """An unknown model is a 404 with the service's texts, for models.get and for generateContent."""
    with pytest.raises(errors.ClientError) as get_error:
        await genai_client.aio.models.get(model="gemini-0-nope")
    assert get_error.value.code == 404
    assert get_error.value.message == "Model is not found: models/gemini-0-nope for api version v1"
    with pytest.raises(errors.ClientError) as generate_error:
        await genai_client.aio.models.generate_content(model="gemini-3.8-live", contents="hi")
    assert generate_error.value.code == 404
    assert generate_error.value.message is not None
    assert generate_error.value.message.startswith(
        "models/gemini-3.8-live is not found for API version v1, or is not supported for generateContent."
    )


# ------------------------------------------------------------------------------------------- conversation


async def test_tool_call_round_trip_async(genai_client: genai.Client) -> None:
    """The scripted call comes as a functionCall; its response comes back in the spoken text."""
    config = types.GenerateContentConfig(tools=[TURN_ON_LIGHT], automatic_function_calling=NO_AUTOMATIC_CALLS)
    user = types.Content(role="user", parts=[types.Part.from_text(text="Turn on the kitchen light")])
    first = await genai_client.aio.models.generate_content(model=TEXT_MODEL, contents=[user], config=config)
    assert first.function_calls is not None
    assert [(call.name, call.args) for call in first.function_calls] == [("HassTurnOn", {"name": "kitchen light"})]
    assert first.function_calls[0].id is None  # the REST API gives no call ids
    assert first.candidates is not None
    assert first.candidates[0].finish_reason == types.FinishReason.STOP
    model_turn = first.candidates[0].content
    assert model_turn is not None
    result = types.Content(
        role="user",
        parts=[types.Part.from_function_response(name="HassTurnOn", response={"state": "on"})],
    )
    second = await genai_client.aio.models.generate_content(
        model=TEXT_MODEL, contents=[user, model_turn, result], config=config
    )
    assert second.text == "Done: the kitchen light is on."
    assert second.function_calls is None
    assert second.usage_metadata is not None
    assert second.usage_metadata.prompt_token_count
    assert second.model_version == TEXT_MODEL
    assert second.response_id


async def test_gemini_3_wants_thought_signatures_back(genai_client: genai.Client) -> None:
    """A Gemini 3 function call replayed without its thought signature is refused, as the service does."""
    config = types.GenerateContentConfig(tools=[TURN_ON_LIGHT], automatic_function_calling=NO_AUTOMATIC_CALLS)
    user = types.Content(role="user", parts=[types.Part.from_text(text="turn on the kitchen light")])
    first = await genai_client.aio.models.generate_content(model=TEXT_MODEL, contents=[user], config=config)
    assert first.candidates is not None
    assert first.candidates[0].content is not None
    assert first.candidates[0].content.parts is not None
    call_part = first.candidates[0].content.parts[0]
    assert call_part.thought_signature
    unsigned = types.Content(role="model", parts=[types.Part(function_call=call_part.function_call)])
    result = types.Content(
        role="user", parts=[types.Part.from_function_response(name="HassTurnOn", response={"state": "on"})]
    )
    with pytest.raises(errors.ClientError) as err:
        await genai_client.aio.models.generate_content(
            model=TEXT_MODEL, contents=[user, unsigned, result], config=config
        )
    assert err.value.code == 400
    assert err.value.message is not None
    assert err.value.message.startswith("Function call is missing a thought_signature in functionCall parts.")
    assert "`default_api:HassTurnOn` , position 2." in err.value.message


async def test_tool_call_round_trip_sync_chat(genai_client: genai.Client) -> None:
    """The same round trip through the sync SDK's chat session (history kept by the SDK)."""
    config = types.GenerateContentConfig(tools=[TURN_ON_LIGHT], automatic_function_calling=NO_AUTOMATIC_CALLS)

    def converse() -> tuple[types.GenerateContentResponse, types.GenerateContentResponse]:
        chat = genai_client.chats.create(model=TEXT_MODEL, config=config)
        first = chat.send_message("turn on the kitchen light")
        second = chat.send_message(types.Part.from_function_response(name="HassTurnOn", response={"state": "on"}))
        return first, second

    first, second = await asyncio.to_thread(converse)
    assert first.function_calls is not None
    assert first.function_calls[0].name == "HassTurnOn"
    assert second.text == "Done: the kitchen light is on."


async def test_undeclared_function_is_not_called(genai_client: genai.Client) -> None:
    """Without tools the model cannot call a function: the scripted call is skipped."""
    response = await genai_client.aio.models.generate_content(model=TEXT_MODEL, contents="turn on the kitchen light")
    assert response.function_calls is None
    assert response.text == "Done: the kitchen light is {result[state]}."


def test_steps_for_round_follows_the_rounds() -> None:
    """Each function-call round moves past one sent call group; on_result steps open the next response."""
    turn = Scenario.from_data(
        [
            {
                "user": "go",
                "model": [
                    {"say": "Looking."},
                    {"call": {"name": "A", "on_result": ["A answered."]}},
                    {"call": {"name": "B"}},
                    {"say": "Then."},
                    {"call": {"name": "Undeclared"}},
                    {"say": "Between."},
                    {"call": {"name": "C"}},
                    {"say": "Done."},
                ],
            }
        ]
    ).turns[0]
    declared = ["A", "B", "namespace__C"]
    _, _, _, then, undeclared, between, call_c, done = turn.steps
    assert steps_for_round(turn, 0, declared) == turn.steps
    assert steps_for_round(turn, 1, declared) == (Say("A answered."), then, undeclared, between, call_c, done)
    assert steps_for_round(turn, 2, declared) == (done,)
    assert steps_for_round(turn, 3, declared) == ()


async def test_unscripted_text_gets_the_default_reply(genai_client: genai.Client) -> None:
    """Text no scenario turn scripts (nor the turn at its index) is answered by the default turn."""
    contents = [types.Content(role="user", parts=[types.Part.from_text(text=f"message {index}")]) for index in range(7)]
    response = await genai_client.aio.models.generate_content(model=TEXT_MODEL, contents=contents)
    assert response.text == "You said: message 6"
    arabic_turn = types.Content(role="user", parts=[types.Part.from_text(text="مرحبا")])
    arabic = await genai_client.aio.models.generate_content(model=TEXT_MODEL, contents=[*contents, arabic_turn])
    assert arabic.text == "قلت: مرحبا"


async def test_streaming_sends_several_chunks(genai_client: genai.Client) -> None:
    """streamGenerateContent streams text in several chunks; the last has finishReason and usage."""
    chunks: list[types.GenerateContentResponse] = []
    arrivals: list[float] = []
    stream = await genai_client.aio.models.generate_content_stream(
        model=TEXT_MODEL, contents="What is the weather like?"
    )
    async for chunk in stream:
        chunks.append(chunk)
        arrivals.append(time.monotonic())
    assert len(chunks) > 3
    assert "".join(chunk.text or "" for chunk in chunks) == LONG_REPLY
    assert chunks[0].candidates is not None
    assert chunks[0].candidates[0].finish_reason is None
    last = chunks[-1]
    assert last.candidates is not None
    assert last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata is not None
    assert last.usage_metadata.candidates_token_count
    assert arrivals[-1] > arrivals[0]
    assert len({chunk.response_id for chunk in chunks}) == 1


async def test_streamed_function_call_sync(genai_client: genai.Client) -> None:
    """A streamed function call comes in its own chunk, with the finish reason (sync streaming)."""
    config = types.GenerateContentConfig(tools=[TURN_ON_LIGHT], automatic_function_calling=NO_AUTOMATIC_CALLS)

    def stream() -> list[types.GenerateContentResponse]:
        return list(
            genai_client.models.generate_content_stream(
                model=TEXT_MODEL, contents="turn on the kitchen light", config=config
            )
        )

    chunks = await asyncio.to_thread(stream)
    assert len(chunks) == 1
    assert chunks[0].function_calls is not None
    assert chunks[0].function_calls[0].name == "HassTurnOn"
    assert chunks[0].candidates is not None
    assert chunks[0].candidates[0].finish_reason == types.FinishReason.STOP


async def test_refusal_and_scripted_fault(genai_client: genai.Client) -> None:
    """Refused output is a SAFETY candidate without content, refused input a blocked prompt; a fault a 500."""
    refused = await genai_client.aio.models.generate_content(model=TEXT_MODEL, contents="please refuse this")
    assert refused.candidates is not None
    assert refused.candidates[0].finish_reason == types.FinishReason.SAFETY
    assert refused.candidates[0].content is None
    assert refused.text is None
    blocked = await genai_client.aio.models.generate_content(model=TEXT_MODEL, contents="something forbidden")
    assert blocked.candidates is None
    assert blocked.prompt_feedback is not None
    assert blocked.prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT
    with pytest.raises(errors.ServerError) as err:
        await genai_client.aio.models.generate_content(model=TEXT_MODEL, contents="break now")
    assert err.value.code == 500
    assert err.value.status == "INTERNAL"


async def test_count_tokens(genai_client: genai.Client) -> None:
    """countTokens estimates the prompt."""
    result = await genai_client.aio.models.count_tokens(model=TEXT_MODEL, contents="turn on the kitchen light")
    assert result.total_tokens is not None
    assert 3 <= result.total_tokens <= 12


# ------------------------------------------------------------------------------------------- speech


@pytest.mark.parametrize(
    ("text", "language", "voice"),
    [
        ("The kitchen light is now on. Have a nice evening.", "en-US", "Kore"),
        ("تم تشغيل ضوء المطبخ. مساء الخير.", "ar-EG", "Puck"),
    ],
)
async def test_tts_speaks_the_text(genai_client: genai.Client, text: str, language: str, voice: str) -> None:
    """A TTS model answers AUDIO requests with 24 kHz PCM of the text spoken by the synthesizer."""
    config = types.GenerateContentConfig(
        response_modalities=["AUDIO"],
        speech_config=types.SpeechConfig(
            voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=voice)),
            language_code=language,
        ),
    )
    response = await genai_client.aio.models.generate_content(model=TTS_MODEL, contents=text, config=config)
    assert response.candidates is not None
    assert response.candidates[0].content is not None
    parts = response.candidates[0].content.parts
    assert parts is not None
    assert len(parts) == 1
    blob = parts[0].inline_data
    assert blob is not None
    assert blob.mime_type == "audio/L16;codec=pcm;rate=24000"
    assert blob.data is not None
    assert len(blob.data) % 2 == 0
    assert 1.0 < _pcm_seconds(blob.data) < 8.0
    assert _rms(blob.data) > 300
    assert response.usage_metadata is not None
    assert response.usage_metadata.candidates_tokens_details is not None
    assert response.usage_metadata.candidates_tokens_details[0].modality == types.MediaModality.AUDIO


async def test_tts_streams_sentence_by_sentence(genai_client: genai.Client) -> None:
    """Streamed speech comes in several audio chunks, multi-speaker lines in their speakers' voices."""
    config = types.GenerateContentConfig(
        response_modalities=["AUDIO"],
        speech_config=types.SpeechConfig(
            multi_speaker_voice_config=types.MultiSpeakerVoiceConfig(
                speaker_voice_configs=[
                    types.SpeakerVoiceConfig(
                        speaker="Joe",
                        voice_config=types.VoiceConfig(
                            prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Charon")
                        ),
                    ),
                    types.SpeakerVoiceConfig(
                        speaker="Jane",
                        voice_config=types.VoiceConfig(
                            prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Leda")
                        ),
                    ),
                ]
            )
        ),
    )
    text = "Joe: Is the kitchen light on? I cannot see it from here.\nJane: Yes, it is on. I turned it on."
    chunks: list[bytes] = []
    stream = await genai_client.aio.models.generate_content_stream(model=TTS_MODEL, contents=text, config=config)
    async for chunk in stream:
        assert chunk.candidates is not None
        assert chunk.candidates[0].content is not None
        for part in chunk.candidates[0].content.parts or []:
            assert part.inline_data is not None
            assert part.inline_data.data is not None
            chunks.append(part.inline_data.data)
    assert len(chunks) >= 4
    audio = b"".join(chunks)
    assert 2.0 < _pcm_seconds(audio) < 15.0
    assert _rms(audio) > 300


class GatedSynthesizer:
    """Speaks the first sentence at once and holds the next ones until the test opens the gate."""

    def __init__(self, inner: Synthesizer) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.calls = 0

    def synthesize(self, text: str, language: str, *, sample_rate: int = 24000, voice: str | None = None) -> bytes:
        self.calls += 1
        if self.calls > 1 and not self.gate.wait(timeout=10):
            raise TimeoutError("the first audio never reached the client")
        return self.inner.synthesize(text, language, sample_rate=sample_rate, voice=voice)

    async def synthesize_async(
        self, text: str, language: str, *, sample_rate: int = 24000, voice: str | None = None
    ) -> bytes:
        return await asyncio.to_thread(self.synthesize, text, language, sample_rate=sample_rate, voice=voice)


async def test_tts_stream_sends_audio_before_the_text_is_spoken(genai_client: genai.Client, emulator: Emulator) -> None:
    """The first audio chunk comes while later sentences are still to be synthesized."""
    gated = GatedSynthesizer(emulator.synthesizer)
    emulator.synthesizer = gated  # type: ignore[assignment]
    config = types.GenerateContentConfig(response_modalities=["AUDIO"])
    text = "Hi. The kitchen light is on now. The door is locked. Good night."
    audio = bytearray()
    calls_at_first_chunk = None
    stream = await genai_client.aio.models.generate_content_stream(model=TTS_MODEL, contents=text, config=config)
    async for chunk in stream:
        if calls_at_first_chunk is None:
            calls_at_first_chunk = gated.calls
            gated.gate.set()
        assert chunk.candidates is not None
        content = chunk.candidates[0].content
        for part in (content.parts or []) if content else []:
            assert part.inline_data is not None
            audio += part.inline_data.data or b""
    assert calls_at_first_chunk is not None
    assert calls_at_first_chunk <= 2
    assert gated.calls == 4
    assert 1.5 < _pcm_seconds(bytes(audio)) < 10.0


async def test_tts_model_refuses_text_output(genai_client: genai.Client) -> None:
    """A TTS model asked for text answers with the service's modality error."""
    with pytest.raises(errors.ClientError) as err:
        await genai_client.aio.models.generate_content(model=TTS_MODEL, contents="hello")
    assert err.value.code == 400
    assert err.value.message == (
        "The requested combination of response modalities (TEXT) is not supported by the model. "
        f"models/{TTS_MODEL} accepts the following combination of response modalities:\n* AUDIO\n"
    )


async def test_image_model_writes_and_draws(genai_client: genai.Client) -> None:
    """An image model answers TEXT and IMAGE with the scripted words and a real PNG; a refusal blocks it;
    it is listed without thinking; audio is not among its modalities."""
    model = "gemini-2.5-flash-image"
    config = types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"])
    response = await genai_client.aio.models.generate_content(
        model=model, contents="what is the weather like", config=config
    )
    assert response.candidates is not None
    content = response.candidates[0].content
    assert content is not None
    assert content.parts is not None
    words, picture = content.parts
    assert words.text == LONG_REPLY
    assert picture.inline_data is not None
    assert picture.inline_data.mime_type == "image/png"
    assert picture.inline_data.data is not None
    assert picture.inline_data.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert response.usage_metadata is not None
    assert response.usage_metadata.candidates_tokens_details is not None
    assert response.usage_metadata.candidates_tokens_details[0].modality == types.MediaModality.IMAGE

    blocked = await genai_client.aio.models.generate_content(model=model, contents="something forbidden", config=config)
    assert not blocked.candidates
    assert blocked.prompt_feedback is not None
    assert blocked.prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT

    listed = await genai_client.aio.models.get(model=model)
    assert listed.thinking is None
    with pytest.raises(errors.ClientError) as err:
        await genai_client.aio.models.generate_content(
            model=model, contents="hello", config=types.GenerateContentConfig(response_modalities=["AUDIO"])
        )
    assert err.value.code == 400
    assert "accepts the following combination of response modalities:\n* TEXT, IMAGE\n* IMAGE\n* TEXT\n" in str(
        err.value.message
    )


async def test_stt_returns_the_scripted_transcript(genai_client: genai.Client, emulator: Emulator) -> None:
    """Audio with a transcription prompt (what an STT agent sends) gets the scenario turn's user text.

    A request sent again (a retry) is the same spoken turn; new audio is the next turn of the script.
    """
    pcm = await emulator.synthesizer.synthesize_async("turn on the kitchen light", "en-US", sample_rate=16000)
    contents = [
        "Transcribe the attached audio",
        types.Part.from_bytes(data=_wav(pcm, 16000), mime_type="audio/wav"),
    ]
    response = await genai_client.aio.models.generate_content(model=TEXT_MODEL, contents=contents)
    assert response.text == "turn on the kitchen light"
    again = await genai_client.aio.models.generate_content(model=TEXT_MODEL, contents=contents)
    assert again.text == "turn on the kitchen light"
    pcm_part = types.Part.from_bytes(data=pcm, mime_type="audio/pcm;rate=16000")
    streamed = await asyncio.to_thread(
        lambda: list(
            genai_client.models.generate_content_stream(model=TEXT_MODEL, contents=["Transcribe this", pcm_part])
        )
    )
    assert "".join(chunk.text or "" for chunk in streamed) == "what is the weather like"


async def test_spoken_turns_follow_the_script_across_conversations(
    genai_client: genai.Client, emulator: Emulator
) -> None:
    """Each new conversation's spoken turn takes the next scripted turn, as Live sessions do.

    A client that starts a new conversation per utterance (the bridge's cascaded fallback after a turn it
    discarded) hears the script in order, not its first turn every time; the Live side walks the same
    script.
    """
    heard = []
    for said in ("hello", "hello again"):  # two conversations, each with one spoken turn and no history
        pcm = await emulator.synthesizer.synthesize_async(said, "en-US", sample_rate=16000)
        audio = types.Part.from_bytes(data=_wav(pcm, 16000), mime_type="audio/wav")
        response = await genai_client.aio.models.generate_content(
            model=TEXT_MODEL, contents=["Transcribe this audio verbatim.", audio]
        )
        heard.append(response.text)
    assert heard == ["turn on the kitchen light", "what is the weather like"]
    assert emulator.next_script_position() == 2, "the Live side goes on with the third turn"


async def test_tool_rounds_of_a_spoken_turn_stay_on_its_scripted_turn(
    genai_client: genai.Client, emulator: Emulator
) -> None:
    """A spoken request answered with a function call: the request carrying the result is the same turn."""
    pcm = await emulator.synthesizer.synthesize_async("turn on the kitchen light", "en-US", sample_rate=16000)
    user = types.Content(role="user", parts=[types.Part.from_bytes(data=_wav(pcm, 16000), mime_type="audio/wav")])
    config = types.GenerateContentConfig(tools=[TURN_ON_LIGHT], automatic_function_calling=NO_AUTOMATIC_CALLS)
    first = await genai_client.aio.models.generate_content(model=TEXT_MODEL, contents=[user], config=config)
    assert first.function_calls is not None and first.function_calls[0].name == "HassTurnOn"
    assert first.candidates is not None and first.candidates[0].content is not None
    result = types.Content(
        role="user",
        parts=[types.Part.from_function_response(name="HassTurnOn", response={"state": "on"})],
    )
    second = await genai_client.aio.models.generate_content(
        model=TEXT_MODEL, contents=[user, first.candidates[0].content, result], config=config
    )
    assert second.text == "Done: the kitchen light is on."
    assert emulator.next_script_position() == 1, "one spoken turn was heard"


async def test_stt_without_a_scripted_turn_gives_the_placeholder() -> None:
    """With no scenario, a transcription request gets a fixed placeholder text."""
    contents = [
        "Transcribe the attached audio",
        types.Part.from_bytes(data=_wav(b"\0\0" * 16000, 16000), mime_type="audio/wav"),
    ]
    async with Emulator(EmulatorConfig(), Scenario()) as bare, sdk_client(bare) as client:
        response = await client.aio.models.generate_content(model=TEXT_MODEL, contents=contents)
    assert response.text == "This is the Gemini emulator's placeholder transcript."


# ------------------------------------------------------------------------------------------- errors


async def test_bad_api_key(emulator: Emulator) -> None:
    """An unknown key gets 400 API_KEY_INVALID, which Home Assistant's Gemini integration looks for."""
    async with sdk_client(emulator, api_key="AIzaSyNotAKeyTheEmulatorKnows0000000") as client:
        with pytest.raises(errors.ClientError) as err:
            await client.aio.models.list()
        with pytest.raises(errors.ClientError) as sync_err:
            await asyncio.to_thread(client.models.get, model=TEXT_MODEL)
    for error in (err.value, sync_err.value):
        assert error.code == 400
        assert error.status == "INVALID_ARGUMENT"
        assert error.message == wire.REASON_API_KEY_INVALID
        assert "API_KEY_INVALID" in json.dumps(error.details)


async def test_missing_key(http: aiohttp.ClientSession, emulator: Emulator) -> None:
    """No credentials at all: 403 PERMISSION_DENIED with the service's text."""
    async with http.get(f"{emulator.base_url}/v1beta/models") as response:
        body = await response.json()
    assert response.status == 403
    assert body["error"]["status"] == "PERMISSION_DENIED"
    assert body["error"]["message"] == wire.REASON_NO_CREDENTIALS


async def test_quota_fault(genai_client: genai.Client, emulator: Emulator) -> None:
    """Faults.reject_rest answers that many calls with 429 RESOURCE_EXHAUSTED, then serves again."""
    emulator.faults.reject_rest = 1
    with pytest.raises(errors.ClientError) as err:
        await genai_client.aio.models.generate_content(model=TEXT_MODEL, contents="what is the weather like")
    assert err.value.code == 429
    assert err.value.status == "RESOURCE_EXHAUSTED"
    assert emulator.faults.reject_rest == 0
    response = await genai_client.aio.models.generate_content(model=TEXT_MODEL, contents="what is the weather like")
    assert response.text == LONG_REPLY


async def test_unknown_field_is_refused(genai_client: genai.Client) -> None:
    """An unknown field in the body gets the ESF 400 text (sent through the SDK's extra_body)."""
    config = types.GenerateContentConfig(
        http_options=types.HttpOptions(extra_body={"generationConfig": {"bogusField": 1}})
    )
    with pytest.raises(errors.ClientError) as err:
        await genai_client.aio.models.generate_content(model=TEXT_MODEL, contents="hi", config=config)
    assert err.value.code == 400
    assert err.value.status == "INVALID_ARGUMENT"
    assert err.value.message == (
        "Invalid JSON payload received. Unknown name \"bogusField\" at 'generation_config': Cannot find field."
    )


async def test_malformed_json_and_unknown_path(http: aiohttp.ClientSession, emulator: Emulator) -> None:
    """A body that is not JSON is a 400 INVALID_ARGUMENT; a path no API serves is Google's HTML 404."""
    url = f"{emulator.base_url}/v1beta/models/{TEXT_MODEL}:generateContent"
    headers = {"x-goog-api-key": emulator.api_key, "Content-Type": "application/json"}
    async with http.post(url, data=b'{"contents": [}', headers=headers) as response:
        body = await response.json()
    assert response.status == 400
    assert body["error"]["status"] == "INVALID_ARGUMENT"
    assert body["error"]["message"].startswith("Invalid JSON payload received.")
    async with http.get(f"{emulator.base_url}/v1beta/nothing-here", headers=headers) as response:
        page = await response.text()
    assert response.status == 404
    assert response.content_type == "text/html"
    assert "/v1beta/nothing-here" in page


# ------------------------------------------------------------------------------------------- raw wire


async def test_dropped_connection(http: aiohttp.ClientSession, emulator: Emulator) -> None:
    """A scripted drop cuts the connection: no answer at all, or a stream that breaks off."""
    url = f"{emulator.base_url}/v1beta/models/{TEXT_MODEL}:generateContent"
    request = {"contents": [{"role": "user", "parts": [{"text": "drop the line"}]}]}
    headers = {"x-goog-api-key": emulator.api_key}
    with pytest.raises(aiohttp.ClientError):
        async with http.post(url, json=request, headers=headers) as response:
            await response.read()
    stream_url = f"{emulator.base_url}/v1beta/models/{TEXT_MODEL}:streamGenerateContent?alt=sse"
    received = bytearray()

    async def read_stream() -> None:
        async with http.post(stream_url, json=request, headers=headers) as response:
            assert response.status == 200
            async for data in response.content.iter_any():
                received.extend(data)

    with pytest.raises(aiohttp.ClientError):
        await read_stream()
    assert received.startswith(b"data: ")


async def test_sse_framing(http: aiohttp.ClientSession, emulator: Emulator) -> None:
    """?alt=sse: ``data: {json}`` events separated by CRLF CRLF, arriving one by one."""
    url = f"{emulator.base_url}/v1beta/models/{TEXT_MODEL}:streamGenerateContent?alt=sse"
    request = {"contents": [{"role": "user", "parts": [{"text": "what is the weather like"}]}]}
    reads: list[bytes] = []
    async with http.post(url, json=request, headers={"x-goog-api-key": emulator.api_key}) as response:
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        async for data in response.content.iter_any():
            reads.append(data)
    raw = b"".join(reads)
    assert len(reads) > 1
    assert raw.endswith(b"\r\n\r\n")
    events = raw.split(b"\r\n\r\n")[:-1]
    assert len(events) > 3
    bodies: list[dict[str, Any]] = []
    for event in events:
        assert event.startswith(b"data: ")
        assert b"\n" not in event
        bodies.append(json.loads(event[len(b"data: ") :]))
    text = "".join(part["text"] for body in bodies for part in body["candidates"][0]["content"]["parts"])
    assert text == LONG_REPLY
    assert all("finishReason" not in body["candidates"][0] for body in bodies[:-1])
    assert bodies[-1]["candidates"][0]["finishReason"] == "STOP"
    assert bodies[-1]["usageMetadata"]["totalTokenCount"] > bodies[-1]["usageMetadata"]["promptTokenCount"]
    assert {body["modelVersion"] for body in bodies} == {TEXT_MODEL}


async def test_json_array_stream(http: aiohttp.ClientSession, emulator: Emulator) -> None:
    """Without ?alt=sse the stream is one JSON array of responses."""
    url = f"{emulator.base_url}/v1beta/models/{TEXT_MODEL}:streamGenerateContent"
    request = {"contents": [{"parts": [{"text": "what is the weather like"}]}]}
    async with http.post(url, json=request, params={"key": emulator.api_key}) as response:
        assert response.status == 200
        body = json.loads(await response.read())
    assert isinstance(body, list)
    assert len(body) > 3
    assert body[-1]["candidates"][0]["finishReason"] == "STOP"


async def test_bearer_token_on_developer_api(http: aiohttp.ClientSession, emulator: Emulator) -> None:
    """The Developer API also takes OAuth2 access tokens the emulator issued; others get 401."""
    token = emulator.credentials.issue_access_token()
    async with http.get(f"{emulator.base_url}/v1beta/models", headers={"Authorization": f"Bearer {token}"}) as ok:
        assert ok.status == 200
        assert (await ok.json())["models"]
    async with http.get(f"{emulator.base_url}/v1beta/models", headers={"Authorization": "Bearer ya29.forged"}) as bad:
        body = await bad.json()
    assert bad.status == 401
    assert body["error"]["status"] == "UNAUTHENTICATED"


# ------------------------------------------------------------------------------------------- Vertex AI


def _refresh(credentials: service_account.Credentials, ca_file: str) -> None:
    with requests.Session() as session:
        session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides verify
        session.verify = ca_file
        credentials.refresh(Request(session))


async def test_vertex_with_service_account(emulator: Emulator) -> None:
    """A service-account file, google-auth's token refresh at /token, then Vertex AI calls with the token."""
    credentials = service_account.Credentials.from_service_account_file(
        emulator.service_account_file, scopes=[CLOUD_PLATFORM]
    )
    await asyncio.to_thread(_refresh, credentials, emulator.ca_file)
    assert credentials.valid
    assert credentials.token is not None
    assert emulator.credentials.access_token_valid(credentials.token)
    assert emulator.info is not None
    assert emulator.info.as_dict()["service_account_file"] == emulator.service_account_file

    vertex = sdk_client(
        emulator,
        vertexai=True,
        project=credentials.project_id,
        location="us-central1",
        credentials=credentials,
    )
    async with vertex as client:
        response = await client.aio.models.generate_content(model=TEXT_MODEL, contents="what is the weather like")
        streamed = await asyncio.to_thread(
            lambda: list(client.models.generate_content_stream(model=TEXT_MODEL, contents="what is the weather like"))
        )
        model = await client.aio.models.get(model=TEXT_MODEL)
        names = [m.name async for m in await client.aio.models.list()]
        tokens = await client.aio.models.count_tokens(model=TEXT_MODEL, contents="what is the weather like")
    assert response.text == LONG_REPLY
    assert response.create_time is not None
    assert response.response_id
    assert response.model_version == TEXT_MODEL
    assert response.usage_metadata is not None
    assert response.usage_metadata.traffic_type == types.TrafficType.ON_DEMAND
    assert response.usage_metadata.candidates_token_count
    assert len(streamed) > 1
    assert "".join(chunk.text or "" for chunk in streamed) == LONG_REPLY
    assert model.name == f"publishers/google/models/{TEXT_MODEL}"
    assert f"publishers/google/models/{TTS_MODEL}" in names
    assert tokens.total_tokens


async def test_token_endpoint_refuses_a_foreign_signature(emulator: Emulator) -> None:
    """A JWT signed by another key gets Google's invalid_grant answer."""
    key_file = Path(emulator.service_account_file)
    info = json.loads(await asyncio.to_thread(key_file.read_text, encoding="utf-8"))
    other_key = await asyncio.to_thread(rsa.generate_private_key, public_exponent=65537, key_size=2048)
    info["private_key"] = other_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    credentials = service_account.Credentials.from_service_account_info(info, scopes=[CLOUD_PLATFORM])
    with pytest.raises(auth_exceptions.RefreshError) as err:
        await asyncio.to_thread(_refresh, credentials, emulator.ca_file)
    assert "invalid_grant: Invalid JWT Signature." in str(err.value)


async def test_api_key_on_vertex(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    """An API key where Vertex AI wants OAuth2: 401 with the service's text (SDK and raw HTTP)."""
    async with sdk_client(emulator, vertexai=True, api_key=emulator.api_key) as client:
        with pytest.raises(errors.ClientError) as err:
            await client.aio.models.generate_content(model=TEXT_MODEL, contents="hi")
    expected = wire.REASON_API_KEY_ON_VERTEX + " See https://cloud.google.com/docs/authentication"
    assert err.value.code == 401
    assert err.value.status == "UNAUTHENTICATED"
    assert err.value.message == expected
    path = f"/v1/projects/p/locations/us-central1/publishers/google/models/{TEXT_MODEL}:generateContent"
    url = emulator.base_url + path
    async with http.post(url, json={"contents": []}, headers={"x-goog-api-key": emulator.api_key}) as response:
        body = await response.json()
    assert response.status == 401
    assert body["error"]["message"] == expected
    assert body["error"]["details"][0]["reason"] == "CREDENTIALS_MISSING"


# ------------------------------------------------------------------------------------------- ephemeral tokens


@pytest.mark.filterwarnings("ignore:The SDK's token creation implementation is experimental")
async def test_ephemeral_token_creation(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    """auth_tokens.create (v1alpha) mints a constrained token; an ephemeral token cannot mint another."""
    async with sdk_client(emulator, api_version="v1alpha") as client:
        token = await client.aio.auth_tokens.create(
            config=types.CreateAuthTokenConfig(
                uses=2,
                live_connect_constraints=types.LiveConnectConstraints(
                    model="gemini-3.8-live",
                    config=types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO], temperature=0.7),
                ),
                lock_additional_fields=[],
            )
        )
        unlocked = await asyncio.to_thread(client.auth_tokens.create, config={"uses": 1})
    assert token.name is not None
    assert token.name.startswith("auth_tokens/")
    minted = emulator.credentials.ephemeral_tokens[token.name]
    assert minted.uses == 2
    assert minted.setup is not None
    assert minted.setup["model"] == "models/gemini-3.8-live"
    assert minted.field_mask is not None
    assert "model" in minted.field_mask
    assert "generationConfig.temperature" in minted.field_mask
    assert unlocked.name is not None
    assert emulator.credentials.ephemeral_tokens[unlocked.name].setup is None

    url = f"{emulator.base_url}/v1alpha/auth_tokens"
    async with http.post(url, json={"uses": 1}, headers={"x-goog-api-key": token.name}) as response:
        body = await response.json()
    assert response.status == 400
    assert "API_KEY_INVALID" in json.dumps(body)
