"""The emulator as a program (``gemini-live-emulator``, ``python -m gemini_live_emulator``).

The JSON line contract, a clean stop, and ``--state-dir`` keeping what clients were configured with.
"""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from google import genai
from google.genai import types

CONSOLE_SCRIPT = Path(sys.executable).parent / "gemini-live-emulator"
COMMANDS = {
    "console script": [str(CONSOLE_SCRIPT)],
    "python -m": [sys.executable, "-m", "gemini_live_emulator"],
}
STATE_FILES = ["api-key", "ca-key.pem", "ca.pem", "server-key.pem", "server.pem", "service-account.json"]
SECRET_FILES = ["api-key", "ca-key.pem", "server-key.pem", "service-account.json"]


@asynccontextmanager
async def emulator_process(command: str, *args: str, log: Path) -> AsyncIterator[dict[str, Any]]:
    """Start the emulator, yield its ready line; then SIGTERM, which must end it with exit code 0."""
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *COMMANDS[command], *args, stdout=asyncio.subprocess.PIPE, stderr=stderr
        )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        assert line, f"no ready line; stderr:\n{await asyncio.to_thread(log.read_text)}"
        yield json.loads(line)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=30)
    assert code == 0, await asyncio.to_thread(log.read_text)


def read_files(*paths: str | Path) -> list[bytes]:
    """The contents of files."""
    return [Path(path).read_bytes() for path in paths]


def state_files(state: Path) -> dict[str, int]:
    """The files of a state directory and their permission bits."""
    return {path.name: path.stat().st_mode & 0o777 for path in sorted(state.iterdir())}


def developer_client(info: dict[str, Any], context: ssl.SSLContext) -> genai.Client:
    """The real SDK aimed at the emulator described by a ready line, trusting ``context``."""
    return genai.Client(
        api_key=info["api_key"],
        http_options=types.HttpOptions(
            base_url=info["base_url"], async_client_args={"ssl": context}, client_args={"verify": context}
        ),
    )


async def spoken_reply(client: genai.Client) -> bytes:
    """One typed turn over a Live session; the reply's audio."""
    audio = bytearray()
    async with client.aio.live.connect(model="gemini-3.8-live", config=types.LiveConnectConfig()) as session:
        await session.send_realtime_input(text="Hello")
        async for message in session.receive():
            audio.extend(message.data or b"")
    return bytes(audio)


@pytest.mark.parametrize("command", COMMANDS)
async def test_prints_ready_line_serves_and_stops_on_sigterm(command: str, tmp_path: Path) -> None:
    """One JSON line with base_url, ca_file and api_key; a real SDK call works; SIGTERM exits 0."""
    state = tmp_path / "state"
    async with emulator_process(command, "--state-dir", str(state), log=tmp_path / "emulator.log") as info:
        assert {"base_url", "ca_file", "api_key", "service_account_file"} <= info.keys()
        assert info["base_url"].startswith("https://127.0.0.1:")
        files = await asyncio.to_thread(state_files, state)
        assert list(files) == STATE_FILES
        assert all(files[name] == 0o600 for name in SECRET_FILES)
        assert Path(info["ca_file"]) == state / "ca.pem"
        assert Path(info["service_account_file"]) == state / "service-account.json"
        [api_key] = await asyncio.to_thread(read_files, state / "api-key")
        assert api_key.decode().strip() == info["api_key"]
        context = ssl.create_default_context(cafile=info["ca_file"])
        assert len(await spoken_reply(developer_client(info, context))) > 0


async def test_a_restart_with_the_same_state_dir_keeps_ca_and_keys(tmp_path: Path) -> None:
    """Same CA, API key and service account after a restart: a client set up for the first run still works."""
    state = tmp_path / "state"
    async with emulator_process("console script", "--state-dir", str(state), log=tmp_path / "first.log") as first:
        kept = await asyncio.to_thread(read_files, first["ca_file"], first["service_account_file"])
        ca_pem = kept[0]
        # What a configured client holds: the first run's CA (loaded now), key and address.
        context = ssl.create_default_context(cadata=ca_pem.decode())
        client = developer_client(first, context)
        assert len(await spoken_reply(client)) > 0
    port = str(first["port"])
    restart = ("--state-dir", str(state), "--port", port)
    async with emulator_process("python -m", *restart, log=tmp_path / "second.log") as second:
        assert second == first
        assert await asyncio.to_thread(read_files, second["ca_file"], second["service_account_file"]) == kept
        assert len(await spoken_reply(client)) > 0


async def test_bad_scenario_file_is_named(tmp_path: Path) -> None:
    """A scenario that cannot be read: exit 2 and a message naming the problem, not a traceback."""
    scenario = tmp_path / "broken.yaml"
    scenario.write_text("turns:\n  - user: hi\n    model:\n      - dance: now\n")
    process = await asyncio.create_subprocess_exec(
        str(CONSOLE_SCRIPT),
        "--scenario",
        str(scenario),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert b"unknown step" in err and b"Traceback" not in err
