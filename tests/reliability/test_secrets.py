"""No secret in the bridge's log, even with ``--debug``: the API key, the pairing token, the ephemeral tokens Home
Assistant hands over the link, and what reaches a satellite. The bridge runs as a process, as users run it."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

import pytest
from gemini_live_demo.simulated_satellite import SimulatedSatellite
from gemini_live_emulator import Call, Emulator, Say, Scenario, Turn

from tests.bridge.link_helpers import LIGHT_TOOL, FakeHome
from tests.bridge.satellite_helpers import bridge_process, wake_then_command

TOKEN = "pairing-token-that-must-never-be-logged"


def free_port() -> int:
    """A loopback port to serve the link on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.filterwarnings("ignore::google.genai.errors.ExperimentalWarning")
async def test_no_secret_in_a_linked_bridges_debug_log(emulator: Emulator, tmp_path: Path) -> None:
    """A linked bridge with no key of its own, paired by environment variable, runs a turn on Home Assistant's
    tokens and tool: its whole debug log holds none of the secrets that passed through it."""
    emulator.scenario = Scenario(
        turns=(
            Turn(user="Turn on the kitchen light", steps=(Call("HassTurnOn", {"name": "Kitchen light"}), Say("Done."))),
        )
    )
    link_port, satellite_port = free_port(), free_port()
    satellite_uri = f"tcp://127.0.0.1:{satellite_port}"
    process = await bridge_process(
        emulator,
        "--satellite",
        satellite_uri,
        "--uri",
        f"tcp://127.0.0.1:{link_port}",
        "--data-dir",
        str(tmp_path),
        env={"GEMINI_API_KEY": "", "GEMINI_BRIDGE_PAIRING_TOKEN": TOKEN},  # no key of its own
    )
    assert process.stderr is not None
    lines: list[str] = []
    endpoint_up = asyncio.Event()

    async def read_log() -> None:  # all of it, all the time: a full pipe would stall the bridge
        assert process.stderr is not None
        while line := (await process.stderr.readline()).decode():
            lines.append(line)
            if "Link endpoint for Home Assistant" in line:
                endpoint_up.set()

    reader = asyncio.create_task(read_log())
    home = FakeHome(f"ws://127.0.0.1:{link_port}/link", TOKEN, emulator)
    try:
        async with asyncio.timeout(60):
            await endpoint_up.wait()
        await home.connect()
        # Configured before the satellite is up, so the wake word is heard by a configured satellite.
        await home.send({"type": "configure", "satellite": satellite_uri, "revision": 1, "tools": [LIGHT_TOOL]})
        await home.send({"type": "ping", "id": "configured"})  # answered in order: the configure was taken
        await home.next("pong")
        async with SimulatedSatellite(
            wake_then_command("Turn on the kitchen light"), speed=4.0, port=satellite_port
        ) as satellite:
            call = await home.next("tool_call")
            await home.send({"type": "tool_result", "id": call["id"], "result": {"done": True}})
            await home.next("turn")
    finally:
        await home.close()
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(reader, timeout=30)
        code = await process.wait()
    log = "".join(lines)
    assert code == 0, log[-2000:]
    assert "turn 1] turn over" in log and "Linked with test home" in log
    assert "Warning" not in log, "no Python warning (the SDK's experimental-feature ones) on the bridge's stderr"
    assert "> x-goog-api-key: <redacted>" in log, "handshakes were logged, so the test looks where tokens would be"
    minted = home.tokens
    assert minted and all(c.auth_kind == "ephemeral" for c in emulator.connections if c.setup is not None)
    for secret in (TOKEN, emulator.api_key, *minted):
        assert secret not in log
    for event in satellite.record.events:
        for secret in (TOKEN, emulator.api_key, *minted):
            assert secret not in str(event.data)
