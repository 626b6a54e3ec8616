"""Helpers for web console tests: a bridge serving the console on a free loopback port, and a WebSocket client."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from gemini_live_emulator import Emulator

from tests.bridge.satellite_helpers import bridge_settings
from wyoming_bridge.app import Bridge

REPLY_TIMEOUT_S = 60.0  # a safety net for a broken bridge, never a synchronisation


@asynccontextmanager
async def console_bridge(
    emulator: Emulator, *, service_silence_ms: int | None = None, **overrides: Any
) -> AsyncIterator[Bridge]:
    """A started bridge with only the web console (127.0.0.1, a free port); ``tools=`` its tool executor.

    ``service_silence_ms``: the silence window the bridge asks Gemini's activity detection for.
    """
    values: dict[str, Any] = {"web": ("127.0.0.1", 0)} | overrides
    tools = values.pop("tools", None)
    bridge = Bridge(bridge_settings(emulator, (), **values), tools=tools)
    if service_silence_ms is not None:
        bridge.live_options = dataclasses.replace(bridge.live_options, silence_duration_ms=service_silence_ms)
    try:
        await bridge.start()
        yield bridge
    finally:
        await bridge.stop()


class ConsoleClient:
    """The browser's side of the console protocol, over a real WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.audio = bytearray()
        self.messages: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def next_message(self) -> dict[str, Any]:
        """The next JSON message (binary audio on the way is collected into ``audio``)."""
        while True:
            message = await asyncio.wait_for(self.ws.receive(), timeout=REPLY_TIMEOUT_S)
            if message.type == aiohttp.WSMsgType.BINARY:
                self.audio += message.data
                continue
            if message.type != aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"the console closed: {message.type} {message.data} {message.extra}")
            data: dict[str, Any] = json.loads(message.data)
            self.messages.append(data)
            return data

    async def until(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Read until a message of ``kind`` (with these field values) arrives."""
        while True:
            message = await self.next_message()
            if message["type"] == kind and all(message.get(k) == v for k, v in fields.items()):
                return message

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def transcript(self, role: str) -> str:
        return "".join(m["text"] for m in self.of_type("transcript") if m["role"] == role)


@asynccontextmanager
async def console_client(bridge: Bridge, *, origin: str | None = None, **hello: Any) -> AsyncIterator[ConsoleClient]:
    """A connected console client that has sent its hello (the reply is not read yet)."""
    assert bridge.console is not None
    url = bridge.console.url + "ws"
    headers = {"Origin": origin} if origin else {}
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=headers) as ws:
        client = ConsoleClient(ws)
        await client.send({"type": "hello", "mode": "push_to_talk", "rate": 16000} | hello)
        yield client


async def push_to_talk(client: ConsoleClient, pcm16k: bytes) -> None:
    """Hold the button, say ``pcm16k`` (16 kHz, in 20 ms frames as the page sends them), let go."""
    await client.send({"type": "start"})
    for start in range(0, len(pcm16k), 640):
        await client.ws.send_bytes(pcm16k[start : start + 640])
    await client.send({"type": "stop"})
