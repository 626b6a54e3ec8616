"""Gemini credentials for a linked bridge, handed out so that the bridge never holds a long-lived secret.

The bridge uses the Gemini account an entry of this integration already has. With a Developer API key,
Home Assistant mints single-use ephemeral tokens (``auth_tokens``, the model locked, new sessions within
20 minutes, valid 30 minutes) and keeps one minted ahead, so a request is answered without a round trip
to Google. With Vertex AI it hands out the account's current OAuth2 access token (kept fresh by the
account's runtime). Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from google.genai import types
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .const import CONF_LOCATION, CONF_PROJECT_ID, DEFAULT_LOCATION, LOGGER, TOKEN_REFRESH_MARGIN_S
from .errors import describe

if TYPE_CHECKING:
    from .runtime import GeminiLiveRuntime

TOKEN_API_VERSION: Final = "v1alpha"  # ephemeral tokens are a v1alpha feature
TOKEN_NEW_SESSION: Final = timedelta(minutes=20)
TOKEN_LIFETIME: Final = timedelta(minutes=30)
TOKEN_MARGIN: Final = timedelta(minutes=1)  # a token this close to its last new-session moment is not handed out
TOKENS_AHEAD: Final = 1
MAX_TOKENS_PER_REQUEST: Final = 4


@dataclasses.dataclass(frozen=True)
class _Token:
    token: str = dataclasses.field(repr=False)
    model: str
    expires_at: datetime
    new_session_until: datetime

    def as_message(self) -> dict[str, str]:
        return {
            "token": self.token,
            "expires_at": _rfc3339(self.expires_at),
            "new_session_until": _rfc3339(self.new_session_until),
        }


class LinkCredentials:
    """What a bridge gets when it asks for credentials (see the module docstring)."""

    def __init__(self, hass: HomeAssistant, account_entry_id: str) -> None:
        self._hass = hass
        self._account_entry_id = account_entry_id
        self._stock: list[_Token] = []
        self._refill: asyncio.Task[None] | None = None
        self.kind: str | None = None  # "ephemeral" or "vertex", once handed out

    @property
    def stock(self) -> int:
        """How many tokens are minted ahead."""
        return len(self._stock)

    async def async_answer(self, request_id: str, count: int, model: str) -> dict[str, Any]:
        """The ``credentials`` message answering a ``credentials_request``."""
        runtime = self._account()
        if runtime is None:
            return {
                "type": "credentials",
                "id": request_id,
                "error": "the Gemini account is not set up in Home Assistant",
            }
        try:
            if runtime.gemini.token is not None:
                body = await self._vertex(runtime)
            else:
                count = max(1, min(MAX_TOKENS_PER_REQUEST, count))
                body = {"tokens": [token.as_message() for token in await self._tokens(runtime, count, model)]}
                self.async_mint_ahead(model)
        except Exception as err:  # the SDK and google-auth raise many kinds
            runtime.async_api_error(err)
            return {"type": "credentials", "id": request_id, "error": f"Gemini refused: {describe(err)}"}
        runtime.async_succeeded()
        return {"type": "credentials", "id": request_id, **body}

    @callback
    def async_mint_ahead(self, model: str) -> None:
        """Keep one token minted ahead for ``model`` (in the background)."""
        runtime = self._account()
        if runtime is None or runtime.gemini.token is not None:
            return
        if self._refill is not None and not self._refill.done():
            return
        self._refill = self._hass.async_create_background_task(
            self._fill(runtime, model), "gemini_live mint a token ahead"
        )

    async def async_stop(self) -> None:
        """Stop minting and forget the tokens."""
        if self._refill is not None:
            self._refill.cancel()
            await asyncio.gather(self._refill, return_exceptions=True)
        self._stock.clear()

    def _account(self) -> GeminiLiveRuntime | None:
        entry = self._hass.config_entries.async_get_entry(self._account_entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return None
        runtime: GeminiLiveRuntime = entry.runtime_data
        return runtime

    async def _fill(self, runtime: GeminiLiveRuntime, model: str) -> None:
        self._drop_stale(model)
        try:
            while len(self._stock) < TOKENS_AHEAD:
                self._stock.append(await self._mint(runtime, model))
        except Exception as err:
            LOGGER.debug("Could not mint an ephemeral token ahead: %s", describe(err))

    async def _tokens(self, runtime: GeminiLiveRuntime, count: int, model: str) -> list[_Token]:
        self._drop_stale(model)
        handed = self._stock[:count]
        del self._stock[:count]
        if missing := count - len(handed):
            handed += await asyncio.gather(*(self._mint(runtime, model) for _ in range(missing)))
        self.kind = "ephemeral"
        return handed

    def _drop_stale(self, model: str) -> None:
        usable_until = dt_util.utcnow() + TOKEN_MARGIN
        self._stock = [t for t in self._stock if t.model == model and t.new_session_until > usable_until]

    async def _mint(self, runtime: GeminiLiveRuntime, model: str) -> _Token:
        now = dt_util.utcnow()
        config = types.CreateAuthTokenConfig(
            uses=1,
            expire_time=now + TOKEN_LIFETIME,
            new_session_expire_time=now + TOKEN_NEW_SESSION,
            live_connect_constraints=types.LiveConnectConstraints(
                model=model if model.startswith("models/") else f"models/{model}"
            ),
            lock_additional_fields=[],  # only the model is locked; the bridge sets up the rest
            http_options=types.HttpOptions(api_version=TOKEN_API_VERSION),
        )
        minted = await runtime.gemini.aio.auth_tokens.create(config=config)
        if not minted.name:
            raise ValueError("the token endpoint returned no token")
        LOGGER.debug("Minted an ephemeral Live token for %s", model)
        return _Token(
            token=minted.name,
            model=model,
            expires_at=_moment(minted.expire_time) or now + TOKEN_LIFETIME,
            new_session_until=_moment(minted.new_session_expire_time) or now + TOKEN_NEW_SESSION,
        )

    async def _vertex(self, runtime: GeminiLiveRuntime) -> dict[str, Any]:
        token = runtime.gemini.token
        assert token is not None
        expires_at = token.expires_at
        if expires_at is None or expires_at - dt_util.utcnow() < timedelta(seconds=TOKEN_REFRESH_MARGIN_S):
            await self._hass.async_add_executor_job(token.refresh, None)
            expires_at = token.expires_at
        data = runtime.entry.data
        self.kind = "vertex"
        return {
            "vertex": {
                "access_token": token.token,
                "expires_at": _rfc3339(expires_at) if expires_at else None,
                "project": data.get(CONF_PROJECT_ID) or token.project_id,
                "location": data.get(CONF_LOCATION, DEFAULT_LOCATION),
            }
        }


def _moment(value: object) -> datetime | None:
    """The SDK's timestamp (a datetime, or the service's RFC 3339 text) as an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt_util.UTC)
    if isinstance(value, str):
        return dt_util.parse_datetime(value)
    return None


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(dt_util.UTC).isoformat().replace("+00:00", "Z")
