"""The running bridge: credentials and options from settings, a turn controller per satellite, the web console."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlparse

from gemini_live_engine.credentials import ApiKeyCredentials, Credentials, VertexCredentials
from gemini_live_engine.live.tokens import TokenMinter, live_websocket_url
from gemini_live_engine.options import LiveOptions
from gemini_live_engine.pipeline import PipelineSource
from gemini_live_engine.tools import BuiltinTools, ToolExecutor
from gemini_live_engine.voice_session import SessionSource

from .endpoint import bridge_info, serve_endpoint
from .satellites.connection import SatelliteConnection
from .satellites.discovery import SatelliteDiscovery
from .satellites.turn import TurnController, TurnLog, TurnOptions
from .settings import BridgeSettings
from .web import ConsoleContext, ConsoleServer

_LOGGER = logging.getLogger(__name__)


def credentials_from(settings: BridgeSettings) -> Credentials:
    """Vertex AI when a project is set, else the Developer API key."""
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
    assert settings.api_key is not None
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
        self.credentials = credentials or credentials_from(settings)
        self.live_options = live_options_from(settings)
        self.turn_options = turn_options_from(settings)
        self.tools: ToolExecutor = tools or BuiltinTools()
        self._on_turn_end = on_turn_end
        self.satellites: dict[str, SatelliteConnection] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._discovery: SatelliteDiscovery | None = None
        self._endpoint: object | None = None
        self.console: ConsoleServer | None = None

    def sessions(self, label: str, tools: ToolExecutor | None, options: LiveOptions | None = None) -> PipelineSource:
        """Ready sessions for one conversation partner, through the configured pipeline (warming starts now)."""
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
        source.start()
        return source

    def _satellite_sessions(self, label: str, tools: ToolExecutor | None) -> SessionSource:
        return self.sessions(label, tools)

    def controller(self, uri: str) -> TurnController:
        """The turn controller of a connected satellite (for tests and status)."""
        handler = self.satellites[uri].handler
        assert isinstance(handler, TurnController)
        return handler

    async def add_satellite(self, uri: str) -> SatelliteConnection:
        """Start controlling a satellite."""
        if uri in self.satellites:
            return self.satellites[uri]
        connection = SatelliteConnection(
            uri,
            lambda link: TurnController(
                link, self._satellite_sessions, self.turn_options, self.tools, self._on_turn_end
            ),
        )
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
        for uri in self.settings.satellites:
            await self.add_satellite(uri)
        if self.settings.discover:
            self._discovery = SatelliteDiscovery(self._discovered)
            await self._discovery.start()
        if self.settings.uri:
            info = bridge_info(self.live_options.model, list(self.satellites))
            self._endpoint = await serve_endpoint(self.settings.uri, info)
            _LOGGER.info("Serving Wyoming at %s", self.settings.uri)
            if self.settings.zeroconf:
                await self._announce(self.settings.uri, self.settings.zeroconf)

        if self.settings.web is not None:
            await self._start_console(*self.settings.web)

    async def _start_console(self, host: str, port: int) -> None:
        minter = TokenMinter(self.credentials) if self.settings.web_direct else None
        context = ConsoleContext(
            pipeline=self.settings.pipeline,
            live_options=self.live_options,
            tools=self.tools,
            sessions=lambda label, options: self.sessions(label, self.tools, options),
            minter=minter,
            idle_close_s=self.settings.standby_idle_s,
        )
        gemini_origin = None
        if minter is not None:
            gemini_origin = urlparse(live_websocket_url(self.live_options))._replace(path="").geturl()
        self.console = ConsoleServer(
            host, port, context, password=self.settings.web_password, gemini_origin=gemini_origin
        )
        await self.console.start()

    async def _discovered(self, uri: str) -> None:
        await self.add_satellite(uri)

    async def _announce(self, uri: str, name: str) -> None:
        from wyoming.zeroconf import HomeAssistantZeroconf  # noqa: PLC0415 - only when zeroconf is asked for

        parsed = urlparse(uri)
        host = parsed.hostname if parsed.hostname not in (None, "0.0.0.0") else None
        zeroconf = HomeAssistantZeroconf(port=parsed.port or 10710, name=name, host=host)
        await zeroconf.register_server()
        _LOGGER.info("Announced %s over zeroconf as %s", uri, name)

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
        if self.console is not None:
            await self.console.stop()
        await self.credentials.aclose()
        endpoint = self._endpoint
        if endpoint is not None:
            await endpoint.stop()  # type: ignore[attr-defined]
