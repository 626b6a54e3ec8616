"""Fixtures for the link tests: Home Assistant with a Gemini account on the emulator, and the real bridge.

The account's fixtures are the Home Assistant tests' own (tests/gemini_live/conftest.py); the bridge runs
in-process with no Gemini key, so every Live session it opens uses credentials Home Assistant handed out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from gemini_live_emulator import Emulator

from tests.gemini_live.conftest import (  # noqa: F401 - fixtures shared with the integration's tests
    _custom_integrations,
    core,
    developer_entry,
    emulator_config,
    lights,
    vertex_entry,
)

from .helpers import RunningBridge, link_settings, start_bridge
from .satellite import TalkingSatellite


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
