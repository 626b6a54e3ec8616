"""The end-to-end demo: a Wyoming satellite talks to Gemini Live through the bridge.

Three real parts over real sockets: the Gemini Live emulator (``python -m gemini_live_emulator``, started
as a process; with ``GEMINI_API_KEY`` set, the real service instead), the bridge, and a simulated Wyoming
satellite (a TCP server on the ``wyoming`` library) whose microphone plays a real "okay nabu" recording
followed by a spoken question (espeak-ng), twice: in English, then in Arabic. The bridge hears the wake word,
hands the question to a warm Live session, runs the tool the model calls, and plays the spoken reply back
to the satellite, which records it. The demo prints each turn and writes what the satellite played to a WAV.

With ``--wake-phrase NAME`` (``scripts/demo.sh --wake-phrase روبوت``) there is no wake word: the satellite
asks an Arabic question that starts with the name ("روبوت ما هي بايثون"), then the same question without it;
the first is answered, the second is not (nothing played, no tool run), and the demo says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
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
NAMED_PAUSE_S = 6.0  # spoken-name demo: the answer plays before the next question (the mic is muted meanwhile)
QUESTION_AR = "ما هي بايثون"
ANSWER_AR = "بايثون لغة برمجة سهلة التعلم، تستعمل في مجالات كثيرة."


@dataclass(frozen=True)
class Script:
    """What the satellite's microphone says, and what the emulator is told the user said."""

    questions: tuple[tuple[str, str], ...]
    wake_phrase: str | None = None
    pause_s: float = PAUSE_S

    @classmethod
    def named(cls, name: str) -> Script:
        """The spoken-name demo: the Arabic question with the name, then without it."""
        return cls(((f"{name} {QUESTION_AR}", "ar-EG"), (QUESTION_AR, "ar-EG")), name, NAMED_PAUSE_S)

    def scenario(self) -> dict[str, Any]:
        """The emulator's scenario for the spoken-name demo (it cannot recognise speech)."""
        named, nameless = (text for text, _language in self.questions)
        return {
            "turns": [
                {"user": named, "language": "ar-EG", "model": [{"say": ANSWER_AR}]},
                {
                    "user": nameless,
                    "language": "ar-EG",
                    "model": [{"call": {"name": "get_current_time"}}, {"say": "الساعة الآن {result[output][time]}."}],
                },
            ]
        }


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


def microphone(script: Script) -> tuple[bytes, list[int]]:
    """What the satellite's microphone hears, and the byte offset at which each question ends.

    Each question follows the wake word, or, with a spoken name, a second of silence.
    """
    if script.wake_phrase is None:
        with wave.open(str(WAKE_RECORDING), "rb") as wav:
            before = wav.readframes(wav.getnframes())
    else:
        before = bytes(MIC_RATE * 2)
    synthesizer = Synthesizer()
    audio = bytearray()
    ends = []
    for text, language in script.questions:
        audio += before + synthesizer.synthesize(text, language, sample_rate=MIC_RATE)
        ends.append(len(audio))
        audio += bytes(int(script.pause_s * MIC_RATE) * 2)
    return bytes(audio), ends


def demo_settings(satellite_uri: str, info: dict[str, Any] | None, wake_phrase: str | None = None) -> BridgeSettings:
    """The bridge's settings: the emulator's endpoint, or the real service with GEMINI_API_KEY."""
    model = os.environ.get("GEMINI_BRIDGE_MODEL")
    spoken_name: dict[str, Any] = {"wake_words": (), "wake_phrase": wake_phrase} if wake_phrase else {}
    return default_settings(
        (satellite_uri,),
        info["api_key"] if info else os.environ["GEMINI_API_KEY"],
        **({"model": model} if model else {}),
        gemini_base_url=info["base_url"] if info else None,
        gemini_ca_file=Path(info["ca_file"]) if info else None,
        voice="Kore",
        follow_up_s=0.0,
        log_format="%(message)s",
        **spoken_name,
    )


async def converse(info: dict[str, Any] | None, script: Script) -> tuple[list[TurnLog], SimulatedSatellite, list[int]]:
    """Run the satellite and the bridge until every turn is over."""
    audio, question_ends = microphone(script)
    finished: asyncio.Queue[TurnLog] = asyncio.Queue()
    async with SimulatedSatellite(audio, mode="always", name="Demo satellite") as satellite:
        bridge = Bridge(demo_settings(satellite.uri, info, script.wake_phrase), on_turn_end=finished.put)
        await bridge.start()
        try:
            turns = [await asyncio.wait_for(finished.get(), timeout=90) for _ in script.questions]
        finally:
            await bridge.stop()
    return turns, satellite, question_ends


def report(turns: list[TurnLog], satellite: SimulatedSatellite, question_ends: list[int], script: Script) -> None:
    """Each turn as a person reads it, with the two latencies that matter."""
    record = satellite.record
    replies = iter(record.audio_starts)  # one per answered turn
    start = "wake word" if script.wake_phrase is None else "start of speech"
    for number, turn in enumerate(turns):
        print(f"\nturn {turn.turn_id} ({turn.trigger})")
        print(f"  user:  {turn.user_text.strip()}")
        if not turn.accepted:
            print(
                f"  not answered: it did not start with the spoken name {script.wake_phrase!r} "
                "(nothing played, no tool run)"
            )
            continue
        for call in turn.tool_calls:
            print(f"  tool:  {call}")
        print(f"  model: {turn.reply_text.strip()}")
        if turn.error:
            print(f"  error: {turn.error}")
        if turn.session_ready_at is not None:
            print(f"  {start} -> Live session ready: {(turn.session_ready_at - turn.started_at) * 1000:.0f} ms")
        spoken_end = record.mic_time(question_ends[number]) if number < len(question_ends) else None
        reply_start = next(replies, None)
        if spoken_end is not None and reply_start is not None:
            latency = (reply_start - spoken_end) * 1000
            print(f"  end of speech -> first reply audio at the satellite: {latency:.0f} ms")


def succeeded(turns: list[TurnLog], played: bytes, script: Script) -> bool:
    """Every turn answered without an error; with a spoken name, the second turn (no name) not answered."""
    if not played or any(turn.error for turn in turns):
        return False
    if script.wake_phrase is None:
        return all(turn.accepted for turn in turns)
    return [turn.accepted for turn in turns] == [True, False]  # a tool the second turn asked for was refused


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
    script = Script.named(args.wake_phrase) if args.wake_phrase else Script(QUESTIONS)
    if script.wake_phrase:
        print(f"Spoken name {script.wake_phrase!r}: a question that starts with it, then one that does not")
    if os.environ.get("GEMINI_API_KEY"):
        print("GEMINI_API_KEY is set: the bridge talks to the real Gemini Live service")
        turns, satellite, ends = await converse(None, script)
    else:
        print("No GEMINI_API_KEY: the bridge talks to the bundled Gemini Live emulator")
        with tempfile.TemporaryDirectory(prefix="gemini-live-demo-") as scratch:
            scenario = DEMO_SCENARIO
            if script.wake_phrase:
                scenario = Path(scratch) / "spoken-name.yaml"
                scenario.write_text(yaml.safe_dump(script.scenario(), allow_unicode=True), encoding="utf-8")
            async with emulator_process(args.out.parent / "emulator.log", scenario) as info:
                turns, satellite, ends = await converse(info, script)
    report(turns, satellite, ends, script)
    played = bytes(satellite.record.played)
    rate = satellite.record.played_format[0] if satellite.record.played_format else 22050
    write_wav(args.out, played, rate)
    print(f"\nwrote {args.out}: {len(played) / (2 * rate):.2f} s of spoken reply, as the satellite played it")
    code = 0 if succeeded(turns, played, script) else 1
    if args.no_linked or script.wake_phrase is not None:
        return code
    print("\nLinked to Home Assistant: the bridge has no key; Home Assistant gives it tokens, tools and settings")
    mic = microphone(Script((("Turn on the kitchen light", "en-US"),)))[0]
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
    parser.add_argument(
        "--wake-phrase",
        metavar="NAME",
        help="no wake word: ask in Arabic with this spoken name first, e.g. روبوت, then without it (not answered)",
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
