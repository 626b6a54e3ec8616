"""What a loaded entry keeps: the client, its Vertex AI token timer, whether Gemini answers, and how
authentication is going.

Every entity reports its calls here (:meth:`GeminiLiveRuntime.async_api_error`,
:meth:`GeminiLiveRuntime.async_succeeded`), so the entry as a whole notices:

- **Gemini unreachable** (network, TLS, timeouts, 5xx): the agents become unavailable, with one log line,
  and a cheap call checks every :data:`PROBE_INTERVAL_S` seconds until Gemini answers again (one log
  line), as Home Assistant's quality rules ask of a service that stops answering.
- **Credentials refused** three times in a row: Home Assistant's re-authentication flow starts, which is
  the one repair the user sees; a request that goes through again ends it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later, async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .client import GeminiClient, async_check_access
from .const import AUTH_FAILURES_BEFORE_ISSUE, DOMAIN, LOGGER, TOKEN_REFRESH_MARGIN_S, TOKEN_RETRY_S
from .errors import ErrorKind, api_error, classify, describe

if TYPE_CHECKING:
    from . import GeminiLiveConfigEntry


PROBE_INTERVAL_S: Final = 30  # while Gemini is unreachable, how often a cheap call checks whether it is back


def auth_issue_id(entry_id: str) -> str:
    """The repair issue earlier versions raised for refused credentials (removed where it is left over)."""
    return f"auth_failing_{entry_id}"


@dataclass
class GeminiLiveRuntime:
    """The ``runtime_data`` of a loaded entry."""

    hass: HomeAssistant
    entry: GeminiLiveConfigEntry
    gemini: GeminiClient
    auth_failures: int = 0
    reachable: bool = True
    _reauth_started: bool = field(default=False, repr=False)
    _cancel_token_timer: CALLBACK_TYPE | None = field(default=None, repr=False)
    _cancel_probe: CALLBACK_TYPE | None = field(default=None, repr=False)
    _listeners: list[Callable[[], None]] = field(default_factory=list, repr=False)

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
        """Stop the timers (the entry is unloading)."""
        if self._cancel_token_timer is not None:
            self._cancel_token_timer()
            self._cancel_token_timer = None
        if self._cancel_probe is not None:
            self._cancel_probe()
            self._cancel_probe = None

    @callback
    def async_add_listener(self, update: Callable[[], None]) -> CALLBACK_TYPE:
        """Call ``update`` whenever Gemini becomes unreachable or reachable again (an entity's state)."""
        self._listeners.append(update)
        return lambda: self._listeners.remove(update)

    @callback
    def async_succeeded(self) -> None:
        """A call went through: Gemini answers and the credentials work."""
        self.auth_failures = 0
        self._async_reachable()
        if self._reauth_started:
            # The problem went away by itself (billing fixed, a key enabled again): the repair goes too.
            self._reauth_started = False
            for flow in list(self.entry.async_get_active_flows(self.hass, {SOURCE_REAUTH})):
                self.hass.config_entries.flow.async_abort(flow["flow_id"])

    @callback
    def async_credentials_confirmed(self) -> None:
        """The user re-authenticated with the credentials in use, and they work again.

        Their re-authentication flow is finishing (which removes its repair); only the count is reset.
        """
        self.auth_failures = 0
        self._reauth_started = False
        self._async_reachable()

    @callback
    def async_api_error(self, err: BaseException) -> HomeAssistantError:
        """Note a failed call (logged here, with its details) and return the error to raise for it."""
        kind = classify(err)
        if kind is ErrorKind.CONNECTION:
            self._async_unreachable(err)
        else:
            LOGGER.warning("Gemini call failed (%s): %s", kind.value, describe(err))
            self._async_reachable()
        if kind is ErrorKind.AUTH:
            if self.gemini.token is not None:
                # A refused Vertex AI token may just be stale: the next request fetches a new one.
                self.gemini.token.invalidate()
            self._async_auth_failed()
        return api_error(err)

    @callback
    def _async_auth_failed(self) -> None:
        self.auth_failures += 1
        if self.auth_failures != AUTH_FAILURES_BEFORE_ISSUE:
            return
        LOGGER.error("Gemini keeps refusing the credentials of %s: asking for new ones", self.entry.title)
        self._reauth_started = True
        self.entry.async_start_reauth(self.hass)

    @callback
    def _async_unreachable(self, err: BaseException) -> None:
        """Gemini did not answer: the agents are unavailable until it does (logged once, not per request)."""
        if not self.reachable:
            LOGGER.debug("Gemini is still unreachable: %s", describe(err))
            return
        LOGGER.warning("Gemini is unreachable; its agents are unavailable until it answers: %s", describe(err))
        self.reachable = False
        self._async_notify()
        self._async_schedule_probe()

    @callback
    def _async_reachable(self) -> None:
        if self.reachable:
            return
        LOGGER.info("Gemini answers again; its agents are available")
        self.reachable = True
        if self._cancel_probe is not None:
            self._cancel_probe()
            self._cancel_probe = None
        self._async_notify()

    @callback
    def _async_notify(self) -> None:
        for update in list(self._listeners):
            update()

    @callback
    def _async_schedule_probe(self) -> None:
        self._cancel_probe = async_call_later(self.hass, PROBE_INTERVAL_S, self._async_probe_due)

    @callback
    def _async_probe_due(self, _now: datetime) -> None:
        self._cancel_probe = None
        self.entry.async_create_background_task(self.hass, self._async_probe(), "gemini_live reachability check")

    async def _async_probe(self) -> None:
        """One cheap call: does Gemini answer again?"""
        try:
            await async_check_access(self.gemini)
        except Exception as err:
            if classify(err) is ErrorKind.CONNECTION:
                LOGGER.debug("Gemini is still unreachable: %s", describe(err))
                if not self.reachable:
                    self._async_schedule_probe()
                return
            # It answered, if only to refuse: it is reachable; the refusal is the requests' business.
            LOGGER.debug("Gemini answers again, with an error: %s", describe(err))
            self._async_reachable()
            return
        self.async_succeeded()

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
            kind = classify(err)
            if kind is ErrorKind.AUTH:
                self._async_auth_failed()
            elif kind is ErrorKind.CONNECTION:
                self._async_unreachable(err)
            self._async_schedule_token_refresh(timedelta(seconds=TOKEN_RETRY_S))
            return
        LOGGER.debug("Refreshed the Vertex AI access token; it expires at %s", token.expires_at)
        self.async_succeeded()
        self._async_schedule_token_refresh()
