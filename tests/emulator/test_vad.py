"""The emulator's automatic activity detection, on real audio: espeak-ng speech and a real recording.

Offsets are frame starts (10 ms frames), so an edge is placed within one frame of where the audio shows
it: the first frame reaching the loudness threshold holds the onset or follows it, the first quiet frame
holds the last speech sample or follows it. End of speech is committed exactly ``silenceDurationMs``
after its offset. Start of speech waits for the model, which hears speech 0.15–0.5 s after it begins, and
then for ``prefixPaddingMs``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from gemini_live_emulator.vad import (
    FRAME_SECONDS,
    MODEL_WINDOW_SECONDS,
    ActivityDetector,
    ActivityEvent,
    ActivityKind,
    ActivitySettings,
    EndSensitivity,
    StartSensitivity,
)

from tests.audio import read_wav, silence, speech_pcm

RATE = 16000
LEAD = 1.5
TAIL = 2.0
SENTENCE = "Turn on the kitchen light, please."
RECORDING = Path(__file__).parents[1] / "data" / "okay_nabu_1.wav"
START, END = ActivityKind.START, ActivityKind.END


def detect(
    pcm: bytes, settings: ActivitySettings | None = None, chunk: int = 2048, rate: int = RATE
) -> list[ActivityEvent]:
    """Every event of ``pcm`` fed in ``chunk``-byte pieces to a new detector."""
    detector = ActivityDetector(settings)
    events: list[ActivityEvent] = []
    for start in range(0, len(pcm), chunk):
        events += detector.process(pcm[start : start + chunk], rate)
    return events


def kinds(events: list[ActivityEvent]) -> list[ActivityKind]:
    """The kinds, in order."""
    return [event.kind for event in events]


def audible_span(pcm: bytes, rate: int = RATE) -> tuple[float, float]:
    """First and last sample at or above -60 dBFS (|x| >= 33), in seconds."""
    loud = np.flatnonzero(np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32)) >= 33)
    return loud[0] / rate, (loud[-1] + 1) / rate


def padded(text: str, language: str = "en-US", rate: int = RATE) -> tuple[bytes, float, float]:
    """Speech between LEAD s and TAIL s of silence, with where it is audible."""
    speech = speech_pcm(text, language, rate)
    first, last = audible_span(speech, rate)
    return silence(LEAD, rate) + speech + silence(TAIL, rate), LEAD + first, LEAD + last


def white_noise(seconds: float, dbfs: float, seed: int = 0) -> npt.NDArray[np.float64]:
    """Seeded white noise at an RMS level."""
    return np.random.default_rng(seed).standard_normal(round(seconds * RATE)) * 32768 * 10 ** (dbfs / 20)


def as_pcm(values: npt.NDArray[np.float64]) -> bytes:
    """Floats to 16-bit little-endian PCM, clipped."""
    return np.clip(np.round(values), -32768, 32767).astype("<i2").tobytes()


def test_speech_in_silence_gives_one_start_and_one_end() -> None:
    """Each edge within a frame of the audio; the end committed exactly 500 ms (the default) after it."""
    pcm, onset, offset = padded(SENTENCE)
    start, end = events = detect(pcm)
    assert kinds(events) == [START, END]
    assert onset - FRAME_SECONDS <= start.offset <= onset + FRAME_SECONDS
    assert offset - FRAME_SECONDS <= end.offset <= offset + FRAME_SECONDS
    assert end.detected_at == pytest.approx(end.offset + 0.5)
    # The model's window reaches back MODEL_WINDOW_SECONDS; the prefix (100 ms) comes on top.
    assert start.offset + 0.1 <= start.detected_at <= start.offset + MODEL_WINDOW_SECONDS + 0.1


def test_arabic_speech_in_silence() -> None:
    """Arabic speech is speech too."""
    pcm, onset, offset = padded("مرحبا، كيف حالك اليوم؟ شغل ضوء المطبخ من فضلك.", "ar-EG")
    start, end = events = detect(pcm)
    assert kinds(events) == [START, END]
    assert onset - FRAME_SECONDS <= start.offset <= onset + FRAME_SECONDS
    assert offset - FRAME_SECONDS <= end.offset <= offset + FRAME_SECONDS


def test_speaking_follows_the_events() -> None:
    """speaking turns on at start of speech and off at its end; position counts whole frames heard."""
    speech = speech_pcm(SENTENCE, "en-US")
    detector = ActivityDetector()
    states = [detector.speaking]
    assert kinds(detector.process(silence(LEAD, RATE) + speech)) == [START]
    states.append(detector.speaking)
    assert kinds(detector.process(silence(TAIL, RATE))) == [END]
    states.append(detector.speaking)
    assert states == [False, True, False]
    samples = round(LEAD * RATE) + len(speech) // 2 + round(TAIL * RATE)
    assert detector.position == samples // 160 * 160 / RATE


def test_longer_silence_duration_delays_end_by_the_difference() -> None:
    """silenceDurationMs 1200 instead of 500: the same speech, its end known 700 ms later."""
    pcm, _, _ = padded(SENTENCE)
    short = detect(pcm, ActivitySettings.from_setup({"silenceDurationMs": 500}))
    long = detect(pcm, ActivitySettings.from_setup({"silenceDurationMs": 1200}))
    assert kinds(short) == kinds(long) == [START, END]
    assert short[0] == long[0]
    assert long[1].offset == short[1].offset
    assert long[1].detected_at - short[1].detected_at == pytest.approx(0.7)


def test_pause_inside_speech_and_end_sensitivity() -> None:
    """A 700 ms pause ends speech under END_SENSITIVITY_HIGH (500 ms), not under LOW (1000 ms)."""
    first, second = speech_pcm("Turn on the light", "en-US"), speech_pcm("in the kitchen.", "en-US")
    pause = 0.7
    pcm = silence(LEAD, RATE) + first + silence(pause, RATE) + second + silence(TAIL, RATE)
    first_end = LEAD + audible_span(first)[1]
    second_start = LEAD + len(first) / 2 / RATE + pause + audible_span(second)[0]

    high = detect(pcm)
    assert kinds(high) == [START, END, START, END]
    assert high[1].offset == pytest.approx(first_end, abs=FRAME_SECONDS)
    assert high[2].offset == pytest.approx(second_start, abs=FRAME_SECONDS)

    low = detect(pcm, ActivitySettings(end_sensitivity=EndSensitivity.LOW))
    assert kinds(low) == [START, END]
    assert low[1].detected_at == pytest.approx(low[1].offset + 1.0)
    # An explicit duration overrides the sensitivity's default.
    assert kinds(detect(pcm, ActivitySettings.from_setup({"silenceDurationMs": 1000}))) == [START, END]


def test_comma_pause_ends_speech_only_with_a_short_silence_duration() -> None:
    """espeak-ng pauses ~340 ms at a comma: 500 ms bridges it, 100 ms (the API docs' example) does not."""
    pcm, _, _ = padded("Hello there, turn on the kitchen light.")
    assert kinds(detect(pcm)) == [START, END]
    assert kinds(detect(pcm, ActivitySettings(silence_duration_ms=100))) == [START, END, START, END]


def test_start_sensitivity_low_commits_later_on_a_real_recording() -> None:
    """Same speech found, same edges; LOW waits for p >= 0.8 held 200 ms instead of p >= 0.5 held 100 ms."""
    pcm, _ = read_wav(RECORDING)
    high = detect(pcm + silence(1.0, RATE))
    low = detect(pcm + silence(1.0, RATE), ActivitySettings(start_sensitivity=StartSensitivity.LOW))
    assert kinds(high) == kinds(low) == [START, END]
    assert low[0].offset == high[0].offset
    assert low[1].offset == high[1].offset
    assert low[0].detected_at >= high[0].detected_at + 0.1


def test_start_sensitivity_low_ignores_speech_the_model_doubts() -> None:
    """The recording under white noise at -13.5 dBFS: the model's probability stays between 0.5 and 0.8.

    (Measured: 50 frames in a row at or above 0.5, never 2 in a row at or above 0.8; with the noise
    0.5 dB louder or softer, still >= 32 and <= 11: this is no knife edge.)
    """
    pcm, _ = read_wav(RECORDING)
    speech = np.frombuffer(pcm + silence(1.0, RATE), dtype="<i2").astype(np.float64)
    noisy = as_pcm(speech + white_noise(len(speech) / RATE, -13.5, seed=3))
    assert kinds(detect(noisy)) == [START, END]
    assert detect(noisy, ActivitySettings(start_sensitivity=StartSensitivity.LOW)) == []


def test_prefix_padding_is_the_speech_needed_before_start() -> None:
    """A short "yes" (0.4 s, which the model hears for ~0.8 s) starts speech with 100 ms but not 1000 ms."""
    pcm, _, _ = padded("Yes.")
    assert kinds(detect(pcm, ActivitySettings(prefix_padding_ms=100))) == [START, END]
    assert detect(pcm, ActivitySettings(prefix_padding_ms=1000)) == []
    long, onset, _ = padded("What is the weather like in Berlin tomorrow morning?")
    start = detect(long, ActivitySettings(prefix_padding_ms=1000))[0]
    assert start.offset == pytest.approx(onset, abs=FRAME_SECONDS)
    assert start.detected_at >= start.offset + 1.0


@pytest.mark.parametrize(
    ("name", "noise"),
    [
        ("digital silence", np.zeros(10 * RATE)),
        ("white noise at -50 dBFS", white_noise(10, -50)),
        ("white noise at -30 dBFS", white_noise(10, -30, seed=1)),
    ],
)
def test_silence_and_noise_alone_give_no_event(name: str, noise: npt.NDArray[np.float64]) -> None:
    """Ten seconds without speech."""
    assert detect(as_pcm(noise)) == [], name


def test_flush_ends_an_active_segment() -> None:
    """audioStreamEnd right after a sentence: its speech ends at once, where the audio did; again: nothing."""
    speech = speech_pcm("Turn on the kitchen light and close the curtains in the living room.", "en-US")
    detector = ActivityDetector()
    assert kinds(detector.process(silence(LEAD, RATE) + speech)) == [START]
    events = detector.flush()
    assert kinds(events) == [END]
    assert events[0].detected_at == detector.position
    assert events[0].offset == pytest.approx(LEAD + audible_span(speech)[1], abs=FRAME_SECONDS)
    assert not detector.speaking
    assert detector.flush() == []
    # What follows is a new stream, heard from its first frame.
    assert kinds(detector.process(speech + silence(TAIL, RATE))) == [START, END]


def test_flush_without_speech_gives_nothing() -> None:
    """No speech, nothing to end."""
    detector = ActivityDetector()
    detector.process(silence(1.0, RATE))
    assert detector.flush() == []


def test_speech_at_the_very_start_of_a_stream() -> None:
    """The model is primed with silence, so speech in the first 0.76 s is heard and placed."""
    speech = speech_pcm("Stop, please.", "en-US")
    events = detect(speech + silence(TAIL, RATE))
    assert kinds(events) == [START, END]
    assert events[0].offset <= audible_span(speech)[0] + FRAME_SECONDS


@pytest.mark.parametrize("chunk", [1, 7, 320, 333, 4096, 1 << 30])
def test_chunk_size_does_not_change_the_result(chunk: int) -> None:
    """From single bytes to the whole stream at once: the same events, exactly."""
    pcm, _, _ = padded(SENTENCE)
    assert detect(pcm, chunk=chunk) == detect(pcm, chunk=2048)


@pytest.mark.parametrize("chunk", [7, 1922, 1 << 30])
def test_48_khz_input(chunk: int) -> None:
    """48 kHz speech gives the edges 16 kHz speech gives (it is resampled, in a stream, to 16 kHz)."""
    pcm48, _, _ = padded(SENTENCE, rate=48000)
    pcm16, onset, offset = padded(SENTENCE)
    events48 = detect(pcm48, chunk=chunk, rate=48000)
    events16 = detect(pcm16)
    assert kinds(events48) == [START, END]
    assert events48[0].offset == pytest.approx(onset, abs=FRAME_SECONDS)
    assert events48[1].offset == pytest.approx(offset, abs=FRAME_SECONDS)
    for at48, at16 in zip(events48, events16, strict=True):
        assert at48.offset == pytest.approx(at16.offset, abs=FRAME_SECONDS)
        # The model may decide a frame or two apart on differently resampled audio.
        assert at48.detected_at == pytest.approx(at16.detected_at, abs=3 * FRAME_SECONDS)


def test_real_recording() -> None:
    """A person saying "okay nabu" in a room: speech from 2.14 s (-37 to -12 dBFS there) to about 2.9 s.

    The end is fuzzier than the start: "nabu" fades into the room's -40 dBFS noise between 2.86 s and
    2.95 s, so 50 ms either way is where the speech ends.
    """
    pcm, rate = read_wav(RECORDING)
    assert rate == RATE
    start, end = events = detect(pcm + silence(1.0, RATE))
    assert kinds(events) == [START, END]
    assert start.offset == pytest.approx(2.14, abs=FRAME_SECONDS)
    assert end.offset == pytest.approx(2.9, abs=0.05)


def test_disabled_detects_nothing() -> None:
    """With automatic detection off the client marks activity itself."""
    pcm, _, _ = padded(SENTENCE)
    detector = ActivityDetector(ActivitySettings.from_setup({"disabled": True}))
    assert detector.process(pcm) == []
    assert detector.flush() == []
    assert not detector.speaking
    assert detector.position == len(pcm) // 2 // 160 * 160 / RATE


def test_reset_forgets_speech_without_an_event_and_keeps_the_clock() -> None:
    """After reset the detector is as new, but its offsets still count from creation."""
    speech = speech_pcm(SENTENCE, "en-US")
    detector = ActivityDetector()
    assert kinds(detector.process(silence(LEAD, RATE) + speech)) == [START]
    before = detector.position
    detector.reset()
    assert not detector.speaking
    assert detector.position >= before
    events = detector.process(silence(1.0, RATE) + speech + silence(TAIL, RATE))
    assert kinds(events) == [START, END]
    assert events[0].offset == pytest.approx(before + 1.0 + audible_span(speech)[0], abs=2 * FRAME_SECONDS)


def test_event_kinds() -> None:
    """Kinds compare equal to plain strings and name the Live API's voiceActivity types."""
    assert START == "start"
    assert END == "end"
    assert START.wire_type == "ACTIVITY_START"
    assert END.wire_type == "ACTIVITY_END"


def test_settings_defaults() -> None:
    """A missing or empty config is the API's default: enabled, both sensitivities HIGH."""
    for config in (None, {}, {"startOfSpeechSensitivity": "START_SENSITIVITY_UNSPECIFIED"}):
        settings = ActivitySettings.from_setup(config)
        assert settings == ActivitySettings()
        assert not settings.disabled
        assert (settings.start_threshold, settings.prefix_ms) == (0.5, 100)
        assert (settings.end_threshold, settings.silence_ms) == (0.5, 500)


def test_settings_from_a_full_setup() -> None:
    """Every field read from the canonical camelCase dict."""
    settings = ActivitySettings.from_setup(
        {
            "disabled": False,
            "startOfSpeechSensitivity": "START_SENSITIVITY_LOW",
            "endOfSpeechSensitivity": "END_SENSITIVITY_LOW",
            "prefixPaddingMs": 20,
            "silenceDurationMs": 100,
        }
    )
    assert settings == ActivitySettings(False, StartSensitivity.LOW, EndSensitivity.LOW, 20, 100)
    assert (settings.start_threshold, settings.prefix_ms) == (0.8, 20)
    assert (settings.end_threshold, settings.silence_ms) == (0.3, 100)
    low = ActivitySettings.from_setup({"startOfSpeechSensitivity": 2, "endOfSpeechSensitivity": 2})
    assert (low.prefix_ms, low.silence_ms) == (200, 1000), "LOW's defaults"
    assert ActivitySettings.from_setup({"prefixPaddingMs": "0", "silenceDurationMs": 250.0}).prefix_ms == 0


@pytest.mark.parametrize(
    "config",
    [
        {"disabled": "yes"},
        {"startOfSpeechSensitivity": "START_SENSITIVITY_MEDIUM"},
        {"endOfSpeechSensitivity": "START_SENSITIVITY_LOW"},
        {"endOfSpeechSensitivity": 3},
        {"endOfSpeechSensitivity": False},
        {"prefixPaddingMs": 2**31},
        {"prefixPaddingMs": -1},
        {"silenceDurationMs": 1.5},
        {"silenceDurationMs": True},
    ],
)
def test_settings_reject_what_the_api_rejects(config: dict[str, object]) -> None:
    """Unknown enum values and impossible durations are errors."""
    with pytest.raises(ValueError, match=r"Invalid|must be"):
        ActivitySettings.from_setup(config)
