"""Audio format conversions (soxr): nothing else.

Formats on each hop:

* a microphone (whatever a satellite or a browser sends; wyoming-satellite sends 16 kHz, 16-bit mono in chunks
  of 1024 samples = 64 ms) → :data:`GEMINI_INPUT` (16 kHz, 16-bit, mono). Mic chunks are converted and forwarded as
  they arrive, never re-chunked, so this hop adds no buffering beyond the resampler's delay.
* Gemini's :data:`GEMINI_OUTPUT` (24 kHz, 16-bit, mono) → the satellite's ``snd_format`` (22050 Hz for
  wyoming-satellite). Converted audio is sent on as soon as it exists (the satellites' playback,
  ``wyoming_bridge.satellites.playback``, paces and frames it).

Resampling uses ``soxr`` at :data:`DEFAULT_QUALITY` ("LQ"). soxr works in blocks, so a stream's output lags its
input. Measured on this machine, one channel, float32, 50 chunks of 20-500 ms each (CPU per chunk of 46-80 ms):

=========  ==========  ============================  =================================================
quality    CPU         audio held back, mean / max    frequency response
=========  ==========  ============================  =================================================
QQ         18-24 µs    0 / 0 ms                       no anti-alias filter: a 9.2 kHz tone comes out of
                                                      48k → 16k at 0 dB (aliased to 6.8 kHz)
LQ         27-40 µs    10-12 / 20-22 ms               −0.3 dB at 6 kHz (16k out) and 8 kHz (22.05k out);
                                                      stop band below −100 dB
MQ         30-41 µs    21-23 / 37-41 ms               flat to 7.5 kHz / 10 kHz
HQ         30-42 µs    19-24 / 33-40 ms               flat to 7.5 kHz / 10 kHz, −135 dB stop band
=========  ==========  ============================  =================================================

CPU is the same for LQ and HQ; what differs is the lag. LQ keeps the speech band (intelligibility lives below
4 kHz, sibilants up to ~6 kHz) at half HQ's lag; QQ has none but aliases. LQ emits output in blocks of about 19 ms:
a 40 ms reply chunk comes out at once except for a few ms, which leave with the next chunk (Gemini streams faster
than real time, so the satellite's 200 ms lead hides this). A caller must :meth:`Converter.flush` at the end of a
stream (the end of a Gemini turn) to get the tail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt
import soxr

__all__ = [
    "DEFAULT_QUALITY",
    "GEMINI_INPUT",
    "GEMINI_OUTPUT",
    "AudioFormat",
    "Converter",
    "mute",
]

DEFAULT_QUALITY: Final = "LQ"
"""soxr quality: low delay, proper anti-aliasing, speech band intact (see the module docstring)."""

_WIDTHS: Final = (1, 2, 4)
# Full scale of each width, to map samples to [-1, 1) floats and back.
_SCALE: Final = {1: 128.0, 2: 32768.0, 4: 2147483648.0}
_DTYPES: Final[dict[int, npt.DTypeLike]] = {1: np.uint8, 2: np.dtype("<i2"), 4: np.dtype("<i4")}

_Samples: TypeAlias = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """Raw PCM format: samples per second, bytes per sample, interleaved channels.

    Width 1 is unsigned 8-bit (the WAV convention, as ``wyoming`` treats it); widths 2 and 4 are signed
    little-endian.
    """

    rate: int
    width: int
    channels: int

    def __post_init__(self) -> None:
        """Reject formats that cannot be converted."""
        if self.rate <= 0:
            raise ValueError(f"sample rate must be positive, not {self.rate}")
        if self.width not in _WIDTHS:
            raise ValueError(f"sample width must be one of {_WIDTHS} bytes, not {self.width}")
        if self.channels <= 0:
            raise ValueError(f"channel count must be positive, not {self.channels}")

    @property
    def bytes_per_frame(self) -> int:
        """Bytes of one sample for every channel."""
        return self.width * self.channels

    @property
    def bytes_per_second(self) -> int:
        """Bytes of one second of audio."""
        return self.rate * self.bytes_per_frame

    def seconds(self, byte_count: int) -> float:
        """Duration of ``byte_count`` bytes of audio in this format."""
        return byte_count / self.bytes_per_second

    def byte_count(self, seconds: float) -> int:
        """Bytes of ``seconds`` of audio, rounded to whole frames."""
        return round(seconds * self.rate) * self.bytes_per_frame


GEMINI_INPUT: Final = AudioFormat(rate=16000, width=2, channels=1)
"""What Gemini Live takes as realtime audio input (and what the wake-word detector takes)."""

GEMINI_OUTPUT: Final = AudioFormat(rate=24000, width=2, channels=1)
"""What Gemini Live's native-audio models speak."""


class Converter:
    """Streaming conversion from one :class:`AudioFormat` to another.

    Stateful: chunks of one continuous stream must go through the same converter, in order, so that the
    resampler's filter spans chunk boundaries (no clicks) and partial frames are carried over. Channels are
    averaged to mono (downmix) and mono is copied to every output channel; any other channel change goes through
    mono. When the formats are equal, :meth:`convert` returns its input unchanged (no copy).
    """

    def __init__(self, source: AudioFormat, target: AudioFormat, quality: str = DEFAULT_QUALITY) -> None:
        """Prepare a converter from ``source`` to ``target`` with soxr ``quality`` (QQ, LQ, MQ, HQ or VHQ)."""
        self.source: Final = source
        self.target: Final = target
        self._passthrough = source == target
        # Mix down before resampling (fewer channels to filter), fan out after it.
        self._mix_channels = source.channels if source.channels == target.channels else 1
        self._resampler = (
            soxr.ResampleStream(source.rate, target.rate, self._mix_channels, dtype="float32", quality=quality)
            if source.rate != target.rate
            else None
        )
        self._partial = b""

    @property
    def delay_s(self) -> float:
        """Audio the resampler is holding back until more input (or :meth:`flush`) arrives."""
        if self._resampler is None:
            return 0.0
        return float(self._resampler.delay()) / self.target.rate

    def convert(self, pcm: bytes) -> bytes:
        """Convert the next piece of the stream; a trailing partial frame waits for the next call."""
        if self._passthrough:
            return pcm
        frame = self.source.bytes_per_frame
        if self._partial:
            pcm = self._partial + pcm
        whole = len(pcm) - len(pcm) % frame
        self._partial = pcm[whole:]
        if whole == 0:
            return b""
        samples = self._decode(pcm[:whole] if whole != len(pcm) else pcm)
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        return self._encode(samples)

    def flush(self) -> bytes:
        """End the stream: return the audio the resampler held back, and start afresh.

        A partial frame left over from the last :meth:`convert` cannot be converted and is dropped.
        """
        self._partial = b""
        if self._resampler is None:
            return b""
        tail = self._resampler.resample_chunk(np.zeros((0, self._mix_channels), dtype=np.float32), last=True)
        self._resampler.clear()
        return self._encode(tail)

    def _decode(self, pcm: bytes) -> _Samples:
        """Whole frames of source PCM → float32 ``(frames, mix_channels)`` in [-1, 1)."""
        width = self.source.width
        raw = np.frombuffer(pcm, dtype=_DTYPES[width]).reshape(-1, self.source.channels)
        samples = raw.astype(np.float32)
        if width == 1:
            samples -= 128.0
        samples *= 1.0 / _SCALE[width]
        if self._mix_channels != self.source.channels:
            samples = samples.mean(axis=1, keepdims=True, dtype=np.float32)
        return samples

    def _encode(self, samples: _Samples) -> bytes:
        """Float32 ``(frames, mix_channels)`` → target PCM bytes (rounded, clipped to full scale)."""
        width = self.target.width
        scale = _SCALE[width]
        if self._mix_channels != self.target.channels:
            samples = np.repeat(samples, self.target.channels, axis=1)
        # float64 so that 32-bit full scale is represented exactly before clipping.
        scaled = np.rint(samples.astype(np.float64) * scale)
        np.clip(scaled, -scale, scale - 1, out=scaled)
        if width == 1:
            scaled += 128.0
        return scaled.astype(_DTYPES[width]).tobytes()


def mute(pcm: bytes, width: int = 2) -> bytes:
    """Silence as long as ``pcm``: for half duplex, where the mic is muted while the satellite speaks."""
    if width == 1:
        return b"\x80" * len(pcm)
    return bytes(len(pcm))
