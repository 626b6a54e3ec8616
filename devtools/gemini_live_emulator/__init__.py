"""A local, wire-faithful Gemini Live (and REST) emulator: TLS, real close codes, real speech.

Start it in-process with ``async with Emulator(config, scenario) as emulator`` or as a program with
``python -m gemini_live_emulator`` (see docs/emulator.md).
"""

from .config import EmulatorConfig, Faults
from .scenario import Call, Fault, Pause, Refuse, Say, Scenario, Turn
from .server import Emulator, ReadyInfo

__all__ = [
    "Call",
    "Emulator",
    "EmulatorConfig",
    "Fault",
    "Faults",
    "Pause",
    "ReadyInfo",
    "Refuse",
    "Say",
    "Scenario",
    "Turn",
]
