"""A stand-in microphone for wyoming-satellite's ``--mic-command`` (stdlib only; runs in the satellite's venv).

Writes raw 16-bit mono PCM to stdout at real-time pace, the way ``arecord -r 16000 -c 1 -f S16_LE -t raw``
does: silence until the test drops the cue file ``CUE_DIR/play-N``, then the N-th WAV's samples, then
``CUE_DIR/played-N`` is created and silence follows again (until the next cue, or for ever).

    mic.py --cue-dir DIR [--rate 16000] [--chunk-samples 1024] FIRST.wav [SECOND.wav ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import wave
from pathlib import Path

SAMPLE_WIDTH = 2
MAX_LAG_S = 0.2  # after a stall, catch up at most this much at once


class PacedWriter:
    """Writes PCM no faster than it would play."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.due = time.monotonic()

    def write(self, pcm: bytes) -> None:
        """Write one chunk, then wait until its audio would have been captured."""
        sys.stdout.buffer.write(pcm)
        sys.stdout.buffer.flush()
        self.due = max(self.due, time.monotonic() - MAX_LAG_S) + len(pcm) / (SAMPLE_WIDTH * self.rate)
        delay = self.due - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def read_pcm(path: Path, rate: int) -> bytes:
    """A 16-bit mono WAV's samples (at the microphone's rate)."""
    with wave.open(str(path), "rb") as wav:
        if (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) != (rate, SAMPLE_WIDTH, 1):
            raise SystemExit(f"{path}: need {rate} Hz 16-bit mono")
        return wav.readframes(wav.getnframes())


def main() -> None:
    """Play each WAV on its cue, silence in between."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cue-dir", type=Path, required=True)
    parser.add_argument("--rate", type=int, default=16000)
    parser.add_argument("--chunk-samples", type=int, default=1024)
    parser.add_argument("wavs", type=Path, nargs="+")
    args = parser.parse_args()
    chunk_bytes = args.chunk_samples * SAMPLE_WIDTH
    silence = bytes(chunk_bytes)
    out = PacedWriter(args.rate)
    for index, path in enumerate(args.wavs):
        pcm = read_pcm(path, args.rate)
        cue = args.cue_dir / f"play-{index}"
        while not cue.exists():
            out.write(silence)
        for start in range(0, len(pcm), chunk_bytes):
            out.write(pcm[start : start + chunk_bytes].ljust(chunk_bytes, b"\0"))
        (args.cue_dir / f"played-{index}").touch()
    while True:
        out.write(silence)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # the satellite stopped reading: exit quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
