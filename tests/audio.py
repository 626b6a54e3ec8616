"""Audio helpers shared by the tests: real speech from the emulator's synthesizer, silence, WAV files.

All audio is 16-bit little-endian mono PCM, as Gemini Live and Wyoming carry it.
"""

from __future__ import annotations

import wave
from pathlib import Path

from gemini_live_emulator.speech import Synthesizer

SAMPLE_WIDTH = 2


def speech_pcm(text: str, language: str, sample_rate: int = 16000, voice: str | None = None) -> bytes:
    """``text`` spoken by espeak-ng in ``language`` (BCP-47) at ``sample_rate``."""
    return Synthesizer().synthesize(text, language, sample_rate=sample_rate, voice=voice)


def silence(seconds: float, rate: int) -> bytes:
    """Digital silence lasting ``seconds`` at ``rate``."""
    return bytes(SAMPLE_WIDTH * round(seconds * rate))


def read_wav(path: str | Path) -> tuple[bytes, int]:
    """The PCM and sample rate of a 16-bit mono WAV file."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != SAMPLE_WIDTH or wav.getnchannels() != 1:
            raise ValueError(f"{path} is not 16-bit mono")
        return wav.readframes(wav.getnframes()), wav.getframerate()


def write_wav(path: str | Path, pcm: bytes, rate: int) -> None:
    """Write 16-bit mono ``pcm`` at ``rate`` as a WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(rate)
        wav.writeframes(pcm)
