"""The web voice console's HTTP side: the page, its static files, and the ``/ws`` WebSocket (aiohttp).

Only what the console needs is served: ``/`` (the page), ``/static/<file>`` (its scripts, worklets and
style) and ``/ws``. Every response carries a strict Content-Security-Policy.

Who may come in:

* **Host**: only the names the console is served as: any IP address literal (no other site can be one), the
  bound name, ``localhost``, and the names given with ``--web-host``. Anything else is refused (421), which
  stops DNS rebinding (a page on ``rebind.example`` whose name later resolves to 127.0.0.1 still sends
  ``Host: rebind.example``).
* **Origin**: a WebSocket upgrade from another web site (an ``Origin`` that is not this host) is refused.
* **Password**: the first message must be a ``hello`` with the password when one is set. Each attempt is
  counted before it is checked, per client address and in all (:class:`~..lockout.Lockout`): after
  :data:`MAX_BAD_PASSWORDS` wrong ones an address waits :data:`LOCKOUT_S`, and so does everyone after
  :data:`MAX_BAD_PASSWORDS_IN_ALL` from any addresses.

Everything after the hello is :class:`~.console.ConsoleConnection`'s; the consoles share
:class:`~.console.ConsoleLimits` (session slots, token rates per address).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import itertools
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Final
from urllib.parse import urlparse

from aiohttp import WSCloseCode, WSMsgType, web

from ..lockout import Lockout
from .console import DEFAULT_MAX_SESSIONS, BadMessage, ConsoleConnection, ConsoleContext, ConsoleLimits, parse_hello
from .limits import SessionSlots

_LOGGER = logging.getLogger(__name__)

STATIC_DIR: Final = Path(__file__).parent / "static"
MAX_FRAME_BYTES: Final = 1024 * 1024  # a larger frame closes the connection (1009)
HELLO_TIMEOUT_S: Final = 10.0
STOP_TIMEOUT_S: Final = 5.0  # how long stopping waits for connections to close their sessions
MAX_BAD_PASSWORDS: Final = 5
MAX_BAD_PASSWORDS_IN_ALL: Final = 20
LOCKOUT_S: Final = 30.0
CLOSE_BAD_PASSWORD: Final = 4401
CLOSE_NO_HELLO: Final = 4400
CLOSE_LOCKED_OUT: Final = 4429
_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.(?:js|css|html|svg)$")
_CONTENT_TYPES: Final = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
}


def host_name(host: str) -> str:
    """The name in a ``Host`` header (or a URL's netloc), without the port and brackets, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    name, _sep, port = host.rpartition(":")
    if name and port.isdigit() and ":" not in name:
        host = name
    return host.rstrip(".")


def is_ip_address(name: str) -> bool:
    """Whether ``name`` is an IPv4 or IPv6 address literal."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class ConsoleServer:
    """Serves the console at ``host:port`` (see the module docstring)."""

    def __init__(
        self,
        host: str,
        port: int,
        context: ConsoleContext,
        *,
        password: str | None = None,
        gemini_origin: str | None = None,
        hosts: Iterable[str] = (),
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        lockout: Lockout | None = None,
    ) -> None:
        """``gemini_origin``: the Live endpoint browsers connect to in direct mode (allowed by the CSP).

        ``hosts``: names the console may be reached as besides IP addresses, its own and ``localhost`` (a
        reverse proxy's); ``max_sessions``: consoles holding a Gemini session at once.
        """
        self.host = host
        self.port = port
        self._context = context
        self._password = password
        self._gemini_origin = gemini_origin
        self._hosts = frozenset(host_name(name) for name in (*hosts, host, "localhost") if name)
        self._numbers = itertools.count(1)
        self._lockout = lockout or Lockout(MAX_BAD_PASSWORDS, LOCKOUT_S, global_limit=MAX_BAD_PASSWORDS_IN_ALL)
        self.limits = ConsoleLimits(SessionSlots(max_sessions))
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._connections: dict[asyncio.Task[None], web.WebSocketResponse] = {}

    @property
    def url(self) -> str:
        """The console's address (with the port actually bound)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def start(self) -> None:
        """Bind and serve."""
        app = web.Application(middlewares=[self._known_host, self._security_headers])
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/ws", self._websocket)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await self._site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        if self._runner.addresses:
            self.port = int(self._runner.addresses[0][1])  # the port actually bound (for port 0)
        _LOGGER.info(
            "Web voice console at %s (%s)",
            self.url,
            "password required" if self._password else "no password: loopback only",
        )

    async def stop(self) -> None:
        """Close every console connection and stop serving."""
        # Closing each WebSocket ends its connection's loop, which then closes its session in order.
        await asyncio.gather(
            *(
                ws.close(code=WSCloseCode.GOING_AWAY, message=b"the bridge is stopping")
                for ws in self._connections.values()
            ),
            return_exceptions=True,
        )
        _done, pending = (
            await asyncio.wait(list(self._connections), timeout=STOP_TIMEOUT_S) if self._connections else ((), ())
        )
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------------------------------ HTTP

    def _csp(self, request: web.Request) -> str:
        connect = [f"ws://{request.host}", f"wss://{request.host}"]
        if self._gemini_origin:
            connect.append(self._gemini_origin)
        return (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {' '.join(connect)}; media-src 'self' blob:; worker-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )

    def host_allowed(self, host: str) -> bool:
        """Whether a request with this ``Host`` header is for the console (see the module docstring)."""
        name = host_name(host)
        return is_ip_address(name) or name in self._hosts

    @web.middleware
    async def _known_host(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not self.host_allowed(request.host):
            _LOGGER.warning(
                "Console: refused a request for host %r from %s (not a name the console is served as; "
                "add it with --web-host)",
                request.host[:100],
                request.remote,
            )
            return web.Response(status=421, text="this console is not served under that name\n")
        return await handler(request)

    @web.middleware
    async def _security_headers(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        if not response.prepared:
            response.headers["Content-Security-Policy"] = self._csp(request)
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "no-referrer"
            response.headers["Cache-Control"] = "no-cache"
        return response

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return self._file("index.html")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if not _STATIC_NAME.match(name):
            raise web.HTTPNotFound()
        return self._file(name)

    def _file(self, name: str) -> web.StreamResponse:
        path = STATIC_DIR / name
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Type": _CONTENT_TYPES[path.suffix] + "; charset=utf-8"})

    # ------------------------------------------------------------------------------------- WebSocket

    def _same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser: the password is the only check
        return urlparse(origin).netloc.lower() == request.host.lower()

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        address = request.remote or "?"
        if not self._same_origin(request):
            _LOGGER.warning("Console: refused a WebSocket from another site (Origin %s)", request.headers["Origin"])
            raise web.HTTPForbidden(text="the console only accepts its own page\n")
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = ws
        try:
            await self._serve(ws, address)
        finally:
            self._connections.pop(task, None)
            await ws.close()
        return ws

    async def _serve(self, ws: web.WebSocketResponse, address: str) -> None:
        if self._password is not None and self._lockout.refused(address):
            await self._refuse(
                ws, "too_many_attempts", "too many wrong passwords; wait and try again", CLOSE_LOCKED_OUT
            )
            return
        try:
            message = await ws.receive(timeout=HELLO_TIMEOUT_S)
        except TimeoutError:
            await self._refuse(ws, "bad_message", "no hello", CLOSE_NO_HELLO)
            return
        if message.type != WSMsgType.TEXT:
            await self._refuse(ws, "bad_message", "the first message must be hello", CLOSE_NO_HELLO)
            return
        try:
            hello = parse_hello(json.loads(message.data))
        except ValueError:
            await self._refuse(ws, "bad_message", "the first message must be hello (JSON)", CLOSE_NO_HELLO)
            return
        except BadMessage as err:
            await self._refuse(ws, err.code, str(err), CLOSE_NO_HELLO)
            return
        if self._password is not None:
            # Counted before it is checked: guesses sent at once on many sockets are all counted.
            if not self._lockout.attempt(address):
                _LOGGER.warning("Console: password attempt from %s refused: too many wrong ones", address)
                await self._refuse(
                    ws, "too_many_attempts", "too many wrong passwords; wait and try again", CLOSE_LOCKED_OUT
                )
                return
            if not self._password_ok(hello.password):
                _LOGGER.warning("Console: wrong password from %s", address)
                await self._refuse(ws, "bad_password", "wrong password", CLOSE_BAD_PASSWORD)
                return
            self._lockout.succeeded(address)
        label = f"console-{next(self._numbers)}"
        await ConsoleConnection(ws, self._context, label, hello, address=address, limits=self.limits).run()

    async def _refuse(self, ws: web.WebSocketResponse, code: str, text: str, close_code: int) -> None:
        if not ws.closed:
            await ws.send_str(json.dumps({"type": "error", "code": code, "message": text}))
            await ws.close(code=close_code, message=text.encode()[:123])

    def _password_ok(self, given: str | None) -> bool:
        if self._password is None:
            return True
        return hmac.compare_digest((given or "").encode(), self._password.encode())
