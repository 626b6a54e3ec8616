"""What a loaded entry keeps: the client, its Vertex AI token timer, and how authentication is going.

Every entity reports its failed calls here (:meth:`GeminiLiveRuntime.async_api_error`), so the entry
notices when authentication keeps failing, raises a repair issue and asks for new credentials, instead
of each entity failing on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .client import GeminiClient
from .const import AUTH_FAILURES_BEFORE_ISSUE, DOMAIN, LOGGER, TOKEN_REFRESH_MARGIN_S, TOKEN_RETRY_S
from .errors import ErrorKind, api_error, classify, describe

if TYPE_CHECKING:
    from . import GeminiLiveConfigEntry


def auth_issue_id(entry_id: str) -> str:
    """The repair issue raised for an entry whose credentials keep being refused."""
    return f"auth_failing_{entry_id}"


@dataclass
class GeminiLiveRuntime:
    """The ``runtime_data`` of a loaded entry."""

    hass: HomeAssistant
    entry: GeminiLiveConfigEntry
    gemini: GeminiClient
    auth_failures: int = 0
    _cancel_token_timer: CALLBACK_TYPE | None = field(default=None, repr=False)

    @property
    def client(self) -> GeminiClient:
        """The client the entities call."""
        return self.gemini

    @callback
    def async_start(self) -> None:
        """Start keeping the Vertex AI token fresh and forget earlier authentication trouble."""
        ir.async_delete_issue(self.hass, DOMAIN, auth_issue_id(self.entry.entry_id))
        if self.gemini.token is not None:
            self._async_schedule_token_refresh()

    @callback
    def async_stop(self) -> None:
        """Stop the token timer (the entry is unloading)."""
        if self._cancel_token_timer is not None:
            self._cancel_token_timer()
            self._cancel_token_timer = None

    @callback
    def async_succeeded(self) -> None:
        """A call went through: authentication works."""
        if self.auth_failures:
            self.auth_failures = 0
            ir.async_delete_issue(self.hass, DOMAIN, auth_issue_id(self.entry.entry_id))

    @callback
    def async_api_error(self, err: BaseException) -> HomeAssistantError:
        """Note a failed call and return the error to raise for it."""
        kind = classify(err)
        LOGGER.warning("Gemini call failed (%s): %s", kind.value, describe(err))
        if kind is ErrorKind.AUTH:
            if self.gemini.token is not None:
                # A refused Vertex AI token may just be stale: the next request fetches a new one.
                self.gemini.token.invalidate()
            self._async_auth_failed(err)
        return api_error(err)

    @callback
    def _async_auth_failed(self, err: BaseException) -> None:
        self.auth_failures += 1
        if self.auth_failures != AUTH_FAILURES_BEFORE_ISSUE:
            return
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            auth_issue_id(self.entry.entry_id),
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="auth_failing",
            translation_placeholders={"title": self.entry.title, "error": describe(err)},
        )
        self.entry.async_start_reauth(self.hass)

    @callback
    def _async_schedule_token_refresh(self, delay: timedelta | None = None) -> None:
        token = self.gemini.token
        assert token is not None
        expires_at = token.expires_at
        if delay is not None or expires_at is None:
            when = dt_util.utcnow() + (delay or timedelta(seconds=TOKEN_RETRY_S))
        else:
            when = expires_at - timedelta(seconds=TOKEN_REFRESH_MARGIN_S)
        self._cancel_token_timer = async_track_point_in_utc_time(self.hass, self._async_token_due, when)

    @callback
    def _async_token_due(self, _now: datetime) -> None:
        self._cancel_token_timer = None
        self.entry.async_create_background_task(self.hass, self._async_refresh_token(), "gemini_live token refresh")

    async def _async_refresh_token(self) -> None:
        token = self.gemini.token
        assert token is not None
        try:
            await self.hass.async_add_executor_job(token.refresh, None)
        except Exception as err:
            LOGGER.warning("Could not refresh the Vertex AI access token: %s", describe(err))
            if classify(err) is ErrorKind.AUTH:
                self._async_auth_failed(err)
            self._async_schedule_token_refresh(timedelta(seconds=TOKEN_RETRY_S))
            return
        LOGGER.debug("Refreshed the Vertex AI access token; it expires at %s", token.expires_at)
        self.async_succeeded()
        self._async_schedule_token_refresh()
