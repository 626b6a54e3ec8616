"""The bridge's wheel as users get it: the engine and the bridge only, and conversations on Debian's own Python.

The wheel (``conftest.py``: built from this tree, installed into a venv of ``/usr/bin/python3``) is checked
file by file. Its console script, which imports nothing from this tree, then serves a simulated satellite
(from the development environment) against the emulator (in this process, over TLS on loopback), as
``tests/bridge/test_cli.py`` does with the development environment's bridge.
"""

from __future__ import annotations

import asyncio
import email.parser
import json
import re
import signal
import zipfile
from pathlib import Path

import numpy as np
from gemini_live_demo.simulated_satellite import SimulatedSatellite
from gemini_live_emulator import Emulator

from tests.audio import silence, speech_pcm
from tests.bridge.satellite_helpers import wake_then_command
from tests.scenarios import TIME_SCENARIO

from .wheel_helpers import LOWEST_PYTHON, PACKAGES, PROJECT, ROOT, VERSION, clean_env, run

DIST_INFO = f"gemini_live_bridge-{VERSION}.dist-info"
# Development tools' requirements: none of them may reach a user's machine as a requirement of the bridge.
NOT_REQUIRED = ("espeakng-loader", "pyyaml", "cryptography", "trustme", "gemini-live-devtools", "homeassistant")
TURN_TIMEOUT_S = 60.0  # a safety net for a broken bridge, never a synchronisation
TIME_REPLY = r"It is \d\d:\d\d on (Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\."  # tests.scenarios.TIME_SCENARIO


def requirement_name(requirement: str) -> str:
    """The normalised project name of a requirement string (PEP 503)."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def test_wheel_ships_the_engine_and_the_bridge_and_nothing_else(bridge_wheel: Path) -> None:
    """Every file of the two packages (the web console's static files too), dist-info, and nothing else."""
    with zipfile.ZipFile(bridge_wheel) as wheel:
        names = set(wheel.namelist())
        metadata = email.parser.Parser().parsestr(wheel.read(f"{DIST_INFO}/METADATA").decode())
        entry_points = wheel.read(f"{DIST_INFO}/entry_points.txt").decode()

    sources = {
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert {name for name in names if not name.startswith(f"{DIST_INFO}/")} == sources
    assert {name.split("/")[0] for name in names} == {*PACKAGES, DIST_INFO}
    for static in ("index.html", "console.js", "console.css", "capture-worklet.js", "player-worklet.js"):
        assert f"wyoming_bridge/web/static/{static}" in names
    assert not [name for name in names if name.endswith(".wav")], "no demo or test audio"
    for development_tool in ("gemini_live_emulator", "gemini_live_demo", "simulated_satellite", "scenarios"):
        assert not [name for name in names if development_tool in name], development_tool

    assert metadata["Name"] == "gemini-live-bridge"
    assert metadata["Version"] == VERSION
    assert metadata["Requires-Python"] == ">=3.11"
    required = {requirement_name(requirement) for requirement in metadata.get_all("Requires-Dist") or []}
    assert required == {requirement_name(requirement) for requirement in PROJECT["dependencies"]}
    assert not required & set(NOT_REQUIRED)
    assert "gemini-live-bridge = wyoming_bridge.__main__:run" in entry_points
    assert "gemini-live-emulator" not in entry_points


async def check_installation(venv: Path, cwd: Path) -> Path:
    """The venv runs Debian's Python and imports the packages from the wheel; ``--version``; its console script."""
    python, bridge = venv / "bin" / "python", venv / "bin" / "gemini-live-bridge"
    probe = (
        "import importlib.util, json, sys; print(json.dumps({'version': sys.version_info[:2], "
        "'base': sys.base_prefix, 'packages': [importlib.util.find_spec(p).origin for p in sys.argv[1:]]}))"
    )
    found = json.loads((await asyncio.to_thread(run, python, "-c", probe, *PACKAGES, cwd=cwd)).stdout)
    assert tuple(found["version"]) >= LOWEST_PYTHON
    assert found["base"] == "/usr", "Debian's own Python, not a uv-managed or pyenv one"
    for origin in found["packages"]:
        assert Path(origin).is_relative_to(venv), f"{origin}: imported from the wheel, not from this tree"
    assert (await asyncio.to_thread(run, bridge, "--version", cwd=cwd)).stdout.strip() == VERSION
    return bridge


async def converse(bridge: Path, emulator: Emulator, satellite: SimulatedSatellite, *options: str, cwd: Path) -> str:
    """Run the installed bridge for ``satellite`` until the conversation is over, then SIGTERM it: its log.

    The test fails if the bridge ends by itself, does not finish the conversation, or does not exit 0.
    """
    process = await asyncio.create_subprocess_exec(
        bridge,
        "--satellite",
        satellite.uri,
        "--gemini-base-url",
        emulator.base_url,
        "--gemini-ca-file",
        emulator.ca_file,
        "--api-key",
        emulator.api_key,
        "--debug",
        *options,
        cwd=cwd,
        env=clean_env(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    log_read = asyncio.create_task(process.stderr.read())  # read all along: a full pipe would stall the bridge
    conversation = asyncio.create_task(satellite.transcript_received.wait())
    exited = asyncio.create_task(process.wait())
    try:
        await asyncio.wait({conversation, exited}, timeout=TURN_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
    finally:
        conversation.cancel()
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(30):
                log = (await log_read).decode()
                code = await exited
        except TimeoutError:
            process.kill()
            raise
    assert satellite.transcript_received.is_set(), f"no finished conversation; the bridge's log:\n{log[-4000:]}"
    assert code == 0, log[-4000:]
    assert "Traceback" not in log, log[-4000:]
    assert not re.search(r" (ERROR|CRITICAL) ", log), log[-4000:]
    assert "turn 1] turn over" in log
    assert "Tool call get_current_time" in log
    assert emulator.api_key not in log
    return log


def check_reply(satellite: SimulatedSatellite, minimum_s: float) -> None:
    """The satellite showed the answer (it needed the tool's result) and played it: speech, at its own rate."""
    reply = satellite.record.of_type("synthesize")[-1].data["text"]
    assert re.fullmatch(TIME_REPLY, reply), reply
    assert satellite.record.played_format == (22050, 2, 1)
    played = np.frombuffer(bytes(satellite.record.played), dtype="<i2")
    assert len(played) / 22050 > minimum_s, "the whole spoken reply was played"
    assert np.abs(played.astype(np.int32)).max() > 3000, "speech, not silence"


async def test_wheel_on_debian_python_live_turn_from_the_bridges_wake_word(
    debian_venv: Path, emulator: Emulator, tmp_path: Path
) -> None:
    """Gemini Live through the installed wheel: an always-streaming satellite, the wake word detected by the
    bridge, a spoken question, a tool call, the spoken reply played at the satellite; SIGTERM → exit 0."""
    bridge = await check_installation(debian_venv, tmp_path)
    emulator.scenario = TIME_SCENARIO
    async with SimulatedSatellite(wake_then_command("What time is it?"), mode="always", speed=4.0) as satellite:
        log = await converse(bridge, emulator, satellite, cwd=tmp_path)
    assert "Live setup complete" in log
    assert [event.data["name"] for event in satellite.record.of_type("detection")] == ["okay_nabu"]
    user_turns = [turn for connection in emulator.connections for turn in connection.user_turns]
    assert [turn.transcript for turn in user_turns] == ["What time is it?"]
    assert user_turns[0].audio_seconds > 0.5, "the spoken question reached Gemini Live"
    responses = [response for connection in emulator.connections for response in connection.tool_responses]
    assert responses[0]["functionResponses"][0]["name"] == "get_current_time"
    check_reply(satellite, minimum_s=1.0)


async def test_wheel_on_debian_python_cascaded_turn_from_the_satellites_wake_word(
    debian_venv: Path, emulator: Emulator, tmp_path: Path
) -> None:
    """The cascaded path (local end of speech with pymicro-vad, Gemini text and speech over REST) through the
    installed wheel, for a satellite that detected the wake word itself (run-pipeline from the asr stage)."""
    bridge = await check_installation(debian_venv, tmp_path)
    emulator.scenario = TIME_SCENARIO
    mic = speech_pcm("What time is it?", "en-US") + silence(0.2, 16000)
    async with SimulatedSatellite(mic, mode="local", speed=4.0) as satellite:
        log = await converse(bridge, emulator, satellite, "--pipeline", "cascaded", cwd=tmp_path)
    assert "Live setup complete" not in log
    assert emulator.connections == [], "no Live connection"
    assert satellite.record.of_type("detection") == [], "the bridge does not echo the satellite's own detection"
    assert [event.data["text"] for event in satellite.record.of_type("transcript")] == ["What time is it?"]
    check_reply(satellite, minimum_s=1.0)
