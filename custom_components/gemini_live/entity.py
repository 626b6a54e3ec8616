"""The base every Gemini Live entity shares: one device per subentry, the entry's client, error reporting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx
from google.auth import exceptions as auth_exceptions
from google.genai import errors as genai_errors
from homeassistant.config_entries import ConfigSubentry
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.entity import Entity

from .client import GeminiClient
from .const import CONF_CHAT_MODEL, CONF_RECOMMENDED, DOMAIN

if TYPE_CHECKING:
    from . import GeminiLiveConfigEntry

# What a Gemini call can raise besides Home Assistant's own errors.
API_EXCEPTIONS: tuple[type[BaseException], ...] = (
    genai_errors.APIError,
    auth_exceptions.GoogleAuthError,
    aiohttp.ClientError,
    httpx.HTTPError,
    TimeoutError,
    OSError,
)


class GeminiLiveEntity(Entity):
    """An agent (conversation, TTS or STT) configured by one subentry."""

    _attr_has_entity_name = True
    _attr_name: str | None = None
    _attr_should_poll = False

    def __init__(self, entry: GeminiLiveConfigEntry, subentry: ConfigSubentry, default_model: str) -> None:
        """Name the entity after its subentry, which is also its device."""
        self.entry = entry
        self.subentry = subentry
        self.default_model = default_model
        self._attr_unique_id = subentry.subentry_id
        self._attr_device_info = dr.DeviceInfo(
            identifiers={(DOMAIN, subentry.subentry_id)},
            name=subentry.title,
            manufacturer="Google",
            model=self.model,
            entry_type=dr.DeviceEntryType.SERVICE,
        )

    @property
    def available(self) -> bool:
        """Unavailable while Gemini does not answer (the entry checks until it does)."""
        return super().available and self.entry.runtime_data.reachable

    async def async_added_to_hass(self) -> None:
        """Follow the entry's view of whether Gemini answers."""
        await super().async_added_to_hass()
        self.async_on_remove(self.entry.runtime_data.async_add_listener(self.async_write_ha_state))

    @property
    def options(self) -> Mapping[str, Any]:
        """The subentry's settings."""
        return self.subentry.data

    @property
    def model(self) -> str:
        """The model this agent uses (the recommended one unless the user picked another)."""
        if self.options.get(CONF_RECOMMENDED, True):
            return self.default_model
        return str(self.options.get(CONF_CHAT_MODEL) or self.default_model)

    @property
    def model_options(self) -> Mapping[str, Any]:
        """The model settings in force: none (the defaults) while the recommended settings are on."""
        return {} if self.options.get(CONF_RECOMMENDED, True) else self.options

    @property
    def client(self) -> GeminiClient:
        """The entry's client."""
        return self.entry.runtime_data.client

    def api_error(self, err: BaseException) -> HomeAssistantError:
        """Report a failed call to the entry and return the error to raise."""
        return self.entry.runtime_data.async_api_error(err)

    def api_succeeded(self) -> None:
        """Report a call that went through."""
        self.entry.runtime_data.async_succeeded()
