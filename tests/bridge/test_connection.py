"""The satellite connection over real TCP: describe/run-satellite, keepalive, reconnect, and bad frames.

Bad frames close only the connection that sent them; another satellite on the same bridge is still served.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from gemini_live_demo.simulated_satellite import SimulatedSatellite
from gemini_live_emulator import Emulator, Scenario
from wyoming.event import Event, async_write_event
from wyoming.info import Attribution, Info, Satellite

from tests.audio import silence
from wyoming_bridge.satellites.connection import KeepaliveTimings, SatelliteConnection
from wyoming_bridge.satellites.framing import FrameError, read_event

from .satellite_helpers import SatelliteServer, bridge_settings, running_bridge, wake_then_command

FAST = KeepaliveTimings(ping_interval_s=0.1, pong_timeout_s=0.3, connect_timeout_s=2.0, reconnect_initial_s=0.05)


class Recorder:
    """A handler that records what the connection hands it."""

    def __init__(self) -> None:
        self.connected = 0
        self.disconnected = 0
        self.events: list[Event] = []
        self.changed = asyncio.Event()

    async def connected_(self) -> None:
        self.connected += 1
        self.changed.set()


class RecordingHandler:
    """SatelliteHandler that counts connects/disconnects."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    async def connected(self, link: SatelliteConnection, info: Info) -> None:
        await self._recorder.connected_()

    async def handle_event(self, event: Event) -> None:
        self._recorder.events.append(event)

    async def disconnected(self) -> None:
        self._recorder.disconnected += 1
        self._recorder.changed.set()


async def wait_until(predicate: object, recorder: Recorder) -> None:
    """Wait for the recorder to change until ``predicate()`` holds (10 s safety net)."""
    async with asyncio.timeout(10):
        while not predicate():  # type: ignore[operator]
            recorder.changed.clear()
            await recorder.changed.wait()


def satellite_info() -> Event:
    """A satellite's describe answer."""
    return Info(
        satellite=Satellite(
            name="raw", attribution=Attribution(name="", url=""), installed=True, description="raw", version="1"
        )
    ).event()


class RawSatellite(SatelliteServer):
    """A hand-driven satellite: answers describe, then does whatever the test says with the socket."""

    def __init__(self, after_run: bytes | None = None, answer_pings: bool = True, mute_after_run: bool = False) -> None:
        super().__init__()
        self.after_run = after_run
        self.answer_pings = answer_pings
        self.mute_after_run = mute_after_run
        self.accepted = 0
        self.received: list[str] = []
        self.received_changed = asyncio.Event()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.accepted += 1
        running = False  # this connection has been told to run-satellite
        try:
            while (event := await read_event(reader)) is not None:
                self.received.append(event.type)
                self.received_changed.set()
                if event.type == "describe" and not (running and self.mute_after_run):
                    await async_write_event(satellite_info(), writer)
                elif event.type == "run-satellite":
                    running = True
                    if self.after_run is not None:
                        writer.write(self.after_run)
                        await writer.drain()
                elif event.type == "ping" and self.answer_pings:
                    await async_write_event(Event("pong", {"text": event.data.get("text")}), writer)
        except FrameError, ConnectionError:
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


@pytest.mark.parametrize(
    ("garbage", "cause"),
    [
        (b"this is not json\n", "header is not JSON"),
        (json.dumps({"type": "audio-chunk", "payload_length": 10**9}).encode() + b"\n", "over the limit"),
        (json.dumps({"type": "audio-chunk", "data_length": -4}).encode() + b"\n", "non-negative"),
        (b"x" * 70_000 + b"\n", "header line over"),
    ],
    ids=["not-json", "oversized-payload", "negative-length", "endless-header"],
)
async def test_bad_frame_closes_only_that_connection(
    garbage: bytes, cause: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A malformed or oversized frame: a log line naming the cause, that connection closed and retried."""
    recorder = Recorder()
    async with RawSatellite(after_run=garbage) as raw:
        connection = SatelliteConnection(f"tcp://127.0.0.1:{raw.port}", lambda _link: RecordingHandler(recorder), FAST)
        task = asyncio.create_task(connection.run())
        try:
            with caplog.at_level(logging.WARNING):
                await wait_until(lambda: recorder.connected >= 2 and recorder.disconnected >= 1, recorder)
        finally:
            await connection.stop()
            await asyncio.gather(task, return_exceptions=True)
    assert any(cause in r.getMessage() and "connection lost" in r.getMessage() for r in caplog.records)
    assert raw.received[:2] == ["describe", "run-satellite"]


async def test_silent_satellite_is_dropped_after_pong_timeout() -> None:
    """A satellite that answers nothing (no pong, no info, no audio) is dropped and reconnected."""
    recorder = Recorder()
    async with RawSatellite(answer_pings=False, mute_after_run=True) as raw:
        connection = SatelliteConnection(f"tcp://127.0.0.1:{raw.port}", lambda _link: RecordingHandler(recorder), FAST)
        task = asyncio.create_task(connection.run())
        try:
            await wait_until(lambda: recorder.disconnected >= 1 and recorder.connected >= 2, recorder)
        finally:
            await connection.stop()
            await asyncio.gather(task, return_exceptions=True)
    assert "ping" in raw.received
    assert connection.connections >= 2


async def test_default_keepalive_drops_a_silent_satellite_within_7_s_with_few_pings() -> None:
    """With the bridge's own timings, a satellite that stops answering is dropped within 7 s (Home Assistant's
    2 s + 5 s); one that answers stays, pinged every 3.5 s rather than every 2 (each ping costs an idle satellite).
    The bound is the timings' (a wall-clock bound would be a timed assertion); the run shows both behaviours."""
    timings = KeepaliveTimings()
    assert timings.ping_interval_s == 3.5 and timings.ping_interval_s + timings.pong_timeout_s <= 7.0
    silent_recorder, answering_recorder = Recorder(), Recorder()
    async with (
        RawSatellite(answer_pings=False, mute_after_run=True) as silent,
        RawSatellite(answer_pings=True) as answering,
    ):
        connections = [
            SatelliteConnection(f"tcp://127.0.0.1:{raw.port}", lambda _link, r=recorder: RecordingHandler(r))
            for raw, recorder in ((silent, silent_recorder), (answering, answering_recorder))
        ]
        tasks = [asyncio.create_task(connection.run()) for connection in connections]
        try:
            await wait_until(lambda: silent_recorder.connected >= 1, silent_recorder)
            await wait_until(lambda: silent_recorder.disconnected >= 1, silent_recorder)
            silent_pings = silent.received.count("ping")
        finally:
            for connection in connections:
                await connection.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
    assert silent_pings == 1, "dropped after one unanswered ping (not before one, not after several)"
    assert answering_recorder.connected == 1 and answering_recorder.disconnected == 1  # only by stop()
    assert answering.received.count("ping") >= 1


async def test_satellite_without_ping_support_stays_connected() -> None:
    """wyoming-satellite 1.0 never answers pings and is silent while it waits for its wake word: it is asked to
    describe itself instead, and stays connected."""
    recorder = Recorder()
    async with RawSatellite(answer_pings=False) as raw:
        connection = SatelliteConnection(f"tcp://127.0.0.1:{raw.port}", lambda _link: RecordingHandler(recorder), FAST)
        task = asyncio.create_task(connection.run())
        try:
            async with asyncio.timeout(10):
                while raw.received.count("ping") < 8:  # well past several pong timeouts
                    raw.received_changed.clear()
                    await raw.received_changed.wait()
        finally:
            await connection.stop()
            await asyncio.gather(task, return_exceptions=True)
    assert connection.connections == 1 and recorder.disconnected <= 1
    assert raw.accepted == 1


async def test_pause_satellite_on_stop() -> None:
    """Stopping sends pause-satellite, freeing the satellite's single controller slot."""
    recorder = Recorder()
    async with RawSatellite() as raw:
        connection = SatelliteConnection(f"tcp://127.0.0.1:{raw.port}", lambda _link: RecordingHandler(recorder), FAST)
        task = asyncio.create_task(connection.run())
        await wait_until(lambda: recorder.connected >= 1, recorder)
        await connection.stop()
        await asyncio.gather(task, return_exceptions=True)
        async with asyncio.timeout(5):
            while "pause-satellite" not in raw.received:
                raw.received_changed.clear()
                await raw.received_changed.wait()
    assert raw.received[-1] == "pause-satellite"


async def test_bad_satellite_does_not_disturb_another(emulator: Emulator) -> None:
    """One satellite sends garbage in a loop; a second one on the same bridge still gets its turn answered."""
    emulator.scenario = Scenario.from_data({"turns": [{"user": "What time is it?", "model": [{"say": "Noon."}]}]})
    async with RawSatellite(after_run=b"garbage\n") as raw:
        mic = wake_then_command("What time is it?")
        async with SimulatedSatellite(mic, mode="always", speed=4.0) as good:
            settings = bridge_settings(emulator, (f"tcp://127.0.0.1:{raw.port}", good.uri))
            async with running_bridge(settings) as (_bridge, watcher):
                turn = await watcher.next()
    assert turn.reply_text.strip() == "Noon."
    assert raw.accepted >= 1


async def test_satellite_restart_is_reconnected(emulator: Emulator) -> None:
    """The satellite restarts (same port): the bridge reconnects and serves the next wake word."""
    emulator.scenario = Scenario.from_data(
        {"turns": [{"user": "First.", "model": [{"say": "One."}]}, {"user": "Second.", "model": [{"say": "Two."}]}]}
    )
    first = SimulatedSatellite(wake_then_command("First."), mode="always", speed=4.0)
    await first.start()
    port = first.port
    async with running_bridge(bridge_settings(emulator, (first.uri,))) as (bridge, watcher):
        assert (await watcher.next()).reply_text.strip() == "One."
        await first.stop()
        second = SimulatedSatellite(
            wake_then_command("Second.") + silence(0.5, 16000), mode="always", speed=4.0, port=port
        )
        await second.start()
        try:
            assert (await watcher.next()).reply_text.strip() == "Two."
        finally:
            await second.stop()
        assert bridge.satellites[first.uri].connections == 2


async def test_read_event_merges_inline_and_separate_data() -> None:
    """Frames as wyoming 1.5 and 1.10 write them both parse."""

    async def parse(raw: bytes) -> Event | None:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return await read_event(reader)

    data = json.dumps({"rate": 16000}).encode()
    separate = json.dumps({"type": "audio-start", "data_length": len(data)}).encode() + b"\n" + data
    inline = json.dumps({"type": "audio-start", "data": {"rate": 16000}}).encode() + b"\n"
    for raw in (separate, inline):
        event = await parse(raw)
        assert event is not None and event.type == "audio-start" and event.data == {"rate": 16000}
    assert await parse(b"") is None
