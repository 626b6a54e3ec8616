"""Fixtures for the link tests: Home Assistant with a Gemini account on the emulator, and the real bridge.

The account's fixtures are the Home Assistant tests' own (tests/gemini_live/conftest.py); the bridge runs
in-process with no Gemini key, so every Live session it opens uses credentials Home Assistant handed out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from gemini_live_emulator import Emulator
from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

from tests.gemini_live.conftest import (  # noqa: F401 - fixtures shared with the integration's tests
    _custom_integrations,
    core,
    developer_entry,
    emulator_config,
    lights,
    vertex_entry,
)

from .helpers import FRONT_DOOR_LOCK, RunningBridge, link_settings, start_bridge
from .satellite import TalkingSatellite


@pytest.fixture(autouse=True)
async def _peers_share_the_loop(hass: HomeAssistant) -> None:
    """The emulator and the bridge serve inside Home Assistant's event loop here, which they never do for real.

    When a test ends while the bridge is still opening a Live connection (a warm session being renewed),
    closing it resets the emulator's half-accepted TLS connection, and asyncio reports that to the loop's
    exception handler, which Home Assistant's test fixture turns into a failure. Only that report is
    dropped; every other error still fails the test.
    """
    loop = asyncio.get_running_loop()
    home_assistants = loop.get_exception_handler()
    assert home_assistants is not None

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == "Error on transport creation for incoming connection" and isinstance(
            context.get("exception"), ConnectionResetError
        ):
            return
        home_assistants(loop, context)

    loop.set_exception_handler(handle)


@pytest.fixture
async def bridge(tmp_path: Path, emulator: Emulator) -> AsyncIterator[RunningBridge]:
    """The real bridge, serving the link on a free loopback port; no satellites yet."""
    running = await start_bridge(link_settings(tmp_path / "bridge"))
    try:
        yield running
    finally:
        await running.bridge.stop()


@pytest.fixture
async def satellite() -> AsyncIterator[TalkingSatellite]:
    """An always-streaming satellite (the bridge detects the wake word) that speaks when the test says so."""
    async with TalkingSatellite() as talking:
        yield talking


@pytest.fixture
async def front_door(hass: HomeAssistant) -> str:
    """An exposed lock (locked), whose state follows an input_boolean."""
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"front_door_locked": {"name": "Front door locked", "initial": True}}}
    )
    assert await async_setup_component(hass, "template", {"template": [{"lock": [FRONT_DOOR_LOCK]}]})
    await hass.async_block_till_done()
    async_expose_entity(hass, conversation.DOMAIN, "lock.front_door", True)
    assert hass.states.get("lock.front_door").state == "locked"
    return "lock.front_door"


@pytest.fixture
async def not_a_bridge() -> AsyncIterator[int]:
    """A web server that does not serve the link; its port."""
    runner = web.AppRunner(web.Application())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()
