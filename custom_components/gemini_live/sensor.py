"""Sensors of a linked bridge: each satellite's state, and the link itself (with why it is down)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .bridge import LINK_CONNECTED, LINK_DISCONNECTED, LINK_REFUSED, BridgeConfigEntry, BridgeRuntime, Satellite
from .bridge_entity import BridgeDeviceEntity, SatelliteEntity, async_add_satellite_entities

PARALLEL_UPDATES = 0
SATELLITE_STATES = ["idle", "listening", "responding", "error", "offline"]


async def async_setup_entry(
    hass: HomeAssistant, entry: BridgeConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """The link's sensor, and a state sensor per satellite."""
    async_add_entities([LinkSensor(entry.runtime_data)])
    async_add_satellite_entities(entry, async_add_entities, lambda runtime, sat: [SatelliteStateSensor(runtime, sat)])


class SatelliteStateSensor(SatelliteEntity, SensorEntity):
    """What the satellite is doing: idle, listening, responding, error (the last turn failed) or offline."""

    _attr_translation_key = "satellite_state"
    _attr_device_class = SensorDeviceClass.ENUM

    def __init__(self, runtime: BridgeRuntime, satellite: Satellite) -> None:
        """The satellite's state sensor."""
        super().__init__(runtime, satellite, "state")
        self._attr_options = list(SATELLITE_STATES)

    @property
    def available(self) -> bool:
        """Known while the link is up (an unreachable satellite is ``offline``)."""
        return self.runtime.client.connected

    @property
    def native_value(self) -> str:
        """The state the bridge reported."""
        state = self.satellite.state if self.satellite.connected else "offline"
        return state if state in SATELLITE_STATES else "idle"


class LinkSensor(BridgeDeviceEntity, SensorEntity):
    """Whether the link to the bridge is up; while it is not, why."""

    _attr_translation_key = "link"
    _attr_device_class = SensorDeviceClass.ENUM
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, runtime: BridgeRuntime) -> None:
        """The bridge's link sensor."""
        super().__init__(runtime, "link")
        self._attr_options = [LINK_CONNECTED, LINK_DISCONNECTED, LINK_REFUSED]

    @property
    def native_value(self) -> str:
        """connected, disconnected or refused."""
        return self.runtime.link_state

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Why the link is down (None while it is up)."""
        return {"reason": self.runtime.link_error}
