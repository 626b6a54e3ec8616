"""Spoken requests through the link: a simulated satellite, the real bridge, Home Assistant's tools, the emulator.

The bridge has no Gemini key; Home Assistant hands it tokens. What the user says is espeak-ng speech after
a recorded wake word; what the "model" does is the emulator's script (tool names as the Assist API declares
them, ``intent__…``).
"""

from __future__ import annotations

from typing import Any

import pytest
from gemini_live_emulator import Call, Emulator, Say, Scenario, Turn
from homeassistant.components import conversation
from homeassistant.components.conversation.trace import async_get_traces
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component

from custom_components.gemini_live.bridge import EVENT_TURN
from custom_components.gemini_live.link_tools import EVENT_TOOL_CALL
from tests.audio import speech_pcm
from tests.bridge.satellite_helpers import wake_then_command
from tests.gemini_live.conftest import template_light

from .helpers import EventQueue, RunningBridge, add_bridge_entry, runtime_of, satellite_device
from .satellite import TalkingSatellite


async def link_satellite(bridge: RunningBridge, satellite: TalkingSatellite) -> dict[str, Any]:
    """The bridge controls the satellite; Home Assistant has configured its sessions (the configure message)."""
    await bridge.bridge.add_satellite(satellite.uri)
    return await bridge.probe.wait_for("configure", lambda message: message["satellite"] == satellite.uri)


def kitchen_scenario(*turns: Turn) -> Scenario:
    """The emulator's script."""
    return Scenario(turns=turns)


@pytest.mark.usefixtures("lights")
async def test_spoken_request_turns_on_the_kitchen_light(
    hass: HomeAssistant,
    developer_entry: ConfigEntry,
    bridge: RunningBridge,
    satellite: TalkingSatellite,
    emulator: Emulator,
) -> None:
    """ "turn on the kitchen light": the model calls HassTurnOn, Home Assistant runs it, the light is on."""
    emulator.scenario = kitchen_scenario(
        Turn(
            user="turn on the kitchen light",
            steps=(Call("intent__HassTurnOn", {"name": "Kitchen light"}), Say("The kitchen light is on.")),
        )
    )
    entry = await add_bridge_entry(hass, bridge.port)
    turns = EventQueue(hass, EVENT_TURN)
    tool_calls = EventQueue(hass, EVENT_TOOL_CALL)
    configure = await link_satellite(bridge, satellite)
    names = {tool["name"] for tool in configure["tools"]}
    assert {"intent__HassTurnOn", "intent__HassTurnOff", "intent__HassStartTimer"} <= names
    assert configure["options"]["model"] == "gemini-3.8-live"
    assert configure["endpoint"]["base_url"] == emulator.base_url
    assert "BEGIN CERTIFICATE" in configure["endpoint"]["ca_pem"]

    satellite.say(wake_then_command("turn on the kitchen light"))
    turn = await bridge.turns.next()
    assert turn.user_text.strip() == "turn on the kitchen light"
    assert turn.reply_text.strip() == "The kitchen light is on."
    assert hass.states.get("light.kitchen_light").state == "on"
    assert hass.states.get("light.garage_light").state == "off"
    # Home Assistant hears about the turn (for the logbook) and keeps it (for diagnostics).
    event = await turns.next()
    assert event.data["user"] == "turn on the kitchen light"
    assert event.data["tools"] == ["intent__HassTurnOn({'name': 'Kitchen light'})"]
    assert event.data["entity_id"].startswith("assist_satellite.")
    assert runtime_of(entry).satellites[satellite.uri].last_turn == {
        key: event.data[key] for key in ("turn", "user", "reply", "tools", "error")
    }
    # The call's own event is the origin of what it changed (the logbook says "triggered by"), and the
    # conversation trace shows the call.
    call = await tool_calls.next()
    assert call.data["tool"] == "intent__HassTurnOn"
    assert hass.states.get("input_boolean.kitchen_power").context.id == call.context.id
    events = [event for trace in async_get_traces() for event in trace.as_dict()["events"]]
    assert {"tool_name": "intent__HassTurnOn", "tool_args": {"name": "Kitchen light"}} in [
        event["data"] for event in events if event["event_type"] == "tool_call"
    ]


@pytest.mark.usefixtures("lights", "developer_entry")
async def test_every_conversation_runs_its_own_calls(
    hass: HomeAssistant, bridge: RunningBridge, satellite: TalkingSatellite, emulator: Emulator
) -> None:
    """Two conversations, each with a call the model numbers function-call-1 in its new session: both run."""
    emulator.scenario = kitchen_scenario(
        Turn(
            user="turn on the kitchen light", steps=(Call("intent__HassTurnOn", {"name": "Kitchen light"}), Say("On."))
        ),
        Turn(user="turn it off", steps=(Call("intent__HassTurnOff", {"name": "Kitchen light"}), Say("Off."))),
    )
    await add_bridge_entry(hass, bridge.port)
    await link_satellite(bridge, satellite)
    satellite.say(wake_then_command("turn on the kitchen light"))
    assert (await bridge.turns.next()).reply_text.strip() == "On."
    assert hass.states.get("light.kitchen_light").state == "on"
    satellite.say(wake_then_command("turn it off"))
    assert (await bridge.turns.next()).reply_text.strip() == "Off."
    assert hass.states.get("light.kitchen_light").state == "off"
    ids = [m["id"] for m in bridge.probe.of_type("tool_result")]
    assert len(ids) == 2 and all(i.endswith("#function-call-1") for i in ids), ids
    assert ids[0] != ids[1], "the link's id names the satellite and turn as well as the model's call id"


@pytest.mark.usefixtures("lights")
async def test_unexposed_light_is_refused(
    hass: HomeAssistant,
    developer_entry: ConfigEntry,
    bridge: RunningBridge,
    satellite: TalkingSatellite,
    emulator: Emulator,
) -> None:
    """The garage light is not exposed to Assist: the call fails through the link, and the light stays off."""
    emulator.scenario = kitchen_scenario(
        Turn(
            user="turn on the garage light",
            steps=(Call("intent__HassTurnOn", {"name": "Garage light"}), Say("I could not: {result[error]}")),
        )
    )
    await add_bridge_entry(hass, bridge.port)
    await link_satellite(bridge, satellite)
    satellite.say(wake_then_command("turn on the garage light"))
    turn = await bridge.turns.next()
    assert turn.reply_text.strip().startswith("I could not: MatchFailedError")
    assert "exposed" in turn.reply_text
    assert hass.states.get("light.garage_light").state == "off"
    assert hass.states.get("light.kitchen_light").state == "off"


@pytest.fixture
async def ceiling_lights(hass: HomeAssistant, core: None) -> dict[str, str]:
    """Two exposed lights with the same name, one in the kitchen and one in the bedroom; area → entity."""
    booleans = {"kitchen_ceiling": {"name": "Kitchen ceiling"}, "bedroom_ceiling": {"name": "Bedroom ceiling"}}
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": booleans})
    lights = [template_light("Ceiling light", "kitchen_ceiling"), template_light("Ceiling light", "bedroom_ceiling")]
    assert await async_setup_component(hass, "template", {"template": [{"light": lights}]})
    await hass.async_block_till_done()
    areas = ar.async_get(hass)
    entities = er.async_get(hass)
    found: dict[str, str] = {}
    for area_name, power in (("Kitchen", "kitchen_ceiling"), ("Bedroom", "bedroom_ceiling")):
        area = areas.async_create(area_name)
        entity_id = entities.async_get_entity_id("light", "template", power)
        assert entity_id is not None
        entities.async_update_entity(entity_id, area_id=area.id)
        async_expose_entity(hass, conversation.DOMAIN, entity_id, True)
        found[area_name] = entity_id
    return found


@pytest.mark.usefixtures("developer_entry")
async def test_light_in_the_satellites_area_is_chosen(
    hass: HomeAssistant,
    ceiling_lights: dict[str, str],
    bridge: RunningBridge,
    satellite: TalkingSatellite,
    emulator: Emulator,
) -> None:
    """ "the ceiling light" is the one in the satellite's own area (the device's area the user picked)."""
    emulator.scenario = kitchen_scenario(
        Turn(
            user="turn on the ceiling light",
            steps=(Call("intent__HassTurnOn", {"name": "Ceiling light"}), Say("Done.")),
        )
    )
    entry = await add_bridge_entry(hass, bridge.port)
    await link_satellite(bridge, satellite)
    kitchen = ar.async_get(hass).async_get_area_by_name("Kitchen")
    assert kitchen is not None
    dr.async_get(hass).async_update_device(satellite_device(hass, entry, satellite.uri).id, area_id=kitchen.id)
    # The new area reaches the bridge: the prompt now says where the satellite is.
    await bridge.probe.wait_for("configure", lambda message: "area Kitchen" in message["options"]["system_prompt"])

    satellite.say(wake_then_command("turn on the ceiling light"))
    await bridge.turns.next()
    assert hass.states.get(ceiling_lights["Kitchen"]).state == "on"
    assert hass.states.get(ceiling_lights["Bedroom"]).state == "off"


@pytest.mark.parametrize(
    ("answer", "reply", "state"),
    [
        ("Yes.", "Done, the front door is unlocked.", "unlocked"),
        ("No, leave it.", "All right, it stays locked.", "locked"),
    ],
)
async def test_lock_waits_for_a_spoken_yes(  # noqa: PLR0917 - parametrized
    hass: HomeAssistant,
    developer_entry: ConfigEntry,
    front_door: str,
    bridge: RunningBridge,
    satellite: TalkingSatellite,
    emulator: Emulator,
    answer: str,
    reply: str,
    state: str,
) -> None:
    """Unlocking asks first; only a spoken yes, heard by the bridge, runs the held call."""
    emulator.scenario = kitchen_scenario(
        Turn(
            user="unlock the front door",
            steps=(
                Call("intent__HassTurnOff", {"name": "Front door", "domain": ["lock"]}),
                Say("{result[output][ask_the_user]}"),
            ),
        ),
        Turn(user=answer, steps=(Call("confirm_action", {}), Say(reply))),
    )
    entry = await add_bridge_entry(hass, bridge.port)
    await link_satellite(bridge, satellite)
    satellite.say(wake_then_command("unlock the front door"))
    await satellite.wait_for("synthesize", lambda event: event.data["text"] == "Unlock Front door?")
    assert hass.states.get(front_door).state == "locked", "nothing runs on the model's word alone"
    assert len(runtime_of(entry).calls.held) == 1

    satellite.say(speech_pcm(answer, "en-US"))
    turn = await bridge.turns.next()
    assert turn.reply_text.strip().endswith(reply)
    assert hass.states.get(front_door).state == state
    confirms = bridge.probe.of_type("confirm_result")
    assert [("result" in message) for message in confirms] == ([True] if state == "unlocked" else [])


@pytest.mark.usefixtures("lights")
async def test_finished_timer_is_announced_on_its_satellite(
    hass: HomeAssistant,
    developer_entry: ConfigEntry,
    bridge: RunningBridge,
    satellite: TalkingSatellite,
    emulator: Emulator,
) -> None:
    """A timer started by a tool call on the satellite is announced on it (once its reply is over): Gemini says so."""
    finished = "Tell the user, briefly and in their language, that the timer of 1 second has finished."
    reply = "Timer set. I will tell you when the second is over; it will not take long at all."
    emulator.scenario = kitchen_scenario(
        Turn(user="set a timer for one second", steps=(Call("intent__HassStartTimer", {"seconds": 1}), Say(reply))),
        Turn(user=finished, steps=(Say("Your timer is done."),)),
    )
    await add_bridge_entry(hass, bridge.port)
    await link_satellite(bridge, satellite)
    satellite.say(wake_then_command("set a timer for one second"))
    first = await bridge.turns.next()
    assert first.reply_text.strip() == reply
    announced = await bridge.turns.next()
    assert announced.trigger == "announcement"
    assert announced.reply_text.strip() == "Your timer is done."
    # The timer finished while the reply was playing: one announcement, sent once the satellite was free.
    assert [m["text"] for m in bridge.probe.of_type("announce")] == [finished]
    assert [e.data["name"] for e in satellite.record.of_type("detection")] == ["okay_nabu"], "no wake word needed"
