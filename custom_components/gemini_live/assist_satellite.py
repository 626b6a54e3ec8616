"""A bridged satellite as Home Assistant's Assist satellite: its state, announcements and conversations.

The bridge runs the satellite's voice turns; this entity shows where it is in one and plays what Home
Assistant has to say on it (``assist_satellite.announce``), or says it and then listens without a wake
word (``assist_satellite.start_conversation``), through the link.
"""

from __future__ import annotations

from typing import Final, override

from homeassistant.components import tts
from homeassistant.components.assist_pipeline import PipelineEvent
from homeassistant.components.assist_satellite import (
    AssistSatelliteAnnouncement,
    AssistSatelliteConfiguration,
    AssistSatelliteEntity,
    AssistSatelliteEntityFeature,
)
from homeassistant.components.assist_satellite.entity import AssistSatelliteState
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .announce import async_announcement_audio
from .bridge import BridgeConfigEntry, BridgeRuntime, Satellite
from .bridge_entity import SatelliteEntity, async_add_satellite_entities
from .const import DOMAIN

PARALLEL_UPDATES = 0

_STATES: Final = {
    "listening": AssistSatelliteState.LISTENING,
    "responding": AssistSatelliteState.RESPONDING,
}


async def async_setup_entry(
    hass: HomeAssistant, entry: BridgeConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """An Assist satellite per bridged satellite."""
    async_add_satellite_entities(entry, async_add_entities, lambda runtime, sat: [BridgedSatellite(runtime, sat)])


class BridgedSatellite(SatelliteEntity, AssistSatelliteEntity):
    """A satellite the bridge drives (see the module docstring)."""

    _attr_name = None
    _attr_supported_features = AssistSatelliteEntityFeature.ANNOUNCE | AssistSatelliteEntityFeature.START_CONVERSATION

    def __init__(self, runtime: BridgeRuntime, satellite: Satellite) -> None:
        """The satellite's Assist satellite entity."""
        super().__init__(runtime, satellite)
        # WAV needs no conversion (no ffmpeg): the link carries its PCM as it is.
        self._attr_tts_options = {tts.ATTR_PREFERRED_FORMAT: "wav"}

    @callback
    @override
    def _async_updated(self) -> None:
        state = _STATES.get(self.satellite.state, AssistSatelliteState.IDLE)
        if state != self.state:
            self._set_state(state)
        else:
            self.async_write_ha_state()

    @callback
    @override
    def async_get_configuration(self) -> AssistSatelliteConfiguration:
        """Wake words are the bridge's (its --wake-word option), not Home Assistant's."""
        return AssistSatelliteConfiguration(available_wake_words=[], active_wake_words=[], max_active_wake_words=0)

    @override
    async def async_set_configuration(self, config: AssistSatelliteConfiguration) -> None:
        """Wake words are set on the bridge."""
        raise HomeAssistantError(translation_domain=DOMAIN, translation_key="wake_words_on_bridge")

    @callback
    @override
    def on_pipeline_event(self, event: PipelineEvent) -> None:
        """Home Assistant's pipelines do not run for a bridged satellite (the bridge runs its turns)."""

    @override
    async def async_announce(self, announcement: AssistSatelliteAnnouncement) -> None:
        """Play the announcement; return once the satellite has played it."""
        audio = await async_announcement_audio(self.hass, announcement)
        await self.runtime.async_announce(self.satellite.id, text=announcement.message, audio=audio)

    @override
    async def async_start_conversation(self, start_announcement: AssistSatelliteAnnouncement) -> None:
        """Say the message, then listen for the answer without a wake word, in the satellite's Live session."""
        audio = await async_announcement_audio(self.hass, start_announcement)
        prompt = self._extra_system_prompt
        await self.runtime.async_announce(
            self.satellite.id,
            text=start_announcement.message,
            audio=audio,
            listen=True,
            prompt=prompt if prompt and prompt != start_announcement.message else None,
        )
