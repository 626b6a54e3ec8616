"""The emulator's voice: real espeak-ng speech in Gemini's languages and voices, from any thread.

espeak-ng carries a little wave-generator state from one utterance to the next (pitch flutter phase,
roughness cycle, gain control), so the same text never comes out bit-identical: 20 syntheses of one
sentence vary by up to 35 ms (Arabic with the rough "m1" variant; most texts by under 1 ms) and their
50 ms loudness envelopes correlate above 0.95, while different sentences correlate below 0.35.
Comparisons therefore allow 50 ms and ask for a correlation above 0.9 instead of equal bytes.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time

import numpy as np
import numpy.typing as npt
import pytest
from gemini_live_emulator.speech import (
    DEFAULT_VOICE,
    VOICE_PROFILES,
    Synthesizer,
    detect_language,
    espeak_language,
    synthesize_async,
    voice_profile,
)

RATE = 16000
ENGLISH = "Turn on the kitchen light and close the curtains in the living room."
ARABIC = "مرحبا، كيف حالك اليوم؟ سأشغل ضوء المطبخ الآن."
# Google's 30 prebuilt Live voices (gemini-live-api.md §3).
GEMINI_VOICES = (
    "Zephyr",
    "Kore",
    "Orus",
    "Autonoe",
    "Umbriel",
    "Erinome",
    "Laomedeia",
    "Schedar",
    "Achird",
    "Sadachbia",
    "Puck",
    "Fenrir",
    "Aoede",
    "Enceladus",
    "Algieba",
    "Algenib",
    "Achernar",
    "Gacrux",
    "Zubenelgenubi",
    "Sadaltager",
    "Charon",
    "Leda",
    "Callirrhoe",
    "Iapetus",
    "Despina",
    "Rasalgethi",
    "Alnilam",
    "Pulcherrima",
    "Vindemiatrix",
    "Sulafat",
)


@pytest.fixture(scope="module")
def synthesizer() -> Synthesizer:
    """One handle on the process's espeak-ng."""
    return Synthesizer()


def samples(pcm: bytes) -> npt.NDArray[np.float64]:
    """16-bit little-endian PCM as floats."""
    assert len(pcm) % 2 == 0
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def seconds(pcm: bytes, rate: int = RATE) -> float:
    """Duration of 16-bit mono PCM."""
    return len(pcm) / (2 * rate)


def rms(pcm: bytes) -> float:
    """Loudness of the whole signal."""
    return float(np.sqrt(np.mean(samples(pcm) ** 2)))


def envelope(pcm: bytes, rate: int = RATE, frame_seconds: float = 0.01) -> npt.NDArray[np.float64]:
    """Loudness of each ``frame_seconds``."""
    frame = round(rate * frame_seconds)
    values = samples(pcm)
    values = values[: len(values) // frame * frame].reshape(-1, frame)
    return np.asarray(np.sqrt(np.mean(values**2, axis=1)))


def same_speech(a: bytes, b: bytes) -> bool:
    """The same utterance: equal length within 50 ms and 50 ms loudness envelopes that move together."""
    if abs(seconds(a) - seconds(b)) > 0.05:
        return False
    ea, eb = envelope(a, frame_seconds=0.05), envelope(b, frame_seconds=0.05)
    n = min(len(ea), len(eb))
    return float(np.corrcoef(ea[:n], eb[:n])[0, 1]) > 0.9


def fundamental_hz(pcm: bytes, rate: int = RATE) -> float:
    """Median pitch of the voiced 40 ms frames, by autocorrelation between 60 and 400 Hz."""
    values, frame = samples(pcm), int(0.04 * rate)
    pitches = []
    for start in range(0, len(values) - frame, frame):
        chunk = values[start : start + frame] - values[start : start + frame].mean()
        if np.sqrt(np.mean(chunk**2)) < 1000:
            continue
        correlation = np.correlate(chunk, chunk, "full")[frame - 1 :]
        low, high = rate // 400, rate // 60
        lag = low + int(np.argmax(correlation[low:high]))
        if correlation[lag] > 0.5 * correlation[0]:
            pitches.append(rate / lag)
    assert len(pitches) >= 10, "too few voiced frames to measure pitch"
    return float(np.median(pitches))


def test_english_speech_has_plausible_duration_and_energy(synthesizer: Synthesizer) -> None:
    """12 words at espeak-ng's ~175 words a minute: 0.2–0.6 s a word, loud, mostly voiced."""
    pcm = synthesizer.synthesize(ENGLISH, "en-US", sample_rate=RATE)
    words = len(ENGLISH.split())
    assert 0.2 * words < seconds(pcm) < 0.6 * words
    assert rms(pcm) > 1000
    assert np.mean(envelope(pcm) > 100) > 0.6, "most of it is sound, not silence"


def test_arabic_is_spoken_by_the_arabic_voice(synthesizer: Synthesizer) -> None:
    """Arabic script read as Arabic words; the English voice instead spells it letter by letter."""
    arabic = synthesizer.synthesize(ARABIC, "ar-EG", sample_rate=RATE)
    words = len(ARABIC.split())
    assert 0.2 * words < seconds(arabic) < 0.8 * words
    assert rms(arabic) > 1000
    spelled = synthesizer.synthesize(ARABIC, "en-US", sample_rate=RATE)
    assert seconds(spelled) > 2 * seconds(arabic)
    assert same_speech(synthesizer.synthesize(ARABIC, "ar", sample_rate=RATE), arabic), "ar and ar-EG: one voice"


def test_arabic_and_english_differ(synthesizer: Synthesizer) -> None:
    """The same digits are different words: Arabic's number names take far longer than English's."""
    english = synthesizer.synthesize("1 2 3 4 5", "en-US", sample_rate=RATE)
    arabic = synthesizer.synthesize("1 2 3 4 5", "ar-EG", sample_rate=RATE)
    assert seconds(arabic) > 1.3 * seconds(english)
    assert not same_speech(english, arabic)


def test_unknown_language_falls_back_to_english(synthesizer: Synthesizer) -> None:
    """A language espeak-ng lacks is spoken as American English."""
    english = synthesizer.synthesize("Hello there.", "en-US", sample_rate=RATE)
    assert same_speech(synthesizer.synthesize("Hello there.", "tlh-XX", sample_rate=RATE), english)


@pytest.mark.parametrize(
    ("language", "voice"),
    [
        ("en-US", "en-us"),
        ("en", "en-us"),
        ("EN_us", "en-us"),
        ("en-GB", "en"),
        ("en-IN", "en-us"),
        ("ar-EG", "ar"),
        ("ar", "ar"),
        ("ar-XA", "ar"),
        ("de-DE", "de"),
        ("fr-FR", "fr"),
        ("pt-BR", "pt-br"),
        ("es-US", "es-419"),
        ("hi-IN", "hi"),
        ("cmn-CN", "cmn"),
        ("zh-HK", "yue"),
        ("tlh-XX", "en-us"),
        ("", "en-us"),
    ],
)
def test_bcp47_to_espeak_language(language: str, voice: str) -> None:
    """An alias or the full tag, then the primary subtag's, then American English."""
    assert espeak_language(language) == voice


def test_every_gemini_voice_has_its_own_profile() -> None:
    """All 30 voices are mapped, each differently; unknown names and no name give Puck, Gemini's default."""
    assert sorted(VOICE_PROFILES) == sorted(GEMINI_VOICES)
    assert len(set(VOICE_PROFILES.values())) == len(GEMINI_VOICES)
    assert DEFAULT_VOICE == "Puck"
    assert voice_profile(None) == voice_profile("Nobody") == VOICE_PROFILES["Puck"]
    assert voice_profile("kore") == VOICE_PROFILES["Kore"]


def test_gemini_voices_sound_different(synthesizer: Synthesizer) -> None:
    """Kore (female) is pitched far above Puck (male); Fenrir (excitable) speaks faster than Charon."""
    puck = synthesizer.synthesize(ENGLISH, "en-US", sample_rate=RATE, voice="Puck")
    kore = synthesizer.synthesize(ENGLISH, "en-US", sample_rate=RATE, voice="Kore")
    assert fundamental_hz(kore) > 1.3 * fundamental_hz(puck)
    charon = synthesizer.synthesize(ENGLISH, "en-US", sample_rate=RATE, voice="Charon")
    fenrir = synthesizer.synthesize(ENGLISH, "en-US", sample_rate=RATE, voice="Fenrir")
    assert seconds(fenrir) < 0.92 * seconds(charon)
    assert same_speech(synthesizer.synthesize(ENGLISH, "en-US", sample_rate=RATE), puck), "no voice is Puck"


@pytest.mark.parametrize("rate", [16000, 24000, 48000])
def test_output_rate(synthesizer: Synthesizer, rate: int) -> None:
    """Any rate: the same duration, and no energy above what espeak-ng (22.05 kHz) makes."""
    pcm = synthesizer.synthesize(ENGLISH, "en-US", sample_rate=rate)
    reference = synthesizer.synthesize(ENGLISH, "en-US", sample_rate=RATE)
    assert abs(seconds(pcm, rate) - seconds(reference)) < 0.01
    spectrum = np.abs(np.fft.rfft(samples(pcm))) ** 2
    frequencies = np.fft.rfftfreq(len(pcm) // 2, 1 / rate)
    audible = spectrum[(frequencies > 100) & (frequencies < 4000)].sum()
    assert spectrum[frequencies > 11025].sum() < 1e-3 * audible


def test_bad_rate_and_empty_text(synthesizer: Synthesizer) -> None:
    """Nothing to say gives no audio; a rate must be positive."""
    assert synthesizer.synthesize("  ", "en-US") == b""
    assert synthesizer.synthesize("\0", "en-US") == b""
    with pytest.raises(ValueError, match="sample_rate"):
        synthesizer.synthesize("Hello", "en-US", sample_rate=0)


TEXTS = (
    ("Good morning.", "en-US", "Kore"),
    (ENGLISH, "en-US", "Puck"),
    (ARABIC, "ar-EG", "Charon"),
    ("Das Licht in der Küche ist jetzt an.", "de-DE", "Leda"),
)


def test_threads_at_once_match_serial(synthesizer: Synthesizer) -> None:
    """Eight threads released together each get their own text's speech, as one thread alone would."""
    serial = [synthesizer.synthesize(text, lang, sample_rate=RATE, voice=voice) for text, lang, voice in TEXTS]
    jobs = [*TEXTS, *TEXTS]
    results: list[bytes] = [b""] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def work(index: int) -> None:
        text, language, voice = jobs[index]
        barrier.wait(timeout=30)
        results[index] = synthesizer.synthesize(text, language, sample_rate=RATE, voice=voice)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    for index, result in enumerate(results):
        assert same_speech(result, serial[index % len(TEXTS)]), jobs[index]
    # The texts differ enough that a mix-up could not pass as the right one.
    durations = sorted(seconds(pcm) for pcm in serial)
    assert min(b - a for a, b in itertools.pairwise(durations)) > 0.3


async def test_async_synthesis_in_worker_threads() -> None:
    """synthesize_async runs concurrently off the event loop and matches the blocking call."""
    synthesizer = Synthesizer()
    serial = [synthesizer.synthesize(text, lang, sample_rate=RATE, voice=voice) for text, lang, voice in TEXTS]
    concurrent = await asyncio.gather(
        *(synthesize_async(text, lang, sample_rate=RATE, voice=voice) for text, lang, voice in TEXTS),
        *(synthesizer.synthesize_async(text, lang, sample_rate=RATE, voice=voice) for text, lang, voice in TEXTS),
    )
    for index, result in enumerate(concurrent):
        assert same_speech(result, serial[index % len(TEXTS)])


def test_synthesis_is_much_faster_than_real_time(synthesizer: Synthesizer) -> None:
    """About 3 s of 24 kHz speech takes milliseconds (bound: a tenth of its duration)."""
    text = "The kitchen light is on, and the living room is at twenty one degrees."
    started = time.perf_counter()
    pcm = synthesizer.synthesize(text, "en-US", sample_rate=24000)
    elapsed = time.perf_counter() - started
    assert 2.5 < seconds(pcm, 24000) < 6
    assert elapsed < seconds(pcm, 24000) / 10


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("مرحبا بك", "ar-EG"),
        ("Hallo مرحبا بكم جميعا", "ar-EG"),
        ("Turn on the light", "en-US"),
        ("Schalte das Licht ein", "en-US"),
        ("12:30", "en-US"),
        ("", "en-US"),
        ("Привет, как дела?", "ru-RU"),
        ("Привіт, як справи? Їжак", "uk-UA"),
        ("नमस्ते", "hi-IN"),
        ("こんにちは世界", "ja-JP"),
        ("你好世界", "cmn-CN"),
        ("안녕하세요", "ko-KR"),
        ("สวัสดี", "th-TH"),
        ("שלום", "he-IL"),
        ("Γειά σου", "el-GR"),
    ],
)
def test_detect_language_by_script(text: str, language: str) -> None:
    """The dominant script names the language; Latin (or no letters) keeps the default."""
    assert detect_language(text) == language


def test_detect_language_latin_keeps_the_callers_default() -> None:
    """The script cannot tell German from English: the session's language decides."""
    assert detect_language("Schalte das Licht ein", default="de-DE") == "de-DE"
    assert detect_language("مرحبا", default="de-DE") == "ar-EG"
