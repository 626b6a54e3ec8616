"""The link's WebSocket, Home Assistant's end: pairing, keepalive and reconnecting (docs/link-protocol.md).

:func:`async_pair` connects to a bridge and goes through the handshake (``hello`` → ``auth`` →
``welcome``), checking the bridge's proof before anything else is believed. :class:`LinkClient` keeps the
link up for a loaded entry: it pings every 20 s, treats 60 s without a message as a dead link, and
reconnects with jittered exponential backoff (1 s doubling to 60 s). Messages go to a
:class:`LinkListener`; what they mean is :mod:`.bridge`'s business.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import aiohttp
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import __version__ as HA_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from yarl import URL

from . import link_protocol as protocol
from .const import LOGGER

CLIENT_NAME: Final = f"Home Assistant {HA_VERSION}"


class LinkError(Exception):
    """The link could not be set up; ``str(error)`` says why, in a short English sentence for the log."""

    key = "bridge_unreachable"  # the translation key of the form error and the set-up message


class BridgeUnreachable(LinkError):
    """Nothing answers at the address, or the connection broke during pairing."""


class PairingRefused(LinkError):
    """The bridge refused the pairing token, or could not prove that it knows it."""

    key = "invalid_pairing_token"


class PairingLockedOut(LinkError):
    """Too many failed pairings from this address: the bridge makes it wait."""

    key = "pairing_locked_out"


class BridgeIncompatible(LinkError):
    """Not a Gemini Live bridge, or one without a protocol version in common."""

    key = "bridge_incompatible"


@dataclass(frozen=True)
class Hello:
    """What a bridge says before pairing: who it is."""

    bridge_id: str
    name: str
    version: str


@dataclass(frozen=True)
class Welcome:
    """A paired bridge: who it is, its satellites, and whether it has Gemini credentials of its own."""

    hello: Hello
    protocol: int
    satellites: list[dict[str, Any]] = field(default_factory=list)
    own_credentials: bool = False


type HelloCheck = Callable[[Hello], Awaitable[None]]


def link_url(host: str, port: int) -> URL:
    """``ws://HOST:PORT/link`` (IPv6 addresses in brackets)."""
    return URL.build(scheme="ws", host=host, port=port, path=protocol.PATH)


async def async_pair(
    session: aiohttp.ClientSession, host: str, port: int, token: str, *, check_hello: HelloCheck | None = None
) -> tuple[aiohttp.ClientWebSocketResponse, Welcome]:
    """Connect and pair; the open WebSocket and the bridge's welcome (raises :class:`LinkError`).

    ``check_hello`` sees who the bridge is before Home Assistant authenticates; whatever it raises ends
    the attempt (a flow aborts there for a bridge it already knows, without replacing that bridge's link).
    """
    try:
        url = link_url(host, port)
    except ValueError as err:
        raise BridgeUnreachable(f"{host!r} is not a host name or address ({err})") from err
    try:
        async with asyncio.timeout(protocol.CONNECT_TIMEOUT_S):
            ws = await session.ws_connect(url, max_msg_size=protocol.MAX_MESSAGE_BYTES, autoclose=True, autoping=True)
    except aiohttp.WSServerHandshakeError as err:
        raise BridgeIncompatible(f"{host}:{port} does not serve the link (HTTP {err.status})") from err
    except (aiohttp.ClientError, OSError, TimeoutError) as err:
        raise BridgeUnreachable(f"could not connect to {host}:{port} ({_describe(err)})") from err
    try:
        welcome = await _handshake(ws, token, check_hello)
    except BaseException:
        await ws.close()
        raise
    return ws, welcome


async def _handshake(ws: aiohttp.ClientWebSocketResponse, token: str, check_hello: HelloCheck | None) -> Welcome:
    hello_message = await _receive(ws)
    if hello_message.get("type") != "hello" or not isinstance(hello_message.get("bridge_id"), str):
        raise BridgeIncompatible("the other side is not a Gemini Live bridge (no hello)")
    hello = Hello(
        bridge_id=hello_message["bridge_id"],
        name=str(hello_message.get("name") or "bridge"),
        version=str(hello_message.get("version") or "?"),
    )
    if check_hello is not None:
        await check_hello(hello)
    offered = hello_message.get("versions")
    common = [version for version in protocol.VERSIONS if isinstance(offered, list) and version in offered]
    if not common:
        await ws.close(code=protocol.CLOSE_NO_VERSION, message=b"no protocol version in common")
        raise BridgeIncompatible(f"no protocol version in common (the bridge speaks {offered})")
    bridge_nonce = protocol.decode(hello_message.get("nonce"), protocol.NONCE_BYTES)
    if bridge_nonce is None:
        raise BridgeIncompatible("the bridge's hello carries no usable nonce")
    client_nonce = protocol.new_nonce()
    version = max(common)
    await ws.send_str(
        protocol.dump(
            {
                "type": "auth",
                "version": version,
                "nonce": protocol.encode(client_nonce),
                "proof": protocol.encode(protocol.client_proof(token, bridge_nonce, client_nonce)),
                "client": CLIENT_NAME,
            }
        )
    )
    reply = await _receive(ws)
    if reply.get("type") == "error":
        # The bridge closes the connection after this; its code says why.
        raise _refusal(str(reply.get("code")), str(reply.get("message") or ""))
    if reply.get("type") != "welcome":
        raise BridgeIncompatible("the bridge answered the pairing with something else than welcome")
    if not protocol.proof_matches(reply.get("proof"), protocol.bridge_proof(token, bridge_nonce, client_nonce)):
        await ws.close(code=protocol.CLOSE_BAD_TOKEN, message=b"the bridge's proof is wrong")
        raise PairingRefused("the bridge could not prove that it knows the pairing token")
    satellites = reply.get("satellites")
    return Welcome(
        hello=hello,
        protocol=version,
        satellites=[item for item in satellites if isinstance(item, dict)] if isinstance(satellites, list) else [],
        own_credentials=reply.get("own_credentials") is True,
    )


async def _receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next message of the handshake (raises :class:`LinkError` when the bridge closes or stays silent)."""
    try:
        async with asyncio.timeout(protocol.HANDSHAKE_TIMEOUT_S):
            frame = await ws.receive()
    except TimeoutError as err:
        raise BridgeUnreachable("the bridge did not answer the pairing in time") from err
    if frame.type is aiohttp.WSMsgType.TEXT:
        message = protocol.parse(frame.data)
        if message is None:
            raise BridgeIncompatible("the bridge sent something that is not a link message")
        return message
    if frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
        raise _closed(ws.close_code)
    raise BridgeUnreachable(f"the link failed during pairing ({ws.exception() or frame.type.name})")


def _refusal(code: str, message: str) -> LinkError:
    if code == "bad_token":
        return PairingRefused("the bridge refused the pairing token")
    if code == "unsupported_version":
        return BridgeIncompatible(f"no protocol version in common ({message})")
    return BridgeIncompatible(f"the bridge refused the pairing ({code}: {message})")


def _closed(code: int | None) -> LinkError:
    if code == protocol.CLOSE_BAD_TOKEN:
        return PairingRefused("the bridge refused the pairing token")
    if code == protocol.CLOSE_LOCKED_OUT:
        return PairingLockedOut("too many failed pairings from this address; the bridge makes it wait 30 s")
    if code == protocol.CLOSE_NO_VERSION:
        return BridgeIncompatible("no protocol version in common")
    return BridgeUnreachable(f"the bridge closed the connection during pairing (code {code})")


def _describe(err: BaseException) -> str:
    if isinstance(err, aiohttp.ClientConnectorError) and err.os_error.strerror:
        return err.os_error.strerror.lower()
    return str(err) or type(err).__name__


async def async_probe(hass: HomeAssistant, host: str, port: int, token: str, check_hello: HelloCheck) -> Welcome:
    """Pair once to check the address and the token, then close (raises :class:`LinkError`)."""
    ws, welcome = await async_pair(async_get_clientsession(hass), host, port, token, check_hello=check_hello)
    await ws.close(code=protocol.CLOSE_NORMAL, message=b"pairing checked")
    return welcome


class LinkListener(Protocol):
    """Who is told what happens on the link."""

    async def async_link_up(self, welcome: Welcome) -> None:
        """A new connection is paired (also after a reconnect)."""

    def async_link_message(self, message: dict[str, Any]) -> None:
        """A message from the bridge (called in order; must not block)."""

    def async_link_down(self, reason: str) -> None:
        """The link is down, or another attempt to reconnect failed; ``reason`` says why."""

    def async_link_refused(self, reason: str) -> None:
        """The bridge refused the pairing token: no more attempts until the entry has a new one."""


class _Backoff:
    """Jittered exponential delays: 1 s, doubling up to 60 s."""

    def __init__(self) -> None:
        self._attempt = 0

    def next(self) -> float:
        base = min(protocol.BACKOFF_MAX_S, protocol.BACKOFF_INITIAL_S * 2**self._attempt)
        self._attempt += 1
        jittered: float = base * random.uniform(0.8, 1.2)
        return min(protocol.BACKOFF_MAX_S, jittered)

    def reset(self) -> None:
        self._attempt = 0


class LinkClient:
    """Keeps one entry's link up (see the module docstring)."""

    def __init__(self, hass: HomeAssistant, host: str, port: int, token: str, listener: LinkListener) -> None:
        self._hass = hass
        self._host = host
        self._port = port
        self._token = token
        self._listener = listener
        self._session = async_get_clientsession(hass)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._send_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._ping_ids = itertools.count(1)
        self.welcome: Welcome | None = None

    @property
    def connected(self) -> bool:
        """A paired connection is open now."""
        return self._ws is not None and not self._ws.closed

    async def async_connect(self) -> Welcome:
        """The first connection (raises :class:`LinkError`); :meth:`async_start` serves it."""
        self._ws, self.welcome = await async_pair(self._session, self._host, self._port, self._token)
        return self.welcome

    def async_start(self, entry: ConfigEntry) -> None:
        """Serve the connection, and reconnect whenever it drops, until :meth:`async_stop`."""
        self._task = entry.async_create_background_task(self._hass, self._run(), f"gemini_live link {self._host}")

    async def async_stop(self) -> None:
        """Close the link for good."""
        self._stopping.set()
        ws = self._ws
        if ws is not None:
            await ws.close(code=protocol.CLOSE_NORMAL, message=b"Home Assistant is stopping")
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def async_send(self, message: dict[str, Any]) -> bool:
        """Send one message; False when the link is down (nothing is queued)."""
        ws = self._ws
        if ws is None or ws.closed:
            return False
        try:
            async with self._send_lock:
                await ws.send_str(protocol.dump(message))
        except (ConnectionError, RuntimeError, aiohttp.ClientError) as err:
            LOGGER.debug("Could not send %s to the bridge: %s", message.get("type"), err)
            return False
        return True

    async def _run(self) -> None:
        backoff = _Backoff()
        while not self._stopping.is_set():
            ws = self._ws
            if ws is None:
                try:
                    ws, welcome = await async_pair(self._session, self._host, self._port, self._token)
                except PairingRefused as err:
                    self._listener.async_link_refused(str(err))
                    return
                except LinkError as err:
                    self._listener.async_link_down(str(err))
                    await asyncio.sleep(backoff.next())
                    continue
                self._ws, self.welcome = ws, welcome
                backoff.reset()
                await self._listener.async_link_up(welcome)
            reason, replaced = await self._serve(ws)
            self._ws = None
            if self._stopping.is_set():
                return
            self._listener.async_link_down(reason)
            # Replaced by another Home Assistant: taking the bridge straight back would make the two flap.
            await asyncio.sleep(protocol.BACKOFF_MAX_S if replaced else backoff.next())

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> tuple[str, bool]:
        """Read messages until the connection ends; why it ended, and whether another link replaced it."""
        pinger = self._hass.async_create_background_task(self._ping(ws), "gemini_live link ping")
        try:
            while True:
                try:
                    async with asyncio.timeout(protocol.SILENCE_TIMEOUT_S):
                        frame = await ws.receive()
                except TimeoutError:
                    await ws.close(code=protocol.CLOSE_NORMAL, message=b"silent for too long")
                    return f"the bridge sent nothing for {protocol.SILENCE_TIMEOUT_S:.0f} s", False
                if frame.type is aiohttp.WSMsgType.TEXT:
                    message = protocol.parse(frame.data)
                    if message is None:
                        LOGGER.debug("Ignoring a frame from the bridge that is not a link message")
                        continue
                    self._listener.async_link_message(message)
                elif frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                    return _close_reason(ws.close_code), ws.close_code == protocol.CLOSE_REPLACED
                elif frame.type is aiohttp.WSMsgType.ERROR:
                    return f"the link failed ({ws.exception()})", False
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger

    async def _ping(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while not ws.closed:
            await asyncio.sleep(protocol.PING_INTERVAL_S)
            await self.async_send({"type": "ping", "id": str(next(self._ping_ids))})


def _close_reason(code: int | None) -> str:
    if code == protocol.CLOSE_REPLACED:
        return "another Home Assistant linked to the bridge"
    if code == protocol.CLOSE_TOO_BIG:
        return "a message was over the link's size limit"
    if code == protocol.CLOSE_NORMAL:
        return "the bridge closed the link"
    return f"the link closed (code {code})"
