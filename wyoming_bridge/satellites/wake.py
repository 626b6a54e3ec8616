"""Wake words: acoustic ones (pymicro-wakeword) and the opt-in spoken name at the start of a transcript.

:class:`WakeWordDetector` runs on always-streaming satellites, on the 16 kHz, 16-bit mono audio the bridge also
sends to Gemini. It computes microWakeWord's features once per chunk and feeds them to every requested built-in
model. CPU per 10 ms of audio, fed in 1024-sample chunks on a 2-vCPU Xeon VM (Python 3.14): about 0.05 ms with one
model (0.5 % of a core) and 0.09-0.10 ms with all four (about 1 %), against 0.062 ms and 0.157 ms through
pymicro-wakeword's own ``process_streaming`` loop. What remains is the 10 ms feature frontend (~0.017 ms) and the
TFLite inference (~0.013 ms per model), both in C.

:class:`SpokenNameMatcher` is the text wake word (``--wake-phrase "روبوت"``): it checks that a transcript starts with
the name, in Arabic as in Latin scripts.
"""

from __future__ import annotations

import unicodedata
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model

__all__ = ["VOCATIVES", "SpokenNameMatcher", "WakeDetection", "WakeWordDetector"]

_RATE: Final = 16000
_SAMPLE_BYTES: Final = 2
# microWakeWord's frontend emits one feature vector per 10 ms step over a 30 ms window: the n-th feature since a
# reset covers the audio up to sample 480 + (n - 1) * 160.
_FEATURE_STEP_SAMPLES: Final = 160
_FEATURE_WINDOW_SAMPLES: Final = 480


@dataclass(frozen=True, slots=True)
class WakeDetection:
    """A wake word heard: the model's name and where it ended, in seconds of audio since the detector was made."""

    name: str
    offset_s: float


class _Model:
    """One built-in model with its trigger state.

    Inference goes through the interpreter pymicro-wakeword loaded, with the same quantization and smoothing as
    ``MicroWakeWord.process_streaming_prob`` but a fraction of its Python work per call (which costs more than
    the inference itself, mostly ``statistics.mean``), and with the feature window assembled once for all models.
    """

    def __init__(self, name: str) -> None:
        self.name: Final = name
        self.wake_word: Final = MicroWakeWord.from_builtin(Model(name))
        self.stride: Final[int] = self.wake_word.stride
        self.cutoff: Final[float] = self.wake_word.probability_cutoff
        self._smoothing: Final[int] = self.wake_word.sliding_window_size
        self._recent: deque[float] = deque(maxlen=self._smoothing)
        self._output = np.empty(1, dtype=self.wake_word.output_dtype)
        # A model fires on the rising edge of its smoothed probability: that stays above the cutoff for up to a
        # second after one utterance, which must not count twice however short the refractory period is.
        self.armed = True

    def infer(self, window: npt.NDArray[np.float64]) -> float:
        """The smoothed probability after one inference on ``stride`` features (0 until the smoothing is primed)."""
        model = self.wake_word
        if model.interpreter is None:
            raise RuntimeError(f"wake word model {self.name} is closed")
        quantized = np.round(window / model.input_scale + model.input_zero_point).astype(model.input_dtype)
        lib = model.lib
        lib.TfLiteTensorCopyFromBuffer(model.input_tensor, quantized.ctypes.data, quantized.nbytes)
        lib.TfLiteInterpreterInvoke(model.interpreter)
        lib.TfLiteTensorCopyToBuffer(model.output_tensor, self._output.ctypes.data, self._output.nbytes)
        recent = self._recent
        recent.append((float(self._output[0]) - model.output_zero_point) * model.output_scale)
        if len(recent) < self._smoothing:
            return 0.0
        return sum(recent) / self._smoothing

    def reset(self) -> None:
        """Clear the model's streaming state (pymicro-wakeword reloads the interpreter for that)."""
        self.wake_word.reset()
        self._recent.clear()
        self.armed = True

    def close(self) -> None:
        """Release the interpreter."""
        self.wake_word.close()


class WakeWordDetector:
    """Several pymicro-wakeword built-in models listening to one 16 kHz, 16-bit mono stream.

    Not thread-safe; one detector per satellite (the models are stateful). After any hit, every model is quiet
    for ``refractory_s`` seconds of audio: one utterance gives one detection, whichever models it woke.
    """

    def __init__(self, names: Sequence[str], refractory_s: float = 2.0, preroll_s: float = 1.0) -> None:
        """Load the built-in models ``names`` (e.g. ``okay_nabu``; see :meth:`available_models`)."""
        wanted = self.check(names, refractory_s, preroll_s)
        self.names: Final = tuple(wanted)
        self.refractory_s: Final = refractory_s
        self._features = MicroWakeWordFeatures()
        self._models = [_Model(name) for name in wanted]
        self._recent_features: deque[npt.NDArray[np.float64]] = deque(maxlen=max(m.stride for m in self._models))
        self._preroll_bytes = round(preroll_s * _RATE) * _SAMPLE_BYTES
        self._preroll = bytearray()
        self._samples_in = 0  # every sample ever given to process()
        self._origin = 0  # sample at which the feature extractor was last reset
        self._feature_count = 0  # features since then
        self._last_hit_s: float | None = None
        self._closed = False

    @classmethod
    def check(cls, names: Sequence[str], refractory_s: float = 2.0, preroll_s: float = 1.0) -> list[str]:
        """The model ids ``names`` stand for; ValueError when a detector could not be made from these arguments."""
        available = cls.available_models()
        wanted = list(dict.fromkeys(_model_id(name) for name in names))
        if not wanted:
            raise ValueError(f"no wake word given; available: {', '.join(available)}")
        unknown = [name for name in wanted if name not in available]
        if unknown:
            raise ValueError(f"unknown wake word {', '.join(unknown)}; available: {', '.join(available)}")
        if refractory_s < 0 or preroll_s < 0:
            raise ValueError("refractory and pre-roll durations cannot be negative")
        return wanted

    @staticmethod
    def available_models() -> list[str]:
        """The names of the models built into pymicro-wakeword."""
        return [model.value for model in Model]

    def process(self, pcm16k: bytes) -> WakeDetection | None:
        """Listen to the next chunk (whole 16-bit samples at 16 kHz, any length); the first new detection in it."""
        if self._closed:
            raise RuntimeError("the wake word detector is closed")
        if len(pcm16k) % _SAMPLE_BYTES:
            raise ValueError(f"{len(pcm16k)} bytes are not whole 16-bit samples")
        self._remember(pcm16k)
        self._samples_in += len(pcm16k) // _SAMPLE_BYTES
        detection: WakeDetection | None = None
        for features in self._features.process_streaming(pcm16k):
            self._feature_count += 1
            self._recent_features.append(features)
            windows: dict[int, npt.NDArray[np.float64]] = {}
            # Every model runs on every window, even after a hit in this chunk, so that its state follows the audio.
            for entry in self._models:
                if self._feature_count % entry.stride:
                    continue  # like pymicro-wakeword: one inference per `stride` new features, no overlap
                window = windows.get(entry.stride)
                if window is None:
                    window = windows[entry.stride] = np.concatenate(
                        list(self._recent_features)[-entry.stride :], axis=1
                    )
                if entry.infer(window) <= entry.cutoff:
                    entry.armed = True
                    continue
                if not entry.armed:
                    continue
                entry.armed = False
                offset_s = self._feature_end_s()
                if detection is None and not self._refractory(offset_s):
                    self._last_hit_s = offset_s
                    detection = WakeDetection(entry.name, offset_s)
        return detection

    def preroll(self) -> bytes:
        """The last ``preroll_s`` of audio (less if less was heard since creation or :meth:`reset`)."""
        return bytes(self._preroll)

    def reset(self) -> None:
        """Forget the audio heard so far (after a conversation), so that a stale half-word cannot trigger."""
        if self._closed:
            return
        self._features.reset()
        self._recent_features.clear()
        for entry in self._models:
            entry.reset()
        self._origin = self._samples_in
        self._feature_count = 0
        self._preroll.clear()
        self._last_hit_s = None

    def close(self) -> None:
        """Release the models' TFLite interpreters now rather than when collected; the detector is done."""
        self._closed = True
        for entry in self._models:
            entry.close()

    def _remember(self, pcm: bytes) -> None:
        self._preroll += pcm
        if len(self._preroll) > self._preroll_bytes:
            del self._preroll[: len(self._preroll) - self._preroll_bytes]

    def _feature_end_s(self) -> float:
        """Where the audio of the latest feature ends, in seconds since creation."""
        end = self._origin + _FEATURE_WINDOW_SAMPLES + (self._feature_count - 1) * _FEATURE_STEP_SAMPLES
        return end / _RATE

    def _refractory(self, offset_s: float) -> bool:
        return self._last_hit_s is not None and offset_s - self._last_hit_s < self.refractory_s


def _model_id(name: str) -> str:
    """``"Okay Nabu"``, ``"okay-nabu"`` and ``"okay_nabu"`` all name the model ``okay_nabu``."""
    return "_".join(name.strip().casefold().replace("-", " ").replace("_", " ").split())


# ----------------------------------------------------------------------------------------------- spoken name

VOCATIVES: Final = frozenset({"يا", "ايا", "hey", "hi", "hello", "ok", "okay"})
"""Words a person may put before the name: "يا روبوت …", "hey robot …", "ok robot …" (compared normalized)."""

# Arabic letters that transcribers (and people) use interchangeably; NFKD already folds أ إ آ into ا and ؤ ئ into
# و ي. Tatweel only stretches a word.
_LETTER_VARIANTS: Final = str.maketrans({"ٱ": "ا", "ى": "ي", "ی": "ي", "ة": "ه", "ک": "ك", "ـ": None})
_APOSTROPHES: Final = "'’"
_ARABIC_VOCATIVE: Final = "يا"
# What may separate the name from the request ("Robot, turn on …", "روبوت، شغّل …", "«روبوت» شغّل"): spaces,
# punctuation that ends or separates, invisible controls. Opening brackets and quotes (ASCII ones may open too)
# belong to the request.
_SEPARATOR_CATEGORIES: Final = frozenset({"Po", "Pd", "Pe", "Pf", "Zs", "Zl", "Zp", "Cc", "Cf"})
_QUOTES: Final = "\"'"


@dataclass(frozen=True, slots=True)
class _Token:
    """A normalized word and the span of the original text it came from."""

    text: str
    start: int
    end: int


class SpokenNameMatcher:
    """Does a transcript start with the assistant's name?

    Both sides are normalized before comparing whole words: case-folded; accents, Arabic harakat and tatweel
    removed; alef forms (أ إ آ ٱ) read as ا, ى as ي and ة as ه; punctuation and spaces only separate words. One
    vocative from :data:`VOCATIVES` may come first ("يا روبوت", "ياروبوت", "Hey robot", "OK, robot"), because
    that is how people call someone by name; any other word before the name means the name is not being called
    ("أطفئ الروبوت", "my robot is …"). There is no fuzzy matching: the transcription must spell the name.
    """

    def __init__(self, phrase: str) -> None:
        """Match transcripts that start with ``phrase`` (one or more words)."""
        self.phrase: Final = phrase
        self._words = [token.text for token in _tokenize(phrase)[0]]
        if not self._words:
            raise ValueError(f"wake phrase {phrase!r} has no letters or digits")
        first, rest = self._words[0], self._words[1:]
        self._patterns = [
            self._words,
            *([vocative, *self._words] for vocative in sorted(VOCATIVES)),
            [_ARABIC_VOCATIVE + first, *rest],  # "ياروبوت": the vocative written joined to the name
        ]

    def matches(self, transcript: str) -> bool:
        """True when ``transcript`` starts with the phrase (after at most one vocative).

        On a transcript still being streamed, a last word that merely equals the name counts, even if more of
        that word may follow.
        """
        return self._match(_tokenize(transcript)[0]) is not None

    def ruled_out(self, transcript: str) -> bool:
        """True when no continuation of the partial ``transcript`` can start with the phrase any more."""
        tokens, open_end = _tokenize(transcript)
        if self._match(tokens) is not None:
            return False
        words = [token.text for token in tokens]
        complete, partial = (words[:-1], words[-1]) if open_end else (words, None)
        return not any(_could_become(pattern, complete, partial) for pattern in self._patterns)

    def strip(self, transcript: str) -> str:
        """What follows the phrase (and any punctuation after it), as written; ``transcript`` unchanged if no match."""
        last = self._match(_tokenize(transcript)[0])
        if last is None:
            return transcript
        rest = transcript[last.end :]
        start = 0
        while (
            start < len(rest)
            and rest[start] not in _QUOTES
            and unicodedata.category(rest[start]) in _SEPARATOR_CATEGORIES
        ):
            start += 1
        return rest[start:]

    def _match(self, tokens: list[_Token]) -> _Token | None:
        """The last token of the phrase when ``tokens`` start with one of the accepted patterns."""
        words = [token.text for token in tokens]
        for pattern in self._patterns:
            if words[: len(pattern)] == pattern:
                return tokens[len(pattern) - 1]
        return None


def _could_become(pattern: list[str], complete: list[str], partial: str | None) -> bool:
    """Whether words ``complete`` followed by the unfinished word ``partial`` may still grow into ``pattern``."""
    if len(complete) >= len(pattern):
        return complete[: len(pattern)] == pattern
    if complete != pattern[: len(complete)]:
        return False
    return partial is None or pattern[len(complete)].startswith(partial)


def _tokenize(text: str) -> tuple[list[_Token], bool]:
    """Normalized words of ``text`` with their original spans, and whether ``text`` ends inside a word."""
    tokens: list[_Token] = []
    word: list[str] = []
    start = end = 0

    def close() -> None:
        normalized = "".join(word).strip(_APOSTROPHES)
        if normalized:
            tokens.append(_Token(normalized, start, end))
        word.clear()

    for index, char in enumerate(text):
        for part in unicodedata.normalize("NFKD", char):
            if unicodedata.category(part) in ("Mn", "Cf"):
                # A mark or an invisible direction/joining control: part of the word, not a break.
                if word:
                    end = index + 1
                continue
            for folded in part.translate(_LETTER_VARIANTS).casefold():
                if folded.isalnum() or (word and folded in _APOSTROPHES):
                    if not word:
                        start = index
                    word.append(folded)
                    end = index + 1
                else:
                    close()
    open_end = bool(word) and end == len(text)
    close()
    return tokens, open_end
