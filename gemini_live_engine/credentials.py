"""Who the engine is to Gemini: a Developer API key, Vertex AI OAuth2 (google-auth), or an ephemeral token.

A :class:`Credentials` hands out a ready ``genai.Client`` for the options' endpoint; the session calls it
before every connection, so a Vertex access token is refreshed (off the event loop) before it expires and
an ephemeral token is fetched anew. Clients are cached: building one costs ~10 ms of blocking work, which
is done in a worker thread, never on the event loop. ``describe()`` names the credentials for logs and
never shows the secret; neither does ``repr()``.
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol, TypeAlias, runtime_checkable

import google.auth
import requests
from google import genai
from google.auth import credentials as auth_credentials
from google.auth.transport.requests import Request
from google.genai import types
from google.oauth2 import credentials as oauth2_credentials
from google.oauth2 import service_account

from .errors import LiveError
from .options import LiveOptions

CLOUD_PLATFORM_SCOPE: Final = "https://www.googleapis.com/auth/cloud-platform"
EPHEMERAL_API_VERSION: Final = "v1alpha"

_ClientKey: TypeAlias = tuple[str | None, str | None, str | None]


@runtime_checkable
class Credentials(Protocol):
    """What a Live session needs from its credentials."""

    async def client(self, options: LiveOptions) -> genai.Client:
        """A client for ``options``' endpoint, with credentials valid for a new connection now."""
        ...

    def describe(self) -> str:
        """A description for logs (never the secret)."""
        ...

    async def aclose(self) -> None:
        """Close the clients handed out (their REST connection pools)."""
        ...


async def _close_clients(clients: list[genai.Client]) -> None:
    for client in clients:
        await client.aio.aclose()


def _endpoint_key(options: LiveOptions) -> _ClientKey:
    return (options.base_url, options.ca_file, options.api_version)


def http_options(options: LiveOptions, api_version: str | None = None) -> types.HttpOptions:
    """The SDK's HTTP options for ``options``' endpoint (blocking: loads the CA file).

    The SDK takes the TLS context for Live (``websockets``) from ``async_client_args["ssl"]`` and for REST
    (``httpx``) from ``client_args["verify"]``. It passes ``async_client_args`` to ``websockets.connect`` keeping
    only the arguments that takes (and to the REST clients likewise), so ``compression=None`` turns
    permessage-deflate off on the Live WebSocket alone: the frames are base64 audio, which deflate shrinks by about
    a third (64 % of the size on espeak-ng speech) at a CPU cost on every frame, both ways.
    """
    http = types.HttpOptions(base_url=options.base_url, api_version=api_version or options.api_version)
    http.async_client_args = {"compression": None}
    if options.ca_file:
        context = ssl.create_default_context(cafile=options.ca_file)
        http.client_args = {"verify": context}
        http.async_client_args["ssl"] = context
    return http


class ApiKeyCredentials:
    """A Gemini Developer API key."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key
        self._clients: dict[_ClientKey, genai.Client] = {}
        self._building = asyncio.Lock()  # callers at the same moment share one client (each one is closed)

    async def client(self, options: LiveOptions) -> genai.Client:
        """The cached client for ``options``' endpoint."""
        key = _endpoint_key(options)
        async with self._building:
            client = self._clients.get(key)
            if client is None:
                client = await asyncio.to_thread(self._build, options)
                self._clients[key] = client  # one per endpoint and API version (Live, and v1alpha for tokens)
        return client

    def _build(self, options: LiveOptions) -> genai.Client:
        return genai.Client(vertexai=False, api_key=self._api_key, http_options=http_options(options))

    def describe(self) -> str:
        """For logs."""
        return "Gemini Developer API key"

    async def aclose(self) -> None:
        """Close the cached clients."""
        clients, self._clients = list(self._clients.values()), {}
        await _close_clients(clients)

    def __repr__(self) -> str:
        return "ApiKeyCredentials(<redacted>)"


class VertexCredentials:
    """Vertex AI (Gemini Enterprise) with OAuth2 access tokens made by google-auth.

    ``service_account_file`` None means application default credentials (``google.auth.default``). The
    token is refreshed in a worker thread, under a lock, whenever it is no longer valid (google-auth
    counts a token as expired 3 min 45 s early), so each connection starts with a fresh one. With
    ``quota_project`` the credentials carry it and the SDK sends ``x-goog-user-project``.
    """

    def __init__(
        self,
        project: str,
        location: str,
        service_account_file: str | None = None,
        quota_project: str | None = None,
    ) -> None:
        self.project = project
        self.location = location
        self.service_account_file = service_account_file
        self.quota_project = quota_project
        self._credentials: auth_credentials.Credentials | None = None
        self._lock = asyncio.Lock()
        self._building = asyncio.Lock()  # callers at the same moment share one client (each one is closed)
        self._clients: dict[_ClientKey, genai.Client] = {}

    async def client(self, options: LiveOptions) -> genai.Client:
        """The cached client for ``options``' endpoint, its access token valid for a new connection."""
        credentials = await self.fresh_credentials(options.ca_file)
        key = _endpoint_key(options)
        async with self._building:
            client = self._clients.get(key)
            if client is None:
                client = await asyncio.to_thread(self._build, options, credentials)
                self._clients[key] = client
        return client

    async def fresh_credentials(self, ca_file: str | None = None) -> auth_credentials.Credentials:
        """The google-auth credentials with a valid access token (loaded and refreshed off the event loop).

        ``ca_file``: trust only this CA for the token endpoint (the emulator's); requests would otherwise
        take its trust from ``REQUESTS_CA_BUNDLE``.
        """
        async with self._lock:
            if self._credentials is None:
                self._credentials = await asyncio.to_thread(self._load)
            credentials = self._credentials
            if not credentials.valid:
                await asyncio.to_thread(_refresh, credentials, ca_file)
            return credentials

    def _load(self) -> auth_credentials.Credentials:
        credentials: Any
        if self.service_account_file is None:
            credentials, _project = google.auth.default(
                scopes=[CLOUD_PLATFORM_SCOPE], quota_project_id=self.quota_project
            )
        else:
            try:
                credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                    self.service_account_file, scopes=[CLOUD_PLATFORM_SCOPE]
                )
            except (OSError, ValueError) as err:
                reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
                raise LiveError(
                    "auth_bad_service_account",
                    f"the service account file {self.service_account_file} could not be used ({reason})",
                ) from err
        if self.quota_project and isinstance(credentials, auth_credentials.CredentialsWithQuotaProject):
            credentials = credentials.with_quota_project(self.quota_project)  # type: ignore[no-untyped-call]
        assert isinstance(credentials, auth_credentials.Credentials)
        return credentials

    def _build(self, options: LiveOptions, credentials: auth_credentials.Credentials) -> genai.Client:
        return genai.Client(
            vertexai=True,
            project=self.project,
            location=self.location,
            credentials=credentials,
            http_options=http_options(options),
        )

    def describe(self) -> str:
        """For logs."""
        source = (
            "application default credentials"
            if self.service_account_file is None
            else f"service account file {self.service_account_file}"
        )
        quota = f", quota project {self.quota_project}" if self.quota_project else ""
        return f"Vertex AI project {self.project} in {self.location} ({source}{quota})"

    async def aclose(self) -> None:
        """Close the cached clients."""
        clients, self._clients = list(self._clients.values()), {}
        await _close_clients(clients)

    def __repr__(self) -> str:
        return f"VertexCredentials({self.describe()})"


def _refresh(credentials: auth_credentials.Credentials, ca_file: str | None) -> None:
    """Refresh the access token (blocking HTTP: call it in a worker thread)."""
    with requests.Session() as session:
        if ca_file:
            session.trust_env = False
            session.verify = ca_file
        credentials.refresh(Request(session=session))  # type: ignore[no-untyped-call]


class AccessToken:
    """An OAuth2 access token for Vertex AI handed in from outside, with where it may be used."""

    def __init__(self, token: str, expires_at: datetime.datetime | None, project: str, location: str) -> None:
        self.token = token
        self.expires_at = expires_at
        self.project = project
        self.location = location

    def __repr__(self) -> str:
        return f"AccessToken(<redacted>, expires_at={self.expires_at!r}, project={self.project!r})"


class AccessTokenCredentials:
    """Vertex AI with short-lived OAuth2 access tokens handed in from outside (e.g. by Home Assistant).

    ``provider`` is awaited before every connection and must return a token that is still valid; the engine
    never refreshes it itself (it holds no long-lived secret).
    """

    def __init__(self, provider: Callable[[], Awaitable[AccessToken]]) -> None:
        self._provider = provider
        self._token: str | None = None
        self._client: genai.Client | None = None
        self._key: tuple[_ClientKey, str, str] | None = None

    async def client(self, options: LiveOptions) -> genai.Client:
        """A Vertex AI client carrying the provider's current access token."""
        access = await self._provider()
        key = (_endpoint_key(options), access.project, access.location)
        if self._client is None or access.token != self._token or key != self._key:
            credentials = oauth2_credentials.Credentials(token=access.token, expiry=_naive_utc(access.expires_at))  # type: ignore[no-untyped-call]
            self._client = await asyncio.to_thread(self._build, options, access, credentials)
            self._token, self._key = access.token, key
        return self._client

    @staticmethod
    def _build(options: LiveOptions, access: AccessToken, credentials: auth_credentials.Credentials) -> genai.Client:
        return genai.Client(
            vertexai=True,
            project=access.project,
            location=access.location,
            credentials=credentials,
            http_options=http_options(options),
        )

    def describe(self) -> str:
        """For logs."""
        return "Vertex AI access token (handed in)"

    async def aclose(self) -> None:
        """Close the current client."""
        client, self._client = self._client, None
        await _close_clients([client] if client is not None else [])

    def __repr__(self) -> str:
        return "AccessTokenCredentials(<redacted>)"


def _naive_utc(moment: datetime.datetime | None) -> datetime.datetime | None:
    """google-auth compares expiries as naive UTC datetimes."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)


class EphemeralTokenCredentials:
    """Short-lived ``auth_tokens/...`` tokens handed in from outside (e.g. minted by Home Assistant).

    ``provider`` is awaited before every connection and must return a token that may open a new session
    (the service does not count resuming a session as a use). Ephemeral tokens are a v1alpha feature, so
    this uses ``api_version="v1alpha"`` unless the options name one.
    """

    def __init__(self, provider: Callable[[], Awaitable[str]]) -> None:
        self._provider = provider
        self._token: str | None = None
        self._client: genai.Client | None = None
        self._key: _ClientKey | None = None

    async def client(self, options: LiveOptions) -> genai.Client:
        """A client carrying the provider's current token."""
        token = await self._provider()
        key = _endpoint_key(options)
        if self._client is None or token != self._token or key != self._key:
            self._client = await asyncio.to_thread(self._build, options, token)
            self._token, self._key = token, key
        return self._client

    def _build(self, options: LiveOptions, token: str) -> genai.Client:
        http = http_options(options, api_version=options.api_version or EPHEMERAL_API_VERSION)
        return genai.Client(vertexai=False, api_key=token, http_options=http)

    def describe(self) -> str:
        """For logs."""
        return "ephemeral token (Gemini Developer API)"

    async def aclose(self) -> None:
        """Close the current client."""
        client, self._client = self._client, None
        await _close_clients([client] if client is not None else [])

    def __repr__(self) -> str:
        return "EphemeralTokenCredentials(<redacted>)"
