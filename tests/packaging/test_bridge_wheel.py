"""The bridge's wheel as users get it: the engine and the bridge only, and a conversation on Debian's own Python.

The wheel is built from this tree with ``uv build`` and checked file by file. It is then installed into a
virtual environment of Debian's ``/usr/bin/python3`` (3.11 on Debian 12, the lowest Python the wheel
declares), its dependencies resolved from PyPI as ``uv tool install`` or ``pip install`` would resolve them.
That bridge process imports nothing from this tree; it serves a simulated satellite (from the development
environment) against the emulator (in this process, over TLS on loopback), as
``tests/bridge/test_cli.py`` does with the development environment's bridge.

The virtual environment is kept in ``build/bridge-wheel-venv/`` (gitignored) for the next run. It is reused
only for the same wheel (by hash) and the same interpreter, and for at most a day (so that new releases of
the dependencies get tested); otherwise it is rebuilt in place, under a file lock that also keeps it from
being rebuilt while another run uses it. Without it (a fresh machine) the test builds it.
"""

from __future__ import annotations

import asyncio
import email.parser
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gemini_live_demo.simulated_satellite import SimulatedSatellite
from gemini_live_emulator import Emulator

from tests.audio import silence, speech_pcm
from tests.bridge.satellite_helpers import wake_then_command
from tests.scenarios import TIME_SCENARIO

ROOT = Path(__file__).parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
VERSION = PROJECT["version"]
PACKAGES = ("gemini_live_engine", "wyoming_bridge")
DIST_INFO = f"gemini_live_bridge-{VERSION}.dist-info"
# Development tools' requirements: none of them may reach a user's machine as a requirement of the bridge.
NOT_REQUIRED = ("espeakng-loader", "pyyaml", "cryptography", "trustme", "gemini-live-devtools", "homeassistant")

DEBIAN_PYTHON = Path("/usr/bin/python3")
LOWEST_PYTHON = (3, 11)  # the wheel's Requires-Python, and Debian 12's python3
VENV_CACHE = ROOT / "build" / "bridge-wheel-venv"
VENV_MAX_AGE_S = 24 * 3600.0
UV_TIMEOUT_S = 300.0  # a safety net: on a cold uv cache, installing downloads every dependency
TURN_TIMEOUT_S = 60.0  # a safety net for a broken bridge, never a synchronisation
TIME_REPLY = r"It is \d\d:\d\d on (Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\."  # tests.scenarios.TIME_SCENARIO


def clean_env() -> dict[str, str]:
    """This environment without what would aim a Python elsewhere (the development venv, PYTHONPATH) or give
    the bridge options of its own (``GEMINI_*``, ``GOOGLE_APPLICATION_CREDENTIALS``)."""
    dropped = {"VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE"}
    dropped.add("GOOGLE_APPLICATION_CREDENTIALS")
    return {key: value for key, value in os.environ.items() if key not in dropped and not key.startswith("GEMINI_")}


def run(*command: str | Path, cwd: Path = ROOT, timeout: float = UV_TIMEOUT_S) -> str:
    """Run ``command`` and return its stdout; fail the test with everything it printed if it fails."""
    words = [str(word) for word in command]
    try:
        result = subprocess.run(
            words, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{shlex.join(words)}` did not finish within {timeout:g} s")
    if result.returncode != 0:
        pytest.fail(f"`{shlex.join(words)}` exited with {result.returncode}:\n{result.stdout}{result.stderr}")
    return result.stdout


def uv() -> str:
    """The uv that runs the tests (``uv run`` names it in ``UV``), else the one on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        pytest.fail("uv builds and installs the wheel in this test and it is not on PATH: run scripts/bootstrap.sh")
    return found


def debian_python_version() -> tuple[int, ...]:
    """The version of Debian's ``/usr/bin/python3``; a clear failure when it is missing or too old."""
    if not DEBIAN_PYTHON.exists():
        pytest.fail(
            f"{DEBIAN_PYTHON} is missing: this test installs the bridge's wheel into Debian's own Python "
            "(apt-get install python3; Debian 12 ships 3.11)"
        )
    version = tuple(int(part) for part in run(DEBIAN_PYTHON, "-c", "import sys; print(*sys.version_info[:3])").split())
    if version[:2] < LOWEST_PYTHON:
        pytest.fail(
            f"{DEBIAN_PYTHON} is Python {'.'.join(map(str, version))}; the bridge's wheel declares "
            f"Requires-Python >={'.'.join(map(str, LOWEST_PYTHON))} and this test runs it on that interpreter"
        )
    return version


def requirement_name(requirement: str) -> str:
    """The normalised project name of a requirement string (PEP 503)."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


@pytest.fixture(scope="session")
def bridge_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bridge's wheel, built from this tree as it would be published."""
    out = tmp_path_factory.mktemp("bridge-wheel")
    run(uv(), "build", "--wheel", "--package", "gemini-live-bridge", "--out-dir", out)
    wheels = sorted(path.name for path in out.glob("*.whl"))
    assert wheels == [f"gemini_live_bridge-{VERSION}-py3-none-any.whl"]
    return out / wheels[0]


def _venv_is_current(venv: Path, marker: Path, key: dict[str, str]) -> bool:
    try:
        made = json.loads(marker.read_text(encoding="utf-8"))
        age = time.time() - marker.stat().st_mtime
    except OSError, ValueError:
        return False
    return made == key and 0 <= age < VENV_MAX_AGE_S and (venv / "bin" / "gemini-live-bridge").is_file()


@pytest.fixture
def debian_venv(bridge_wheel: Path) -> Iterator[Path]:
    """A virtual environment of Debian's ``/usr/bin/python3`` with the wheel installed (cached, see above)."""
    version = debian_python_version()
    key = {
        "wheel_sha256": hashlib.sha256(bridge_wheel.read_bytes()).hexdigest(),
        "python": str(DEBIAN_PYTHON.resolve()),
        "python_version": ".".join(map(str, version)),
    }
    VENV_CACHE.mkdir(parents=True, exist_ok=True)
    venv, marker = VENV_CACHE / "venv", VENV_CACHE / "installed.json"
    with (VENV_CACHE / "lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)  # held while the test uses the venv: nobody rebuilds it meanwhile
        if not _venv_is_current(venv, marker, key):
            fcntl.flock(lock, fcntl.LOCK_UN)  # let go before waiting for the exclusive lock: no deadlock
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not _venv_is_current(venv, marker, key):
                marker.unlink(missing_ok=True)
                shutil.rmtree(venv, ignore_errors=True)
                run(uv(), "venv", "--quiet", "--no-project", "--python", DEBIAN_PYTHON, venv)
                run(uv(), "pip", "install", "--quiet", "--python", venv / "bin" / "python", bridge_wheel)
                marker.write_text(json.dumps(key), encoding="utf-8")  # last: a half-made venv is never reused
            fcntl.flock(lock, fcntl.LOCK_SH)
        yield venv


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
    found = json.loads(await asyncio.to_thread(run, python, "-c", probe, *PACKAGES, cwd=cwd))
    assert tuple(found["version"]) >= LOWEST_PYTHON
    assert found["base"] == "/usr", "Debian's own Python, not a uv-managed or pyenv one"
    for origin in found["packages"]:
        assert Path(origin).is_relative_to(venv), f"{origin}: imported from the wheel, not from this tree"
    assert (await asyncio.to_thread(run, bridge, "--version", cwd=cwd)).strip() == VERSION
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
