"""The running bridge: credentials and options from settings, a turn controller per satellite, the link, the console.

With ``--uri`` the bridge serves the link (:mod:`.link`): Home Assistant pairs with it, and from then on each
satellite's sessions take their options and Home Assistant's tools from it, and, when the bridge has no key
of its own, their Gemini credentials too.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import urlparse

from gemini_live_engine.cascaded import rest_error
from gemini_live_engine.credentials import ApiKeyCredentials, Credentials, VertexCredentials
from gemini_live_engine.errors import LiveError
from gemini_live_engine.live.link import limit_tls_reads
from gemini_live_engine.live.tokens import TokenMinter, live_websocket_url
from gemini_live_engine.options import LiveOptions
from gemini_live_engine.pipeline import REFUSED_EVERYWHERE, PipelineSource
from gemini_live_engine.tools import BuiltinTools, CombinedTools, ToolExecutor
from gemini_live_engine.voice_session import SessionSource

from .link.credentials import LinkedCredentials
from .link.home import HomeLink
from .link.pairing import Identity, default_data_dir
from .link.satellite import LinkedSatellite
from .link.server import LinkServer
from .link.zeroconf import LinkAnnouncer, outward_address, service_info
from .satellites.connection import SatelliteConnection
from .satellites.discovery import SatelliteDiscovery
from .satellites.turn import TurnController, TurnLog, TurnOptions
from .satellites.wake_work import WakeWork
from .settings import BridgeSettings, package_version, parse_tcp_uri
from .web import ConsoleContext, ConsoleServer

_LOGGER = logging.getLogger(__name__)

CREDENTIALS_CHECK_TIMEOUT_S: Final = 5.0


class StartupError(Exception):
    """The bridge cannot start; the message is one line for the person who started it."""


def _bind_failure(what: str, host: str, port: int, err: OSError) -> StartupError:
    """One line for an address that cannot be listened on (in use, not this machine's, not allowed)."""
    reason = os.strerror(err.errno).lower() if err.errno else str(err)
    hint = ""
    if err.errno == errno.EADDRINUSE:
        hint = "; another program (or another bridge) is listening there: stop it or choose another port"
    elif err.errno == errno.EADDRNOTAVAIL:
        hint = "; this machine has no such address"
    elif err.errno == errno.EACCES:
        hint = "; ports below 1024 need privileges: choose a higher one"
    return StartupError(f"cannot serve {what} on {host}:{port}: {reason}{hint}")


def credentials_from(settings: BridgeSettings) -> Credentials | None:
    """Vertex AI when a project is set, else the Developer API key; None for neither (the link provides them)."""
    if settings.uses_vertex:
        assert settings.vertex_project is not None
        if settings.api_key:
            _LOGGER.warning(
                "Both an API key and a Vertex project are set: using Vertex AI (OAuth2); the key is ignored"
            )
        return VertexCredentials(
            settings.vertex_project,
            settings.vertex_location,
            str(settings.service_account_file) if settings.service_account_file else None,
        )
    if settings.api_key is None:
        return None
    return ApiKeyCredentials(settings.api_key)


def live_options_from(settings: BridgeSettings) -> LiveOptions:
    """The Live session's settings."""
    return LiveOptions(
        model=settings.model,
        voice=settings.voice,
        language=settings.language,
        system_prompt=settings.system_prompt,
        base_url=settings.gemini_base_url,
        ca_file=str(settings.gemini_ca_file) if settings.gemini_ca_file else None,
        api_version=settings.gemini_api_version,
        tool_timeout_s=settings.tool_timeout_s,
    )


def turn_options_from(settings: BridgeSettings) -> TurnOptions:
    """How each satellite's turns behave."""
    return TurnOptions(
        wake_words=settings.wake_words,
        wake_refractory_s=settings.wake_refractory_s,
        wake_phrase=settings.wake_phrase,
        barge_in=settings.barge_in,
        follow_up_s=settings.follow_up_s,
        end_of_speech_ms=settings.end_of_speech_ms,
    )


class Bridge:
    """Every satellite the bridge controls, and the sessions they share credentials for."""

    def __init__(
        self,
        settings: BridgeSettings,
        *,
        credentials: Credentials | None = None,
        tools: ToolExecutor | None = None,
        on_turn_end: Callable[[TurnLog], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        own = credentials or credentials_from(settings)
        self.home: HomeLink | None = None
        self.identity: Identity | None = None
        if settings.uri is not None:
            data_dir = settings.data_dir or default_data_dir()
            self.identity = Identity.load(data_dir, settings.pairing_token)
            self.home = HomeLink(data_dir, own_credentials=own is not None, tool_timeout_s=settings.tool_timeout_s)
        if own is None:
            if self.home is None:
                raise ValueError("the bridge needs Gemini credentials, or the link (--uri) to get them")
            own = LinkedCredentials(self.home)
        self.credentials: Credentials = own
        self.live_options = live_options_from(settings)
        self.turn_options = turn_options_from(settings)
        self.tools: ToolExecutor = tools or BuiltinTools()
        self._on_turn_end = on_turn_end
        self.satellites: dict[str, SatelliteConnection] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._discovery: SatelliteDiscovery | None = None
        self._linked: dict[str, LinkedSatellite] = {}
        self.link_server: LinkServer | None = None
        self.wake_work = WakeWork()  # every satellite's idle audio, looked at for wake words by one task
        self._announcer: LinkAnnouncer | None = None
        self.console: ConsoleServer | None = None
        self.credentials_problem: LiveError | None = None  # found at start: the credentials are refused

    def sessions(
        self, label: str, tools: ToolExecutor | None, options: LiveOptions | None = None, *, warm: bool = True
    ) -> PipelineSource:
        """Ready sessions for one conversation partner, through the configured pipeline.

        With ``warm`` a session is warmed now; otherwise on the first :meth:`PipelineSource.reconfigure`.
        """
        settings = self.settings
        source = PipelineSource(
            settings.pipeline,
            self.credentials,
            options or self.live_options,
            tools,
            label=label,
            text_model=settings.text_model,
            tts_model=settings.tts_model,
            idle_close_s=settings.standby_idle_s,
        )
        if warm:
            source.start()
        return source

    def _satellite_sessions(self, uri: str, label: str, tools: ToolExecutor | None) -> SessionSource:
        linked = self._linked.get(uri)
        if linked is None:
            return self.sessions(label, tools)
        # A linked bridge without a key of its own learns the endpoint and options from Home Assistant's
        # configure: warming before it would reach the wrong endpoint with Home Assistant's token.
        return self.sessions(label, tools, linked.options(), warm=self.home is not None and self.home.configured(uri))

    def controller(self, uri: str) -> TurnController:
        """The turn controller of a connected satellite (for tests and status)."""
        handler = self.satellites[uri].handler
        assert isinstance(handler, TurnController)
        return handler

    async def add_satellite(self, uri: str) -> SatelliteConnection:
        """Start controlling a satellite."""
        if uri in self.satellites:
            return self.satellites[uri]
        linked: LinkedSatellite | None = None
        tools = self.tools
        if self.home is not None:
            linked = LinkedSatellite(self.home, uri, self.live_options)
            self._linked[uri] = linked
            tools = CombinedTools(self.tools, linked.tools)

        def controller(link: SatelliteConnection) -> TurnController:
            turns = TurnController(
                link,
                functools.partial(self._satellite_sessions, uri),
                self.turn_options,
                tools,
                self._on_turn_end,
                observer=linked,
                wake_work=self.wake_work,
            )
            if linked is not None:
                linked.controller = turns
            return turns

        connection = SatelliteConnection(uri, controller)
        if linked is not None and self.home is not None:
            self.home.register(uri, linked)
        self.satellites[uri] = connection
        self._tasks[uri] = asyncio.create_task(connection.run(), name=f"satellite {uri}")
        return connection

    async def start(self) -> None:
        """Connect to the configured satellites; start discovery and the endpoint when asked."""
        _LOGGER.info(
            "Gemini Live bridge: model %s, voice %s, %s, endpoint %s",
            self.live_options.model,
            self.live_options.voice,
            self.credentials.describe(),
            self.settings.gemini_base_url or "Google",
        )
        limit_tls_reads()  # a warm Live connection per satellite: each keeps a TLS read buffer
        await self.check_credentials()
        for uri in self.settings.satellites:
            await self.add_satellite(uri)
        if self.settings.discover:
            self._discovery = SatelliteDiscovery(self._discovered)
            await self._discovery.start()
        if self.settings.uri and self.home is not None and self.identity is not None:
            host, port = parse_tcp_uri(self.settings.uri)
            self.link_server = LinkServer(
                host, port, self.home, self.identity, name=socket.gethostname(), version=package_version()
            )
            try:
                await self.link_server.start()
            except OSError as err:
                raise _bind_failure("the link for Home Assistant", host, port, err) from err
            if self.settings.zeroconf:
                address = host if host not in ("0.0.0.0", "") else outward_address()
                info = service_info(
                    self.settings.zeroconf, address, self.link_server.port, self.identity.bridge_id, package_version()
                )
                self._announcer = LinkAnnouncer(info)
                await self._announcer.start()

        if self.settings.web is not None:
            await self._start_console(*self.settings.web)

    async def check_credentials(self) -> None:
        """One cheap call (the model the pipeline starts with) to find refused credentials now, not after a turn.

        Refused credentials are logged in one line and kept in :attr:`credentials_problem` (the console tells
        its users); a network failure or an unknown model is only logged: the turns will say more.
        """
        if isinstance(self.credentials, LinkedCredentials):
            return  # Home Assistant provides them later
        settings = self.settings
        model = settings.text_model if settings.pipeline == "cascaded" else self.live_options.model
        failure: LiveError | None = None
        try:
            async with asyncio.timeout(CREDENTIALS_CHECK_TIMEOUT_S):
                client = await self.credentials.client(self.live_options)
                await client.aio.models.get(model=model)
        except Exception as err:  # anything the check meets is reported, none of it stops the bridge
            failure = rest_error(err)
        if failure is None:
            _LOGGER.info("Gemini credentials accepted (%s)", self.credentials.describe())
        elif failure.cause in REFUSED_EVERYWHERE or failure.cause.startswith("auth_"):
            self.credentials_problem = failure
            _LOGGER.error("Gemini refused the bridge's credentials (%s): %s", self.credentials.describe(), failure)
        elif failure.cause in ("model_not_found", "not_found"):
            _LOGGER.warning("Gemini credentials accepted, but the model %s is not offered: %s", model, failure)
        else:
            _LOGGER.warning("Gemini credentials could not be checked now: %s (cause %s)", failure, failure.cause)

    async def _start_console(self, host: str, port: int) -> None:
        settings = self.settings
        if settings.web_direct and settings.wake_phrase:
            raise StartupError(
                "--web-direct cannot honour --wake-phrase (the browser talks to Gemini itself); leave out one of them"
            )
        minter = TokenMinter(self.credentials) if settings.web_direct else None

        def console_sessions(label: str, options: LiveOptions, tools: ToolExecutor) -> SessionSource:
            # Nothing kept warm: a console's conversation holds the one session it opens when it first talks.
            return PipelineSource(
                settings.pipeline,
                self.credentials,
                options,
                tools,
                label=label,
                text_model=settings.text_model,
                tts_model=settings.tts_model,
                idle_close_s=settings.standby_idle_s,
                warm=False,
            )

        context = ConsoleContext(
            pipeline=settings.pipeline,
            live_options=self.live_options,
            tools=self.tools,
            sessions=console_sessions,
            minter=minter,
            idle_close_s=settings.standby_idle_s,
            wake_phrase=settings.wake_phrase,
            credentials_problem=lambda: self.credentials_problem,
            end_of_speech_ms=settings.end_of_speech_ms,
        )
        gemini_origin = None
        if minter is not None:
            gemini_origin = urlparse(live_websocket_url(self.live_options))._replace(path="").geturl()
        self.console = ConsoleServer(
            host,
            port,
            context,
            password=settings.web_password,
            gemini_origin=gemini_origin,
            hosts=settings.web_hosts,
            max_sessions=settings.web_max_sessions,
        )
        try:
            await self.console.start()
        except OSError as err:
            self.console = None
            raise _bind_failure("the web console", host, port, err) from err

    async def _discovered(self, uri: str) -> None:
        await self.add_satellite(uri)

    async def stop(self) -> None:
        """Pause and disconnect every satellite; close every session."""
        if self._discovery is not None:
            await self._discovery.stop()
        await asyncio.gather(*(c.stop() for c in self.satellites.values()), return_exceptions=True)
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        for connection in self.satellites.values():
            handler = connection.handler
            if isinstance(handler, TurnController):
                await handler.disconnected()
        await self.wake_work.close()
        if self.console is not None:
            await self.console.stop()
        if self._announcer is not None:
            await self._announcer.stop()
        if self.link_server is not None:
            await self.link_server.stop()
        if self.home is not None:
            await self.home.close()
        await self.credentials.aclose()
