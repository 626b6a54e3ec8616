"""A bridged satellite's mute switch: while it is on, the satellite starts no conversation."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.const import STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .bridge import BridgeConfigEntry, BridgeRuntime, Satellite
from .bridge_entity import SatelliteEntity, async_add_satellite_entities

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: BridgeConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """A mute switch per satellite."""
    async_add_satellite_entities(entry, async_add_entities, lambda runtime, sat: [MuteSwitch(runtime, sat)])


class MuteSwitch(SatelliteEntity, SwitchEntity, RestoreEntity):
    """Mutes the satellite on the bridge; Home Assistant keeps the choice across restarts of either side."""

    _attr_translation_key = "mute"

    def __init__(self, runtime: BridgeRuntime, satellite: Satellite) -> None:
        """The satellite's mute switch."""
        super().__init__(runtime, satellite, "mute")

    async def async_added_to_hass(self) -> None:
        """Take the choice from before a restart."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) is not None:
            await self.runtime.async_restore_mute(self.satellite.id, last.state == STATE_ON)

    @property
    def is_on(self) -> bool:
        """Muted as Home Assistant asked (the bridge's own report until it was asked)."""
        return self.runtime.wanted_mute(self.satellite.id)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Mute."""
        await self.runtime.async_set_muted(self.satellite.id, True)
        self.async_write_ha_state()

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Unmute."""
        await self.runtime.async_set_muted(self.satellite.id, False)
        self.async_write_ha_state()
