"""``python -m gemini_live_emulator`` as a program: the JSON line contract and a clean stop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import sys
from pathlib import Path

from google import genai
from google.genai import types


async def test_prints_ready_line_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    """One JSON line with base_url, ca_file and api_key; a real SDK call works; SIGTERM exits 0."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gemini_live_emulator",
        "--state-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        info = json.loads(line)
        assert {"base_url", "ca_file", "api_key", "service_account_file"} <= info.keys()
        assert info["base_url"].startswith("https://127.0.0.1:")
        written = sorted(os.listdir(tmp_path))
        assert written == ["ca.pem", "server-key.pem", "server.pem", "service-account.json"]
        assert Path(info["ca_file"]).name == "ca.pem" and Path(info["service_account_file"]).parent == tmp_path
        context = ssl.create_default_context(cafile=info["ca_file"])
        client = genai.Client(
            api_key=info["api_key"],
            http_options=types.HttpOptions(base_url=info["base_url"], async_client_args={"ssl": context}),
        )
        async with client.aio.live.connect(model="gemini-3.8-live", config=types.LiveConnectConfig()) as session:
            await session.send_realtime_input(text="Hello")
            audio = bytearray()
            async for message in session.receive():
                audio.extend(message.data or b"")
        assert len(audio) > 0
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=30)
    assert code == 0


async def test_bad_scenario_file_is_named(tmp_path: Path) -> None:
    """A scenario that cannot be read: exit 2 and a message naming the problem, not a traceback."""
    scenario = tmp_path / "broken.yaml"
    scenario.write_text("turns:\n  - user: hi\n    model:\n      - dance: now\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gemini_live_emulator",
        "--scenario",
        str(scenario),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert b"unknown step" in err and b"Traceback" not in err
