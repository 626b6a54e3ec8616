"""Ephemeral Live tokens for clients that connect to Gemini themselves (the web console's direct mode).

The bridge mints a token with its long-lived Developer API key (``POST v1alpha/auth_tokens`` through the
SDK's ``auth_tokens.create``) and hands only the token to the browser, as Google advises for client apps.
Each token is good for one new session (``uses=1``), must start it within ``new_session_s`` and expires
after ``expire_s``; the whole setup (model, voice, prompt, tools, activity detection) is locked by the
bridge, so the browser cannot change what the token allows. Vertex AI has no ephemeral tokens.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlparse

from google.genai import types

from ..credentials import EPHEMERAL_API_VERSION, ApiKeyCredentials, Credentials
from ..errors import LiveError, classify
from ..options import LiveOptions

_LOGGER = logging.getLogger(__name__)

GOOGLE_BASE_URL: Final = "https://generativelanguage.googleapis.com"
CONSTRAINED_PATH: Final = "/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContentConstrained"


@dataclass(frozen=True)
class EphemeralToken:
    """A minted token and where to use it."""

    token: str = dataclasses.field(repr=False)
    url: str  # the constrained Live endpoint (wss://…)
    model: str  # "models/…"
    expire_time: str  # RFC 3339


def live_websocket_url(options: LiveOptions) -> str:
    """The constrained Live WebSocket endpoint (v1alpha) of ``options``' base URL."""
    parsed = urlparse(options.base_url or GOOGLE_BASE_URL)
    scheme = "ws" if parsed.scheme == "http" else "wss"
    version = options.api_version or EPHEMERAL_API_VERSION
    return f"{scheme}://{parsed.netloc}{CONSTRAINED_PATH.format(version=version)}"


class TokenMinter:
    """Mints single-use ephemeral tokens for Live sessions set up as ``options`` says."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        expire_s: float = 30 * 60.0,
        new_session_s: float = 60.0,
    ) -> None:
        if not isinstance(credentials, ApiKeyCredentials):
            raise LiveError("auth_unsupported", "ephemeral tokens need a Gemini Developer API key (not Vertex AI)")
        self._credentials = credentials
        self._expire_s = expire_s
        self._new_session_s = new_session_s

    async def mint(
        self, options: LiveOptions, declarations: Sequence[types.FunctionDeclaration] = ()
    ) -> EphemeralToken:
        """A new token whose whole setup is locked to ``options`` and ``declarations``."""
        token_options = dataclasses.replace(options, api_version=options.api_version or EPHEMERAL_API_VERSION)
        now = datetime.datetime.now(datetime.UTC)
        model = options.model if options.model.startswith("models/") else f"models/{options.model}"
        config = types.CreateAuthTokenConfig(
            uses=1,
            expire_time=now + datetime.timedelta(seconds=self._expire_s),
            new_session_expire_time=now + datetime.timedelta(seconds=self._new_session_s),
            live_connect_constraints=types.LiveConnectConstraints(
                model=model, config=options.connect_config(declarations)
            ),
        )
        try:
            client = await self._credentials.client(token_options)
            minted = await client.aio.auth_tokens.create(config=config)
        except Exception as err:
            raise classify(err) from err
        if not minted.name:
            raise LiveError("unexpected", "the token endpoint returned no token")
        expire = _rfc3339(minted.expire_time or config.expire_time)
        _LOGGER.info("Minted an ephemeral Live token (one session, expires %s)", expire or "?")
        return EphemeralToken(token=minted.name, url=live_websocket_url(token_options), model=model, expire_time=expire)


def _rfc3339(value: object) -> str:
    """A timestamp as RFC 3339 text (the SDK gives a datetime or the service's own text)."""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return str(value) if value else ""
