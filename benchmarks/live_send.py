"""CPU per microphone chunk on its way to the Live WebSocket: ``uv run python -m benchmarks.live_send``.

In this process alone (no network, no event loop load), for one 64 ms chunk of 16 kHz speech (what a satellite
sends): building the text frame through the SDK (``AsyncSession.send_realtime_input`` with its pydantic models and
converters, into a WebSocket stand-in) against :func:`gemini_live_engine.live.link.audio_frame`, and what
permessage-deflate costs on that frame (websockets' own extension, with the client's default settings) when it is
negotiated. CPU time (``time.process_time``), the best of several rounds, so other load on the machine matters
less than for :mod:`benchmarks.bridge`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Sequence

from gemini_live_emulator.speech import Synthesizer
from google import genai
from google.genai import live as genai_live
from google.genai import types
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.frames import Frame, Opcode

from gemini_live_engine.live.link import audio_frame
from gemini_live_engine.options import INPUT_MIME

CHUNK_BYTES = 2048  # 1024 samples: what wyoming-satellite sends


class _Socket:
    """Takes the SDK's frames and keeps the last one."""

    last = ""

    async def send(self, message: str) -> None:
        self.last = message


def best_us(run: Callable[[], None], count: int, rounds: int) -> float:
    """The lowest CPU time per call over ``rounds`` rounds of ``count`` calls, in µs."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(count):
            run()
        best = min(best, (time.process_time() - started) / count)
    return best * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.live_send", description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="calls per round (default: 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best counts (default: 5)")
    args = parser.parse_args(argv)
    speech = Synthesizer().synthesize("Turn on the kitchen light, and close the blinds.", "en-US", sample_rate=16000)
    chunks = [speech[i : i + CHUNK_BYTES] for i in range(0, len(speech) - CHUNK_BYTES, CHUNK_BYTES)]
    socket = _Socket()
    session = genai_live.AsyncSession(api_client=genai.Client(api_key="k")._api_client, websocket=socket)  # type: ignore[arg-type]
    position = 0

    def next_chunk() -> bytes:
        nonlocal position
        position = (position + 1) % len(chunks)
        return chunks[position]

    def through_sdk() -> None:
        coroutine = session.send_realtime_input(audio=types.Blob(data=next_chunk(), mime_type=INPUT_MIME))
        with contextlib.suppress(StopIteration):
            coroutine.send(None)  # the stand-in never suspends: one step runs it to the end

    def direct() -> None:
        socket.last = audio_frame(next_chunk())

    factory = enable_client_permessage_deflate(None)[0]  # what websockets.connect offers by default
    deflate = factory.process_response_params([], [])  # a server that accepts it without parameters
    frames = [audio_frame(chunk).encode() for chunk in chunks]

    def deflated() -> None:
        deflate.encode(Frame(Opcode.TEXT, frames[position]))
        next_chunk()

    sdk_us = best_us(through_sdk, args.count, args.rounds)
    direct_us = best_us(direct, args.count, args.rounds)
    deflate_us = best_us(deflated, args.count, args.rounds)
    compressed = sum(len(deflate.encode(Frame(Opcode.TEXT, f)).data) for f in frames)
    print(f"CPU per 64 ms chunk sent (µs, best of {args.rounds} × {args.count}):")
    print(f"  frame through the SDK (send_realtime_input)   {sdk_us:8.1f}")
    print(f"  frame built directly (audio_frame)            {direct_us:8.1f}")
    print(f"  permessage-deflate on the frame, if on        {deflate_us:8.1f}")
    print(f"  deflated size: {100 * compressed / sum(map(len, frames)):.0f} % of the frame")
    print(
        f"  per always-sending stream (15.6 chunks/s): SDK {sdk_us * 15.625 / 1e4:.3f} %, direct "
        f"{direct_us * 15.625 / 1e4:.3f} %, deflate {deflate_us * 15.625 / 1e4:.3f} % of a core"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
