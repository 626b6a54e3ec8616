"""The base of a linked bridge's entities: they follow the link and their satellite, and appear with it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .bridge import (
    BridgeConfigEntry,
    BridgeRuntime,
    Satellite,
    satellite_identifier,
    signal_new_satellite,
    signal_update,
)
from .const import DOMAIN


class BridgeEntity(Entity):
    """An entity of a bridge entry, written whenever the link or a satellite changes."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, runtime: BridgeRuntime) -> None:
        """Follow ``runtime``."""
        self.runtime = runtime

    async def async_added_to_hass(self) -> None:
        """Follow the runtime's updates."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(self.hass, signal_update(self.runtime.entry.entry_id), self._async_updated)
        )

    @callback
    def _async_updated(self) -> None:
        self.async_write_ha_state()


class BridgeDeviceEntity(BridgeEntity):
    """An entity of the bridge itself."""

    def __init__(self, runtime: BridgeRuntime, key: str) -> None:
        """On the bridge's device."""
        super().__init__(runtime)
        self._attr_unique_id = f"{runtime.bridge_id}/{key}"
        self._attr_device_info = dr.DeviceInfo(identifiers={(DOMAIN, runtime.bridge_id)})


class SatelliteEntity(BridgeEntity):
    """An entity of one satellite, on the satellite's device (which is linked via the bridge's)."""

    def __init__(self, runtime: BridgeRuntime, satellite: Satellite, key: str | None = None) -> None:
        """On ``satellite``'s device; ``key`` tells the satellite's entities apart."""
        super().__init__(runtime)
        self.satellite = satellite
        self._attr_unique_id = f"{runtime.bridge_id}/{satellite.id}" + (f"/{key}" if key else "")
        self._attr_device_info = dr.DeviceInfo(identifiers={satellite_identifier(runtime.bridge_id, satellite.id)})

    @property
    def available(self) -> bool:
        """Reachable: the link is up and the bridge has the satellite connected."""
        return self.runtime.client.connected and self.satellite.connected


@callback
def async_add_satellite_entities(
    entry: BridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    make: Callable[[BridgeRuntime, Satellite], Iterable[Entity]],
) -> None:
    """Add ``make``'s entities for every satellite with a device, now and as satellites appear."""
    runtime = entry.runtime_data
    async_add_entities(
        [
            entity
            for satellite in runtime.satellites.values()
            if satellite.device_id
            for entity in make(runtime, satellite)
        ]
    )

    @callback
    def _added(satellite: Satellite) -> None:
        async_add_entities(list(make(runtime, satellite)))

    entry.async_on_unload(async_dispatcher_connect(runtime.hass, signal_new_satellite(entry.entry_id), _added))
