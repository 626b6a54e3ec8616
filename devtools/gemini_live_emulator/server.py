"""The emulator as a running service: one TLS port serving the Live WebSocket and the REST API.

aiohttp serves both on one port, as the real host does (the SDK derives its WebSocket and REST URLs
from one base URL); the ``websockets`` library alone would not serve the REST endpoints.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from .auth import CredentialStore
from .config import EmulatorConfig, Faults
from .live import LiveEndpoint, handle_live
from .oauth import TOKEN_PATH, ServiceAccount, create_service_account
from .records import ConnectionRecord, ResumptionStore
from .rest import handle_rest
from .scenario import Scenario
from .speech import Synthesizer
from .state import load_api_key, save_api_key
from .tls import TlsFiles, create_tls_files

_LOGGER = logging.getLogger(__name__)

_LIVE_PATH = re.compile(
    r"^/+ws/(?:"
    r"google\.ai\.generativelanguage\.(?P<dev_version>v1|v1beta|v1alpha)\.GenerativeService\."
    r"(?P<dev_method>BidiGenerateContent|BidiGenerateContentConstrained)"
    r"|google\.cloud\.aiplatform\.(?P<vertex_version>v1|v1beta1)\.LlmBidiService/BidiGenerateContent"
    r")$"
)


def live_endpoint(path: str) -> LiveEndpoint | None:
    """The Live endpoint a request path names (a leading ``//ws/`` is tolerated), or None."""
    match = _LIVE_PATH.match(path)
    if match is None:
        return None
    if match["dev_version"]:
        return LiveEndpoint("mldev", match["dev_version"], match["dev_method"] == "BidiGenerateContentConstrained")
    return LiveEndpoint("vertex", match["vertex_version"], constrained=False)


@dataclass(frozen=True)
class ReadyInfo:
    """What the emulator announces once it serves."""

    base_url: str
    ca_file: str
    api_key: str
    host: str
    port: int
    service_account_file: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The JSON line's content."""
        return {
            "base_url": self.base_url,
            "ca_file": self.ca_file,
            "api_key": self.api_key,
            "host": self.host,
            "port": self.port,
            "service_account_file": self.service_account_file,
        }


class Emulator:
    """A Gemini Live emulator serving on a TLS port; use ``async with Emulator() as emulator``.

    ``state_dir`` keeps the CA, the server certificate, the service account and the minted API key
    across runs (see :mod:`.state`); without it they live in a temporary directory until :meth:`stop`.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        scenario: Scenario | None = None,
        state_dir: Path | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.scenario = scenario or Scenario()
        self.credentials = CredentialStore(api_keys=set(self.config.api_keys))
        # The key clients use: the first configured one, else minted (or an earlier run's) at start.
        self.api_key = self.config.api_keys[0] if self.config.api_keys else ""
        self.resumption = ResumptionStore(ttl_s=self.config.resumption_handle_ttl_s)
        self.connections: list[ConnectionRecord] = []
        self.generate_requests: list[dict[str, Any]] = []  # every (stream)GenerateContent body, as parsed
        self._script_position = 0
        self.synthesizer = Synthesizer()
        self._state_dir = state_dir
        self._temp_dir: tempfile.TemporaryDirectory[str] | None = None
        self._runner: web.AppRunner | None = None
        self._live_tasks: set[asyncio.Task[Any]] = set()
        self.tls: TlsFiles | None = None
        self.service_account: ServiceAccount | None = None
        self.info: ReadyInfo | None = None

    def next_script_position(self) -> int:
        """The scenario turn for the next user turn heard on any Live session (then move on)."""
        position = self._script_position
        self._script_position += 1
        return position

    def release_script_position(self, position: int) -> None:
        """Give back the scenario turn taken last, when its user turn was never answered."""
        if position == self._script_position - 1:
            self._script_position = position

    @property
    def faults(self) -> Faults:
        """The option-level faults (mutable while running)."""
        return self.config.faults

    @property
    def base_url(self) -> str:
        """``https://HOST:PORT`` once started."""
        if self.info is None:
            raise RuntimeError("the emulator is not started")
        return self.info.base_url

    @property
    def ca_file(self) -> str:
        """The CA certificate clients must trust."""
        if self.info is None:
            raise RuntimeError("the emulator is not started")
        return self.info.ca_file

    @property
    def service_account_file(self) -> str:
        """A service-account JSON key file whose ``token_uri`` is this emulator's OAuth2 token endpoint."""
        if self.service_account is None:
            raise RuntimeError("the emulator is not started")
        return str(self.service_account.file)

    async def start(self) -> ReadyInfo:
        """Load or make the state (CA, certificate, keys), bind, and serve."""
        if self._state_dir is None:
            self._temp_dir = tempfile.TemporaryDirectory(prefix="gemini-live-emulator-")
            state_dir = Path(self._temp_dir.name)
        else:
            state_dir = self._state_dir
        hosts = tuple(dict.fromkeys((self.config.host, "127.0.0.1", "localhost")))
        self.tls = await asyncio.to_thread(create_tls_files, state_dir, hosts)
        if not self.api_key:
            self.api_key = await asyncio.to_thread(self._stored_api_key, state_dir)
        app = web.Application(client_max_size=self.config.max_frame_bytes)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, ssl_context=self.tls.server_context())
        await site.start()
        server = site._server  # the bound port is only known from the listening socket
        assert isinstance(server, asyncio.Server)
        port = server.sockets[0].getsockname()[1]
        host = self.config.host if ":" not in self.config.host else f"[{self.config.host}]"
        base_url = f"https://{host}:{port}"
        token_uri = base_url + TOKEN_PATH
        self.service_account = await asyncio.to_thread(create_service_account, state_dir, token_uri)
        ca_file, account_file = str(self.tls.ca_file), str(self.service_account.file)
        self.info = ReadyInfo(base_url, ca_file, self.api_key, self.config.host, port, account_file)
        _LOGGER.info("Emulator serving on %s", self.info.base_url)
        return self.info

    def _stored_api_key(self, state_dir: Path) -> str:
        """The API key an earlier run minted in ``state_dir``, or a new one kept there for the next run."""
        key = load_api_key(state_dir)
        if key is not None:
            self.credentials.api_keys.add(key)
            return key
        key = self.credentials.new_api_key()
        save_api_key(state_dir, key)
        return key

    async def stop(self) -> None:
        """Close every connection and stop serving."""
        for task in list(self._live_tasks):
            task.cancel()
        if self._live_tasks:
            await asyncio.gather(*self._live_tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
            self._temp_dir = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        endpoint = live_endpoint(request.path)
        if endpoint is not None and request.method == "GET":
            task = asyncio.current_task()
            assert task is not None
            self._live_tasks.add(task)
            try:
                return await handle_live(request, endpoint, self)
            finally:
                self._live_tasks.discard(task)
        return await handle_rest(request, self)
