"""The link from the bridge's end (docs/link-protocol.md): pairing, Home Assistant's tools, credentials,
announcements and mute, with a real WebSocket client in Home Assistant's place, the real bridge, the emulator
and a simulated satellite over real TCP.

The same protocol is tested from Home Assistant's end, with the real integration, in tests/link/.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from gemini_live_demo.simulated_satellite import SimulatedSatellite
from gemini_live_emulator import Call, Emulator, Say, Scenario, Turn

from tests.audio import silence, speech_pcm
from wyoming_bridge.app import Bridge
from wyoming_bridge.link import messages, pairing

from .link_helpers import LIGHT_TOOL, FakeHome, closed_with, receive_json
from .satellite_helpers import TurnWatcher, bridge_settings, wake_then_command

TOKEN = "test-pairing-token"
UNLOCK_TOOL = {
    "name": "HassUnlock",
    "description": "Unlocks a lock",
    "parameters": {"type": "OBJECT", "properties": {"name": {"type": "STRING"}}},
}


def free_port() -> int:
    """A loopback port nobody listens on (for a satellite that comes up after the bridge)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def linked_bridge(
    emulator: Emulator, data_dir: Path, satellites: tuple[str, ...] = (), **overrides: Any
) -> AsyncIterator[tuple[Bridge, TurnWatcher, str]]:
    """A bridge serving the link on a free port, with no Gemini key of its own unless ``api_key`` is given."""
    values: dict[str, Any] = {"api_key": None, "uri": "tcp://127.0.0.1:0", "data_dir": data_dir}
    values["pairing_token"] = TOKEN
    values |= overrides
    watcher = TurnWatcher()
    bridge = Bridge(bridge_settings(emulator, satellites, **values), on_turn_end=watcher)
    await bridge.start()
    assert bridge.link_server is not None
    try:
        yield bridge, watcher, f"ws://127.0.0.1:{bridge.link_server.port}{messages.PATH}"
    finally:
        await bridge.stop()


async def configure(home: FakeHome, satellite: str, revision: int = 1, **fields: Any) -> None:
    """Send ``configure`` and wait until the bridge has handled it (a ping after it is answered in order)."""
    message = {"type": "configure", "satellite": satellite, "revision": revision, "tools": [LIGHT_TOOL, UNLOCK_TOOL]}
    await home.send(message | fields)
    await home.send({"type": "ping", "id": f"after-configure-{revision}"})
    pong = await home.next("pong")
    assert pong["id"] == f"after-configure-{revision}"


# ---------------------------------------------------------------------------------------------- pairing


async def test_pairing_with_the_token_and_the_bridge_proving_it(emulator: Emulator, tmp_path: Path) -> None:
    """The right token pairs (both sides prove it); ``welcome`` lists the satellites; a wrong one is refused."""
    sat = "tcp://127.0.0.1:9"
    async with linked_bridge(emulator, tmp_path, (sat,)) as (_bridge, _watcher, url):
        async with FakeHome(url, TOKEN) as home:
            assert home.hello["versions"] == [1]
            assert home.hello["bridge_id"] == (tmp_path / pairing.ID_FILE).read_text().strip()
            assert home.welcome["version"] == 1
            assert home.welcome["own_credentials"] is False
            assert [s["id"] for s in home.welcome["satellites"]] == [sat]
            assert home.welcome["satellites"][0]["connected"] is False
        intruder = FakeHome(url, "not-the-token")
        with pytest.raises(AssertionError, match="bad_token"):
            await intruder.connect()
        await intruder.close()


async def test_a_wrong_token_closes_4401_and_repeated_failures_are_slowed_down(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Five wrong tokens from one address, then that address is refused at once (4429), the right token too."""
    async with linked_bridge(emulator, tmp_path) as (_bridge, _watcher, url):
        home = FakeHome(url, TOKEN)
        for _ in range(5):
            ws = await home.open_socket()
            hello = await receive_json(ws)
            await ws.send_str(
                json.dumps(
                    {
                        "type": "auth",
                        "version": 1,
                        "nonce": pairing.encode(b"n" * 32),
                        "proof": pairing.encode(
                            pairing.client_proof("guess", base64.b64decode(hello["nonce"]), b"n" * 32)
                        ),
                    }
                )
            )
            error = await receive_json(ws)
            assert error == {"type": "error", "code": "bad_token", "message": error["message"]}
            assert await closed_with(ws) == messages.CLOSE_BAD_TOKEN
        ws = await home.open_socket()
        assert await closed_with(ws) == messages.CLOSE_LOCKED_OUT
        await home.close()


async def test_no_common_version_and_no_auth_in_time(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version the bridge does not speak: 4406. Nothing after hello: 4408."""
    monkeypatch.setattr(messages, "AUTH_TIMEOUT_S", 0.5)
    async with linked_bridge(emulator, tmp_path) as (_bridge, _watcher, url):
        home = FakeHome(url, TOKEN)
        with pytest.raises(AssertionError, match="unsupported_version"):
            await home.connect(version=99)
        ws = await home.open_socket()
        assert (await receive_json(ws))["type"] == "hello"
        assert await closed_with(ws) == messages.CLOSE_AUTH_TIMEOUT
        await home.close()


def test_the_pairing_token_is_made_once_and_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """First start: a token, kept owner-only, printed once. Later starts: the same token, never printed."""
    caplog.set_level(logging.DEBUG)
    first = pairing.Identity.load(tmp_path)
    token_file = tmp_path / pairing.TOKEN_FILE
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert sum(first.token in r.getMessage() for r in caplog.records) == 1
    caplog.clear()
    again = pairing.Identity.load(tmp_path)
    assert (again.bridge_id, again.token) == (first.bridge_id, first.token)
    assert not any(first.token in r.getMessage() for r in caplog.records)
    assert first.token not in repr(first)
    chosen = pairing.Identity.load(tmp_path, "set-by-option")
    assert chosen.token == "set-by-option" and chosen.bridge_id == first.bridge_id


# ------------------------------------------------------------------------------------------- a linked turn

LIGHT_SCENARIO = Scenario(
    turns=(
        Turn(
            user="Turn on the kitchen light",
            steps=(Call("HassTurnOn", {"name": "Kitchen light"}), Say("Done, {result[output][speech]}")),
        ),
    )
)


async def test_a_spoken_request_runs_home_assistants_tool_with_its_credentials(
    emulator: Emulator, tmp_path: Path
) -> None:
    """No key in the bridge: Live sessions open with Home Assistant's ephemeral tokens; the tool runs there."""
    emulator.scenario = LIGHT_SCENARIO
    port = free_port()
    sat = f"tcp://127.0.0.1:{port}"
    async with linked_bridge(emulator, tmp_path, (sat,)) as (_bridge, watcher, url):
        async with FakeHome(url, TOKEN, emulator) as home:
            await configure(
                home, sat, options={"voice": "Charon", "model": None, "language": None, "system_prompt": "Be brief."}
            )
            mic = wake_then_command("Turn on the kitchen light")
            async with SimulatedSatellite(mic, mode="always", speed=4.0, port=port) as satellite:
                call = await home.next("tool_call")
                assert call["satellite"] == sat
                assert (call["name"], call["args"]) == ("HassTurnOn", {"name": "Kitchen light"})
                await home.send({"type": "tool_result", "id": call["id"], "result": {"speech": "the light is on"}})
                turn = await watcher.next()
                over = await home.next("turn")
    assert turn.reply_text.strip() == "Done, the light is on"
    assert len(satellite.record.played) > 22050
    assert over["satellite"] == sat and over["user"] == "Turn on the kitchen light"
    assert over["reply"] == "Done, the light is on" and over["error"] is None
    states = [m["state"] for m in home.log if m["type"] == "state"]
    assert "listening" in states and "responding" in states and states[-1] == "idle"
    live = [c for c in emulator.connections if c.setup is not None]
    assert live and all(c.auth_kind == "ephemeral" for c in live), "every Live connection used a minted token"
    assert home.minted >= 1
    setup = next(c.setup for c in live if c.user_turns)
    assert setup is not None
    assert "Be brief." in json.dumps(setup["systemInstruction"])
    assert "Charon" in json.dumps(setup["generationConfig"])
    names = [d["name"] for tool in setup["tools"] for d in tool.get("functionDeclarations", [])]
    assert "HassTurnOn" in names and "get_current_time" in names


async def test_a_tool_call_is_sent_again_after_the_link_drops_and_runs_once(emulator: Emulator, tmp_path: Path) -> None:
    """Home Assistant drops while a call is in flight; after it reconnects the same call (same id) arrives again."""
    emulator.scenario = LIGHT_SCENARIO
    port = free_port()
    sat = f"tcp://127.0.0.1:{port}"
    async with linked_bridge(emulator, tmp_path, (sat,), api_key=emulator.api_key) as (_bridge, watcher, url):
        home = FakeHome(url, TOKEN, emulator)
        await home.connect()
        await configure(home, sat)
        async with SimulatedSatellite(wake_then_command("Turn on the kitchen light"), speed=4.0, port=port):
            first = await home.next("tool_call")
            await home.drop()
            await home.connect()
            again = await home.next("tool_call")
            assert again["id"] == first["id"] and again["args"] == first["args"]
            await home.send({"type": "tool_result", "id": again["id"], "result": {"speech": "the light is on"}})
            turn = await watcher.next()
        await home.close()
    assert turn.reply_text.strip() == "Done, the light is on"
    responses = [r for c in emulator.connections for r in c.tool_responses]
    assert len(responses) == 1, "the model got one answer"


async def test_without_a_link_home_tools_say_the_home_is_unreachable(emulator: Emulator, tmp_path: Path) -> None:
    """Home Assistant configured the satellite, then went away: the call fails at once, the model is told why."""
    emulator.scenario = Scenario(
        turns=(
            Turn(
                user="Turn on the kitchen light",
                steps=(Call("HassTurnOn", {"name": "Kitchen light"}), Say("Sorry: {result[error]}")),
            ),
        )
    )
    port = free_port()
    sat = f"tcp://127.0.0.1:{port}"
    async with linked_bridge(emulator, tmp_path, (sat,), api_key=emulator.api_key) as (_bridge, watcher, url):
        async with FakeHome(url, TOKEN, emulator) as home:
            await configure(home, sat)
        async with SimulatedSatellite(wake_then_command("Turn on the kitchen light"), speed=4.0, port=port):
            turn = await watcher.next()
    assert "Home Assistant is not reachable right now" in turn.reply_text


# ----------------------------------------------------------------------------------------- confirmation


def lock_scenario(answer: str) -> Scenario:
    return Scenario(
        turns=(
            Turn(
                user="Unlock the front door",
                steps=(Call("HassUnlock", {"name": "Front door"}), Say("{result[output][ask_the_user]}")),
            ),
            Turn(user=answer, steps=(Call("confirm_action", {}), Say("Result {result}"))),
        )
    )


@pytest.mark.parametrize(("answer", "runs"), [("Yes, please.", True), ("No, leave it.", False)])
async def test_a_lock_waits_for_a_spoken_yes(emulator: Emulator, tmp_path: Path, answer: str, runs: bool) -> None:
    """Home Assistant asks for confirmation; only the user's own "yes" is sent on as ``confirm``."""
    emulator.scenario = lock_scenario(answer)
    port = free_port()
    sat = f"tcp://127.0.0.1:{port}"
    # The answer comes once the question has been played (the microphone is muted while the satellite speaks).
    mic = (
        wake_then_command("Unlock the front door")
        + silence(5.0, 16000)
        + speech_pcm(answer, "en-US")
        + silence(0.3, 16000)
    )
    async with linked_bridge(emulator, tmp_path, (sat,), api_key=emulator.api_key, follow_up_s=8.0) as (
        _bridge,
        watcher,
        url,
    ):
        async with FakeHome(url, TOKEN, emulator) as home:
            await configure(home, sat)
            async with SimulatedSatellite(mic, speed=1.0, port=port):
                call = await home.next("tool_call")
                await home.send(
                    {
                        "type": "tool_result",
                        "id": call["id"],
                        "confirm": {"confirmation": "c-1", "question": "Unlock the Front door?"},
                    }
                )
                if runs:
                    confirm = await home.next("confirm")
                    assert confirm["confirmation"] == "c-1" and "yes" in confirm["heard"].lower()
                    await home.send({"type": "confirm_result", "confirmation": "c-1", "result": {"unlocked": True}})
                turn = await watcher.next()
    assert "Unlock the Front door?" in turn.reply_text
    if runs:
        assert "'unlocked': True" in turn.reply_text
    else:
        assert not [m for m in home.log if m["type"] == "confirm"], "a no is never sent on"
        assert "the user said no" in turn.reply_text


# ------------------------------------------------------------------------------------ announcements, mute


async def test_an_announcement_is_played_and_a_text_one_is_spoken_by_gemini(emulator: Emulator, tmp_path: Path) -> None:
    """Recorded audio from Home Assistant reaches the speaker; a text without audio becomes Gemini's reply."""
    emulator.scenario = Scenario(turns=(Turn(user=None, steps=(Say("Your pizza timer is done."),)),))
    port = free_port()
    sat = f"tcp://127.0.0.1:{port}"
    pcm = speech_pcm("The washing machine has finished.", "en-US")
    async with linked_bridge(emulator, tmp_path, (sat,), api_key=emulator.api_key) as (_bridge, watcher, url):
        async with (
            FakeHome(url, TOKEN, emulator) as home,
            SimulatedSatellite(silence(0.5, 16000), port=port) as satellite,
        ):
            await home.next("satellites")  # connected
            await home.send(
                {
                    "type": "announce",
                    "id": "a-1",
                    "satellite": sat,
                    "text": "The washing machine has finished.",
                    "format": {"rate": 16000, "width": 2, "channels": 1},
                    "listen": False,
                }
            )
            for start in range(0, len(pcm), 32000):
                piece = base64.b64encode(pcm[start : start + 32000]).decode()
                await home.send({"type": "announce_audio", "id": "a-1", "pcm": piece})
            await home.send({"type": "announce_end", "id": "a-1"})
            done = await home.next("announce_done")
            assert done == {"type": "announce_done", "id": "a-1", "error": None}
            played = len(satellite.record.played) / (2 * 22050)
            assert played == pytest.approx(len(pcm) / 32000, abs=0.15)
            await home.send(
                {
                    "type": "announce",
                    "id": "t-1",
                    "satellite": sat,
                    "text": "Tell the user the pizza timer is done.",
                    "format": None,
                }
            )
            turn = await watcher.next()
    assert turn.trigger == "announcement" and turn.reply_text.strip() == "Your pizza timer is done."
    typed = [u.text for c in emulator.connections for u in c.user_turns if u.text]
    assert typed == ["Tell the user the pizza timer is done."]


async def test_a_muted_satellite_ignores_its_wake_word(emulator: Emulator, tmp_path: Path) -> None:
    """Muted by Home Assistant: the wake word starts no turn, and the state says so."""
    port = free_port()
    sat = f"tcp://127.0.0.1:{port}"
    async with linked_bridge(emulator, tmp_path, (sat,), api_key=emulator.api_key) as (bridge, _watcher, url):
        async with FakeHome(url, TOKEN, emulator) as home:
            await home.send({"type": "mute", "satellite": sat, "muted": True})
            mic = wake_then_command("What time is it?")
            async with SimulatedSatellite(mic, speed=8.0, port=port) as satellite:
                await asyncio.wait_for(satellite.mic_done.wait(), timeout=30)
                await home.send({"type": "ping", "id": "p"})
                await home.next("pong")
                controller = bridge.controller(sat)
                assert controller.muted and controller.turns == []
            states = [m for m in home.log if m["type"] == "state"]
            assert any(m["muted"] for m in states)
    assert not any(c.user_turns for c in emulator.connections)


# ------------------------------------------------------------------------------------------- bad input


async def test_bad_messages_are_answered_and_the_link_stays_up(emulator: Emulator, tmp_path: Path) -> None:
    """Not JSON, no type, a bad field, an unknown type: answered (or ignored), the link still works."""
    async with linked_bridge(emulator, tmp_path, ("tcp://127.0.0.1:9",)) as (_bridge, _watcher, url):
        async with FakeHome(url, TOKEN) as home:
            assert home.ws is not None
            await home.ws.send_str("{not json")
            assert "not JSON" in (await home.next("error"))["message"]
            await home.ws.send_str("[1, 2]")
            assert "JSON object" in (await home.next("error"))["message"]
            await home.send({"type": "configure", "satellite": "tcp://127.0.0.1:9", "revision": "one"})
            assert "revision" in (await home.next("error"))["message"]
            await home.send({"type": "something_from_a_later_version", "x": 1})
            await home.send({"type": "ping", "id": "still-here"})
            assert (await home.next("pong"))["id"] == "still-here"
            await home.ws.send_str(json.dumps({"type": "ping", "pad": "x" * (messages.MAX_MESSAGE_BYTES + 1)}))
            assert await home.wait_closed() == messages.CLOSE_TOO_BIG


async def test_configure_renews_the_warm_session_with_the_new_tools(emulator: Emulator, tmp_path: Path) -> None:
    """A new configuration reaches the next Live session: the warm one is replaced at once."""
    port = free_port()
    sat = f"tcp://127.0.0.1:{port}"
    async with linked_bridge(emulator, tmp_path, (sat,), api_key=emulator.api_key) as (bridge, _watcher, url):
        async with FakeHome(url, TOKEN, emulator) as home, SimulatedSatellite(silence(0.5, 16000), port=port):
            await home.next("satellites")
            standby = bridge.controller(sat)._sessions.standby  # type: ignore[union-attr]
            assert standby is not None
            await standby.wait_state("ready")
            before = len(emulator.connections)
            await configure(home, sat)
            await standby.wait_state("renewing")
            await standby.wait_state("ready")
            newest = emulator.connections[-1]
            assert len(emulator.connections) == before + 1
            assert newest.setup is not None
            names = [d["name"] for tool in newest.setup["tools"] for d in tool.get("functionDeclarations", [])]
            assert "HassTurnOn" in names and "confirm_action" in names


class _Heard(logging.Handler):
    """Sets an event when a log record's message contains ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


async def test_a_link_closed_briefly_is_no_outage_but_one_that_stays_down_is_warned_about(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Home Assistant's pairing check (link, then close) or a reload closes the link for a moment: that is logged
    at INFO. A link still down after the grace time is one WARNING."""
    down = "The link to Home Assistant is down"
    heard = _Heard(down)
    logger = logging.getLogger("wyoming_bridge.link.home")
    logger.addHandler(heard)
    try:
        async with linked_bridge(emulator, tmp_path, (), api_key=emulator.api_key) as (bridge, _watcher, url):
            assert bridge.home is not None
            async with FakeHome(url, TOKEN, emulator):
                pass  # the pairing check
            async with FakeHome(url, TOKEN, emulator) as home:
                await home.send({"type": "ping", "id": "1"})
                await home.next("pong")
            assert down not in caplog.text, "a link back at once is no outage"
        async with linked_bridge(emulator, tmp_path, (), api_key=emulator.api_key) as (bridge, _watcher, url):
            assert bridge.home is not None
            bridge.home.down_grace_s = 0.0
            async with FakeHome(url, TOKEN, emulator):
                pass
            await asyncio.wait_for(heard.event.wait(), 30)
    finally:
        logger.removeHandler(heard)
    assert [r.levelname for r in caplog.records if down in r.getMessage()] == ["WARNING"]
