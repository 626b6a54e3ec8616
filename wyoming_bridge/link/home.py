"""Home Assistant as the bridge sees it through the link: what it configured, and the requests in flight.

One :class:`HomeLink` per bridge outlives the WebSocket connections (:mod:`.server` attaches each
authenticated one). It keeps

* the satellites Home Assistant is told about, and their state (``satellites``, ``state`` messages);
* each satellite's configuration from ``configure`` (options, tool declarations, endpoint), applied to its
  sessions from the next one on;
* a stock of Gemini credentials from ``credentials`` (ephemeral tokens, or a Vertex AI access token), asked
  for ahead of need;
* tool calls and confirmations in flight, sent again on a new connection until answered;
* announcements arriving in pieces, handed to the satellite once they start.

Satellites plug in through :class:`SatellitePort`; nothing here knows about Wyoming.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import datetime
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from aiohttp import web
from google.genai import types

from gemini_live_engine.audio import AudioFormat
from gemini_live_engine.credentials import AccessToken
from gemini_live_engine.errors import LiveError
from gemini_live_engine.options import LiveOptions
from gemini_live_engine.tasks import BackgroundTasks
from gemini_live_engine.tools import ToolError

from . import messages
from .messages import BadMessage

_LOGGER = logging.getLogger(__name__)

TOKENS_PER_REQUEST: Final = 2
CREDENTIALS_WAIT_S: Final = 10.0  # how long a new connection waits for Home Assistant's credentials
TOKEN_MARGIN_S: Final = 5.0  # a token this close to its last new-session moment is not used
ACCESS_TOKEN_MARGIN_S: Final = 60.0
LINK_DOWN_GRACE_S: Final = 10.0  # a link back within this is no outage worth a warning (pairing checks, reloads)


@dataclass(frozen=True)
class SatelliteSummary:
    """A satellite as the ``satellites`` message lists it."""

    id: str
    name: str
    wake: str  # "satellite" (it detects its own wake word) or "bridge"
    connected: bool

    def as_dict(self) -> dict[str, Any]:
        """The message form."""
        return dataclasses.asdict(self)


@dataclass
class Announcement:
    """Something Home Assistant wants said on a satellite, as it arrives over the link."""

    id: str
    text: str
    audio_format: AudioFormat | None  # None: Gemini says ``text`` itself
    listen: bool  # start a conversation afterwards, without a wake word
    prompt: str | None
    audio: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)  # PCM pieces, then None
    audio_seconds: float = 0.0


class SatellitePort(Protocol):
    """What the link needs from one satellite (its turn controller)."""

    def summary(self) -> SatelliteSummary:
        """How the satellite is listed."""
        ...

    async def announce(self, announcement: Announcement) -> None:
        """Play the announcement (and listen afterwards when it says so); raise when it cannot."""
        ...

    def set_muted(self, muted: bool) -> None:
        """Mute or unmute the satellite (no wake word, no turn while muted)."""
        ...

    def reconfigure(self) -> None:
        """The satellite's options or tools changed: its next session uses them."""
        ...


@dataclass
class SatelliteConfig:
    """What Home Assistant configured for one satellite."""

    revision: int = 0
    options: dict[str, Any] = field(default_factory=dict)  # model, voice, language, system_prompt
    declarations: list[types.FunctionDeclaration] = field(default_factory=list)
    endpoint: dict[str, Any] | None = None


@dataclass
class _Token:
    token: str = field(repr=False)
    new_session_until: float  # monotonic


@dataclass
class _Pending:
    message: dict[str, Any]
    future: asyncio.Future[dict[str, Any]]


class HomeLink:
    """The bridge's side of the link (see the module docstring)."""

    def __init__(self, data_dir: Path, *, own_credentials: bool, tool_timeout_s: float = 10.0) -> None:
        self._data_dir = data_dir
        self.own_credentials = own_credentials
        self._tool_timeout_s = tool_timeout_s
        self._ws: web.WebSocketResponse | None = None
        self._send_lock = asyncio.Lock()
        self.linked = asyncio.Event()
        self._satellites: dict[str, SatellitePort] = {}
        self._states: dict[str, dict[str, Any]] = {}
        self.configs: dict[str, SatelliteConfig] = {}
        self._tokens: list[_Token] = []
        self._access: AccessToken | None = None
        self._kind: str | None = None  # what Home Assistant hands out: "ephemeral" or "vertex"
        self._credentials_changed = asyncio.Event()
        self._credentials_error: str | None = None
        self._credentials_asked = False
        self._next_id = 0
        self._pending: dict[str, _Pending] = {}  # tool calls and confirmations sent, not answered
        self._announcements: dict[str, Announcement] = {}
        self._tasks = BackgroundTasks()
        self.down_grace_s = LINK_DOWN_GRACE_S

    # ------------------------------------------------------------------------------ connections

    @property
    def connected(self) -> bool:
        """A Home Assistant is linked now."""
        return self._ws is not None and not self._ws.closed

    def satellite_list(self) -> list[dict[str, Any]]:
        """The ``satellites`` field of ``welcome`` and ``satellites``."""
        return [port.summary().as_dict() for port in self._satellites.values()]

    async def attached(self, ws: web.WebSocketResponse) -> None:
        """A newly authenticated connection (after ``welcome``): send what waits for an answer again."""
        self._ws = ws
        self.linked.set()
        for config in self.configs.values():
            config.revision = -1  # a Home Assistant that restarted counts its revisions anew; they all apply
        _LOGGER.info("Home Assistant is linked")
        for sat_id, state in self._states.items():
            await self._send({"type": "state", "satellite": sat_id, **state})
        for pending in list(self._pending.values()):
            await self._send(pending.message)

    async def detached(self, ws: web.WebSocketResponse) -> None:
        """A connection ended; requests in flight wait for the next one (or their time-out)."""
        if self._ws is not ws:
            return
        self._ws = None
        self.linked.clear()
        for announcement in self._announcements.values():
            announcement.audio.put_nowait(None)
        self._announcements.clear()
        _LOGGER.info("Home Assistant closed the link")
        self._tasks.spawn(self._warn_if_still_down())

    async def _warn_if_still_down(self) -> None:
        """Warn once the link stays down: Home Assistant's pairing check, a reload or a restart closes it briefly."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.linked.wait(), self.down_grace_s)
            return
        _LOGGER.warning("The link to Home Assistant is down; home tools answer that the home is unreachable")

    async def close(self) -> None:
        """Stop: cancel what runs, fail what waits."""
        await self._tasks.cancel_all()
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.cancel()
        self._pending.clear()

    async def _send(self, message: dict[str, Any]) -> bool:
        ws = self._ws
        if ws is None or ws.closed:
            return False
        try:
            async with self._send_lock:
                await ws.send_str(messages.dump(message))
        except (ConnectionError, RuntimeError) as err:
            _LOGGER.debug("Could not send %s to Home Assistant: %s", message.get("type"), err)
            return False
        return True

    def _id(self, prefix: str) -> str:
        self._next_id += 1
        return f"{prefix}-{self._next_id}"

    # ------------------------------------------------------------------------------- satellites

    def register(self, sat_id: str, port: SatellitePort) -> None:
        """A satellite the bridge controls (connected or not)."""
        self._satellites[sat_id] = port
        self._tasks.spawn(self._send({"type": "satellites", "satellites": self.satellite_list()}))

    def unregister(self, sat_id: str) -> None:
        """A satellite the bridge no longer controls."""
        if self._satellites.pop(sat_id, None) is not None:
            self._states.pop(sat_id, None)
            self._tasks.spawn(self._send({"type": "satellites", "satellites": self.satellite_list()}))

    def satellites_changed(self) -> None:
        """A satellite connected, disconnected or was renamed."""
        self._tasks.spawn(self._send({"type": "satellites", "satellites": self.satellite_list()}))

    def state_changed(self, sat_id: str, state: str, muted: bool) -> None:
        """A satellite's state, for its sensor in Home Assistant."""
        current = {"state": state, "muted": muted}
        if self._states.get(sat_id) == current:
            return
        self._states[sat_id] = current
        self._tasks.spawn(self._send({"type": "state", "satellite": sat_id, **current}))

    def turn_over(self, sat_id: str, summary: dict[str, Any]) -> None:
        """A voice turn ended (Home Assistant logs it)."""
        self._tasks.spawn(self._send({"type": "turn", "satellite": sat_id, **summary}))

    def options_for(self, sat_id: str, base: LiveOptions) -> LiveOptions:
        """``base`` with what Home Assistant configured for the satellite."""
        config = self.configs.get(sat_id)
        if config is None:
            return base
        changes: dict[str, Any] = {
            name: value
            for name, value in config.options.items()
            if name in ("model", "voice", "language", "system_prompt") and value
        }
        endpoint = config.endpoint
        if endpoint:
            changes["base_url"] = endpoint.get("base_url") or None
            changes["api_version"] = endpoint.get("api_version") or None
            ca_pem = endpoint.get("ca_pem")
            changes["ca_file"] = str(self._store_ca(ca_pem)) if ca_pem else None
        return dataclasses.replace(base, **changes)

    def configured(self, sat_id: str) -> bool:
        """Home Assistant has configured the satellite (or the bridge needs nothing from it to start)."""
        return self.own_credentials or sat_id in self.configs

    def declarations_for(self, sat_id: str) -> list[types.FunctionDeclaration]:
        """The functions Home Assistant declared for the satellite."""
        config = self.configs.get(sat_id)
        return list(config.declarations) if config is not None else []

    def _store_ca(self, pem: str) -> Path:
        path = self._data_dir / "home-assistant-gemini-ca.pem"
        if not path.exists() or path.read_text(encoding="utf-8") != pem:
            path.write_text(pem, encoding="utf-8")
        return path

    # --------------------------------------------------------------------------------- messages

    async def handle(self, message: dict[str, Any]) -> None:
        """One message from Home Assistant (raises :class:`BadMessage` for a malformed one)."""
        kind = message["type"]
        handler = self._handlers.get(kind)
        if handler is None:
            _LOGGER.debug("Ignoring a link message of type %s", kind)
            return
        await handler(self, message)

    async def _on_ping(self, message: dict[str, Any]) -> None:
        await self._send({"type": "pong", "id": message.get("id")})

    async def _on_configure(self, message: dict[str, Any]) -> None:
        sat_id = messages.text(message, "satellite")
        revision = message.get("revision")
        if not isinstance(revision, int) or isinstance(revision, bool):
            raise BadMessage("configure: revision must be a whole number")
        options = messages.obj(message, "options", optional=True) or {}
        for name, value in options.items():
            if value is not None and not isinstance(value, str):
                raise BadMessage(f"configure: options.{name} must be a string or null")
        tools = message.get("tools", [])
        if not isinstance(tools, list) or len(tools) > messages.MAX_TOOLS:
            raise BadMessage(f"configure: tools must be a list of at most {messages.MAX_TOOLS} declarations")
        try:
            declarations = [types.FunctionDeclaration.model_validate(tool) for tool in tools]
        except ValueError as err:
            raise BadMessage(f"configure: a tool declaration is not valid ({err.__class__.__name__})") from err
        endpoint = messages.obj(message, "endpoint", optional=True)
        current = self.configs.get(sat_id)
        if current is not None and revision <= current.revision:
            return  # an older configuration arriving late
        self.configs[sat_id] = SatelliteConfig(revision, options, declarations, endpoint)
        _LOGGER.info(
            "[%s] configured by Home Assistant (revision %d: %d tools, model %s)",
            sat_id,
            revision,
            len(declarations),
            options.get("model") or "the bridge's",
        )
        port = self._satellites.get(sat_id)
        if port is not None:
            port.reconfigure()

    async def _on_credentials(self, message: dict[str, Any]) -> None:
        now = time.monotonic()
        if "error" in message:
            self._credentials_error = messages.text(message, "error")
            _LOGGER.warning("Home Assistant has no Gemini credentials for the bridge: %s", self._credentials_error)
        elif "tokens" in message:
            tokens = message["tokens"]
            if not isinstance(tokens, list):
                raise BadMessage("credentials: tokens must be a list")
            for item in tokens:
                if not isinstance(item, dict):
                    raise BadMessage("credentials: each token must be an object")
                token = _field_text(item, "token")
                until = _seconds_from_now(item.get("new_session_until"))
                self._tokens.append(_Token(token, now + until))
            self._kind = "ephemeral"
            self._credentials_error = None
        elif "vertex" in message:
            vertex = messages.obj(message, "vertex")
            assert vertex is not None
            expires_in = _seconds_from_now(vertex.get("expires_at"))
            self._access = AccessToken(
                _field_text(vertex, "access_token"),
                datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=expires_in),
                _field_text(vertex, "project"),
                _field_text(vertex, "location"),
            )
            self._kind = "vertex"
            self._credentials_error = None
        else:
            raise BadMessage("credentials: needs tokens, vertex or error")
        self._credentials_changed.set()
        self._credentials_changed = asyncio.Event()

    async def _on_tool_result(self, message: dict[str, Any]) -> None:
        self._resolve(messages.text(message, "id"), message)

    async def _on_confirm_result(self, message: dict[str, Any]) -> None:
        self._resolve(messages.text(message, "confirmation"), message)

    def _resolve(self, request_id: str, message: dict[str, Any]) -> None:
        pending = self._pending.pop(request_id, None)
        if pending is None:
            _LOGGER.debug("An answer to %s that nobody waits for (timed out?)", request_id)
            return
        if not pending.future.done():
            pending.future.set_result(message)

    async def _on_mute(self, message: dict[str, Any]) -> None:
        sat_id = messages.text(message, "satellite")
        muted = messages.flag(message, "muted")
        port = self._satellites.get(sat_id)
        if port is None:
            raise BadMessage(f"mute: no satellite {sat_id!r}")
        port.set_muted(muted)

    async def _on_announce(self, message: dict[str, Any]) -> None:
        announce_id = messages.text(message, "id")
        sat_id = messages.text(message, "satellite")
        port = self._satellites.get(sat_id)
        fmt = messages.obj(message, "format", optional=True)
        audio_format: AudioFormat | None = None
        if fmt is not None:
            try:
                audio_format = AudioFormat(int(fmt["rate"]), int(fmt["width"]), int(fmt["channels"]))
            except (KeyError, TypeError, ValueError) as err:
                raise BadMessage(f"announce: format is not a usable audio format ({err})") from err
        announcement = Announcement(
            id=announce_id,
            text=messages.text(message, "text", optional=True),
            audio_format=audio_format,
            listen=messages.flag(message, "listen"),
            prompt=messages.text(message, "prompt", optional=True) or None,
        )
        if port is None:
            await self._send({"type": "announce_done", "id": announce_id, "error": f"no satellite {sat_id}"})
            return
        if audio_format is None:
            announcement.audio.put_nowait(None)
        else:
            self._announcements[announce_id] = announcement
        self._tasks.spawn(self._announce(port, announcement), name=f"announce-{announce_id}")

    async def _announce(self, port: SatellitePort, announcement: Announcement) -> None:
        error: str | None = None
        try:
            await port.announce(announcement)
        except Exception as err:
            error = str(err) or type(err).__name__
            _LOGGER.warning("Announcement %s could not be played: %s", announcement.id, error)
        finally:
            self._announcements.pop(announcement.id, None)
        await self._send({"type": "announce_done", "id": announcement.id, "error": error})

    async def _on_announce_audio(self, message: dict[str, Any]) -> None:
        announcement = self._announcements.get(messages.text(message, "id"))
        if announcement is None or announcement.audio_format is None:
            return  # finished or dropped meanwhile
        try:
            pcm = base64.b64decode(messages.text(message, "pcm"), validate=True)
        except ValueError as err:
            raise BadMessage("announce_audio: pcm must be base64") from err
        if len(pcm) > messages.MAX_ANNOUNCE_CHUNK_BYTES:
            raise BadMessage(f"announce_audio: at most {messages.MAX_ANNOUNCE_CHUNK_BYTES} bytes of PCM per message")
        announcement.audio_seconds += announcement.audio_format.seconds(len(pcm))
        if announcement.audio_seconds > messages.MAX_ANNOUNCE_S:
            self._announcements.pop(announcement.id, None)
            announcement.audio.put_nowait(None)
            raise BadMessage(f"announce_audio: an announcement is at most {messages.MAX_ANNOUNCE_S:g} s long")
        announcement.audio.put_nowait(pcm)

    async def _on_announce_end(self, message: dict[str, Any]) -> None:
        announcement = self._announcements.pop(messages.text(message, "id"), None)
        if announcement is not None:
            announcement.audio.put_nowait(None)

    _handlers: Final[dict[str, Callable[[HomeLink, dict[str, Any]], Awaitable[None]]]] = {
        "ping": _on_ping,
        "configure": _on_configure,
        "credentials": _on_credentials,
        "tool_result": _on_tool_result,
        "confirm_result": _on_confirm_result,
        "mute": _on_mute,
        "announce": _on_announce,
        "announce_audio": _on_announce_audio,
        "announce_end": _on_announce_end,
    }

    # ------------------------------------------------------------------------------- requests

    async def call_tool(self, sat_id: str, call_id: str, name: str, args: dict[str, Any], turn: str) -> dict[str, Any]:
        """Run a function Home Assistant declared; the answer message (``result``, ``error`` or ``confirm``).

        Raises :class:`ToolError` when no Home Assistant is linked. The call is sent again on every new
        connection until it is answered; the caller's time-out bounds the wait.
        """
        if not self.connected:
            raise ToolError("Home Assistant is not reachable right now; nothing in the home was changed")
        if len(self._pending) >= messages.MAX_CALLS_IN_FLIGHT:
            raise ToolError("too many calls to Home Assistant at once")
        request = {"type": "tool_call", "id": call_id, "satellite": sat_id, "name": name, "args": args, "turn": turn}
        return await self._request(call_id, request)

    async def confirm(self, sat_id: str, confirmation: str, heard: str) -> dict[str, Any]:
        """Tell Home Assistant the user said yes to ``confirmation``; its ``confirm_result``."""
        if not self.connected:
            raise ToolError("Home Assistant is not reachable right now; nothing in the home was changed")
        request = {"type": "confirm", "confirmation": confirmation, "satellite": sat_id, "heard": heard}
        return await self._request(confirmation, request)

    async def _request(self, request_id: str, message: dict[str, Any]) -> dict[str, Any]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = _Pending(message, future)
        try:
            await self._send(message)
            return await future
        finally:
            self._pending.pop(request_id, None)

    # ---------------------------------------------------------------------------- credentials

    async def ephemeral_token(self) -> str:
        """A token that may open a new Live session now (raises :class:`LiveError` when none comes)."""
        deadline = time.monotonic() + CREDENTIALS_WAIT_S
        while True:
            now = time.monotonic()
            self._tokens = [t for t in self._tokens if t.new_session_until - TOKEN_MARGIN_S > now]
            if self._tokens:
                token = self._tokens.pop(0)
                if len(self._tokens) < TOKENS_PER_REQUEST // 2 + 1:
                    self._ask_for_credentials()  # keep one ready ahead
                return token.token
            await self._wait_for_credentials(deadline)

    async def access_token(self) -> AccessToken:
        """Home Assistant's current Vertex AI access token (raises :class:`LiveError` when none comes)."""
        deadline = time.monotonic() + CREDENTIALS_WAIT_S
        while True:
            access = self._access
            now = datetime.datetime.now(datetime.UTC)
            if access is not None and (
                access.expires_at is None or access.expires_at - now > datetime.timedelta(seconds=ACCESS_TOKEN_MARGIN_S)
            ):
                return access
            await self._wait_for_credentials(deadline)

    @property
    def credentials_kind(self) -> str | None:
        """``"ephemeral"`` or ``"vertex"``: what Home Assistant sent last (None before it sent any)."""
        return self._kind

    async def wait_credentials_kind(self) -> str:
        """What kind of credentials Home Assistant hands out (asks once if it is not known yet)."""
        deadline = time.monotonic() + CREDENTIALS_WAIT_S
        while (kind := self.credentials_kind) is None:
            await self._wait_for_credentials(deadline)
        return kind

    async def _wait_for_credentials(self, deadline: float) -> None:
        if not self.connected:
            raise LiveError(
                "not_linked", "Home Assistant is not linked, and the bridge has no key of its own", retryable=True
            )
        if self._credentials_error is not None:
            error, self._credentials_error = self._credentials_error, None
            raise LiveError("link_credentials", f"Home Assistant gave no credentials ({error})", retryable=True)
        self._ask_for_credentials()
        changed = self._credentials_changed
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await changed.wait()
        except TimeoutError:
            raise LiveError("link_credentials", "Home Assistant sent no credentials in time", retryable=True) from None

    def _ask_for_credentials(self) -> None:
        if self._credentials_asked:
            return
        self._credentials_asked = True
        request_id = self._id("credentials")

        async def ask() -> None:
            try:
                if not await self._send({"type": "credentials_request", "id": request_id, "count": TOKENS_PER_REQUEST}):
                    return  # asked again on the next connection
                changed = self._credentials_changed
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(CREDENTIALS_WAIT_S):
                        await changed.wait()
            finally:
                self._credentials_asked = False

        self._tasks.spawn(ask(), name="link-credentials")


def _field_text(item: dict[str, Any], name: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise BadMessage(f"credentials: {name} must be a non-empty string")
    return value


def _seconds_from_now(value: object) -> float:
    """An RFC 3339 time (or a number of seconds) as seconds from now; 0 when it cannot be read."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return 0.0
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        return (moment - datetime.datetime.now(datetime.UTC)).total_seconds()
    return 0.0
