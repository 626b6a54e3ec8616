"""The ``gemini-live-bridge`` command line: options, environment fallbacks, and a real run as a process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys

import pytest
from gemini_live_demo.simulated_satellite import SimulatedSatellite
from gemini_live_emulator import Emulator, Scenario

from wyoming_bridge.settings import settings_from_args

from .satellite_helpers import bridge_process, wake_then_command

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
    monkeypatch.setenv("GEMINI_BRIDGE_END_OF_SPEECH_MS", "0")
    settings = settings_from_args(["--voice", "Charon"])
    assert settings.api_key == "AIza-env"
    assert settings.satellites == ("tcp://10.0.0.5:10700", "tcp://10.0.0.6:10700")
    assert settings.gemini_base_url == "https://127.0.0.1:9443"
    assert settings.wake_words == ("hey_jarvis", "alexa")
    assert settings.follow_up_s == 7.5
    assert settings.voice == "Charon"
    assert settings.end_of_speech_ms == 0, "0 leaves the end of speech to the service"
    overridden = settings_from_args(
        ["--satellite", "tcp://127.0.0.1:1", "--api-key", "AIza-cli", "--end-of-speech-ms", "450"]
    )
    assert overridden.end_of_speech_ms == 450
    assert overridden.satellites == ("tcp://127.0.0.1:1",)
    assert overridden.api_key == "AIza-cli"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--api-key", "k"], "nothing to do"),
        (["--satellite", "tcp://127.0.0.1:1"], "credentials are missing"),
        (["--satellite", "127.0.0.1:1", "--api-key", "k"], "tcp://HOST:PORT"),
        (["--satellite", "tcp://127.0.0.1:1", "--api-key", "k", "--end-of-speech-ms", "-5"], "cannot be negative"),
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


async def test_a_secret_on_the_command_line_is_warned_about(emulator: Emulator) -> None:
    """``--api-key`` on the command line works, with a warning that every local user can read it."""
    process = await bridge_process(emulator, "--satellite", "tcp://127.0.0.1:9", "--api-key", emulator.api_key)
    assert process.stderr is not None
    try:
        async with asyncio.timeout(60):
            line = ""
            while "--api-key was given on the command line" not in line:
                line = (await process.stderr.readline()).decode()
                assert line, "the bridge exited"
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()
    assert emulator.api_key not in line


async def test_console_script_serves_a_satellite_and_stops_cleanly(emulator: Emulator) -> None:
    """``python -m wyoming_bridge`` as a process: a full turn, no secret in its log, SIGTERM → exit 0."""
    emulator.scenario = Scenario.from_data({"turns": [{"user": "What time is it?", "model": [{"say": "Noon."}]}]})
    async with SimulatedSatellite(wake_then_command("What time is it?"), mode="always", speed=4.0) as satellite:
        process = await bridge_process(emulator, "--satellite", satellite.uri)
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


async def test_console_script_serves_the_web_console(emulator: Emulator) -> None:
    """``--web`` as a process: the page with its CSP, a password-checked WebSocket, a turn; no secret logged."""
    import json
    import re

    import aiohttp

    emulator.scenario = Scenario.from_data({"turns": [{"user": "Hi", "model": [{"say": "Hello from the console."}]}]})
    process = await bridge_process(emulator, "--web", "127.0.0.1:0", "--web-password", "s3cret-console")
    assert process.stderr is not None
    log_lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not (found := re.search(r"Web voice console at (http://\S+/)", log_lines[-1] if log_lines else "")):
                log_lines.append((await process.stderr.readline()).decode())
        url = found.group(1)
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as page:
                assert page.status == 200
                assert "script-src 'self'" in page.headers["Content-Security-Policy"]
                assert 'id="talk"' in await page.text()
            async with http.ws_connect(url + "ws") as ws:
                await ws.send_json({"type": "hello", "password": "s3cret-console"})
                assert (await ws.receive_json(timeout=30))["type"] == "ready"
                await ws.send_json({"type": "text", "text": "Hi"})
                said = ""
                while True:
                    message = await ws.receive(timeout=60)
                    if message.type == aiohttp.WSMsgType.TEXT:
                        data = json.loads(message.data)
                        if data["type"] == "transcript" and data["role"] == "model":
                            said += data["text"]
                        if data["type"] == "turn_complete":
                            break
        assert said.strip() == "Hello from the console."
    finally:
        process.send_signal(signal.SIGTERM)
        log = "".join(log_lines) + (await asyncio.wait_for(process.stderr.read(), timeout=30)).decode()
        code = await process.wait()
    assert code == 0, log[-2000:]
    assert "[console-1 turn 1] turn complete" in log
    assert "s3cret-console" not in log
    assert emulator.api_key not in log


async def test_console_script_runs_the_console_on_the_emulator(unused_tcp_port: int) -> None:
    """``scripts/console.sh PORT`` with no key: the emulator and the console come up; Ctrl-C stops it."""
    import re
    from pathlib import Path

    import aiohttp

    root = Path(__file__).parents[2]
    env = {key: value for key, value in os.environ.items() if key != "GEMINI_API_KEY"}
    process = await asyncio.create_subprocess_exec(
        str(root / "scripts" / "console.sh"),
        str(unused_tcp_port),
        cwd=root,
        env=env,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group, as a terminal's Ctrl-C reaches it
    )
    assert process.stderr is not None
    log = ""
    try:
        async with asyncio.timeout(120):
            while "Web voice console at" not in log:
                line = (await process.stderr.readline()).decode()
                assert line, f"the script ended early: {log[-2000:]}"
                log += line
        assert re.search(r"bundled Gemini Live emulator at https://127\.0\.0\.1:\d+", log)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{unused_tcp_port}/") as page:
                assert page.status == 200
                assert 'id="talk"' in await page.text()
    finally:
        os.killpg(process.pid, signal.SIGINT)
        log += (await asyncio.wait_for(process.stderr.read(), timeout=30)).decode()
        await asyncio.wait_for(process.wait(), timeout=30)
        with contextlib.suppress(ProcessLookupError):  # nothing of it may outlive the test, whatever happened
            os.killpg(process.pid, signal.SIGKILL)
    assert "Traceback" not in log, "Ctrl-C stops the console and the emulator cleanly"
