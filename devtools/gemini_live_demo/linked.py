"""The linked demo: a spoken request at a satellite changes a light in Home Assistant, through the bridge.

Five real parts over real sockets: Home Assistant (the test harness's instance, in this process, with the
`gemini_live` integration set up through its own config flow: a Gemini account, then the bridge, paired with
its token), the bridge with no Gemini key of its own (Home Assistant hands it ephemeral tokens over the link,
and its tools), the Gemini Live emulator (or Gemini itself with ``GEMINI_API_KEY``), and a simulated satellite
saying "okay nabu, turn on the kitchen light". The demo prints the light's state before and after.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from google.genai.errors import ExperimentalWarning
from homeassistant import loader
from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_API_KEY, CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import async_test_home_assistant

from wyoming_bridge.app import Bridge
from wyoming_bridge.satellites.turn import TurnLog
from wyoming_bridge.settings import default_settings

from .simulated_satellite import SimulatedSatellite

LINKED_SCENARIO = Path(__file__).parent / "demo_data" / "linked.yaml"
LIGHT = "light.kitchen_light"
PAIRING_TOKEN = "demo-pairing-token"


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def set_up_home(hass: HomeAssistant) -> None:
    """The core a voice assistant needs, and a kitchen light exposed to Assist."""
    hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)  # let Home Assistant load custom_components/gemini_live
    # Its HTTP server on a free loopback port: a Home Assistant already running here has 8123.
    http = {"server_host": ["127.0.0.1"], "server_port": free_port()}
    assert await async_setup_component(hass, "http", {"http": http})
    for component in ("homeassistant", "conversation", "intent"):
        assert await async_setup_component(hass, component, {})
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"kitchen_power": {"name": "Kitchen power"}}}
    )
    light = {
        "name": "Kitchen light",
        "unique_id": "kitchen_power",
        "state": "{{ is_state('input_boolean.kitchen_power', 'on') }}",
        "turn_on": {"action": "input_boolean.turn_on", "target": {"entity_id": "input_boolean.kitchen_power"}},
        "turn_off": {"action": "input_boolean.turn_off", "target": {"entity_id": "input_boolean.kitchen_power"}},
    }
    assert await async_setup_component(hass, "template", {"template": [{"light": [light]}]})
    await hass.async_block_till_done()
    async_expose_entity(hass, conversation.DOMAIN, LIGHT, True)


async def add_entries(hass: HomeAssistant, info: dict[str, Any] | None, bridge_port: int) -> None:
    """The Gemini account, then the bridge: through the integration's config flow, as a user fills it in."""
    flow = hass.config_entries.flow
    result = await flow.async_init("gemini_live", context={"source": SOURCE_USER})
    result = await flow.async_configure(result["flow_id"], {"next_step_id": "developer"})
    account: dict[str, Any] = {CONF_API_KEY: info["api_key"] if info else os.environ["GEMINI_API_KEY"]}
    if info:
        account["endpoint"] = {"base_url": info["base_url"], "ca_file": info["ca_file"]}
    result = await flow.async_configure(result["flow_id"], account)
    assert result["type"] == "create_entry", result
    result = await flow.async_init("gemini_live", context={"source": SOURCE_USER})
    result = await flow.async_configure(result["flow_id"], {"next_step_id": "bridge"})
    result = await flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: bridge_port, "pairing_token": PAIRING_TOKEN}
    )
    assert result["type"] == "create_entry", result
    await hass.async_block_till_done()
    assert all(entry.state is ConfigEntryState.LOADED for entry in hass.config_entries.async_entries("gemini_live"))


async def run_linked(info: dict[str, Any] | None, mic: bytes) -> int:
    """The linked path; returns the exit code."""
    turns: asyncio.Queue[TurnLog] = asyncio.Queue()
    # The bridge's lines tell the story; Home Assistant's own set-up lines would drown them. (Home Assistant's
    # ffmpeg component probes for the ffmpeg program, which a machine without it reports with a traceback.)
    for noisy in ("homeassistant", "custom_components", "pytest_homeassistant_custom_component"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("haffmpeg").setLevel(logging.CRITICAL)
    # The camera component (loaded with AI tasks) warns with a traceback when the system's libturbojpeg is
    # missing; snapshots are not part of the demo.
    logging.getLogger("homeassistant.components.camera.img_util").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", category=ExperimentalWarning)  # google-genai: ephemeral tokens are "experimental"

    async def on_turn_end(log: TurnLog) -> None:
        await turns.put(log)

    with tempfile.TemporaryDirectory(prefix="gemini-live-demo-") as work:
        async with async_test_home_assistant(config_dir=str(Path(work) / "config")) as hass:
            await set_up_home(hass)
            async with SimulatedSatellite(mic, mode="always", speed=1.0, name="Kitchen satellite") as satellite:
                settings = default_settings(
                    (satellite.uri,),
                    None,  # no Gemini key: Home Assistant provides the credentials over the link
                    uri="tcp://127.0.0.1:0",
                    data_dir=Path(work) / "bridge",
                    pairing_token=PAIRING_TOKEN,
                    voice="Kore",
                    follow_up_s=0.0,
                    log_format="%(message)s",
                )
                bridge = Bridge(settings, on_turn_end=on_turn_end)
                await bridge.start()
                try:
                    assert bridge.link_server is not None
                    print(f"\n[home] the kitchen light is {hass.states.get(LIGHT).state}")  # type: ignore[union-attr]
                    started = time.monotonic()
                    await add_entries(hass, info, bridge.link_server.port)
                    print(f"[home] linked the bridge in {time.monotonic() - started:.1f} s; the satellite speaks")
                    turn = await asyncio.wait_for(turns.get(), timeout=120)
                    await hass.async_block_till_done()
                    state = hass.states.get(LIGHT).state  # type: ignore[union-attr]
                    print(f"[turn] user: {turn.user_text.strip()!r}; tools: {', '.join(turn.tool_calls) or 'none'}")
                    print(f"[turn] reply: {turn.reply_text.strip()!r}")
                    print(f"[home] the kitchen light is {state}")
                finally:
                    for entry in hass.config_entries.async_entries("gemini_live"):
                        await hass.config_entries.async_unload(entry.entry_id)
                    await bridge.stop()
    return 0 if state == "on" and turn.error is None else 1
