"""Frame-level facts of the emulator's Live endpoint, checked with a plain ``websockets`` client (no SDK).

Pure camelCase client frames; binary, pretty-printed server frames; the exact first frame; close codes and
reasons for bad input; and other connections served while one is closed.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
import websockets
from gemini_live_emulator import Emulator

from tests.audio import speech_pcm

from .live_client import DEV_PATH, VERTEX_PATH, live_url, raw_connect

FRAMES = Path(__file__).parents[1] / "data" / "gemini-sdk-client-frames.jsonl"
CAMEL_SETUP = {"setup": {"model": "models/gemini-3.8-live", "generationConfig": {"responseModalities": ["AUDIO"]}}}


def keyed(emulator: Emulator, path: str = DEV_PATH) -> str:
    """A Developer API URL with the key in the query, as browsers and js-genai send it."""
    return live_url(emulator, path) + f"?key={emulator.api_key}"


async def receive_json(ws: Any) -> dict[str, Any]:
    """One server frame; it must be binary and pretty-printed JSON."""
    frame = await ws.recv()
    assert isinstance(frame, bytes), "server frames are binary"
    message: dict[str, Any] = json.loads(frame)
    assert frame.decode() == json.dumps(message, indent=2, ensure_ascii=False) + "\n"
    return message


async def receive_turn(ws: Any) -> list[dict[str, Any]]:
    """Server messages up to and including turnComplete."""
    messages = []
    while True:
        message = await receive_json(ws)
        messages.append(message)
        if message.get("serverContent", {}).get("turnComplete"):
            return messages


async def expect_close(ws: Any) -> tuple[int, str]:
    """Wait for the server's close; (code, reason)."""
    with pytest.raises(websockets.ConnectionClosed) as raised:
        while True:
            await ws.recv()
    assert raised.value.rcvd is not None, "the server sent a close frame"
    return raised.value.rcvd.code, raised.value.rcvd.reason


async def test_first_frame_is_exact_binary_setup_complete(emulator: Emulator) -> None:
    """The first server frame is exactly the service's bytes."""
    async with raw_connect(emulator, keyed(emulator)) as ws:
        await ws.send(json.dumps(CAMEL_SETUP))
        frame = await ws.recv()
    assert frame == b'{\n  "setupComplete": {}\n}\n'


async def test_pure_camel_case_client_turn(emulator: Emulator) -> None:
    """A js-genai style client (camelCase, standard base64) gets a full turn in camelCase, usage with turnComplete."""
    async with raw_connect(emulator, keyed(emulator)) as ws:
        await ws.send(json.dumps({"setup": {**CAMEL_SETUP["setup"], "outputAudioTranscription": {}}}))
        await receive_json(ws)
        await ws.send(json.dumps({"realtimeInput": {"text": "Good morning"}}))
        messages = await receive_turn(ws)
    audio = [
        part["inlineData"]
        for m in messages
        for part in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
    ]
    assert audio and all(blob["mimeType"] == "audio/pcm;rate=24000" for blob in audio)
    assert all(len(base64.b64decode(blob["data"], validate=True)) > 0 for blob in audio)
    transcript = "".join(
        m["serverContent"]["outputTranscription"]["text"]
        for m in messages
        if "outputTranscription" in m.get("serverContent", {})
    )
    assert transcript == "You said: Good morning"
    assert messages[-2] == {"serverContent": {"generationComplete": True}}
    assert set(messages[-1]) == {"serverContent", "usageMetadata"}
    assert "responseTokenCount" in messages[-1]["usageMetadata"]


async def test_double_slash_path_and_header_key(emulator: Emulator) -> None:
    """The SDK's default ``//ws/`` path and the ``x-goog-api-key`` header are accepted."""
    url = live_url(emulator, "/" + DEV_PATH)
    async with raw_connect(emulator, url, headers={"x-goog-api-key": emulator.api_key}) as ws:
        await ws.send(json.dumps(CAMEL_SETUP))
        assert await receive_json(ws) == {"setupComplete": {}}
    assert emulator.connections[0].path.startswith("//ws/")


async def test_unknown_path_is_404(emulator: Emulator) -> None:
    """A path the service does not have is refused before the upgrade."""
    url = live_url(emulator, "/ws/google.ai.generativelanguage.v1beta.GenerativeService.Nope")
    with pytest.raises(websockets.InvalidStatus) as raised:
        async with raw_connect(emulator, url):
            pass
    assert raised.value.response.status_code == 404


async def test_answers_pings(emulator: Emulator) -> None:
    """The service answers WebSocket pings (the SDK's keepalive)."""
    async with raw_connect(emulator, keyed(emulator)) as ws:
        await ws.send(json.dumps(CAMEL_SETUP))
        await receive_json(ws)
        pong = await ws.ping()
        await asyncio.wait_for(pong, timeout=10)


async def test_missing_credentials_close_1008(emulator: Emulator) -> None:
    """No key at all: 1008 with the service's text."""
    async with raw_connect(emulator, live_url(emulator, DEV_PATH)) as ws:
        code, reason = await expect_close(ws)
    assert code == 1008
    assert reason.startswith("Method doesn't allow unregistered callers")


async def test_invalid_bearer_on_vertex_close_1008(emulator: Emulator) -> None:
    """An OAuth token the service never issued: 1008."""
    async with raw_connect(
        emulator, live_url(emulator, VERTEX_PATH), headers={"Authorization": "Bearer ya29.forged"}
    ) as ws:
        code, reason = await expect_close(ws)
    assert code == 1008
    assert reason.startswith("Request had invalid authentication credentials.")


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        (["{not json"], "Invalid JSON payload received."),
        (
            [json.dumps({"setup": {"model": "models/gemini-3.8-live", "foo": 1}})],
            "Invalid JSON payload received. Unknown name \"foo\" at 'setup': Cannot find field.",
        ),
        ([json.dumps({"realtimeInput": {"text": "hi"}})], "Request contains an invalid argument."),
        ([json.dumps(CAMEL_SETUP), json.dumps(CAMEL_SETUP)], "Request contains an invalid argument."),
        (
            [json.dumps(CAMEL_SETUP), json.dumps({"realtimeInput": {"activityStart": {}}})],
            "Request contains an invalid argument.",
        ),
        (
            [
                json.dumps(CAMEL_SETUP),
                json.dumps(
                    {"toolResponse": {"functionResponses": [{"id": "function-call-9", "name": "x", "response": {}}]}}
                ),
            ],
            "Request contains an invalid argument.",
        ),
    ],
    ids=[
        "malformed-json",
        "unknown-field",
        "first-not-setup",
        "second-setup",
        "activity-with-auto-vad",
        "unknown-call-id",
    ],
)
async def test_bad_input_closes_1007_others_unaffected(emulator: Emulator, frames: list[str], reason: str) -> None:
    """Bad input closes that connection with 1007 and the service's text; another connection carries on."""
    async with raw_connect(emulator, keyed(emulator)) as healthy:
        await healthy.send(json.dumps(CAMEL_SETUP))
        await receive_json(healthy)
        async with raw_connect(emulator, keyed(emulator)) as bad:
            for frame in frames:
                await bad.send(frame)
            code, got = await expect_close(bad)
        assert code == 1007
        assert got.startswith(reason)
        assert len(got.encode()) <= 123
        await healthy.send(json.dumps({"realtimeInput": {"text": "still there?"}}))
        messages = await receive_turn(healthy)
    assert messages[-1]["serverContent"]["turnComplete"] is True


async def test_oversized_frame_closes_1009(emulator: Emulator) -> None:
    """A frame over the limit closes only that connection, with 1009."""
    emulator.config.max_frame_bytes = 64 * 1024
    async with raw_connect(emulator, keyed(emulator)) as healthy:
        await healthy.send(json.dumps(CAMEL_SETUP))
        await receive_json(healthy)
        async with raw_connect(emulator, keyed(emulator)) as bad:
            await bad.send(json.dumps(CAMEL_SETUP))
            await receive_json(bad)
            blob = base64.b64encode(bytes(200 * 1024)).decode()
            await bad.send(json.dumps({"realtimeInput": {"audio": {"data": blob, "mimeType": "audio/pcm;rate=16000"}}}))
            code, _reason = await expect_close(bad)
        assert code == 1009
        await healthy.send(json.dumps({"realtimeInput": {"text": "ok?"}}))
        assert (await receive_turn(healthy))[-1]["serverContent"]["turnComplete"]


def captured_setups() -> list[tuple[str, dict[str, str], str]]:
    """(path, headers, setup frame) for each connection the real SDK opened in the capture."""
    connections: list[tuple[str, dict[str, str], str]] = []
    path: str | None = None
    headers: dict[str, str] = {}
    for line in FRAMES.read_text().splitlines():
        entry = json.loads(line)
        if "path" in entry:
            path, headers = entry["path"], entry["headers"]
        elif path is not None and entry["data"].startswith('{"setup"'):
            connections.append((path, headers, entry["data"]))
            path = None
    return connections


@pytest.mark.parametrize("captured", captured_setups(), ids=lambda c: c[0].rsplit(".", 1)[-1])
async def test_captured_sdk_setups_are_accepted(emulator: Emulator, captured: tuple[str, dict[str, str], str]) -> None:
    """Every setup frame the real SDK sent (mixed snake/camel case) is accepted on its own path."""
    path, captured_headers, frame = captured
    setup = json.loads(frame)
    setup["setup"].pop("sessionResumption", None)  # the captured handle belongs to another service
    headers: dict[str, str] = {}
    if "Authorization" in captured_headers and captured_headers["Authorization"].startswith("Bearer"):
        headers["Authorization"] = "Bearer " + emulator.credentials.issue_access_token()
    elif "Constrained" in path:
        token = emulator.credentials.issue_ephemeral_token()
        headers = {"Authorization": f"Token {token.name}", "x-goog-api-key": token.name}
    else:
        headers["x-goog-api-key"] = emulator.api_key
    async with raw_connect(emulator, live_url(emulator, path), headers=headers) as ws:
        await ws.send(json.dumps(setup))
        assert await receive_json(ws) == {"setupComplete": {}}
        await ws.send(json.dumps({"realtime_input": {"text": "hello"}}))
        messages = await receive_turn(ws)
    assert any("modelTurn" in m.get("serverContent", {}) for m in messages)


async def test_url_safe_base64_audio_and_received_audio_recorded(emulator: Emulator) -> None:
    """The SDK's URL-safe base64 audio decodes to exactly the PCM that was sent."""
    speech = speech_pcm("Hello there, how are you today?", "en-US")
    async with raw_connect(emulator, keyed(emulator)) as ws:
        await ws.send(json.dumps(CAMEL_SETUP))
        await receive_json(ws)
        blob = base64.urlsafe_b64encode(speech).decode()
        await ws.send(json.dumps({"realtime_input": {"audio": {"data": blob, "mime_type": "audio/pcm;rate=16000"}}}))
        await ws.send(json.dumps({"realtime_input": {"audioStreamEnd": True}}))
        await receive_turn(ws)
    assert bytes(emulator.connections[0].audio) == speech


async def test_proactive_audio_off_is_refused_by_3_8_live(emulator: Emulator) -> None:
    """gemini-3.8-live keeps proactive audio on: a setup turning it off is refused with 1007."""
    async with raw_connect(emulator, keyed(emulator)) as ws:
        await ws.send(json.dumps({"setup": {**CAMEL_SETUP["setup"], "proactivity": {"proactiveAudio": False}}}))
        code, reason = await expect_close(ws)
    assert (code, reason) == (1007, "Request contains an invalid argument.")
