"""Wake words (``wyoming_bridge.satellites.wake``): microWakeWord on real recordings, and the spoken name."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymicro_wakeword import Model

from tests.audio import read_wav, silence, speech_pcm
from wyoming_bridge.satellites.wake import VOCATIVES, SpokenNameMatcher, WakeDetection, WakeWordDetector

RECORDINGS = Path(__file__).parent.parent / "data" / "wakeword"
RATE = 16000
SATELLITE_CHUNK = 2048  # 1024 samples, what wyoming-satellite sends
ALL_MODELS = WakeWordDetector.available_models()


def recording(name: str) -> bytes:
    """A recording from tests/data/wakeword (16 kHz, 16-bit mono)."""
    pcm, rate = read_wav(RECORDINGS / f"{name}.wav")
    assert rate == RATE
    return pcm


def seconds(pcm: bytes, start: float = 0.0, end: float | None = None) -> bytes:
    """The part of ``pcm`` between ``start`` and ``end`` seconds."""
    return pcm[round(start * RATE) * 2 : None if end is None else round(end * RATE) * 2]


def feed(detector: WakeWordDetector, pcm: bytes, chunk: int = SATELLITE_CHUNK) -> list[WakeDetection]:
    """Everything ``detector`` detects in ``pcm`` fed in chunks of ``chunk`` bytes, like a satellite."""
    found = []
    for start in range(0, len(pcm), chunk):
        detection = detector.process(pcm[start : start + chunk])
        if detection is not None:
            found.append(detection)
    return found


@pytest.fixture
def detector() -> WakeWordDetector:
    """All four built-in models at once, default refractory period and pre-roll."""
    return WakeWordDetector(ALL_MODELS)


# ------------------------------------------------------------------------------------------------ detection


@pytest.mark.parametrize(
    ("name", "expected", "at_s"),
    [
        ("okay_nabu_1", "okay_nabu", 3.0),
        ("okay_nabu_2", "okay_nabu", 1.5),
        ("okay_nabu_3", "okay_nabu", 1.9),
        ("hey_jarvis_1", "hey_jarvis", 1.4),
        ("alexa_2", "alexa", 1.3),
    ],
)
def test_recordings_wake_their_model_only(detector: WakeWordDetector, name: str, expected: str, at_s: float) -> None:
    """Each real recording wakes its own model, near the documented time, and no other model."""
    found = feed(detector, recording(name))

    assert found, f"{name}: no wake word detected"
    assert {detection.name for detection in found} == {expected}
    assert found[0].offset_s == pytest.approx(at_s, abs=0.15)


def test_second_utterance_in_a_recording(detector: WakeWordDetector) -> None:
    """okay_nabu_3 says the phrase twice, 4.5 s apart: two detections."""
    found = feed(detector, recording("okay_nabu_3"))
    assert [detection.name for detection in found] == ["okay_nabu", "okay_nabu"]
    assert found[1].offset_s == pytest.approx(6.4, abs=0.15)


def test_negative_recording(detector: WakeWordDetector) -> None:
    """ "Computer, hey Peppa Pig" wakes nothing."""
    assert feed(detector, recording("computer_hey_peppa_pig")) == []


def test_no_wake_word_in_ordinary_speech_or_silence(detector: WakeWordDetector) -> None:
    """Over 30 s of synthesized English and Arabic speech, then 30 s of silence: no detection."""
    sentences = [
        (
            "The weather today is mild with a light breeze from the west, and the forecast says rain will arrive "
            "tomorrow evening. Please remember to water the plants on the balcony.",
            "en",
        ),
        ("Could you tell me how long it takes to bake bread, and whether the oven should be preheated?", "en"),
        ("مرحبا بكم في البيت. الطقس اليوم معتدل مع نسيم خفيف، ومن المتوقع أن يهطل المطر مساء الغد.", "ar"),
        ("لا تنس أن تسقي النباتات وأن تغلق نافذة المطبخ قبل أن تخرج إلى العمل في الصباح.", "ar"),
        ("Next week the library opens late on Thursday, so return the books on Wednesday instead.", "en"),
    ]
    speech = b"".join(speech_pcm(text, language, RATE) + silence(0.3, RATE) for text, language in sentences)
    assert len(speech) >= 30 * RATE * 2

    assert feed(detector, speech) == []
    assert feed(detector, silence(30, RATE)) == []


@pytest.mark.parametrize("chunk", [2, 320, 1000, 2048, 4096, 64000])
def test_detections_do_not_depend_on_chunk_size(chunk: int) -> None:
    """Whatever the chunking, the same wake words are found at the same offsets."""
    gap = silence(1.0, RATE)  # beyond the refractory period
    pcm = recording("okay_nabu_2") + gap + recording("hey_jarvis_1") + gap + recording("alexa_2")
    reference = feed(WakeWordDetector(ALL_MODELS), pcm)
    assert [detection.name for detection in reference] == ["okay_nabu", "hey_jarvis", "alexa"]

    assert feed(WakeWordDetector(ALL_MODELS), pcm, chunk) == reference


def test_offsets_count_from_creation() -> None:
    """The offset is audio time since the detector was made: leading silence moves it by as much.

    The models look at the audio every 30 ms, so a lead of 4.8 s (a multiple of 30 ms) keeps the same phase.
    """
    (alone,) = feed(WakeWordDetector(["okay_nabu"]), recording("okay_nabu_2"))
    (later,) = feed(WakeWordDetector(["okay_nabu"]), silence(4.8, RATE) + recording("okay_nabu_2"))
    assert later.offset_s == pytest.approx(alone.offset_s + 4.8, abs=1e-9)


# ------------------------------------------------------------------------------------------------ refractory


def test_same_word_within_the_refractory_period_counts_once() -> None:
    """The phrase again 1.6 s later: detected by the models, but one hit with a 2 s refractory period."""
    word = recording("okay_nabu_2")  # hit at about 1.46 s
    twice = seconds(word, 0, 1.6) + word

    assert len(feed(WakeWordDetector(["okay_nabu"], refractory_s=0), twice)) == 2
    assert len(feed(WakeWordDetector(["okay_nabu"], refractory_s=2.0), twice)) == 1


def test_same_word_after_the_refractory_period_counts_twice() -> None:
    """The phrase again 3 s later: two hits, 3 s apart."""
    word = recording("okay_nabu_2")
    found = feed(WakeWordDetector(["okay_nabu"], refractory_s=2.0), word + silence(1.0, RATE) + word)
    assert len(found) == 2
    assert found[1].offset_s - found[0].offset_s == pytest.approx(3.0, abs=1e-9)


def test_refractory_period_spans_all_models() -> None:
    """A different wake word right after a hit is part of the same wake-up."""
    pcm = seconds(recording("okay_nabu_2"), 0, 1.6) + recording("hey_jarvis_1")
    assert [d.name for d in feed(WakeWordDetector(ALL_MODELS, refractory_s=0), pcm)] == ["okay_nabu", "hey_jarvis"]
    assert [d.name for d in feed(WakeWordDetector(ALL_MODELS, refractory_s=2.0), pcm)] == ["okay_nabu"]


def test_one_utterance_is_one_hit_even_without_refractory_period() -> None:
    """The models stay above their cutoff for a while after a word: that is still one detection."""
    for name in ("okay_nabu_1", "okay_nabu_2", "hey_jarvis_1", "alexa_2"):
        assert len(feed(WakeWordDetector(ALL_MODELS, refractory_s=0), recording(name))) == 1


# ------------------------------------------------------------------------------------------------ pre-roll, reset


def test_preroll_is_the_last_second_of_audio(detector: WakeWordDetector) -> None:
    """preroll() returns the most recent preroll_s of audio, or all of it while less was heard."""
    assert detector.preroll() == b""
    short = seconds(recording("okay_nabu_1"), 0, 0.3)
    feed(detector, short)
    assert detector.preroll() == short

    pcm = recording("okay_nabu_1")
    feed(detector, pcm)
    assert detector.preroll() == pcm[-RATE * 2 :]


def test_preroll_at_detection_holds_the_wake_word() -> None:
    """At the moment of detection the pre-roll is the audio up to the end of the chunk that woke it."""
    detector = WakeWordDetector(["okay_nabu"], preroll_s=0.5)
    pcm = recording("okay_nabu_2")
    for start in range(0, len(pcm), SATELLITE_CHUNK):
        if detector.process(pcm[start : start + SATELLITE_CHUNK]) is not None:
            end = start + SATELLITE_CHUNK
            assert detector.preroll() == pcm[end - 16000 : end]
            break
    else:
        pytest.fail("okay_nabu not detected")


def test_reset_forgets_a_half_heard_word() -> None:
    """The first 1.3 s of the phrase, then reset, then the rest: nothing, where without reset it would wake."""
    word = recording("okay_nabu_2")
    head, tail = seconds(word, 0, 1.3), seconds(word, 1.3)

    uninterrupted = WakeWordDetector(["okay_nabu"])
    assert len(feed(uninterrupted, head) + feed(uninterrupted, tail)) == 1

    detector = WakeWordDetector(["okay_nabu"])
    assert feed(detector, head) == []
    detector.reset()
    assert detector.preroll() == b""
    assert feed(detector, tail) == []


def test_reset_rearms_everything() -> None:
    """After a reset the detector finds the next word at once (no refractory left), offsets still since creation."""
    detector = WakeWordDetector(["okay_nabu"], refractory_s=30)
    word = recording("okay_nabu_2")
    (first,) = feed(detector, word)
    detector.reset()
    (second,) = feed(detector, word)
    assert second.offset_s == pytest.approx(first.offset_s + len(word) / 2 / RATE, abs=1e-9)


# ------------------------------------------------------------------------------------------------ set-up


def test_available_models_come_from_the_package() -> None:
    """The built-in models are those pymicro-wakeword ships."""
    assert WakeWordDetector.available_models() == [model.value for model in Model]
    assert {"okay_nabu", "hey_jarvis", "hey_mycroft", "alexa"} <= set(ALL_MODELS)


def test_unknown_wake_word_names_the_available_ones() -> None:
    """A typo gets an error that lists what exists."""
    with pytest.raises(ValueError, match="hey_siri") as error:
        WakeWordDetector(["okay_nabu", "hey_siri"])
    for name in ALL_MODELS:
        assert name in str(error.value)
    with pytest.raises(ValueError, match="no wake word"):
        WakeWordDetector([])


def test_names_are_forgiving_about_spelling() -> None:
    """Spaces, hyphens and case are accepted; duplicates collapse."""
    assert WakeWordDetector(["Okay Nabu", "hey-jarvis", "okay_nabu"]).names == ("okay_nabu", "hey_jarvis")


def test_rejects_partial_samples_and_use_after_close() -> None:
    """Audio must be whole 16-bit samples; a closed detector refuses audio."""
    detector = WakeWordDetector(["okay_nabu"])
    with pytest.raises(ValueError, match="whole 16-bit samples"):
        detector.process(b"\x00\x00\x00")
    detector.close()
    with pytest.raises(RuntimeError, match="closed"):
        detector.process(silence(0.01, RATE))


# ------------------------------------------------------------------------------------------------ spoken name


@pytest.mark.parametrize(
    ("phrase", "transcript", "rest"),
    [
        ("روبوت", "روبوت، شغل الضوء", "شغل الضوء"),
        ("روبوت", "رُوبُوت شغل", "شغل"),
        ("روبوت", "روبـــوت: شغّل المكيف", "شغّل المكيف"),
        ("روبوت", "  «روبوت» افتح الستارة", "افتح الستارة"),
        ("روبوت", "\u200fروبوت؟", ""),
        ("روبوت", "يا روبوت، كم الساعة؟", "كم الساعة؟"),
        ("روبوت", "ياروبوت كم الساعة", "كم الساعة"),
        ("روبوت", "أيا روبوت أطفئ الأنوار", "أطفئ الأنوار"),
        ("أَلِيس", "اليس افتحي الباب", "افتحي الباب"),
        ("مساعدة", "مساعده، شغلي الأخبار", "شغلي الأخبار"),
        ("هادى", "هادي شغل الموسيقى", "شغل الموسيقى"),
        ("Robot", "Robot, lights", "lights"),
        ("robot", "ROBOT turn on the kitchen light.", "turn on the kitchen light."),
        ("Róbot", "robot! lights", "lights"),
        ("robot", "Hey robot, what time is it?", "what time is it?"),
        ("robot", "OK, robot. Lights off", "Lights off"),
        ("robot", "...robot — (lights)", "(lights)"),
        ("robot", 'Robot, "play jazz"', '"play jazz"'),
        ("hey jarvis", "Hey, Jarvis! Open the garage", "Open the garage"),
    ],
)
def test_spoken_name_matches(phrase: str, transcript: str, rest: str) -> None:
    """The phrase at the start, whatever its spelling variant, diacritics, case or punctuation."""
    matcher = SpokenNameMatcher(phrase)
    assert matcher.matches(transcript)
    assert not matcher.ruled_out(transcript)
    assert matcher.strip(transcript) == rest


@pytest.mark.parametrize(
    ("phrase", "transcript"),
    [
        ("روبوت", "أطفئ الروبوت"),
        ("روبوت", "الروبوت شغل"),
        ("روبوت", "روبوتات المصنع"),
        ("روبوت", "شغل يا روبوت الضوء"),
        ("robot", "my robot is broken"),
        ("robot", "robots are cool"),
        ("robot", "Robot's battery"),
        ("robot", "hey hey robot"),
        ("robot", "turn on the robot"),
        ("hey jarvis", "jarvis, lights"),
    ],
)
def test_spoken_name_does_not_match(phrase: str, transcript: str) -> None:
    """Anything else before the name, or a different word, is not a call by name."""
    matcher = SpokenNameMatcher(phrase)
    assert not matcher.matches(transcript)
    assert matcher.ruled_out(transcript)
    assert matcher.strip(transcript) == transcript


@pytest.mark.parametrize("partial", ["", " ", "Rob", "Hey", "hey ro", "he", "O", "يا", "يا رو", "روب", "ي"])
def test_partial_transcripts_are_not_ruled_out_too_early(partial: str) -> None:
    """While the transcription may still grow into the phrase, the decision waits."""
    matcher = SpokenNameMatcher("روبوت" if any("\u0600" <= c <= "\u06ff" for c in partial) else "robot")
    assert not matcher.matches(partial)
    assert not matcher.ruled_out(partial)


def test_vocatives_are_documented() -> None:
    """The vocatives accepted before the name, in both languages."""
    assert {"يا", "hey", "ok", "okay"} <= VOCATIVES


def test_phrase_needs_a_word() -> None:
    """A phrase of punctuation only is refused."""
    with pytest.raises(ValueError, match="no letters"):
        SpokenNameMatcher(" ،!")
