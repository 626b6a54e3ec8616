"""The client-side end of speech (``gemini_live_engine.end_of_speech``) on real speech: espeak-ng and recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gemini_live_engine import defaults, end_of_speech
from gemini_live_engine.end_of_speech import FRAME_BYTES, EndOfSpeech
from tests.audio import read_wav, silence, speech_pcm

CHUNK = 2048  # what wyoming-satellite sends: 1024 samples, 64 ms
WAKEWORD_DIR = Path(__file__).parents[1] / "data" / "wakeword"


def ends_at(detector: EndOfSpeech, pcm: bytes, chunk: int = CHUNK) -> list[int]:
    """Byte offsets (end of the chunk) at which the detector ended an utterance, fed as a satellite would."""
    return [start + chunk for start in range(0, len(pcm), chunk) if detector.process(pcm[start : start + chunk])]


def last_sound(pcm: bytes, above_dbfs: float = -60.0) -> int:
    """Byte offset just after the last 10 ms frame at or above ``above_dbfs``.

    A last partial frame counts, padded with silence, as the detector hears it when silence follows.
    """
    padded = pcm + bytes(-len(pcm) % FRAME_BYTES)
    samples = np.frombuffer(padded, dtype="<i2").astype(np.float64)
    frames = samples.reshape(-1, FRAME_BYTES // 2) / 32768
    levels = 10 * np.log10(np.maximum(np.mean(frames**2, axis=1), 1e-10))
    return (int(np.nonzero(levels >= above_dbfs)[0][-1]) + 1) * FRAME_BYTES


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Well, I think, maybe, we should turn off the heating.", "en-US"),
        ("طيب، أعتقد، ربما، يجب أن نطفئ التدفئة.", "ar-EG"),
    ],
)
def test_a_sentence_with_commas_ends_once_after_its_last_word(text: str, language: str) -> None:
    """Pauses at commas do not end the utterance; the quiet after the last word does, within one chunk."""
    speech = speech_pcm(text, language)
    pcm = silence(1.0, 16000) + speech + silence(1.5, 16000)
    detector = EndOfSpeech()
    ends = ends_at(detector, pcm)
    speech_end = len(silence(1.0, 16000)) + last_sound(speech)
    quiet = defaults.END_OF_SPEECH_MS * 32  # bytes of 16 kHz 16-bit audio per ms: 32
    assert len(ends) == 1
    assert speech_end + quiet <= ends[0] < speech_end + quiet + CHUNK


def test_a_pause_of_300_ms_after_a_comma_is_not_the_end() -> None:
    """The issue's case: the user stops for 300 ms after a comma, then goes on; one end, after the second part."""
    first = speech_pcm("Turn on the kitchen light,", "en-US")
    second = speech_pcm("and close the blinds.", "en-US")
    pcm = silence(1.0, 16000) + first + silence(0.3, 16000) + second + silence(1.5, 16000)
    ends = ends_at(EndOfSpeech(), pcm)
    assert len(ends) == 1
    assert ends[0] > len(pcm) - len(silence(1.5, 16000)) - len(second) + last_sound(second)


def test_two_utterances_in_a_real_noisy_recording_end_separately() -> None:
    """okay_nabu_3.wav: a person says "okay nabu" twice in a room with background noise (-45 dBFS).

    The room's noise is not speech: each utterance ends once, after its words, not at the end of the noise.
    """
    pcm, rate = read_wav(WAKEWORD_DIR / "okay_nabu_3.wav")
    assert rate == 16000
    ends = ends_at(EndOfSpeech(), pcm)
    seconds = [end / 32000 for end in ends]
    assert len(seconds) == 2
    assert 1.6 < seconds[0] < 3.0  # speech at 1.0-1.6 s (README of tests/data/wakeword)
    assert 6.2 < seconds[1] < 7.5  # speech at 5.6-6.2 s


def test_silence_and_room_noise_never_end_anything() -> None:
    """Nothing to end without speech: digital silence, and a real room's noise (okay_nabu_1.wav before the words)."""
    pcm, _rate = read_wav(Path(__file__).parents[1] / "data" / "okay_nabu_1.wav")
    noise = pcm[: int(2.0 * 16000) * 2]  # the speech runs from about 2.14 s
    detector = EndOfSpeech()
    assert ends_at(detector, silence(3.0, 16000)) == []
    assert ends_at(detector, noise + noise) == []
    assert not detector.speaking


def test_audio_after_an_end_starts_the_next_utterance() -> None:
    """One detector follows a whole conversation: each utterance is ended once, whatever the chunk size."""
    sentence = speech_pcm("What time is it?", "en-US")
    pcm = (silence(0.5, 16000) + sentence + silence(1.0, 16000)) * 3
    assert len(ends_at(EndOfSpeech(), pcm, chunk=2048)) == 3
    assert len(ends_at(EndOfSpeech(), pcm, chunk=962)) == 3  # pieces that split frames and samples alike


def test_reset_forgets_the_utterance_under_way() -> None:
    """After reset (a new turn), the quiet that follows speech heard before it ends nothing."""
    detector = EndOfSpeech()
    speech = speech_pcm("Set the living room lights to fifty percent, please.", "en-US")
    assert ends_at(detector, speech) == []
    assert detector.speaking
    detector.reset()
    assert ends_at(detector, silence(1.5, 16000)) == []


def test_pymicro_vad_runs_only_while_a_sound_is_checked() -> None:
    """Its cost is bounded: silence costs it nothing; speech costs it until it is confirmed, not to its end."""
    detector = EndOfSpeech()
    ends_at(detector, silence(5.0, 16000))
    assert detector.vad_frames == 0
    long_speech = speech_pcm("Set the living room lights to fifty percent, and close the blinds, please.", "en-US")
    ends = ends_at(detector, long_speech + silence(1.0, 16000))
    assert len(ends) == 1
    assert detector.vad_frames < len(long_speech) // FRAME_BYTES // 2


def test_pymicro_vad_is_made_for_the_first_sound_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream nobody speaks into (an idle satellite) holds no pymicro-vad model; one is made, once, when needed."""
    made: list[object] = []

    class CountedVad(end_of_speech.Vad):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(end_of_speech, "Vad", CountedVad)
    detector = EndOfSpeech()
    ends_at(detector, silence(3.0, 16000))
    assert made == []
    sentence = speech_pcm("What time is it?", "en-US") + silence(1.0, 16000)
    assert len(ends_at(detector, sentence + sentence)) == 2
    assert len(made) == 1


def test_the_noise_level_follows_the_last_five_seconds() -> None:
    """The loudness threshold is 10 dB over the 10th percentile of the last 5 s of frame levels, however fed."""
    rng = np.random.default_rng(3)
    quiet = (rng.normal(0, 30, 16000 * 6)).astype("<i2").tobytes()  # about -61 dBFS
    loud = (rng.normal(0, 300, 16000 * 6)).astype("<i2").tobytes()  # about -41 dBFS
    for chunk in (2048, 962, 16000 * 2 * 6):
        detector = EndOfSpeech()
        ends_at(detector, quiet, chunk)
        assert -53.0 < detector.loud_dbfs < -50.0, chunk
        ends_at(detector, loud, chunk)
        assert -33.0 < detector.loud_dbfs < -29.0, chunk  # only the loud room is in the window now


def test_silence_must_be_positive() -> None:
    """0 means "leave it to the service": the front end makes no detector then."""
    with pytest.raises(ValueError, match="positive"):
        EndOfSpeech(0)
