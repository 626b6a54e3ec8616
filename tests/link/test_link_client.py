"""Home Assistant's end of the link against bridges that misbehave: each refusal and failure is named.

A scripted WebSocket peer plays the bridge where the real one cannot be made to misbehave (a wrong proof,
no version in common, silence); the real bridge's own pairing code computes the proofs it sends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from homeassistant.core import HomeAssistant

from custom_components.gemini_live import link_protocol
from custom_components.gemini_live.link import (
    BridgeIncompatible,
    BridgeUnreachable,
    Hello,
    LinkClient,
    PairingLockedOut,
    PairingRefused,
    Welcome,
    async_probe,
)
from wyoming_bridge.link import pairing

TOKEN = "scripted-token"
type Script = Callable[[web.WebSocketResponse], Awaitable[None]]


@asynccontextmanager
async def scripted_bridge(*scripts: Script) -> AsyncIterator[int]:
    """A WebSocket peer at /link running one script per connection (the last one again after that); its port."""
    remaining = list(scripts)

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        script = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        await script(ws)
        return ws

    app = web.Application()
    app.router.add_get("/link", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


def hello(nonce: bytes, versions: list[int] | None = None) -> dict[str, Any]:
    """What a bridge says first."""
    return {
        "type": "hello",
        "versions": versions or [1],
        "bridge_id": "scripted",
        "name": "scripted",
        "version": "9.9.9",
        "nonce": pairing.encode(nonce),
    }


async def paired(ws: web.WebSocketResponse, *, token: str = TOKEN) -> None:
    """The bridge's side of a good handshake (proofs from the bridge's own pairing code)."""
    nonce = pairing.new_nonce()
    await ws.send_json(hello(nonce))
    auth = json.loads((await ws.receive()).data)
    client_nonce = pairing.decode(auth["nonce"], pairing.NONCE_BYTES)
    assert client_nonce is not None
    assert pairing.decode(auth["proof"], 32) == pairing.client_proof(token, nonce, client_nonce)
    proof = pairing.encode(pairing.bridge_proof(token, nonce, client_nonce))
    await ws.send_json({"type": "welcome", "version": 1, "proof": proof, "satellites": [], "own_credentials": False})


def replying(*messages: Any, close: int | None = None) -> Script:
    """Say hello, read the auth, then send ``messages`` (text or JSON) and close with ``close``."""

    async def script(ws: web.WebSocketResponse) -> None:
        await ws.send_json(hello(pairing.new_nonce()))
        await ws.receive()
        for message in messages:
            await (ws.send_str(message) if isinstance(message, str) else ws.send_json(message))
        if close is not None:
            await ws.close(code=close)

    return script


def first(message: Any) -> Script:
    """Send ``message`` instead of a hello."""

    async def script(ws: web.WebSocketResponse) -> None:
        if isinstance(message, bytes):
            await ws.send_bytes(message)
        elif isinstance(message, str):
            await ws.send_str(message)
        else:
            await ws.send_json(message)
        await ws.receive()

    return script


async def nothing_to_check(_hello: Hello) -> None:
    """Any bridge will do."""


@pytest.mark.parametrize(
    ("script", "error", "text"),
    [
        (first({"type": "welcome"}), BridgeIncompatible, "not a Gemini Live bridge"),
        (first("not json"), BridgeIncompatible, "not a link message"),
        (first(b"\x00\x01"), BridgeUnreachable, "failed during pairing"),
        (first(hello(pairing.new_nonce(), versions=[7])), BridgeIncompatible, "no protocol version in common"),
        (first({**hello(pairing.new_nonce()), "nonce": "short"}), BridgeIncompatible, "no usable nonce"),
        (replying({"type": "hello"}), BridgeIncompatible, "something else than welcome"),
        (replying({"type": "welcome", "proof": pairing.encode(bytes(32))}), PairingRefused, "could not prove"),
        (replying({"type": "error", "code": "bad_token"}), PairingRefused, "refused the pairing token"),
        (replying({"type": "error", "code": "unsupported_version", "message": "v9"}), BridgeIncompatible, "v9"),
        (replying({"type": "error", "code": "odd", "message": "no"}), BridgeIncompatible, "odd: no"),
        (replying(close=4401), PairingRefused, "refused the pairing token"),
        (replying(close=4429), PairingLockedOut, "wait 30 s"),
        (replying(close=4406), BridgeIncompatible, "no protocol version in common"),
        (replying(close=4000), BridgeUnreachable, "code 4000"),
    ],
)
async def test_refusals_and_failures_are_named(
    hass: HomeAssistant, script: Script, error: type[Exception], text: str
) -> None:
    """Every way a pairing can fail is its own error, with a sentence saying why."""
    async with scripted_bridge(script) as port:
        with pytest.raises(error, match=text):
            await async_probe(hass, "127.0.0.1", port, TOKEN, nothing_to_check)


class Recorder:
    """A link listener that keeps what it is told."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def async_link_up(self, welcome: Welcome) -> None:
        self.events.put_nowait(("up", welcome.hello.bridge_id))

    def async_link_message(self, message: dict[str, Any]) -> None:
        self.events.put_nowait(("message", message))

    def async_link_down(self, reason: str) -> None:
        self.events.put_nowait(("down", reason))

    def async_link_refused(self, reason: str) -> None:
        self.events.put_nowait(("refused", reason))

    async def next(self) -> tuple[str, Any]:
        async with asyncio.timeout(10):
            return await self.events.get()


@pytest.fixture
def fast_link(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keepalive and reconnect timing shortened, so the tests see them."""
    monkeypatch.setattr(link_protocol, "PING_INTERVAL_S", 0.05)
    monkeypatch.setattr(link_protocol, "SILENCE_TIMEOUT_S", 0.5)
    monkeypatch.setattr(link_protocol, "BACKOFF_INITIAL_S", 0.01)
    monkeypatch.setattr(link_protocol, "BACKOFF_MAX_S", 0.05)


@pytest.mark.usefixtures("fast_link")
async def test_the_client_pings_reconnects_and_stops_on_refusal(hass: HomeAssistant) -> None:
    """Pings while up; ignores frames that are no messages; names each close; stops for a refused token."""

    async def too_big(ws: web.WebSocketResponse) -> None:
        await paired(ws)
        ping = json.loads((await ws.receive()).data)
        await ws.send_json({"type": "pong", "id": ping["id"]})
        await ws.send_str("[1, 2]")  # not a message: ignored
        await ws.send_json({"type": "state", "satellite": "x", "state": "idle"})
        await ws.close(code=1009)

    async def odd_close(ws: web.WebSocketResponse) -> None:
        await paired(ws)
        await ws.close(code=4000)

    async def silent(ws: web.WebSocketResponse) -> None:
        await paired(ws)
        async for frame in ws:  # never answers, never closes first
            assert frame.type is WSMsgType.TEXT

    async def refused(ws: web.WebSocketResponse) -> None:
        await ws.send_json(hello(pairing.new_nonce()))
        await ws.receive()
        await ws.close(code=4401)

    recorder = Recorder()
    async with scripted_bridge(too_big, odd_close, silent, refused) as port:
        client = LinkClient(hass, "127.0.0.1", port, TOKEN, recorder)
        await client.async_connect()
        task = asyncio.create_task(client._run())
        try:
            assert await recorder.next() == ("message", {"type": "pong", "id": "1"})
            assert await recorder.next() == ("message", {"type": "state", "satellite": "x", "state": "idle"})
            assert await recorder.next() == ("down", "a message was over the link's size limit")
            assert await recorder.next() == ("up", "scripted")
            assert await recorder.next() == ("down", "the link closed (code 4000)")
            assert await recorder.next() == ("up", "scripted")
            assert await recorder.next() == ("down", "the bridge sent nothing for 0 s")
            assert await recorder.next() == ("refused", "the bridge refused the pairing token")
            async with asyncio.timeout(10):
                await task
        finally:
            await client.async_stop()
        assert not client.connected
        assert not await client.async_send({"type": "ping", "id": "late"})


@pytest.mark.usefixtures("fast_link")
async def test_the_client_keeps_trying_an_unreachable_bridge(hass: HomeAssistant) -> None:
    """A bridge gone for good: each attempt reports why, until the entry stops the link."""
    recorder = Recorder()
    async with scripted_bridge(paired) as port:
        client = LinkClient(hass, "127.0.0.1", port, TOKEN, recorder)
        await client.async_connect()
    task = asyncio.create_task(client._run())
    try:
        assert (await recorder.next())[0] == "down"
        kind, reason = await recorder.next()
        assert kind == "down" and reason.startswith("could not connect to 127.0.0.1")
    finally:
        await client.async_stop()
        await asyncio.gather(task, return_exceptions=True)
