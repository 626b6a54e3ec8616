"""Helpers for end-to-end tests: a bridge aimed at the emulator, driving simulated satellites over real TCP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from gemini_live_emulator import Emulator

from tests.audio import read_wav, silence, speech_pcm
from wyoming_bridge.app import Bridge
from wyoming_bridge.satellites.turn import TurnLog
from wyoming_bridge.settings import BridgeSettings, default_settings

WAKEWORD_DIR = Path(__file__).parents[1] / "data" / "wakeword"
TURN_TIMEOUT_S = 60.0  # a safety net for a broken bridge, never a synchronisation


def bridge_settings(emulator: Emulator, satellites: tuple[str, ...], **overrides: Any) -> BridgeSettings:
    """Settings as the command line would give them, aimed at the emulator."""
    values: dict[str, Any] = {
        "api_key": emulator.api_key,
        "gemini_base_url": emulator.base_url,
        "gemini_ca_file": Path(emulator.ca_file),
        "voice": "Kore",
        "follow_up_s": 0.0,
        "tool_timeout_s": 5.0,
        "log_format": "%(message)s",
    }
    values |= overrides
    return default_settings(satellites, values.pop("api_key"), **values)


def wake_then_command(command: str, language: str = "en-US", wake_file: str = "okay_nabu_2.wav") -> bytes:
    """Microphone audio: a real recording of the wake word, then the spoken command (16 kHz)."""
    wake, rate = read_wav(WAKEWORD_DIR / wake_file)
    assert rate == 16000
    return wake + speech_pcm(command, language) + silence(0.2, 16000)


class TurnWatcher:
    """Collects finished turns from the bridge's callback."""

    def __init__(self) -> None:
        self.turns: asyncio.Queue[TurnLog] = asyncio.Queue()

    async def __call__(self, log: TurnLog) -> None:
        await self.turns.put(log)

    async def next(self) -> TurnLog:
        """The next finished turn."""
        return await asyncio.wait_for(self.turns.get(), timeout=TURN_TIMEOUT_S)


@asynccontextmanager
async def running_bridge(settings: BridgeSettings, **kwargs: Any) -> AsyncIterator[tuple[Bridge, TurnWatcher]]:
    """A started bridge and a watcher of its turns; stopped afterwards."""
    watcher = TurnWatcher()
    bridge = Bridge(settings, on_turn_end=watcher, **kwargs)
    await bridge.start()
    try:
        yield bridge, watcher
    finally:
        await bridge.stop()
