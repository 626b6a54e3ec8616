"""The link under strain (drops mid-call, a new pairing token, an unreachable bridge) and Gemini credentials from HA."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from gemini_live_emulator import Call, Emulator, Say, Scenario, Turn
from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_LLM_HASS_API, CONF_PORT, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.gemini_live.const import (
    CONF_ACCOUNT,
    CONF_BRIDGE_ID,
    CONF_KIND,
    CONF_PAIRING_TOKEN,
    CONF_VOICE,
    DOMAIN,
    KIND_BRIDGE,
    RECOMMENDED_BRIDGE_OPTIONS,
)
from tests.bridge.satellite_helpers import wake_then_command
from tests.gemini_live.common import closed_port_url
from wyoming_bridge.link.credentials import LinkedCredentials

from .helpers import (
    TOKEN,
    RunningBridge,
    add_bridge_entry,
    link_entity,
    link_settings,
    runtime_of,
    satellite_entity,
    start_bridge,
    wait_state,
)
from .satellite import TalkingSatellite
from .test_voice import link_satellite


@pytest.fixture
async def restartable(tmp_path: Path, unused_tcp_port: int, emulator: Emulator) -> Any:
    """The bridge on a fixed port, so that it (or its link) can restart where Home Assistant expects it."""
    bridges: list[RunningBridge] = []

    async def start(**overrides: Any) -> RunningBridge:
        running = await start_bridge(link_settings(tmp_path / "bridge", unused_tcp_port, **overrides))
        bridges.append(running)
        return running

    yield start
    for running in bridges:
        await running.bridge.stop()


@pytest.fixture
async def slow_chime(hass: HomeAssistant, core: None) -> None:
    """An exposed script that counts its runs, then waits until input_boolean.release is on."""
    assert await async_setup_component(hass, "counter", {"counter": {"chimes": {"initial": 0, "step": 1}}})
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"release": {"name": "Release"}}})
    script = {
        "alias": "Slow chime",
        "sequence": [
            {"action": "counter.increment", "target": {"entity_id": "counter.chimes"}},
            {"wait_template": "{{ is_state('input_boolean.release', 'on') }}"},
        ],
    }
    assert await async_setup_component(hass, "script", {"script": {"slow_chime": script}})
    await hass.async_block_till_done()
    async_expose_entity(hass, conversation.DOMAIN, "script.slow_chime", True)


@pytest.mark.usefixtures("developer_entry", "slow_chime")
async def test_link_drops_mid_call_and_the_call_runs_once(
    hass: HomeAssistant, restartable: Any, satellite: TalkingSatellite, emulator: Emulator
) -> None:
    """The link drops while a tool runs; the bridge sends the call again on the new link; it runs once."""
    emulator.scenario = Scenario(
        turns=(Turn(user="ring the slow chime", steps=(Call("script__slow_chime", {}), Say("The chime rang."))),)
    )
    bridge: RunningBridge = await restartable()
    entry = await add_bridge_entry(hass, bridge.port)
    runtime = runtime_of(entry)
    received: list[str] = []
    sent_again = asyncio.Event()
    handle = runtime.calls.async_tool_call

    def counting(message: dict[str, Any]) -> None:
        received.append(message["id"])
        if len(received) == 2:
            sent_again.set()
        handle(message)

    runtime.calls.async_tool_call = counting  # type: ignore[method-assign]
    await link_satellite(bridge, satellite)
    satellite.say(wake_then_command("ring the slow chime"))
    await wait_state(hass, "counter.chimes", "1")  # the script runs, waiting for the release

    server = bridge.bridge.link_server
    assert server is not None
    link = link_entity(hass, entry)
    await server.stop()  # the link drops mid-call
    await wait_state(hass, link, "disconnected")
    await server.start()
    await wait_state(hass, link, "connected")
    async with asyncio.timeout(30):
        await sent_again.wait()
    assert received[0] == received[1], "the same call, sent again after the reconnect"

    await hass.services.async_call("input_boolean", "turn_on", {"entity_id": "input_boolean.release"}, blocking=True)
    turn = await bridge.turns.next()
    assert turn.reply_text.strip() == "The chime rang."
    assert hass.states.get("counter.chimes").state == "1", "the tool ran once"
    results = [message for message in bridge.probe.of_type("tool_result") if message["id"] == received[0]]
    assert results and all(message == results[0] for message in results)
    assert "result" in results[0]


async def test_new_pairing_token_starts_reauth(
    hass: HomeAssistant, developer_entry: ConfigEntry, restartable: Any, satellite: TalkingSatellite
) -> None:
    """The bridge restarts with another token: the link is refused, reauth asks for it, then all is linked again."""
    bridge: RunningBridge = await restartable()
    entry = await add_bridge_entry(hass, bridge.port)
    link = link_entity(hass, entry)
    await bridge.bridge.stop()
    await restartable(pairing_token="the-new-token")
    await wait_state(hass, link, "refused")
    assert hass.states.get(link).attributes["reason"] == "the bridge refused the pairing token"

    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN, match_context={"source": "reauth"})
    assert flow["step_id"] == "bridge_reauth"
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {CONF_PAIRING_TOKEN: "a-wrong-token"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_pairing_token"}
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {CONF_PAIRING_TOKEN: "the-new-token"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_PAIRING_TOKEN] == "the-new-token"
    assert entry.state is ConfigEntryState.LOADED
    await wait_state(hass, link, "connected")


async def test_entities_follow_the_link_and_mute_survives_a_bridge_restart(
    hass: HomeAssistant, developer_entry: ConfigEntry, restartable: Any, satellite: TalkingSatellite
) -> None:
    """While the bridge is gone its satellite is unavailable and the link says why; mute is restored after."""
    bridge: RunningBridge = await restartable()
    entry = await add_bridge_entry(hass, bridge.port)
    await link_satellite(bridge, satellite)
    assist = satellite_entity(hass, entry, "assist_satellite", satellite.uri)
    mute = satellite_entity(hass, entry, "switch", satellite.uri, "mute")
    state = satellite_entity(hass, entry, "sensor", satellite.uri, "state")
    await wait_state(hass, state, "idle")
    assert hass.states.get(assist).state == "idle"
    await hass.services.async_call("switch", "turn_on", {"entity_id": mute}, blocking=True)
    await bridge.probe.wait_for("mute", lambda message: message["muted"] is True)

    await bridge.bridge.stop()
    link = link_entity(hass, entry)
    await wait_state(hass, link, "disconnected")
    assert hass.states.get(link).attributes["reason"] == "the bridge closed the link"
    assert hass.states.get(assist).state == STATE_UNAVAILABLE
    assert hass.states.get(state).state == STATE_UNAVAILABLE

    restarted: RunningBridge = await restartable()
    await restarted.bridge.add_satellite(satellite.uri)
    await wait_state(hass, assist, "idle")
    # Home Assistant's choice reaches the new bridge: the satellite is muted there too.
    await restarted.probe.wait_for("mute", lambda message: message["muted"] is True)
    assert restarted.bridge.controller(satellite.uri).muted
    assert hass.states.get(mute).state == "on"


async def test_setup_retries_while_the_bridge_is_unreachable(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """Nobody listens at the address: the entry retries and says why."""
    port = int(closed_port_url().rsplit(":", 1)[1])
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="a-bridge",
        data={
            CONF_KIND: KIND_BRIDGE,
            CONF_HOST: "127.0.0.1",
            CONF_PORT: port,
            CONF_PAIRING_TOKEN: TOKEN,
            CONF_BRIDGE_ID: "a-bridge",
            CONF_ACCOUNT: developer_entry.entry_id,
        },
        options=dict(RECOMMENDED_BRIDGE_OPTIONS),
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert f"Could not reach the Gemini Live bridge at 127.0.0.1: could not connect to 127.0.0.1:{port}" in entry.reason


async def test_setup_fails_without_the_account(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """A bridge whose account entry is gone cannot get credentials: a clear error, no retries."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="a-bridge",
        data={
            CONF_KIND: KIND_BRIDGE,
            CONF_HOST: "127.0.0.1",
            CONF_PORT: 1,
            CONF_PAIRING_TOKEN: TOKEN,
            CONF_BRIDGE_ID: "a-bridge",
            CONF_ACCOUNT: "gone",
        },
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR


@pytest.mark.usefixtures("lights")
async def test_the_bridge_needs_no_key_ephemeral_tokens(
    hass: HomeAssistant,
    developer_entry: ConfigEntry,
    bridge: RunningBridge,
    satellite: TalkingSatellite,
    emulator: Emulator,
) -> None:
    """No Gemini key on the bridge: each Live session opens with a single-use token Home Assistant minted."""
    emulator.scenario = Scenario(turns=(Turn(user="hello there", steps=(Say("Hello!"),)),))
    assert bridge.settings.api_key is None and bridge.settings.gemini_base_url is None
    assert isinstance(bridge.bridge.credentials, LinkedCredentials)
    entry = await add_bridge_entry(hass, bridge.port)
    assert runtime_of(entry).welcome.own_credentials is False
    await link_satellite(bridge, satellite)
    satellite.say(wake_then_command("hello there"))
    turn = await bridge.turns.next()
    assert turn.reply_text.strip() == "Hello!"
    live = [connection for connection in emulator.connections if connection.setup is not None]
    assert live, "Live sessions were opened"
    assert {(c.auth_kind, c.api_version, c.backend) for c in live} == {("ephemeral", "v1alpha", "mldev")}
    assert all(c.setup["model"] == "models/gemini-3.8-live" for c in live)
    tokens = emulator.credentials.ephemeral_tokens.values()
    assert tokens and all(token.uses == 1 for token in tokens)
    assert runtime_of(entry).credentials.kind == "ephemeral"


async def test_vertex_account_hands_out_access_tokens(
    hass: HomeAssistant,
    vertex_entry: ConfigEntry,
    bridge: RunningBridge,
    satellite: TalkingSatellite,
    emulator: Emulator,
) -> None:
    """With a Vertex AI account, the bridge gets Home Assistant's current OAuth2 access token."""
    emulator.scenario = Scenario(turns=(Turn(user="hello there", steps=(Say("Hello from Vertex."),)),))
    entry = await add_bridge_entry(hass, bridge.port)
    await link_satellite(bridge, satellite)
    satellite.say(wake_then_command("hello there"))
    turn = await bridge.turns.next()
    assert turn.reply_text.strip() == "Hello from Vertex."
    live = [connection for connection in emulator.connections if connection.setup is not None]
    assert live and {(c.auth_kind, c.backend) for c in live} == {("oauth", "vertex")}
    assert runtime_of(entry).credentials.kind == "vertex"
    assert emulator.credentials.ephemeral_tokens == {}


@pytest.mark.usefixtures("developer_entry", "slow_chime")
async def test_tools_and_settings_follow_home_assistant(
    hass: HomeAssistant, bridge: RunningBridge, satellite: TalkingSatellite
) -> None:
    """Exposing a script or changing the options configures the satellite again (a newer revision)."""
    async_expose_entity(hass, conversation.DOMAIN, "script.slow_chime", False)
    entry = await add_bridge_entry(hass, bridge.port)
    first = await link_satellite(bridge, satellite)
    assert "script__slow_chime" not in {tool["name"] for tool in first["tools"]}

    async_expose_entity(hass, conversation.DOMAIN, "script.slow_chime", True)
    exposed = await bridge.probe.wait_for(
        "configure", lambda message: "script__slow_chime" in {tool["name"] for tool in message["tools"]}
    )
    assert exposed["revision"] > first["revision"]

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    options = {**entry.options, CONF_VOICE: "Charon", CONF_LLM_HASS_API: []}
    result = await hass.config_entries.options.async_configure(result["flow_id"], options)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    changed = await bridge.probe.wait_for("configure", lambda message: message["options"]["voice"] == "Charon")
    assert changed["revision"] > exposed["revision"]
    assert changed["tools"] == []
    assert bridge.home.configs[satellite.uri].options["voice"] == "Charon"
