"""A Home Assistant stand-in for the link's bridge-side tests: a real WebSocket client speaking docs/link-protocol.md.

It pairs with the real bridge (the HMAC handshake), records every message the bridge sends, and answers
``credentials_request`` by minting real ephemeral tokens at the emulator with the real SDK, as Home Assistant
does with the account's key. Tests send the rest themselves.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import secrets
from typing import Any

import aiohttp
from gemini_live_emulator import Emulator
from google.genai import types

from tests.conftest import developer_client
from wyoming_bridge.link import pairing

WAIT_S = 30.0  # a safety net for a broken bridge, never a synchronisation


class FakeHome:
    """One linked "Home Assistant" (see the module docstring)."""

    def __init__(self, url: str, token: str, emulator: Emulator | None = None) -> None:
        self.url = url
        self.token = token
        self.emulator = emulator
        self.received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.log: list[dict[str, Any]] = []
        self.hello: dict[str, Any] = {}
        self.welcome: dict[str, Any] = {}
        self.minted = 0
        self.tokens: list[str] = []  # every ephemeral token handed to the bridge
        self.answer_credentials = True
        self._session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> FakeHome:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open_socket(self) -> aiohttp.ClientWebSocketResponse:
        """A raw connection to /link, before any handshake."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return await self._session.ws_connect(self.url, max_msg_size=1 << 20)

    async def connect(self, version: int = 1) -> None:
        """Connect and pair; raises AssertionError when the bridge refuses."""
        ws = await self.open_socket()
        self.hello = await receive_json(ws)
        assert self.hello["type"] == "hello", self.hello
        bridge_nonce = base64.b64decode(self.hello["nonce"])
        client_nonce = secrets.token_bytes(32)
        proof = pairing.client_proof(self.token, bridge_nonce, client_nonce)
        await ws.send_str(
            json.dumps(
                {
                    "type": "auth",
                    "version": version,
                    "nonce": pairing.encode(client_nonce),
                    "proof": pairing.encode(proof),
                    "client": "test home",
                }
            )
        )
        self.welcome = await receive_json(ws)
        assert self.welcome["type"] == "welcome", self.welcome
        expected = pairing.bridge_proof(self.token, bridge_nonce, client_nonce)
        assert base64.b64decode(self.welcome["proof"]) == expected, "the bridge proved it knows the token"
        self.ws = ws
        self._reader = asyncio.create_task(self._read(ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            self.log.append(message)
            if message["type"] == "credentials_request" and self.answer_credentials:
                await self.send(await self.credentials(message["id"], message.get("count", 1)))
            await self.received.put(message)

    async def credentials(self, request_id: str, count: int) -> dict[str, Any]:
        """What Home Assistant answers: ephemeral tokens minted at the emulator."""
        assert self.emulator is not None
        client = developer_client(self.emulator, api_version="v1alpha")
        now = datetime.datetime.now(datetime.UTC)
        tokens = []
        for _ in range(count):
            minted = await client.aio.auth_tokens.create(
                config=types.CreateAuthTokenConfig(
                    uses=1,
                    expire_time=now + datetime.timedelta(minutes=30),
                    new_session_expire_time=now + datetime.timedelta(minutes=20),
                    live_connect_constraints=types.LiveConnectConstraints(model="models/gemini-3.8-live"),
                    lock_additional_fields=[],  # only the model is locked; the bridge sets up the rest
                )
            )
            assert minted.name
            tokens.append(
                {"token": minted.name, "new_session_until": (now + datetime.timedelta(minutes=20)).isoformat()}
            )
        self.minted += count
        self.tokens += [token["token"] for token in tokens]
        await client.aio.aclose()
        return {"type": "credentials", "id": request_id, "tokens": tokens}

    async def send(self, message: dict[str, Any]) -> None:
        """Send one message."""
        assert self.ws is not None
        await self.ws.send_str(json.dumps(message))

    async def next(self, kind: str) -> dict[str, Any]:
        """The next message of type ``kind`` (others are skipped; all stay in :attr:`log`)."""
        async with asyncio.timeout(WAIT_S):
            while True:
                message = await self.received.get()
                if message["type"] == kind:
                    return message

    async def wait_closed(self) -> int | None:
        """Wait for the bridge to close the connection; its close code."""
        assert self._reader is not None and self.ws is not None
        await asyncio.wait_for(self._reader, timeout=WAIT_S)
        return self.ws.close_code

    async def drop(self) -> None:
        """Lose the connection (as when Home Assistant restarts)."""
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def close(self) -> None:
        """Disconnect and free the HTTP session."""
        await self.drop()
        if self._session is not None:
            await self._session.close()
            self._session = None


async def receive_json(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next text frame as JSON (fails on a close)."""
    frame = await asyncio.wait_for(ws.receive(), timeout=WAIT_S)
    assert frame.type == aiohttp.WSMsgType.TEXT, (frame.type, frame.data, frame.extra)
    message: dict[str, Any] = json.loads(frame.data)
    return message


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    """Read until the bridge closes the connection; its close code."""
    async with asyncio.timeout(WAIT_S):
        async for _frame in ws:
            pass
    return ws.close_code


LIGHT_TOOL = {
    "name": "HassTurnOn",
    "description": "Turns on a device or entity",
    "parameters": {
        "type": "OBJECT",
        "properties": {"name": {"type": "STRING"}, "area": {"type": "STRING"}},
    },
}
