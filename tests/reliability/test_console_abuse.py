"""The web console under abuse: foreign hosts and origins, password guessing, bad frames, token and tool floods.

Real parts: the bridge (in-process, or as the `gemini-live-bridge` program), real TCP and WebSockets
(aiohttp), the emulator over TLS through the google-genai SDK.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import aiohttp
import pytest
from gemini_live_emulator import Emulator

from tests.engine.live_helpers import ScriptedTools
from tests.web.console_helpers import ConsoleClient, console_bridge, console_client
from wyoming_bridge.app import Bridge

PASSWORD = "correct horse battery staple"
PROGRAM_TIMEOUT_S = 60.0  # a safety net for a hung program, never a synchronisation


@asynccontextmanager
async def raw_socket(bridge: Bridge, *, local: str = "127.0.0.1", **headers: str) -> AsyncIterator[ConsoleClient]:
    """A console WebSocket from the local address ``local``, nothing sent yet."""
    assert bridge.console is not None
    connector = aiohttp.TCPConnector(local_addr=(local, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.ws_connect(bridge.console.url + "ws", headers=headers) as ws,
    ):
        yield ConsoleClient(ws)


async def guess(client: ConsoleClient, password: str) -> str:
    """Send a hello with ``password``; the type (or error code) of the answer."""
    await client.send({"type": "hello", "password": password})
    answer = await client.next_message()
    return str(answer.get("code") or answer["type"])


def program(emulator: Emulator, *args: str) -> list[str]:
    """The `gemini-live-bridge` command line, aimed at the emulator."""
    return [
        sys.executable,
        "-m",
        "wyoming_bridge",
        "--api-key",
        emulator.api_key,
        "--gemini-base-url",
        emulator.base_url,
        "--gemini-ca-file",
        emulator.ca_file,
        *args,
    ]


# ---------------------------------------------------------------------------------------------- start


async def test_no_password_off_loopback_refuses_to_start(emulator: Emulator) -> None:
    """--web on a network address without a password: exit status 2 and one line saying why."""
    result = await asyncio.to_thread(
        subprocess.run,
        program(emulator, "--web", "0.0.0.0:0"),
        capture_output=True,
        text=True,
        timeout=PROGRAM_TIMEOUT_S,
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "reachable from the network: set a password" in errors[0]
    assert "Traceback" not in result.stderr


async def test_a_port_in_use_is_one_line_not_a_traceback(emulator: Emulator) -> None:
    """Another program listens on the console's port: one line naming it, exit status 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = await asyncio.to_thread(
            subprocess.run,
            program(emulator, "--web", f"127.0.0.1:{port}"),
            capture_output=True,
            text=True,
            timeout=PROGRAM_TIMEOUT_S,
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    failures = [line for line in result.stderr.splitlines() if "cannot start" in line]
    assert failures == [
        f"{failures[0].split(' ERROR ')[0]} ERROR wyoming_bridge: The bridge cannot start: cannot serve the web "
        f"console on 127.0.0.1:{port}: address already in use; another program (or another bridge) is listening "
        "there: stop it or choose another port"
    ]


async def test_a_password_on_the_command_line_is_warned_about(emulator: Emulator) -> None:
    """--web-password on the command line works, with a warning that any local user can read it there."""
    process = await asyncio.create_subprocess_exec(
        *program(emulator, "--web", "127.0.0.1:0", "--web-password", PASSWORD), stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    lines = []
    try:
        async with asyncio.timeout(PROGRAM_TIMEOUT_S):
            while not lines or "Web voice console at" not in lines[-1]:
                line = await process.stderr.readline()
                assert line, f"the bridge ended: {lines}"
                lines.append(line.decode())
    finally:
        process.terminate()
        await process.wait()
    warnings = [line for line in lines if "password was given on the command line" in line]
    assert len(warnings) == 1 and "GEMINI_BRIDGE_WEB_PASSWORD" in warnings[0]
    assert PASSWORD not in "".join(lines)
    assert process.returncode == 0


# --------------------------------------------------------------------------------- hosts and origins


async def test_dns_rebinding_host_is_refused(emulator: Emulator) -> None:
    """Host and Origin both another site's name (DNS rebinding onto loopback): the page and the WebSocket are
    refused; the console's own addresses, localhost and --web-host names are served."""
    async with console_bridge(emulator, web_hosts=("console.home.example",)) as bridge:
        assert bridge.console is not None
        port = bridge.console.port
        url = bridge.console.url
        async with aiohttp.ClientSession() as http:
            for host, status in (
                (f"rebind.evil.example:{port}", 421),
                (f"127.0.0.1:{port}", 200),
                (f"localhost:{port}", 200),
                (f"console.home.example:{port}", 200),
                ("console.home.example", 200),
            ):
                for path in ("", "static/console.js"):
                    async with http.get(url + path, headers={"Host": host}) as response:
                        assert response.status == status, (host, path)
            evil = f"rebind.evil.example:{port}"
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                async with http.ws_connect(url + "ws", headers={"Host": evil, "Origin": f"http://{evil}"}):
                    pass
            assert refused.value.status == 421


async def test_wrong_password_and_foreign_origin_are_refused(emulator: Emulator) -> None:
    """A wrong password closes with 4401; a WebSocket from another site's page is refused (403)."""
    async with console_bridge(emulator, web_password=PASSWORD) as bridge:
        async with raw_socket(bridge) as client:
            assert await guess(client, "open sesame") == "bad_password"
            closing = await client.ws.receive()
            assert closing.data == 4401
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with console_client(bridge, origin="https://evil.example", password=PASSWORD):
                pass
        assert refused.value.status == 403
        async with raw_socket(bridge) as client:
            assert await guess(client, PASSWORD) == "ready"


# ------------------------------------------------------------------------------------ password guessing


async def test_repeated_wrong_passwords_are_slowed_down(emulator: Emulator) -> None:
    """Five wrong passwords from an address: it waits, even with the right one."""
    async with console_bridge(emulator, web_password=PASSWORD) as bridge:
        for _ in range(5):
            async with raw_socket(bridge) as client:
                assert await guess(client, "guess") == "bad_password"
        async with raw_socket(bridge) as client:
            assert await guess(client, PASSWORD) == "too_many_attempts"


async def test_guesses_on_sockets_opened_beforehand_are_counted(emulator: Emulator) -> None:
    """Sockets opened first, guesses sent afterwards: each guess is counted before it is checked, so the
    right password on the last socket is refused like the rest."""
    async with console_bridge(emulator, web_password=PASSWORD) as bridge, AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(raw_socket(bridge)) for _ in range(8)]
        answers = [await guess(client, f"guess {n}") for n, client in enumerate(sockets[:-1])]
        last = await guess(sockets[-1], PASSWORD)
    assert answers == ["bad_password"] * 5 + ["too_many_attempts"] * 2
    assert last == "too_many_attempts"


async def test_guesses_from_many_addresses_are_bounded_in_all(emulator: Emulator) -> None:
    """Four wrong guesses from each of five addresses (under each one's limit): then everyone waits."""
    async with console_bridge(emulator, web_password=PASSWORD) as bridge:
        for host in range(2, 7):
            for _ in range(4):
                async with raw_socket(bridge, local=f"127.0.0.{host}") as client:
                    assert await guess(client, "guess") == "bad_password"
        async with raw_socket(bridge) as client:
            assert await guess(client, PASSWORD) == "too_many_attempts"


# ------------------------------------------------------------------------------------------ bad frames


async def test_oversized_frames_and_malformed_json_close_only_that_socket(emulator: Emulator) -> None:
    """A frame over 1 MiB (1009) or one that is not JSON (1007) closes its socket; another console talks on."""
    async with console_bridge(emulator) as bridge, console_client(bridge) as other:
        await other.until("ready")
        async with console_client(bridge) as client:
            await client.until("ready")
            await client.ws.send_str("{not json")
            assert (await client.until("error"))["code"] == "bad_message"
            assert (await client.ws.receive()).type == aiohttp.WSMsgType.CLOSE
        assert client.ws.close_code == 1007
        async with console_client(bridge) as client:
            await client.until("ready")
            await client.ws.send_bytes(bytes(2 * 1024 * 1024))
            while (await client.ws.receive()).type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                pass
        assert client.ws.close_code == 1009
        await other.send({"type": "text", "text": "Still here?"})
        await other.until("turn_complete")


# ------------------------------------------------------------------------------------------ direct mode


async def tokens(client: ConsoleClient, count: int) -> list[str]:
    """Ask for ``count`` ephemeral tokens one after the other; "token" or the error code of each answer."""
    answers = []
    for _ in range(count):
        await client.send({"type": "token"})
        while (answer := await client.next_message())["type"] not in ("token", "error"):
            pass
        answers.append(str(answer.get("code") or answer["type"]))
    return answers


async def test_ephemeral_tokens_are_minted_at_a_bounded_rate(emulator: Emulator) -> None:
    """A console gets a burst of three tokens, then waits; an address gets ten, whatever its consoles."""
    async with console_bridge(emulator, web_direct=True) as bridge, AsyncExitStack() as stack:
        consoles: list[Any] = []
        for _ in range(4):
            consoles.append(await stack.enter_async_context(console_client(bridge)))
            await consoles[-1].until("ready")
        first = await tokens(consoles[0], 5)
        others = [await tokens(console, 3) for console in consoles[1:]]
    assert first == ["token"] * 3 + ["slow_down"] * 2
    assert others == [["token"] * 3, ["token"] * 3, ["token", "slow_down", "slow_down"]]


async def test_one_tool_call_message_cannot_run_thousands_of_tools(emulator: Emulator) -> None:
    """A tool_call with 5,000 calls is refused whole: not one runs; a normal one still works."""
    ran: list[str] = []

    async def get_current_time(_args: dict[str, Any]) -> dict[str, Any]:
        ran.append("get_current_time")
        return {"time": "10:42"}

    tools = ScriptedTools(get_current_time=get_current_time)
    async with (
        console_bridge(emulator, web_direct=True, tools=tools) as bridge,
        console_client(bridge) as client,
    ):
        await client.until("ready")
        flood = [{"id": f"c{n}", "name": "get_current_time", "args": {}} for n in range(5000)]
        await client.send({"type": "tool_call", "calls": flood})
        assert (await client.until("error"))["code"] == "bad_message"
        await client.send({"type": "tool_call", "calls": flood[:2]})
        result = await client.until("tool_result")
    assert [r["id"] for r in result["responses"]] == ["c0", "c1"]
    assert ran == ["get_current_time"] * 2
