"""The end-to-end demo: a Wyoming satellite talks to Gemini Live through the bridge.

Three real parts over real sockets: the Gemini Live emulator (``python -m gemini_live_emulator``, started
as a process; with ``GEMINI_API_KEY`` set, the real service instead), the bridge, and a simulated Wyoming
satellite (a TCP server on the ``wyoming`` library) whose microphone plays a real "okay nabu" recording
followed by a spoken question (espeak-ng), twice: in English, then in Arabic. The bridge hears the wake word,
hands the question to a warm Live session, runs the tool the model calls, and plays the spoken reply back
to the satellite, which records it. The demo prints each turn and writes what the satellite played to a WAV.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from gemini_live_emulator.scenario import DEMO_SCENARIO
from gemini_live_emulator.speech import Synthesizer

from wyoming_bridge.app import Bridge
from wyoming_bridge.satellites.turn import TurnLog
from wyoming_bridge.settings import BridgeSettings, default_settings

from .linked import LINKED_SCENARIO, run_linked
from .simulated_satellite import MIC_RATE, SimulatedSatellite

DEMO_DIR = Path(__file__).parent
WAKE_RECORDING = DEMO_DIR / "demo_data" / "okay_nabu.wav"
QUESTIONS = (("What time is it?", "en-US"), ("كم الساعة الآن؟", "ar-EG"))
PAUSE_S = 3.0  # silence after each question: the end of the user's turn, and room for the reply


@contextlib.asynccontextmanager
async def emulator_process(log_path: Path, scenario: Path = DEMO_SCENARIO) -> AsyncIterator[dict[str, Any]]:
    """Start ``python -m gemini_live_emulator`` and yield its ready line."""
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gemini_live_emulator",
            "--scenario",
            str(scenario),
            "--generation-speed",
            "2",
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
            if not line:
                raise RuntimeError(f"the emulator exited before it was ready; see {log_path}")
            info: dict[str, Any] = json.loads(line)
            print(f"emulator ready in {time.monotonic() - started:.2f} s at {info['base_url']}")
            yield info
        finally:
            if process.returncode is None:
                process.terminate()
                await process.wait()


def microphone() -> tuple[bytes, list[int]]:
    """What the satellite's microphone hears, and the byte offset at which each question ends."""
    return spoken(QUESTIONS)


def spoken(questions: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> tuple[bytes, list[int]]:
    """The wake word then each question (espeak-ng), with a pause after each; where each question ends."""
    with wave.open(str(WAKE_RECORDING), "rb") as wav:
        wake = wav.readframes(wav.getnframes())
    synthesizer = Synthesizer()
    audio = bytearray()
    ends = []
    for text, language in questions:
        audio += wake + synthesizer.synthesize(text, language, sample_rate=MIC_RATE)
        ends.append(len(audio))
        audio += bytes(int(PAUSE_S * MIC_RATE) * 2)
    return bytes(audio), ends


def demo_settings(satellite_uri: str, info: dict[str, Any] | None) -> BridgeSettings:
    """The bridge's settings: the emulator's endpoint, or the real service with GEMINI_API_KEY."""
    model = os.environ.get("GEMINI_BRIDGE_MODEL")
    return default_settings(
        (satellite_uri,),
        info["api_key"] if info else os.environ["GEMINI_API_KEY"],
        **({"model": model} if model else {}),
        gemini_base_url=info["base_url"] if info else None,
        gemini_ca_file=Path(info["ca_file"]) if info else None,
        voice="Kore",
        follow_up_s=0.0,
        log_format="%(message)s",
    )


async def converse(info: dict[str, Any] | None) -> tuple[list[TurnLog], SimulatedSatellite, list[int]]:
    """Run the satellite and the bridge until both turns are over."""
    audio, question_ends = microphone()
    finished: asyncio.Queue[TurnLog] = asyncio.Queue()
    async with SimulatedSatellite(audio, mode="always", name="Demo satellite") as satellite:
        bridge = Bridge(demo_settings(satellite.uri, info), on_turn_end=finished.put)
        await bridge.start()
        try:
            turns = [await asyncio.wait_for(finished.get(), timeout=90) for _ in QUESTIONS]
        finally:
            await bridge.stop()
    return turns, satellite, question_ends


def report(turns: list[TurnLog], satellite: SimulatedSatellite, question_ends: list[int]) -> None:
    """Each turn as a person reads it, with the two latencies that matter."""
    record = satellite.record
    for number, turn in enumerate(turns):
        print(f"\nturn {turn.turn_id} ({turn.trigger})")
        print(f"  user:  {turn.user_text.strip()}")
        for call in turn.tool_calls:
            print(f"  tool:  {call}")
        print(f"  model: {turn.reply_text.strip()}")
        if turn.error:
            print(f"  error: {turn.error}")
        if turn.session_ready_at is not None:
            print(f"  wake word -> Live session ready: {(turn.session_ready_at - turn.started_at) * 1000:.0f} ms")
        spoken_end = record.mic_time(question_ends[number]) if number < len(question_ends) else None
        if spoken_end is not None and number < len(record.audio_starts):
            latency = (record.audio_starts[number] - spoken_end) * 1000
            print(f"  end of speech -> first reply audio at the satellite: {latency:.0f} ms")


def write_wav(path: Path, pcm: bytes, rate: int) -> None:
    """16-bit mono WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)


async def main_async(args: argparse.Namespace) -> int:
    """The demo against the emulator or, with GEMINI_API_KEY, the real service."""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if os.environ.get("GEMINI_API_KEY"):
        print("GEMINI_API_KEY is set: the bridge talks to the real Gemini Live service")
        turns, satellite, ends = await converse(None)
    else:
        print("No GEMINI_API_KEY: the bridge talks to the bundled Gemini Live emulator")
        async with emulator_process(args.out.parent / "emulator.log") as info:
            turns, satellite, ends = await converse(info)
    report(turns, satellite, ends)
    played = bytes(satellite.record.played)
    rate = satellite.record.played_format[0] if satellite.record.played_format else 22050
    write_wav(args.out, played, rate)
    print(f"\nwrote {args.out}: {len(played) / (2 * rate):.2f} s of spoken reply, as the satellite played it")
    code = 0 if played and all(t.error is None for t in turns) else 1
    if args.no_linked:
        return code
    print("\nLinked to Home Assistant: the bridge has no key; Home Assistant gives it tokens, tools and settings")
    mic = spoken([("Turn on the kitchen light", "en-US")])[0]
    if os.environ.get("GEMINI_API_KEY"):
        linked_code = await run_linked(None, mic)
    else:
        async with emulator_process(args.out.parent / "emulator-linked.log", LINKED_SCENARIO) as info:
            linked_code = await run_linked(info, mic)
    return code or linked_code


def main(argv: list[str] | None = None) -> int:
    """``gemini-live-demo`` / ``python -m gemini_live_demo``."""
    parser = argparse.ArgumentParser(prog="gemini-live-demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("out/reply.wav"), help="where to write the reply audio")
    parser.add_argument("--quiet", action="store_true", help="hide the bridge's log lines")
    parser.add_argument(
        "--no-linked", action="store_true", help="skip the linked path (Home Assistant running the bridge)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="  | %(message)s",
        stream=sys.stdout,
    )
    for noisy in ("asyncio", "google_genai", "httpx", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return asyncio.run(main_async(args))


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
