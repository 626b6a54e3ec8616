"""Audio format conversions (``gemini_live_engine.audio``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from gemini_live_engine.audio import GEMINI_INPUT, GEMINI_OUTPUT, AudioFormat, Converter, mute

MIC_48K_STEREO_32 = AudioFormat(rate=48000, width=4, channels=2)
SATELLITE_SND = AudioFormat(rate=22050, width=2, channels=1)
_DTYPES: dict[int, np.dtype[Any]] = {1: np.dtype(np.uint8), 2: np.dtype("<i2"), 4: np.dtype("<i4")}
_FULL_SCALE = {1: 128, 2: 32768, 4: 2**31}


def tone(fmt: AudioFormat, seconds: float, hz: float = 1000.0, amplitude: float = 0.5) -> bytes:
    """A sine in every channel of ``fmt``."""
    t = np.arange(round(seconds * fmt.rate)) / fmt.rate
    wave = amplitude * np.sin(2 * np.pi * hz * t)
    return encode(np.repeat(wave[:, None], fmt.channels, axis=1), fmt)


def encode(samples: npt.NDArray[np.float64], fmt: AudioFormat) -> bytes:
    """Float ``(frames, channels)`` in [-1, 1) → PCM bytes of ``fmt``."""
    scale = _FULL_SCALE[fmt.width]
    ints = np.clip(np.rint(samples * scale), -scale, scale - 1) + (128 if fmt.width == 1 else 0)
    return ints.astype(_DTYPES[fmt.width]).tobytes()


def decode(pcm: bytes, fmt: AudioFormat) -> npt.NDArray[np.float64]:
    """PCM bytes of ``fmt`` → float ``(frames, channels)`` in [-1, 1)."""
    ints = np.frombuffer(pcm, dtype=_DTYPES[fmt.width]).astype(np.float64) - (128 if fmt.width == 1 else 0)
    return ints.reshape(-1, fmt.channels) / _FULL_SCALE[fmt.width]


def peak_hz(mono: npt.NDArray[np.float64], rate: int) -> float:
    """The strongest frequency in ``mono``."""
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float(np.fft.rfftfreq(len(mono), 1 / rate)[int(np.argmax(spectrum))])


def rms(samples: npt.NDArray[np.float64]) -> float:
    """Root mean square of ``samples``."""
    return float(np.sqrt(np.mean(np.square(samples))))


def convert_in_chunks(converter: Converter, pcm: bytes, chunk_bytes: int) -> bytes:
    """``pcm`` through ``converter`` in pieces of ``chunk_bytes``, then flushed."""
    parts = [converter.convert(pcm[start : start + chunk_bytes]) for start in range(0, len(pcm), chunk_bytes)]
    return b"".join(parts) + converter.flush()


# ------------------------------------------------------------------------------------------------ formats


def test_audio_format_helpers() -> None:
    """Bytes per frame and second, and durations both ways."""
    fmt = AudioFormat(rate=22050, width=2, channels=1)
    assert fmt.bytes_per_frame == 2
    assert fmt.bytes_per_second == 44100
    assert fmt.seconds(44100) == 1.0
    assert fmt.byte_count(1.0) == 44100
    assert MIC_48K_STEREO_32.bytes_per_frame == 8
    assert MIC_48K_STEREO_32.byte_count(0.5) == 192000
    assert GEMINI_INPUT.seconds(2048) == pytest.approx(0.064)
    assert (GEMINI_OUTPUT.rate, GEMINI_OUTPUT.width, GEMINI_OUTPUT.channels) == (24000, 2, 1)


@pytest.mark.parametrize(("rate", "width", "channels"), [(0, 2, 1), (16000, 3, 1), (16000, 2, 0)])
def test_audio_format_rejects_what_cannot_be_converted(rate: int, width: int, channels: int) -> None:
    """A zero rate, 24-bit samples or no channels are refused up front."""
    with pytest.raises(ValueError, match="must be"):
        AudioFormat(rate, width, channels)


# ------------------------------------------------------------------------------------------------ conversion


def test_mic_48k_stereo_32bit_to_gemini_input() -> None:
    """48 kHz stereo 32-bit → 16 kHz mono 16-bit: same tone, same level, a third of the frames."""
    converter = Converter(MIC_48K_STEREO_32, GEMINI_INPUT)
    out = convert_in_chunks(converter, tone(MIC_48K_STEREO_32, 1.0), 1024 * MIC_48K_STEREO_32.bytes_per_frame)

    samples = decode(out, GEMINI_INPUT)[:, 0]
    assert len(samples) == 16000
    assert peak_hz(samples, 16000) == pytest.approx(1000, abs=2)
    assert rms(samples[1000:-1000]) == pytest.approx(0.5 / math.sqrt(2), rel=0.01)


def test_downmix_averages_channels() -> None:
    """Stereo → mono is the mean of the channels: opposite phases cancel, one silent side halves the level."""
    left = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    fmt = AudioFormat(16000, 2, 2)
    cancelled = Converter(fmt, GEMINI_INPUT).convert(encode(np.stack([left, -left], axis=1), fmt))
    halved = Converter(fmt, GEMINI_INPUT).convert(encode(np.stack([left, np.zeros_like(left)], axis=1), fmt))

    assert np.abs(decode(cancelled, GEMINI_INPUT)).max() <= 1 / 32768
    assert rms(decode(halved, GEMINI_INPUT)) == pytest.approx(rms(left) / 2, rel=0.001)


def test_gemini_output_to_22050() -> None:
    """24 kHz → 22050 Hz, what wyoming-satellite plays: same tone and level, 22050 frames per second."""
    converter = Converter(GEMINI_OUTPUT, SATELLITE_SND)
    out = convert_in_chunks(converter, tone(GEMINI_OUTPUT, 2.0, hz=440), 4800)

    samples = decode(out, SATELLITE_SND)[:, 0]
    assert len(samples) == 44100
    assert peak_hz(samples, 22050) == pytest.approx(440, abs=1)
    assert rms(samples[1000:-1000]) == pytest.approx(0.5 / math.sqrt(2), rel=0.01)


def test_mono_to_stereo_copies_the_channel() -> None:
    """Mono → stereo puts the same samples in both channels."""
    stereo = AudioFormat(24000, 2, 2)
    out = decode(Converter(GEMINI_OUTPUT, stereo).convert(tone(GEMINI_OUTPUT, 0.1)), stereo)
    assert out.shape == (2400, 2)
    assert np.array_equal(out[:, 0], out[:, 1])
    assert np.array_equal(out[:, 0], decode(tone(GEMINI_OUTPUT, 0.1), GEMINI_OUTPUT)[:, 0])


def test_widths() -> None:
    """8-bit is unsigned (0x80 is silence), 16 → 32 bit is exact, 32 → 16 bit rounds and clips."""
    u8 = AudioFormat(16000, 1, 1)
    assert (
        Converter(u8, GEMINI_INPUT).convert(bytes([0x80, 0xFF, 0x00]))
        == np.array([0, 127 * 256, -32768], dtype="<i2").tobytes()
    )
    assert Converter(GEMINI_INPUT, u8).convert(np.array([0, 32767, -32768], dtype="<i2").tobytes()) == bytes(
        [0x80, 0xFF, 0x00]
    )

    s32 = AudioFormat(16000, 4, 1)
    pcm16 = np.array([0, 1, -1, 12345, 32767, -32768], dtype="<i2")
    widened = Converter(GEMINI_INPUT, s32).convert(pcm16.tobytes())
    assert np.array_equal(np.frombuffer(widened, dtype="<i4"), pcm16.astype(np.int64) * 65536)
    assert Converter(s32, GEMINI_INPUT).convert(widened) == pcm16.tobytes()
    loud = np.array([2**31 - 1, -(2**31), 2**30], dtype="<i4").tobytes()
    assert Converter(s32, GEMINI_INPUT).convert(loud) == np.array([32767, -32768, 16384], dtype="<i2").tobytes()


@pytest.mark.parametrize(
    ("source", "target"),
    [(MIC_48K_STEREO_32, GEMINI_INPUT), (GEMINI_OUTPUT, SATELLITE_SND), (AudioFormat(22050, 2, 1), GEMINI_INPUT)],
)
@pytest.mark.parametrize("chunk_bytes", [2, 777, 1000, 2048, 4096])
def test_chunked_conversion_equals_whole(source: AudioFormat, target: AudioFormat, chunk_bytes: int) -> None:
    """Any chunking, even through the middle of a frame, gives exactly the bytes of one whole conversion."""
    pcm = tone(source, 0.5, hz=997)
    whole = Converter(source, target)
    expected = whole.convert(pcm) + whole.flush()

    assert convert_in_chunks(Converter(source, target), pcm, chunk_bytes) == expected


def test_no_clicks_at_chunk_boundaries() -> None:
    """A sine converted in satellite-sized chunks never jumps more than the sine itself can between samples."""
    converter = Converter(GEMINI_OUTPUT, SATELLITE_SND)
    out = decode(convert_in_chunks(converter, tone(GEMINI_OUTPUT, 1.0, hz=440, amplitude=0.8), 1920), SATELLITE_SND)
    steps = np.abs(np.diff(out[200:-200, 0]))
    assert steps.max() <= 2 * np.pi * 440 * 0.8 / 22050 * 1.02


def test_flush_returns_the_held_back_tail_and_starts_afresh() -> None:
    """The resampler holds some audio back until flushed; after a flush the converter starts a new stream."""
    converter = Converter(GEMINI_OUTPUT, SATELLITE_SND)
    pcm = tone(GEMINI_OUTPUT, 0.5)
    body = converter.convert(pcm)
    assert 0 < converter.delay_s < 0.025  # "LQ" works in blocks of about 19 ms
    tail = converter.flush()
    assert len(body) < SATELLITE_SND.byte_count(0.5)
    assert len(body + tail) == SATELLITE_SND.byte_count(0.5)
    assert converter.flush() == b""

    again = converter.convert(pcm) + converter.flush()
    assert again == body + tail


def test_partial_frames_wait_for_the_rest() -> None:
    """Half a frame yields nothing until its other half arrives; a flush drops a dangling half frame."""
    stereo = AudioFormat(16000, 2, 2)
    converter = Converter(stereo, GEMINI_INPUT)
    frame = np.array([1000, 3000], dtype="<i2").tobytes()
    assert converter.convert(frame[:3]) == b""
    assert converter.convert(frame[3:]) == np.array([2000], dtype="<i2").tobytes()
    assert converter.convert(frame[:1]) == b""
    assert converter.flush() == b""
    assert converter.convert(frame) == np.array([2000], dtype="<i2").tobytes()


def test_equal_formats_pass_through_without_a_copy() -> None:
    """Same format in and out: the very same bytes object comes back, and there is nothing to flush."""
    converter = Converter(GEMINI_INPUT, AudioFormat(16000, 2, 1))
    pcm = tone(GEMINI_INPUT, 0.064)
    assert converter.convert(pcm) is pcm
    assert converter.delay_s == 0.0
    assert converter.flush() == b""


def test_mute() -> None:
    """Muted audio is silence of the same length (0x80 for unsigned 8-bit)."""
    pcm = tone(GEMINI_INPUT, 0.064)
    assert mute(pcm) == bytes(len(pcm))
    assert mute(b"\x01\x02\x03", width=1) == b"\x80\x80\x80"
    assert mute(b"") == b""


# ------------------------------------------------------------------------------------------------ pacing
