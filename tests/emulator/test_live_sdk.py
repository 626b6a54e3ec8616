"""Conformance: the real google-genai SDK against the emulator's Live endpoint over TLS.

API-key, ephemeral-token and Vertex modes; speech in (espeak-ng), transcription, tool call and response,
spoken reply out, barge-in, NON_BLOCKING scheduling, resumption after goAway, and the service's errors.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import websockets
from gemini_live_emulator import Emulator, Scenario
from google.genai import errors, types

from tests.audio import silence, speech_pcm
from tests.conftest import developer_client, vertex_client

from .live_client import REPLY_RATE, VERTEX_PATH, collect_turn, live_url, raw_connect, send_audio

LIGHT_TOOL = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="turn_on_light",
            description="Turn on a light.",
            parameters=types.Schema(
                type=types.Type.OBJECT,
                properties={"name": types.Schema(type=types.Type.STRING)},
                required=["name"],
            ),
        )
    ]
)
TIMER_TOOL = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="start_timer", description="Start a timer.", behavior=types.Behavior.NON_BLOCKING
        )
    ]
)
LIGHT_SCENARIO = Scenario.from_data(
    {
        "turns": [
            {
                "user": "Turn on the kitchen light.",
                "model": [
                    {"call": {"name": "turn_on_light", "args": {"name": "kitchen"}}},
                    {"say": "The kitchen light is {result[state]}."},
                ],
            },
            {"user": "Thank you.", "model": [{"say": "You are welcome."}]},
        ]
    }
)


def live_config(**overrides: object) -> types.LiveConnectConfig:
    """What a voice client asks for: audio out, both transcriptions, resumption."""
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        speech_config=types.SpeechConfig(
            voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Kore"))
        ),
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
        session_resumption=types.SessionResumptionConfig(),
        tools=[LIGHT_TOOL],
    )
    return config.model_copy(update=overrides)


def rms(pcm: bytes) -> float:
    """Loudness of 16-bit PCM."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    return math.sqrt(float(np.mean(samples**2))) if samples.size else 0.0


async def test_spoken_turn_with_tool_call_api_key(emulator: Emulator) -> None:
    """Speech in → input transcription → toolCall → toolResponse → spoken reply, in the service's order."""
    emulator.scenario = LIGHT_SCENARIO
    speech = speech_pcm("Turn on the kitchen light.", "en-US")
    client = developer_client(emulator)
    async with client.aio.live.connect(model="gemini-3.8-live", config=live_config()) as session:
        await send_audio(session, speech + silence(1.5, 16000))
        log = await collect_turn(session, answer=lambda call: {"state": "on"})

    assert log.input_text == "Turn on the kitchen light."
    assert [(c.name, c.args) for c in log.tool_calls] == [("turn_on_light", {"name": "kitchen"})]
    assert re.fullmatch(r"function-call-\d+", log.tool_calls[0].id or "")
    assert log.output_text == "The kitchen light is on."
    assert log.reply_seconds > 0.8
    assert rms(bytes(log.audio)) > 500, "the reply is speech, not silence"
    # Order as the service sends it: transcription, tool call, audio, generationComplete, turnComplete.
    order = [e for e in log.events if e not in ("session_resumption_update", "output_transcription")]
    assert order.index("input_transcription") < order.index("tool_call") < order.index("audio")
    assert order[-2:] == ["generation_complete", "turn_complete"]
    usage = log.messages[-1].usage_metadata
    assert usage is not None and usage.total_token_count and usage.response_token_count
    # The emulator took the turn from the speech: its audio is the utterance, not the trailing silence.
    record = emulator.connections[0]
    assert record.auth_kind == "api_key"
    spoken = len(speech) / 32000
    assert spoken - 0.3 < record.user_turns[0].audio_seconds < spoken + 1.5
    assert record.tool_responses[0]["functionResponses"][0]["response"] == {"state": "on"}


async def test_reply_audio_is_24khz_pcm(emulator: Emulator) -> None:
    """Audio parts are 16-bit PCM at 24 kHz, declared in the mime type."""
    client = developer_client(emulator)
    async with client.aio.live.connect(model="gemini-3.8-live", config=live_config()) as session:
        await session.send_realtime_input(text="Hello there")
        log = await collect_turn(session)
    audio_parts = [
        part.inline_data
        for message in log.messages
        if message.server_content and message.server_content.model_turn
        for part in message.server_content.model_turn.parts or []
        if part.inline_data
    ]
    assert audio_parts
    assert {blob.mime_type for blob in audio_parts} == {f"audio/pcm;rate={REPLY_RATE}"}
    assert log.output_text == "You said: Hello there"


async def test_arabic_reply_is_spoken(emulator: Emulator) -> None:
    """An Arabic turn gets an Arabic reply, spoken."""
    emulator.scenario = Scenario.from_data(
        {"turns": [{"user": "شغل الضوء", "language": "ar-EG", "model": [{"say": "حاضر، شغلت الضوء."}]}]}
    )
    client = developer_client(emulator)
    config = live_config(speech_config=types.SpeechConfig(language_code="ar-EG"))
    async with client.aio.live.connect(model="gemini-3.8-live", config=config) as session:
        await send_audio(session, speech_pcm("شغل الضوء", "ar-EG") + silence(1.5, 16000))
        log = await collect_turn(session)
    assert log.input_text == "شغل الضوء"
    assert log.output_text == "حاضر، شغلت الضوء."
    assert log.reply_seconds > 0.8 and rms(bytes(log.audio)) > 500


async def test_ephemeral_token_single_use(emulator: Emulator) -> None:
    """An auth_tokens/ token opens one session on the constrained v1alpha endpoint, then no more."""
    token = emulator.credentials.issue_ephemeral_token(uses=1)
    client = developer_client(emulator, api_key=token.name, api_version="v1alpha")
    async with client.aio.live.connect(model="gemini-3.8-live", config=live_config()) as session:
        await session.send_realtime_input(text="Hi")
        log = await collect_turn(session)
    assert log.output_text == "You said: Hi"
    record = emulator.connections[0]
    assert record.path.endswith("v1alpha.GenerativeService.BidiGenerateContentConstrained")
    assert record.auth_kind == "ephemeral"

    with pytest.raises(errors.APIError) as raised:
        async with client.aio.live.connect(model="gemini-3.8-live", config=live_config()) as session:
            await collect_turn(session)
    assert raised.value.code == 1008


async def test_ephemeral_token_constraints_override_setup(emulator: Emulator) -> None:
    """Fields an ephemeral token locks win over the client's setup."""
    token = emulator.credentials.issue_ephemeral_token(
        setup={"model": "models/gemini-3.8-live", "systemInstruction": {"parts": [{"text": "Locked."}]}},
        field_mask=("systemInstruction",),
    )
    client = developer_client(emulator, api_key=token.name, api_version="v1alpha")
    config = live_config(system_instruction="Client asks for this.")
    async with client.aio.live.connect(model="gemini-3.8-live", config=config) as session:
        await session.send_realtime_input(text="Hi")
        await collect_turn(session)
    setup = emulator.connections[0].setup
    assert setup is not None
    assert setup["systemInstruction"]["parts"][0]["text"] == "Locked."


async def test_vertex_oauth_session(emulator: Emulator) -> None:
    """Vertex AI mode: Bearer token, model resource name, candidatesTokenCount naming in usage."""
    emulator.scenario = LIGHT_SCENARIO
    client = vertex_client(emulator)
    async with client.aio.live.connect(model="gemini-live-2.5-flash-native-audio", config=live_config()) as session:
        await session.send_realtime_input(text="Turn on the kitchen light.")
        log = await collect_turn(session, answer=lambda call: {"state": "on"})
    assert log.output_text == "The kitchen light is on."
    record = emulator.connections[0]
    assert record.backend == "vertex" and record.auth_kind == "oauth"
    assert record.setup is not None
    assert record.setup["model"].endswith("/publishers/google/models/gemini-live-2.5-flash-native-audio")
    usage = log.messages[-1].usage_metadata
    assert usage is not None and usage.response_token_count


async def test_api_key_on_vertex_closes_1008(emulator: Emulator) -> None:
    """An API key where Vertex wants OAuth2: 1008 with the service's reason text."""
    url = live_url(emulator, VERTEX_PATH)
    async with raw_connect(emulator, url, headers={"x-goog-api-key": emulator.api_key}) as ws:
        with pytest.raises(websockets.ConnectionClosedError) as raised:
            await ws.recv()
    assert raised.value.rcvd is not None
    assert raised.value.rcvd.code == 1008
    assert raised.value.rcvd.reason.startswith("API keys are not supported by this API. Expected OAuth2 access token")


async def test_invalid_api_key_closes_1007_after_setup(emulator: Emulator) -> None:
    """A wrong Developer API key is refused after setup, with 1007 and the service's text."""
    client = developer_client(emulator, api_key="AIza-not-a-real-key")
    with pytest.raises(errors.APIError) as raised:
        async with client.aio.live.connect(model="gemini-3.8-live", config=live_config()):
            pass
    assert raised.value.code == 1007
    assert "API key not valid. Please pass a valid API key." in str(raised.value)


async def test_unknown_model_closes_1008_with_truncated_reason(emulator: Emulator) -> None:
    """An unknown model: 1008, the service's text cut to 123 bytes."""
    client = developer_client(emulator, api_version="v1alpha")
    with pytest.raises(errors.APIError) as raised:
        async with client.aio.live.connect(model="gemini-2.0-flash-live-001", config=live_config()):
            pass
    assert raised.value.code == 1008
    expected = (
        "models/gemini-2.0-flash-live-001 is not found for API version v1alpha, or is not supported for "
        "bidiGenerateContent. Call Li"
    )
    assert len(expected.encode()) == 123
    assert emulator.connections[0].close_reason == expected


async def test_barge_in_interrupts_reply(emulator: Emulator) -> None:
    """User speech during the reply: interrupted, then turnComplete; the rest of the reply is not sent."""
    emulator.config.generation_speed = 1.0
    long_reply = "This is a long answer that goes on and on so that there is time to interrupt it. " * 3
    emulator.scenario = Scenario.from_data({"turns": [{"user": "Tell me a story.", "model": [{"say": long_reply}]}]})
    client = developer_client(emulator)
    async with client.aio.live.connect(model="gemini-3.8-live", config=live_config()) as session:
        await session.send_realtime_input(text="Tell me a story.")
        async for message in session.receive():
            if message.data:
                break  # the reply has started
        await send_audio(session, speech_pcm("Stop, please.", "en-US"))
        log = await collect_turn(session)
    assert "interrupted" in log.events
    assert log.events[log.events.index("interrupted") + 1] == "turn_complete"
    assert "generation_complete" not in log.events
    full = emulator.synthesizer.synthesize(long_reply, "en-US", sample_rate=REPLY_RATE, voice="Kore")
    assert len(log.audio) < len(full) / 2
    assert emulator.connections[0].user_turns[-1].interrupted_model


async def test_barge_in_cancels_pending_tool_call(emulator: Emulator) -> None:
    """New input while the model waits for a BLOCKING tool: toolCallCancellation with its id."""
    emulator.scenario = LIGHT_SCENARIO
    client = developer_client(emulator)
    async with client.aio.live.connect(model="gemini-3.8-live", config=live_config()) as session:
        await session.send_realtime_input(text="Turn on the kitchen light.")
        async for message in session.receive():
            if message.tool_call:
                call_id = message.tool_call.function_calls[0].id
                break
        await session.send_realtime_input(text="Never mind.")
        log = await collect_turn(session)
    assert log.cancelled_ids == [call_id]
    assert log.events.index("tool_call_cancellation") < log.events.index("interrupted")


async def test_non_blocking_call_result_when_idle(emulator: Emulator) -> None:
    """A NON_BLOCKING function: the model keeps talking; the WHEN_IDLE result is spoken after the turn."""
    emulator.scenario = Scenario.from_data(
        {
            "turns": [
                {
                    "user": "Set a timer.",
                    "model": [
                        {
                            "call": {
                                "name": "start_timer",
                                "on_result": [{"say": "Your timer is {result[status]}."}],
                            }
                        },
                        {"say": "Setting it."},
                    ],
                }
            ]
        }
    )
    client = developer_client(emulator)
    async with client.aio.live.connect(model="gemini-3.8-live", config=live_config(tools=[TIMER_TOOL])) as session:
        await session.send_realtime_input(text="Set a timer.")
        first = await collect_turn(session)  # not answered during the turn: the model did not wait
        call = first.tool_calls[0]
        await session.send_tool_response(
            function_responses=[
                types.FunctionResponse(
                    id=call.id,
                    name=call.name,
                    response={"status": "running"},
                    scheduling=types.FunctionResponseScheduling.WHEN_IDLE,
                )
            ]
        )
        follow_up = await collect_turn(session)
    assert first.output_text == "Setting it."
    assert follow_up.output_text == "Your timer is running."


async def test_resumption_after_go_away_continues_conversation(emulator: Emulator) -> None:
    """goAway → reconnect with the latest handle → the conversation goes on where it was."""
    emulator.scenario = LIGHT_SCENARIO
    emulator.config.faults.go_away_after_s = 0.5
    client = developer_client(emulator)
    async with client.aio.live.connect(model="gemini-3.8-live", config=live_config()) as session:
        await session.send_realtime_input(text="Turn on the kitchen light.")
        log = await collect_turn(session, answer=lambda call: {"state": "on"})
        messages = list(log.messages)
        # goAway may come during the turn or after it; the handle that covers the turn follows turnComplete.
        handle_after_turn = False
        async for message in session.receive():
            messages.append(message)
            handle_after_turn |= message.session_resumption_update is not None
            if handle_after_turn and any(m.go_away is not None for m in messages):
                break
    go_away = next(m.go_away for m in messages if m.go_away is not None)
    assert go_away.time_left == "50s"
    updates = [m.session_resumption_update for m in messages if m.session_resumption_update is not None]
    handle = next(u.new_handle for u in reversed(updates) if u.resumable and u.new_handle)
    assert handle
    emulator.config.faults.go_away_after_s = None
    config = live_config(session_resumption=types.SessionResumptionConfig(handle=handle))
    async with client.aio.live.connect(model="gemini-3.8-live", config=config) as session:
        await send_audio(session, speech_pcm("Thank you.", "en-US") + silence(1.5, 16000))
        log = await collect_turn(session)
    assert log.input_text == "Thank you."
    assert log.output_text == "You are welcome."
    assert emulator.connections[1].resumed_from == handle


async def test_go_away_then_abort_1008(emulator: Emulator) -> None:
    """A client that ignores goAway is aborted with 1008 when timeLeft runs out."""
    emulator.config.faults.go_away_after_s = 0.1
    emulator.config.faults.go_away_time_left_s = 0.2
    client = developer_client(emulator)
    async with client.aio.live.connect(model="gemini-3.8-live", config=live_config()) as session:
        with pytest.raises(errors.APIError) as raised:
            async for _message in session.receive():
                pass
    assert raised.value.code == 1008
    assert "Connection aborted because the client failed to close the connection after receiving a GoAway" in str(
        raised.value
    )


@pytest.mark.parametrize(
    ("fault", "code", "text"),
    [
        ("internal_error", 1011, "Internal error encountered."),
        ("quota", 1011, "You exceeded your current quota"),
        ("drop", 1006, ""),
    ],
)
async def test_scenario_faults(emulator: Emulator, fault: str, code: int, text: str) -> None:
    """A scripted fault mid-turn reaches the SDK as the real failure would."""
    emulator.scenario = Scenario.from_data({"turns": [{"user": "Hi", "model": [{"say": "Hello."}, {"fault": fault}]}]})
    client = developer_client(emulator)
    async with client.aio.live.connect(model="gemini-3.8-live", config=live_config()) as session:
        await session.send_realtime_input(text="Hi")
        with pytest.raises(errors.APIError) as raised:
            await collect_turn(session)
    assert raised.value.code == code
    assert text in str(raised.value)


async def test_upgrade_rejected_with_429_then_served(emulator: Emulator) -> None:
    """Quota at connect time: HTTP 429 on the upgrade; the next connection is served."""
    emulator.config.faults.reject_connects = 1
    client = developer_client(emulator)
    with pytest.raises(websockets.InvalidStatus) as raised:
        async with client.aio.live.connect(model="gemini-3.8-live", config=live_config()):
            pass
    assert raised.value.response.status_code == 429
    async with client.aio.live.connect(model="gemini-3.8-live", config=live_config()) as session:
        await session.send_realtime_input(text="Hi")
        log = await collect_turn(session)
    assert log.output_text == "You said: Hi"


async def test_manual_activity_and_second_setup(emulator: Emulator) -> None:
    """Client-side activity detection: activityStart/End delimit the turn; a second setup is refused (1007)."""
    emulator.scenario = Scenario.from_data({"turns": [{"user": "Hello there.", "model": [{"say": "Hi."}]}]})
    config = live_config(
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)
        )
    )
    client = developer_client(emulator)
    async with client.aio.live.connect(model="gemini-3.8-live", config=config) as session:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await send_audio(session, speech_pcm("Hello there.", "en-US"))
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        log = await collect_turn(session)
    assert log.output_text == "Hi."
    assert log.input_text == "Hello there."
