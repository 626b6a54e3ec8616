"""The end-to-end demo: a scripted conversation of the real google-genai SDK with Gemini Live.

Without ``GEMINI_API_KEY`` it starts the bundled emulator (``python -m wyoming_bridge.emulator``), reads
its JSON line, and talks to it over TLS; with the key set it talks to the real service. Turn 1 is
spoken (espeak-ng speech streamed at microphone pace, ended by the service's activity detection) and
needs a tool call; turn 2 is typed Arabic. The spoken replies are written to a WAV file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import ssl
import sys
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google import genai
from google.genai import types

from .emulator.speech import Synthesizer

MIC_RATE = 16000
REPLY_RATE = 24000
CHUNK_MS = 40
DEMO_SCENARIO = Path(__file__).parent / "emulator" / "scenarios" / "demo.yaml"

TOOLS: list[types.ToolUnion] = [
    types.Tool(
        function_declarations=[
            types.FunctionDeclaration(
                name="turn_on_light",
                description="Turn on a light in the home.",
                parameters=types.Schema(
                    type=types.Type.OBJECT,
                    properties={"name": types.Schema(type=types.Type.STRING, description="The light's name")},
                    required=["name"],
                ),
            ),
            types.FunctionDeclaration(name="get_current_time", description="The current local time."),
        ]
    )
]


@dataclass
class TurnReport:
    """What one turn of the demo saw."""

    label: str
    user_transcript: str = ""
    reply_transcript: str = ""
    tool_calls: list[str] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    input_done_at: float | None = None
    first_audio_at: float | None = None


def execute_tool(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """The demo's own tools (the bridge maps these to Home Assistant later)."""
    if name == "turn_on_light":
        return {"state": "on", "name": args.get("name", "")}
    if name == "get_current_time":
        return {"time": datetime.datetime.now().strftime("%H:%M")}
    return {"error": f"unknown tool {name}"}


@contextlib.asynccontextmanager
async def emulator_process(log_path: Path) -> AsyncIterator[dict[str, Any]]:
    """Start ``python -m wyoming_bridge.emulator`` and yield its ready line."""
    started = time.monotonic()
    log = log_path.open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wyoming_bridge.emulator",
        "--scenario",
        str(DEMO_SCENARIO),
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
        log.close()


def make_client(info: dict[str, Any] | None) -> genai.Client:
    """A client for the emulator (its CA trusted explicitly) or, with no info, for the real service."""
    if info is None:
        return genai.Client(api_key=os.environ["GEMINI_API_KEY"])
    context = ssl.create_default_context(cafile=info["ca_file"])
    return genai.Client(
        api_key=info["api_key"],
        http_options=types.HttpOptions(base_url=info["base_url"], async_client_args={"ssl": context}),
    )


async def stream_speech(session: Any, pcm: bytes) -> None:
    """Send speech, then a second of silence, at microphone pace."""
    chunk = MIC_RATE * 2 * CHUNK_MS // 1000
    audio = pcm + bytes(MIC_RATE * 2)
    for start in range(0, len(audio), chunk):
        await session.send_realtime_input(
            audio=types.Blob(data=audio[start : start + chunk], mime_type=f"audio/pcm;rate={MIC_RATE}")
        )
        await asyncio.sleep(CHUNK_MS / 1000)


async def receive_turn(session: Any, report: TurnReport) -> None:
    """Collect one model turn; answer its tool calls."""
    async for message in session.receive():
        content = message.server_content
        if content is not None:
            if content.input_transcription and content.input_transcription.text:
                report.user_transcript += content.input_transcription.text
                report.input_done_at = time.monotonic()
            if content.output_transcription and content.output_transcription.text:
                report.reply_transcript += content.output_transcription.text
        if message.data:
            if report.first_audio_at is None:
                report.first_audio_at = time.monotonic()
            report.audio.extend(message.data)
        if message.tool_call and message.tool_call.function_calls:
            responses = []
            for call in message.tool_call.function_calls:
                name = call.name or ""
                result = execute_tool(name, dict(call.args or {}))
                report.tool_calls.append(f"{name}({json.dumps(call.args or {})}) -> {json.dumps(result)}")
                responses.append(types.FunctionResponse(id=call.id, name=name, response=result))
            await session.send_tool_response(function_responses=responses)


async def converse(client: genai.Client, model: str) -> list[TurnReport]:
    """Run the two demo turns."""
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        speech_config=types.SpeechConfig(
            voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Kore"))
        ),
        system_instruction="You are a helpful voice assistant for a home. Answer briefly.",
        tools=TOOLS,
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
        session_resumption=types.SessionResumptionConfig(),
    )
    speech = await asyncio.to_thread(
        Synthesizer().synthesize, "Turn on the kitchen light, please.", "en-US", sample_rate=MIC_RATE
    )
    reports = [TurnReport("spoken, English"), TurnReport("typed, Arabic")]
    connect_started = time.monotonic()
    async with client.aio.live.connect(model=model, config=config) as session:
        print(f"session ready in {(time.monotonic() - connect_started) * 1000:.0f} ms")
        sender = asyncio.create_task(stream_speech(session, speech))
        speech_ends_at = time.monotonic() + len(speech) / (2 * MIC_RATE)
        await receive_turn(session, reports[0])
        await sender
        reports[0].input_done_at = speech_ends_at
        await session.send_realtime_input(text="كم الساعة الآن؟")
        reports[1].user_transcript = "كم الساعة الآن؟"
        reports[1].input_done_at = time.monotonic()
        await receive_turn(session, reports[1])
    return reports


def write_wav(path: Path, pcm: bytes, rate: int) -> None:
    """16-bit mono WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)


def print_report(reports: list[TurnReport]) -> None:
    """The conversation as a person reads it."""
    for number, report in enumerate(reports, 1):
        print(f"\nturn {number} ({report.label})")
        print(f"  user:  {report.user_transcript.strip()}")
        for call in report.tool_calls:
            print(f"  tool:  {call}")
        print(f"  model: {report.reply_transcript.strip()}")
        seconds = len(report.audio) / (2 * REPLY_RATE)
        print(f"  reply audio: {seconds:.2f} s")
        if report.input_done_at is not None and report.first_audio_at is not None:
            latency = (report.first_audio_at - report.input_done_at) * 1000
            print(f"  end of user input -> first reply audio: {latency:.0f} ms")


async def main_async(args: argparse.Namespace) -> int:
    """Run the demo against the emulator or, with GEMINI_API_KEY, the real service."""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if os.environ.get("GEMINI_API_KEY"):
        print("GEMINI_API_KEY is set: talking to the real Gemini Live service")
        reports = await converse(make_client(None), args.model)
    else:
        print("No GEMINI_API_KEY: starting the bundled Gemini Live emulator")
        async with emulator_process(args.out.parent / "emulator.log") as info:
            reports = await converse(make_client(info), args.model)
    print_report(reports)
    audio = b"".join(bytes(r.audio) for r in reports)
    write_wav(args.out, audio, REPLY_RATE)
    print(f"\nwrote {args.out} ({len(audio) / (2 * REPLY_RATE):.2f} s of spoken reply)")
    return 0 if audio else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m wyoming_bridge.demo``."""
    parser = argparse.ArgumentParser(prog="python -m wyoming_bridge.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("out/reply.wav"), help="where to write the reply audio")
    parser.add_argument("--model", default="gemini-3.8-live", help="Live model (default: gemini-3.8-live)")
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
