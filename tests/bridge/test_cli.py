"""The ``gemini-live-bridge`` command line: options, environment fallbacks, and a real run as a process."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import pytest

from wyoming_bridge.emulator import Emulator, Scenario
from wyoming_bridge.settings import settings_from_args
from wyoming_bridge.simulated_satellite import SimulatedSatellite

from .satellite_helpers import wake_then_command

CONTRACT_OPTIONS = (
    "--satellite",
    "--discover",
    "--uri",
    "--zeroconf",
    "--debug",
    "--log-format",
    "--version",
    "--gemini-base-url",
    "--gemini-ca-file",
    "--api-key",
    "--vertex-project",
    "--service-account-file",
    "--wake-word",
    "--wake-phrase",
    "--barge-in",
)


def test_help_documents_every_option_and_its_environment_variable() -> None:
    """``--help`` names each contract option and the environment variable it falls back to."""
    result = subprocess.run(
        [sys.executable, "-m", "wyoming_bridge", "--help"], capture_output=True, text=True, check=True, timeout=60
    )
    text = " ".join(result.stdout.split())
    for option in CONTRACT_OPTIONS:
        assert option in text, option
    for variable in (
        "GEMINI_API_KEY",
        "GEMINI_BRIDGE_SATELLITES",
        "GEMINI_BRIDGE_GEMINI_BASE_URL",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ):
        assert variable in text, variable


def test_version() -> None:
    """``--version`` prints the package version."""
    result = subprocess.run(
        [sys.executable, "-m", "wyoming_bridge", "--version"], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip().count(".") == 2


def test_environment_fallbacks_and_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    """Environment variables fill what the command line leaves out; the command line wins."""
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-env")
    monkeypatch.setenv("GEMINI_BRIDGE_SATELLITES", "tcp://10.0.0.5:10700, tcp://10.0.0.6:10700")
    monkeypatch.setenv("GEMINI_BRIDGE_GEMINI_BASE_URL", "https://127.0.0.1:9443")
    monkeypatch.setenv("GEMINI_BRIDGE_WAKE_WORDS", "hey_jarvis,alexa")
    monkeypatch.setenv("GEMINI_BRIDGE_FOLLOW_UP_SECONDS", "7.5")
    settings = settings_from_args(["--voice", "Charon"])
    assert settings.api_key == "AIza-env"
    assert settings.satellites == ("tcp://10.0.0.5:10700", "tcp://10.0.0.6:10700")
    assert settings.gemini_base_url == "https://127.0.0.1:9443"
    assert settings.wake_words == ("hey_jarvis", "alexa")
    assert settings.follow_up_s == 7.5
    assert settings.voice == "Charon"
    overridden = settings_from_args(["--satellite", "tcp://127.0.0.1:1", "--api-key", "AIza-cli"])
    assert overridden.satellites == ("tcp://127.0.0.1:1",)
    assert overridden.api_key == "AIza-cli"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--api-key", "k"], "nothing to do"),
        (["--satellite", "tcp://127.0.0.1:1"], "credentials are missing"),
        (["--satellite", "127.0.0.1:1", "--api-key", "k"], "tcp://HOST:PORT"),
    ],
)
def test_bad_options_are_named(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad or missing options: exit 2 with a message naming the problem."""
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    with pytest.raises(SystemExit) as raised:
        settings_from_args(argv)
    assert raised.value.code == 2
    assert message in capsys.readouterr().err


async def test_console_script_serves_a_satellite_and_stops_cleanly(emulator: Emulator) -> None:
    """``python -m wyoming_bridge`` as a process: a full turn, no secret in its log, SIGTERM → exit 0."""
    emulator.scenario = Scenario.from_data({"turns": [{"user": "What time is it?", "model": [{"say": "Noon."}]}]})
    async with SimulatedSatellite(wake_then_command("What time is it?"), mode="always", speed=4.0) as satellite:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wyoming_bridge",
            "--satellite",
            satellite.uri,
            "--gemini-base-url",
            emulator.base_url,
            "--gemini-ca-file",
            emulator.ca_file,
            "--api-key",
            emulator.api_key,
            "--debug",
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await asyncio.wait_for(satellite.transcript_received.wait(), timeout=60)
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.stderr is not None
            log = (await asyncio.wait_for(process.stderr.read(), timeout=30)).decode()
            code = await process.wait()
    assert code == 0, log[-2000:]
    assert "turn 1] turn over" in log
    assert emulator.api_key not in log
    assert satellite.record.of_type("synthesize")[0].data["text"] == "Noon."
