"""Bounds on the link endpoint's TCP connections, before aiohttp reads a byte of them.

The endpoint is reachable on the network. aiohttp bounds what one request may carry, but not how many
connections may be open, nor how long a peer may take to send its request: a thousand idle connections
would use up the process's file descriptors (and the satellites could not reconnect), and a request sent a
byte a second would hold its connection for ever. :class:`ConnectionGuard` wraps aiohttp's protocol factory:

* at most ``max_total`` connections at once, and ``max_per_address`` from one address: more are closed at
  once (aborted, with one log line per address and minute);
* a connection that has not become a link ``handshake_s`` after it opened (its request not sent, or the
  pairing not done) is closed.

Why by hand: aiohttp has no connection limits or request-header time-out of its own, and a reverse proxy
would be one more program for users to run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Final

_LOGGER = logging.getLogger(__name__)

LOG_EVERY_S: Final = 60.0


class ConnectionGuard:
    """Counts and times the endpoint's connections (see the module docstring)."""

    def __init__(
        self,
        inner: Callable[[], asyncio.Protocol],
        *,
        max_total: int = 64,
        max_per_address: int = 8,
        handshake_s: float = 15.0,
    ) -> None:
        self._inner = inner
        self.max_total = max_total
        self.max_per_address = max_per_address
        self.handshake_s = handshake_s
        self._open: dict[asyncio.Transport, str] = {}
        self._per_address: dict[str, int] = {}
        self._deadlines: dict[asyncio.Transport, asyncio.TimerHandle] = {}
        self._logged: dict[str, float] = {}

    @property
    def open_connections(self) -> int:
        """Connections open now."""
        return len(self._open)

    def protocol(self) -> asyncio.Protocol:
        """The protocol factory to serve with."""
        return _Guarded(self, self._inner())

    def upgraded(self, transport: asyncio.BaseTransport | None) -> None:
        """The connection became a link: no deadline any more."""
        if isinstance(transport, asyncio.Transport) and (deadline := self._deadlines.pop(transport, None)) is not None:
            deadline.cancel()

    def _admit(self, transport: asyncio.Transport) -> bool:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        count = self._per_address.get(address, 0)
        if len(self._open) >= self.max_total or count >= self.max_per_address:
            self._note_refused(address)
            transport.abort()
            return False
        self._open[transport] = address
        self._per_address[address] = count + 1
        loop = asyncio.get_running_loop()
        self._deadlines[transport] = loop.call_later(self.handshake_s, self._too_slow, transport)
        return True

    def _released(self, transport: asyncio.Transport) -> None:
        address = self._open.pop(transport, None)
        if address is None:
            return
        left = self._per_address.get(address, 1) - 1
        if left > 0:
            self._per_address[address] = left
        else:
            self._per_address.pop(address, None)
        self.upgraded(transport)

    def _too_slow(self, transport: asyncio.Transport) -> None:
        self._deadlines.pop(transport, None)
        if transport in self._open:
            _LOGGER.info("Closing a connection from %s: no link within %.0f s", self._open[transport], self.handshake_s)
            transport.abort()

    def _note_refused(self, address: str) -> None:
        now = time.monotonic()
        if now - self._logged.get(address, -LOG_EVERY_S) >= LOG_EVERY_S:
            self._logged[address] = now
            if len(self._logged) > 1024:
                self._logged.pop(next(iter(self._logged)))
            _LOGGER.warning(
                "Refusing connections from %s: %d open from it, %d in all (limits %d and %d)",
                address,
                self._per_address.get(address, 0),
                len(self._open),
                self.max_per_address,
                self.max_total,
            )


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, admitted and released by the guard."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self._guard = guard
        self._inner = inner
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if self._guard._admit(transport):  # the guard's own protocol
            self._transport = transport
            self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._guard._released(self._transport)  # the guard's own protocol
            self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._transport is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._transport is not None else None

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class RequestLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's logger for the endpoint's requests: a malformed request is one short line, not a traceback.

    aiohttp logs every request it cannot parse with ``logger.exception``: a client sending garbage would write a
    traceback per connection. Here each becomes one line naming the cause, at most once a minute per address
    (then at debug level).
    """

    def __init__(self) -> None:
        super().__init__(_LOGGER, {})
        self._logged: dict[str, float] = {}

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        """One line for a request aiohttp could not handle."""
        error = exc_info if isinstance(exc_info, BaseException) else None
        address = str(args[0]) if args else "?"
        cause = " ".join(str(error).split()) if error is not None else "unknown error"
        now = time.monotonic()
        level = logging.DEBUG
        if now - self._logged.get(address, -LOG_EVERY_S) >= LOG_EVERY_S:
            self._logged[address] = now
            if len(self._logged) > 1024:
                self._logged.pop(next(iter(self._logged)))
            level = logging.WARNING
        _LOGGER.log(level, "Refused a malformed request from %s: %s", address, cause[:200])
