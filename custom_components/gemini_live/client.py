"""The google-genai client for both ways in: a Developer API key, or a Vertex AI service account.

Building a client does blocking I/O (the SDK loads CA bundles; a service account signs a JWT and fetches
its first access token), so :func:`async_create_client` runs it in the executor. Vertex AI access tokens
come from :class:`ServiceAccountToken`, which refreshes with its own HTTP session: the one google-auth
would otherwise build follows ``REQUESTS_CA_BUNDLE`` and proxies from the environment, not the CA file
configured for a custom endpoint.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, override

import requests
from google import genai
from google.auth import credentials as auth_credentials
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import Request
from google.genai import types
from google.genai.client import AsyncClient
from google.oauth2 import service_account
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant

from .const import (
    AUTH_VERTEX,
    CLOUD_PLATFORM_SCOPE,
    CONF_AUTH_TYPE,
    CONF_BASE_URL,
    CONF_CA_FILE,
    CONF_LOCATION,
    CONF_PROJECT_ID,
    CONF_SERVICE_ACCOUNT,
    DEFAULT_LOCATION,
    RECOMMENDED_CHAT_MODEL,
    REQUEST_TIMEOUT_MILLIS,
    TIMEOUT_MILLIS,
)
from .errors import ApiKeyOnVertexError, ServiceAccountError

_API_KEY = re.compile(r"^[A-Za-z0-9_\-.]{20,100}$")
_REQUIRED_ACCOUNT_FIELDS = ("client_email", "private_key", "token_uri")


def parse_service_account(text: str) -> dict[str, Any]:
    """The service-account key file's content, checked; :class:`ServiceAccountError` when unusable."""
    stripped = text.strip()
    try:
        info = json.loads(stripped)
    except ValueError as err:
        if _API_KEY.match(stripped):
            raise ApiKeyOnVertexError("an API key, not a service-account key") from err
        raise ServiceAccountError("not JSON") from err
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ServiceAccountError("not a service-account key file")
    missing = [field for field in _REQUIRED_ACCOUNT_FIELDS if not info.get(field)]
    if missing:
        raise ServiceAccountError(f"missing {', '.join(missing)}")
    return info


class ServiceAccountToken(auth_credentials.Credentials):
    """OAuth2 access tokens for a service account, refreshed through this integration's own session.

    The SDK calls :meth:`refresh` (in a worker thread) only when the token has expired; the integration
    refreshes it earlier on a timer, so requests never wait for a token.
    """

    # google-auth ships py.typed but leaves most of its code unannotated: its ``__init__`` sets these two
    # (mypy would see Any), ``from_service_account_info`` returns Any, and some calls below are untyped.
    token: str | None
    expiry: datetime | None
    _account: service_account.Credentials

    def __init__(self, info: Mapping[str, Any], ca_file: str | None) -> None:
        """Load the key (raises :class:`ServiceAccountError` when the key cannot sign)."""
        super().__init__()  # type: ignore[no-untyped-call]
        try:
            self._account = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                dict(info), scopes=[CLOUD_PLATFORM_SCOPE]
            )
        except (ValueError, TypeError, KeyError, auth_exceptions.GoogleAuthError) as err:
            raise ServiceAccountError("the private key cannot be loaded") from err
        self._ca_file = ca_file
        self._lock = threading.Lock()

    @property
    def project_id(self) -> str | None:
        """The project the key file belongs to."""
        project: str | None = self._account.project_id
        return project

    @property
    def expires_at(self) -> datetime | None:
        """When the current token expires (aware UTC), or None before the first refresh."""
        return self.expiry.replace(tzinfo=UTC) if self.expiry else None

    @override
    def refresh(self, request: object) -> None:
        """Fetch a new access token (blocking); ``request`` is ignored in favour of our own session."""
        with self._lock, requests.Session() as session:
            if self._ca_file:
                session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides verify
                session.verify = self._ca_file
            self._account.refresh(Request(session))  # type: ignore[no-untyped-call]
            self.token = self._account.token
            self.expiry = self._account.expiry

    def invalidate(self) -> None:
        """Forget the token (the service refused it), so the next request fetches a new one."""
        self.expiry = datetime(1970, 1, 1)


@dataclass
class GeminiClient:
    """A ready client and, for Vertex AI, the token source behind it."""

    client: genai.Client
    token: ServiceAccountToken | None = None

    @property
    def aio(self) -> AsyncClient:
        """The SDK's async API."""
        return self.client.aio


def _http_options(data: Mapping[str, Any]) -> types.HttpOptions:
    """Google's endpoint by default; the configured one (and its CA) when set.

    One attempt per call: the SDK otherwise retries a failed connection once after sleeping 1-10 s,
    which a voice assistant cannot afford; the caller reports the error instead. No call may take
    longer than a minute (a stream included), so a stalled service cannot hang a voice turn.
    """
    options = types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=1), timeout=REQUEST_TIMEOUT_MILLIS)
    if base_url := data.get(CONF_BASE_URL):
        options.base_url = base_url.rstrip("/") + "/"
    if ca_file := data.get(CONF_CA_FILE):
        context = ssl.create_default_context(cafile=ca_file)
        options.client_args = {"verify": context}
        options.async_client_args = {"ssl": context}
    return options


def create_client(data: Mapping[str, Any]) -> GeminiClient:
    """Build the client for a config entry's data (blocking: run it in the executor).

    For Vertex AI the first access token is fetched here, so a key the token endpoint refuses fails now.
    """
    http_options = _http_options(data)
    if data.get(CONF_AUTH_TYPE) != AUTH_VERTEX:
        # vertexai=False explicitly: the SDK would otherwise follow GOOGLE_GENAI_USE_VERTEXAI from the environment.
        return GeminiClient(genai.Client(vertexai=False, api_key=data[CONF_API_KEY], http_options=http_options))
    token = ServiceAccountToken(data[CONF_SERVICE_ACCOUNT], data.get(CONF_CA_FILE))
    token.refresh(None)
    client = genai.Client(
        vertexai=True,
        project=data.get(CONF_PROJECT_ID) or token.project_id,
        location=data.get(CONF_LOCATION, DEFAULT_LOCATION),
        credentials=token,
        http_options=http_options,
    )
    return GeminiClient(client, token)


async def async_create_client(hass: HomeAssistant, data: Mapping[str, Any]) -> GeminiClient:
    """Build the client off the event loop."""
    return await hass.async_add_executor_job(partial(create_client, data))


async def async_check_access(client: GeminiClient) -> None:
    """One cheap, authenticated call: the recommended model's description."""
    await client.aio.models.get(
        model=RECOMMENDED_CHAT_MODEL,
        config=types.GetModelConfig(http_options=types.HttpOptions(timeout=TIMEOUT_MILLIS)),
    )


async def async_list_models(client: GeminiClient) -> list[types.Model]:
    """The base models the service offers (first page: the service lists every Gemini model on it)."""
    pager = await client.aio.models.list(
        config=types.ListModelsConfig(
            query_base=True, page_size=1000, http_options=types.HttpOptions(timeout=TIMEOUT_MILLIS)
        )
    )
    return list(pager.page)


async def aclose_stream(stream: AsyncIterator[object]) -> None:
    """Release a streamed response's connection, even when it was not read to the end."""
    if (close := getattr(stream, "aclose", None)) is not None:
        await close()


async def async_close(hass: HomeAssistant, client: GeminiClient) -> None:
    """Close the SDK's connection pools (async and sync)."""
    await client.aio.aclose()
    await hass.async_add_executor_job(client.client.close)
