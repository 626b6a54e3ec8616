"""The bridge's endpoint (``--uri``): the link's WebSocket at ``/link``, pairing, and nothing else.

Each connection goes through the handshake of docs/link-protocol.md (``hello`` → ``auth`` → ``welcome``);
an authenticated one is handed to the :class:`~.home.HomeLink`, which outlives it. A newer authenticated
connection replaces the older one. Failed pairings are counted per client address (:class:`~..lockout.Lockout`).
Messages are bounded (aiohttp closes a connection with 1009 past the limit); a malformed message is answered
with ``error`` and the connection stays up.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from typing import Any

from aiohttp import WSMsgType, web

from ..lockout import Lockout
from . import messages, pairing
from .guard import ConnectionGuard, RequestLog
from .home import HomeLink
from .messages import BadMessage

_LOGGER = logging.getLogger(__name__)


class LinkServer:
    """Serves the link on one address."""

    def __init__(
        self,
        host: str,
        port: int,
        home: HomeLink,
        identity: pairing.Identity,
        *,
        name: str,
        version: str,
        lockout: Lockout | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._home = home
        self._identity = identity
        self._name = name
        self._version = version
        self._lockout = lockout or Lockout()
        self._current: web.WebSocketResponse | None = None
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self.guard: ConnectionGuard | None = None
        self.port = port  # the bound port once started (port 0 picks one)

    async def start(self) -> None:
        """Listen (returns once bound)."""
        app = web.Application()
        app.router.add_get(messages.PATH, self._handle)
        # keepalive_timeout: an idle HTTP connection is not kept; the guard bounds the rest (see .guard).
        runner = web.AppRunner(app, access_log=None, handle_signals=False, keepalive_timeout=5.0, logger=RequestLog())
        await runner.setup()
        server = runner.server
        assert server is not None
        self.guard = ConnectionGuard(server)
        self._listener = await asyncio.get_running_loop().create_server(
            self.guard.protocol, self._host, self._port, reuse_address=True
        )
        self._runner = runner
        self.port = int(self._listener.sockets[0].getsockname()[1])  # the port actually bound (for port 0)
        _LOGGER.info("Link endpoint for Home Assistant at ws://%s:%d%s", self._host, self.port, messages.PATH)

    async def stop(self) -> None:
        """Close the link and stop listening."""
        current = self._current
        if current is not None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await current.close(code=messages.CLOSE_NORMAL, message=b"the bridge is stopping")
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        address = request.remote or "?"
        ws = web.WebSocketResponse(max_msg_size=messages.MAX_MESSAGE_BYTES, autoping=True)
        await ws.prepare(request)
        if self._lockout.refused(address):
            _LOGGER.warning("Link from %s refused: too many failed pairings, it must wait", address)
            await ws.close(code=messages.CLOSE_LOCKED_OUT, message=b"too many failed pairings; try again later")
            return ws
        try:
            version = await self._pair(ws, address)
        except (ConnectionError, RuntimeError) as err:
            _LOGGER.debug("Link from %s ended during pairing: %s", address, err)
            return ws
        if version is None:
            return ws
        if self.guard is not None:
            self.guard.upgraded(request.transport)
        previous, self._current = self._current, ws
        if previous is not None and not previous.closed:
            _LOGGER.info("A newer link from %s replaces the current one", address)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await previous.close(code=messages.CLOSE_REPLACED, message=b"replaced by a newer link")
        await self._home.attached(ws)
        try:
            await self._serve(ws, address)
        finally:
            if self._current is ws:
                self._current = None
            await self._home.detached(ws)
        return ws

    async def _pair(self, ws: web.WebSocketResponse, address: str) -> int | None:
        """The handshake; the version agreed on, or None after refusing (the connection is closed)."""
        bridge_nonce = pairing.new_nonce()
        await self._send(
            ws,
            {
                "type": "hello",
                "versions": list(messages.VERSIONS),
                "bridge_id": self._identity.bridge_id,
                "name": self._name,
                "version": self._version,
                "nonce": pairing.encode(bridge_nonce),
            },
        )
        try:
            async with asyncio.timeout(messages.AUTH_TIMEOUT_S):
                frame = await ws.receive()
        except TimeoutError:
            _LOGGER.warning("Link from %s: no auth within %.0f s", address, messages.AUTH_TIMEOUT_S)
            await ws.close(code=messages.CLOSE_AUTH_TIMEOUT, message=b"no auth in time")
            return None
        if frame.type != WSMsgType.TEXT:
            await ws.close(code=messages.CLOSE_BAD_TOKEN, message=b"the first message must be auth")
            return None
        try:
            auth = messages.parse(frame.data)
        except BadMessage as err:
            auth = {"type": "?", "error": str(err)}
        version = auth.get("version")
        if auth.get("type") == "auth" and version not in messages.VERSIONS:
            await self._send(
                ws, _error("unsupported_version", f"this bridge speaks versions {list(messages.VERSIONS)}")
            )
            await ws.close(code=messages.CLOSE_NO_VERSION, message=b"no protocol version in common")
            return None
        # Counted before the proof is checked: parallel guesses from one address are all counted.
        self._lockout.failed(address)
        client_nonce = pairing.decode(auth.get("nonce"), pairing.NONCE_BYTES)
        proof = pairing.decode(auth.get("proof"), 32)
        expected = (
            pairing.client_proof(self._identity.token, bridge_nonce, client_nonce) if client_nonce is not None else None
        )
        if auth.get("type") != "auth" or proof is None or expected is None or not hmac.compare_digest(proof, expected):
            _LOGGER.warning("Link from %s refused: wrong or missing pairing token", address)
            await self._send(
                ws, _error("bad_token", "the pairing token is wrong; see the bridge's log or data directory")
            )
            await ws.close(code=messages.CLOSE_BAD_TOKEN, message=b"pairing token refused")
            return None
        self._lockout.succeeded(address)
        assert client_nonce is not None
        assert isinstance(version, int)
        await self._send(
            ws,
            {
                "type": "welcome",
                "version": version,
                "proof": pairing.encode(pairing.bridge_proof(self._identity.token, bridge_nonce, client_nonce)),
                "satellites": self._home.satellite_list(),
                "own_credentials": self._home.own_credentials,
            },
        )
        client = auth.get("client")
        _LOGGER.info(
            "Linked with %s at %s (protocol %d)", client if isinstance(client, str) else "a client", address, version
        )
        return version

    async def _serve(self, ws: web.WebSocketResponse, address: str) -> None:
        while True:
            try:
                async with asyncio.timeout(messages.SILENCE_TIMEOUT_S):
                    frame = await ws.receive()
            except TimeoutError:
                _LOGGER.warning(
                    "Link from %s: nothing received for %.0f s; closing it", address, messages.SILENCE_TIMEOUT_S
                )
                await ws.close(code=messages.CLOSE_NORMAL, message=b"silent for too long")
                return
            if frame.type == WSMsgType.TEXT:
                await self._dispatch(ws, frame.data)
            elif frame.type == WSMsgType.BINARY:
                await self._send(ws, _error("bad_message", "the link carries no binary frames"))
            elif frame.type == WSMsgType.ERROR:
                _LOGGER.warning("Link from %s failed: %s", address, ws.exception())
                return
            elif frame.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                if ws.close_code == messages.CLOSE_TOO_BIG:
                    _LOGGER.warning(
                        "Link from %s closed: a message was over %d bytes", address, messages.MAX_MESSAGE_BYTES
                    )
                return

    async def _dispatch(self, ws: web.WebSocketResponse, data: str) -> None:
        try:
            message = messages.parse(data)
            await self._home.handle(message)
        except BadMessage as err:
            _LOGGER.warning("Bad message on the link: %s", err)
            await self._send(ws, _error("bad_message", str(err)))
        except Exception:  # one message that cannot be handled must not end the link
            _LOGGER.exception("Could not handle a link message")
            await self._send(ws, _error("internal", "the bridge could not handle the message; see its log"))

    @staticmethod
    async def _send(ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(messages.dump(message))


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}
