"""Gemini Live for Home Assistant: Gemini as conversation, text-to-speech and speech-to-text agent.

An entry is either a Gemini account (an API key or a Vertex AI service account, with its agents as
subentries) or a linked Gemini Live bridge (:mod:`.bridge`), which uses an account's credentials.
"""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_CLOSE, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir

from .bridge import BridgeConfigEntry, async_setup_bridge_entry, async_unload_bridge_entry
from .client import async_check_access, async_close, async_create_client
from .const import DOMAIN, LOGGER, is_bridge
from .errors import ErrorKind, ServiceAccountError, classify, describe
from .runtime import GeminiLiveRuntime, auth_issue_id

PLATFORMS = (Platform.AI_TASK, Platform.CONVERSATION, Platform.STT, Platform.TTS)
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

type GeminiLiveConfigEntry = ConfigEntry[GeminiLiveRuntime]


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Set up a Gemini account or a linked bridge."""
    if is_bridge(entry.data):
        bridge: BridgeConfigEntry = entry
        return await async_setup_bridge_entry(hass, bridge)
    account: GeminiLiveConfigEntry = entry
    return await _async_setup_account(hass, account)


async def _async_setup_account(hass: HomeAssistant, entry: GeminiLiveConfigEntry) -> bool:
    """Build the client, check the credentials with one call, then set up the platforms."""
    try:
        gemini = await async_create_client(hass, entry.data)
    except ServiceAccountError as err:
        LOGGER.warning("The stored service-account key cannot be used: %s", err)
        raise ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="invalid_service_account") from err
    except Exception as err:
        raise _setup_error(err) from err
    try:
        await async_check_access(gemini)
    except Exception as err:
        await async_close(hass, gemini)
        raise _setup_error(err) from err

    entry.runtime_data = runtime = GeminiLiveRuntime(hass, entry, gemini)
    runtime.async_start()
    entry.async_on_unload(runtime.async_stop)

    async def _close_on_shutdown(_event: Event) -> None:
        await async_close(hass, gemini)

    entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_CLOSE, _close_on_shutdown))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_reload_on_update))
    return True


def _setup_error(err: Exception) -> Exception:
    """The set-up exception for a failed first call: reauth, retry later, or give up.

    The entry's card shows its one translated sentence; the details go to the log, here.
    """
    kind = classify(err)
    if kind is ErrorKind.UNKNOWN:
        LOGGER.exception("Unexpected error while setting up Gemini Live", exc_info=err)
    else:
        LOGGER.warning("Could not set up Gemini Live (%s): %s", kind.value, describe(err))
    if kind is ErrorKind.AUTH:
        return ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="setup_auth_failed")
    if kind in (ErrorKind.CONNECTION, ErrorKind.QUOTA):
        return ConfigEntryNotReady(translation_domain=DOMAIN, translation_key=f"setup_{kind.value}")
    return ConfigEntryError(translation_domain=DOMAIN, translation_key="setup_failed")


async def async_unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Unload the platforms, then close the client's connections (a bridge closes its link)."""
    if is_bridge(entry.data):
        bridge: BridgeConfigEntry = entry
        return await async_unload_bridge_entry(hass, bridge)
    if not await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        return False
    await async_close(hass, entry.runtime_data.gemini)
    return True


async def async_remove_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Forget the entry's repair issue with the entry."""
    ir.async_delete_issue(hass, DOMAIN, auth_issue_id(entry.entry_id))


async def async_remove_config_entry_device(hass: HomeAssistant, entry: ConfigEntry, device: dr.DeviceEntry) -> bool:
    """A bridged satellite's device may go once the bridge no longer has it; agents go with their subentries."""
    if not is_bridge(entry.data):
        return False
    bridge: BridgeConfigEntry = entry
    return bridge.runtime_data.async_forget_satellite(device.id)


async def _async_reload_on_update(hass: HomeAssistant, entry: GeminiLiveConfigEntry) -> None:
    """Subentries changed: reload so that the entities follow."""
    await hass.config_entries.async_reload(entry.entry_id)
