"""What the Live link puts on the wire: audio frames built without the SDK's models, no deflate, small TLS reads."""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import base64
import json
import random
import ssl
from typing import Any

import pytest
from gemini_live_emulator import Emulator, Scenario
from google import genai
from google.genai import live as genai_live
from google.genai import types

from gemini_live_engine import ApiKeyCredentials, AudioOut, LiveSession
from gemini_live_engine.live.link import TLS_READ_BYTES, audio_frame, limit_tls_reads, server_message
from gemini_live_engine.options import INPUT_MIME
from tests.audio import silence, speech_pcm

from .live_helpers import MIC_RATE, collect, live_connection_tasks, options_for, reply_text, send_speech


class _RecordingSocket:
    """Stands in for the SDK's WebSocket: keeps the text frames sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: str) -> None:
        self.sent.append(message)


def _sdk_client(vertexai: bool) -> genai.Client:
    if vertexai:
        return genai.Client(vertexai=True, project="p", location="us-central1")
    return genai.Client(api_key="test-key")


@pytest.mark.parametrize("vertexai", [False, True], ids=["developer", "vertex"])
async def test_audio_frames_are_what_the_sdk_sends(vertexai: bool) -> None:
    """Byte for byte the SDK's own serialisation of ``send_realtime_input(audio=...)``, on either backend."""
    rng = random.Random(7)
    pieces = [
        b"",
        b"\x00\x01",
        b"\xff\xfe\xfb",  # base64 characters that differ between the standard and URL-safe alphabets
        bytes(rng.randrange(256) for _ in range(2047)),
        speech_pcm("Turn on the light.", "en-US")[:2048],
    ]
    socket = _RecordingSocket()
    session = genai_live.AsyncSession(api_client=_sdk_client(vertexai)._api_client, websocket=socket)  # type: ignore[arg-type]
    for pcm in pieces:
        await session.send_realtime_input(audio=types.Blob(data=pcm, mime_type=INPUT_MIME))
    assert [audio_frame(pcm) for pcm in pieces] == socket.sent


async def test_the_live_websocket_negotiates_no_deflate(emulator: Emulator) -> None:
    """The engine's connections come without permessage-deflate; the SDK on its own would ask for it."""
    session = LiveSession(ApiKeyCredentials(emulator.api_key), options_for(emulator), label="wire")
    await session.open()
    try:
        await session.send_audio(speech_pcm("Hello.", "en-US")[:3200])
    finally:
        await session.close()
    assert [c.deflate for c in emulator.connections] == [False]
    assert emulator.connections[0].audio_bytes == 3200

    context = ssl.create_default_context(cafile=str(emulator.ca_file))
    http = types.HttpOptions(base_url=emulator.base_url, async_client_args={"ssl": context})
    client = genai.Client(api_key=emulator.api_key, http_options=http)
    async with client.aio.live.connect(model=options_for(emulator).model, config=types.LiveConnectConfig()):
        pass
    assert [c.deflate for c in emulator.connections] == [False, True]


async def test_messages_larger_than_a_tls_read_arrive_whole(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the bridge's smaller TLS reads, a reply message several reads long still arrives as one piece of audio."""
    monkeypatch.setattr(asyncio.sslproto.SSLProtocol, "max_size", asyncio.sslproto.SSLProtocol.max_size)
    limit_tls_reads()
    assert asyncio.sslproto.SSLProtocol.max_size == TLS_READ_BYTES
    emulator.scenario = Scenario.from_data(
        {"turns": [{"user": "What time is it?", "model": [{"say": "It is noon, and the weather is fine."}]}]}
    )
    emulator.config.audio_chunk_ms = 3000  # one serverContent message for the whole reply
    session = LiveSession(ApiKeyCredentials(emulator.api_key), options_for(emulator), label="wire")
    await session.open()
    try:
        await send_speech(session, speech_pcm("What time is it?", "en-US") + silence(1.5, MIC_RATE))
        events = await collect(session)
    finally:
        await session.close()
    pieces = [len(e.pcm) for e in events if isinstance(e, AudioOut)]
    assert max(pieces) * 4 // 3 > TLS_READ_BYTES, "one message, base64-encoded, longer than a read"
    assert reply_text(events) == "It is noon, and the weather is fine."
    assert sum(pieces) / (2 * 24000) > 1.0


class _ReplayingSocket:
    """Stands in for the SDK's WebSocket: hands out one received frame."""

    def __init__(self, frame: bytes) -> None:
        self.frame = frame

    async def recv(self, decode: bool | None = None) -> bytes:
        return self.frame


_AUDIO = base64.b64encode(speech_pcm("Hello.", "en-US")[:1920]).decode("ascii")
SERVER_MESSAGES: list[dict[str, Any]] = [
    {"setupComplete": {}},
    {"sessionResumptionUpdate": {"newHandle": "handle-1", "resumable": True}},
    {"sessionResumptionUpdate": {"newHandle": "handle-2", "resumable": True, "lastConsumedClientMessageIndex": "17"}},
    {"sessionResumptionUpdate": {"resumable": False}},
    {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": _AUDIO}}]}}},
    {"serverContent": {"inputTranscription": {"text": "What time", "finished": False}}},
    {"serverContent": {"outputTranscription": {"text": "It is noon."}}},
    {"serverContent": {"interrupted": True}},
    {"serverContent": {"generationComplete": True}},
    {"serverContent": {"turnComplete": True, "turnCompleteReason": "NEED_MORE_INPUT", "waitingForInput": True}},
    {"usageMetadata": {"promptTokenCount": 12, "responseTokenCount": 30, "totalTokenCount": 42}},
    {
        "toolCall": {
            "functionCalls": [{"id": "function-call-1", "name": "turn_on", "args": {"entity": "light.kitchen"}}]
        }
    },
    {"toolCallCancellation": {"ids": ["function-call-1"]}},
    {"goAway": {"timeLeft": "50s"}},
    {"serverContent": {"turnComplete": True, "aFieldFromTheFuture": {"x": 1}}},  # not in the SDK's models
]


@pytest.mark.parametrize("vertexai", [False, True], ids=["developer", "vertex"])
async def test_server_messages_are_what_the_sdk_makes_of_them(vertexai: bool) -> None:
    """Every kind of message the service sends becomes the very LiveServerMessage the SDK's receive() gives."""
    client = _sdk_client(vertexai)
    for message in SERVER_MESSAGES:
        frame = json.dumps(message).encode()
        socket = _ReplayingSocket(frame)
        session = genai_live.AsyncSession(api_client=client._api_client, websocket=socket)  # type: ignore[arg-type]
        expected = await session._receive()
        assert server_message(frame, vertexai=vertexai) == expected, message


async def test_closing_mid_answer_closes_the_connection(emulator: Emulator) -> None:
    """A session closed while the model streams its answer (a reply nobody reads any more) ends its connection.

    The service's close frame comes after the audio it sent first; the link reads and drops that audio while
    it closes, or the closing handshake would never see the frame and the connection would stay open.
    """
    long_answer = " ".join(["The kitchen light is on, and the hall light is off."] * 6)
    emulator.scenario = Scenario.from_data(
        {"turns": [{"user": "Tell me everything.", "model": [{"say": long_answer}]}]}
    )
    emulator.config.generation_speed = 0  # the whole answer at once
    emulator.config.audio_chunk_ms = 10  # in hundreds of messages
    session = LiveSession(ApiKeyCredentials(emulator.api_key), options_for(emulator), label="wire")
    await session.open()
    await session.send_text("Tell me everything.")
    events = aiter(session.events())
    while not isinstance(await anext(events), AudioOut):
        pass

    await asyncio.wait_for(session.close(), timeout=10)

    assert live_connection_tasks() == [], "the WebSocket is still open"
    assert emulator.connections[0].closed
