"""Home Assistant with the Gemini Live integration, configured through its own flow against the emulator.

The emulator (``tests/conftest.py``) is the only stand-in: the integration reaches it with the real
google-genai SDK over TLS, as it would reach Google, through the endpoint a user can set in the flow.
"""

from __future__ import annotations

from typing import Any

import pytest
from gemini_live_emulator import Call, Emulator, EmulatorConfig, Say, Scenario, Turn
from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity, async_should_expose
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

from .common import KEY_A, KEY_B, add_developer_entry, add_vertex_entry


@pytest.fixture(autouse=True)
def _custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/gemini_live."""


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """Two accepted Developer API keys (a second account for duplicates and reconfiguring); no pacing."""
    return EmulatorConfig(api_keys=(KEY_A, KEY_B), generation_speed=0.0, resumption_update_interval_s=0.0)


@pytest.fixture
def scenario() -> Scenario:
    """What the user says and what the model does, turn by turn (speech goes in order from the first)."""
    return Scenario(
        turns=(
            Turn(
                user="turn on the kitchen light",
                steps=(Call("HassTurnOn", {"name": "Kitchen light"}), Say("Done, the kitchen light is on.")),
            ),
            Turn(
                user="turn on the garage light",
                steps=(Call("HassTurnOn", {"name": "Garage light"}), Say("I could not: {result[error][error]}.")),
            ),
            Turn(
                user="شغل ضوء المطبخ",
                steps=(Call("HassTurnOn", {"name": "Kitchen light"}), Say("تم تشغيل ضوء المطبخ.")),
            ),
            Turn(user="set a timer", steps=(Say("For how long?"),)),
            Turn(user="اضبط مؤقتا", steps=(Say("لكم من الوقت؟"),)),
            Turn(user="tell me a story", steps=(Say("Once upon a time there was a light. It lived happily."),)),
        )
    )


@pytest.fixture
async def core(hass: HomeAssistant) -> None:
    """The core components a voice assistant needs."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})


@pytest.fixture
async def developer_entry(hass: HomeAssistant, emulator: Emulator, core: None) -> ConfigEntry:
    """A loaded entry using the Developer API."""
    return await add_developer_entry(hass, emulator)


@pytest.fixture
async def vertex_entry(hass: HomeAssistant, emulator: Emulator, core: None) -> ConfigEntry:
    """A loaded entry using Vertex AI."""
    return await add_vertex_entry(hass, emulator)


def template_light(name: str, power: str) -> dict[str, Any]:
    """A light whose state is an input_boolean's: turning it on really changes state."""
    return {
        "name": name,
        "unique_id": power,
        "state": f"{{{{ is_state('input_boolean.{power}', 'on') }}}}",
        "turn_on": {"action": "input_boolean.turn_on", "target": {"entity_id": f"input_boolean.{power}"}},
        "turn_off": {"action": "input_boolean.turn_off", "target": {"entity_id": f"input_boolean.{power}"}},
    }


@pytest.fixture
async def lights(hass: HomeAssistant, core: None) -> None:
    """Two lights: the kitchen light is exposed to Assist, the garage light is not."""
    booleans = {"kitchen_power": {"name": "Kitchen power"}, "garage_power": {"name": "Garage power"}}
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": booleans})
    lights = [template_light("Kitchen light", "kitchen_power"), template_light("Garage light", "garage_power")]
    assert await async_setup_component(hass, "template", {"template": [{"light": lights}]})
    await hass.async_block_till_done()
    async_expose_entity(hass, conversation.DOMAIN, "light.kitchen_light", True)
    async_expose_entity(hass, conversation.DOMAIN, "light.garage_light", False)
    assert async_should_expose(hass, conversation.DOMAIN, "light.kitchen_light")
    assert not async_should_expose(hass, conversation.DOMAIN, "light.garage_light")
    assert hass.states.get("light.kitchen_light").state == "off"
    assert hass.states.get("light.garage_light").state == "off"
