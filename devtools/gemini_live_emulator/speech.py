"""The emulator's voice: real speech from espeak-ng, in the languages and voices Gemini Live names.

The library and its data come from the ``espeakng-loader`` wheel, which only locates them. No
maintained package binds that library for audio (phonemizer, misaki and kokoro drive it for phonemes
only), so the handful of functions needed here are declared by hand through :mod:`ctypes`.

espeak-ng keeps all of its state in globals: it is initialised once per process, in synchronous mode
(a callback collects the samples on the calling thread), and every call holds one lock. ctypes
releases the GIL while espeak-ng works, so running it in a worker thread (:func:`synthesize_async`,
``asyncio.to_thread``) keeps an event loop responsive. About 3 s of speech takes ~10 ms.

espeak-ng also carries a little wave-generator state from one utterance to the next (the phase of its
pitch flutter, its roughness cycle, its gain control), which no API call resets: the same text comes
out a few milliseconds longer or shorter each time, inaudibly different, never bit-identical.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import espeakng_loader
import numpy as np
import numpy.typing as npt
import soxr

__all__ = [
    "DEFAULT_VOICE",
    "VOICE_PROFILES",
    "SpeechError",
    "Synthesizer",
    "VoiceProfile",
    "detect_language",
    "espeak_language",
    "synthesize_async",
    "voice_profile",
]

# speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS: Final = 2
_INITIALIZE_DONT_EXIT: Final = 0x8000
_POS_CHARACTER: Final = 1
_CHARS_UTF8: Final = 1
_PARAM_RATE: Final = 1
_PARAM_VOLUME: Final = 2
_PARAM_PITCH: Final = 3
_PARAM_RANGE: Final = 4
_EE_OK: Final = 0

_VOLUME: Final = 100
_FALLBACK_LANGUAGE: Final = "en-us"

# int callback(short *wav, int numsamples, espeak_EVENT *events); returning 0 continues synthesis.
_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class SpeechError(RuntimeError):
    """espeak-ng could not be loaded or refused a request."""


@dataclass(frozen=True)
class VoiceProfile:
    """How one Gemini prebuilt voice is rendered with espeak-ng.

    ``variant`` is an espeak-ng voice variant (``m1``…``m8`` male, ``f1``…``f5`` female), ``pitch`` and
    ``pitch_range`` are espeak-ng's 0–100 scales (50 is the voice's own), ``rate`` is words per minute
    (espeak-ng's default is 175).
    """

    variant: str
    pitch: int
    rate: int
    pitch_range: int


DEFAULT_VOICE: Final = "Puck"

# The 30 Gemini Live voices. Gender follows Google's voice list (male voices get a male espeak-ng
# variant, female ones a female variant); the character Google gives each voice nudges the rest:
# bright / upbeat / excitable / lively / youthful voices are higher and faster, firm / informative /
# even ones flatter, soft / gentle / smooth / warm ones slower with a narrower range, gravelly / mature
# ones lower and slower. No two voices share a profile.
VOICE_PROFILES: Final[Mapping[str, VoiceProfile]] = {
    # Female voices.
    "Zephyr": VoiceProfile("f1", pitch=60, rate=185, pitch_range=60),  # Bright
    "Kore": VoiceProfile("f2", pitch=48, rate=175, pitch_range=40),  # Firm
    "Autonoe": VoiceProfile("f3", pitch=62, rate=180, pitch_range=60),  # Bright
    "Erinome": VoiceProfile("f4", pitch=52, rate=170, pitch_range=50),  # Clear
    "Laomedeia": VoiceProfile("f5", pitch=62, rate=190, pitch_range=65),  # Upbeat
    "Aoede": VoiceProfile("f1", pitch=54, rate=180, pitch_range=55),  # Breezy
    "Achernar": VoiceProfile("f2", pitch=50, rate=160, pitch_range=35),  # Soft
    "Gacrux": VoiceProfile("f3", pitch=40, rate=160, pitch_range=40),  # Mature
    "Leda": VoiceProfile("f4", pitch=66, rate=185, pitch_range=60),  # Youthful
    "Callirrhoe": VoiceProfile("f5", pitch=50, rate=165, pitch_range=50),  # Easy-going
    "Despina": VoiceProfile("f1", pitch=46, rate=165, pitch_range=40),  # Smooth
    "Pulcherrima": VoiceProfile("f2", pitch=56, rate=190, pitch_range=55),  # Forward
    "Vindemiatrix": VoiceProfile("f3", pitch=52, rate=155, pitch_range=40),  # Gentle
    "Sulafat": VoiceProfile("f4", pitch=44, rate=165, pitch_range=45),  # Warm
    # Male voices.
    "Puck": VoiceProfile("m3", pitch=56, rate=185, pitch_range=60),  # Upbeat
    "Charon": VoiceProfile("m1", pitch=46, rate=170, pitch_range=45),  # Informative
    "Orus": VoiceProfile("m2", pitch=42, rate=170, pitch_range=40),  # Firm
    "Umbriel": VoiceProfile("m4", pitch=50, rate=165, pitch_range=50),  # Easy-going
    "Schedar": VoiceProfile("m5", pitch=48, rate=170, pitch_range=35),  # Even
    "Achird": VoiceProfile("m6", pitch=54, rate=175, pitch_range=55),  # Friendly
    "Sadachbia": VoiceProfile("m7", pitch=58, rate=190, pitch_range=65),  # Lively
    "Fenrir": VoiceProfile("m1", pitch=60, rate=195, pitch_range=70),  # Excitable
    "Enceladus": VoiceProfile("m2", pitch=50, rate=160, pitch_range=40),  # Breathy
    "Algieba": VoiceProfile("m3", pitch=44, rate=165, pitch_range=40),  # Smooth
    "Algenib": VoiceProfile("m4", pitch=36, rate=160, pitch_range=45),  # Gravelly
    "Zubenelgenubi": VoiceProfile("m5", pitch=52, rate=180, pitch_range=55),  # Casual
    "Sadaltager": VoiceProfile("m6", pitch=46, rate=170, pitch_range=45),  # Knowledgeable
    "Iapetus": VoiceProfile("m7", pitch=50, rate=175, pitch_range=50),  # Clear
    "Rasalgethi": VoiceProfile("m8", pitch=48, rate=170, pitch_range=45),  # Informative
    "Alnilam": VoiceProfile("m1", pitch=40, rate=170, pitch_range=35),  # Firm
}

_PROFILES_BY_LOWER_NAME: Final = {name.lower(): profile for name, profile in VOICE_PROFILES.items()}

# BCP-47 tags whose espeak-ng language is not simply the tag or its primary subtag.
_LANGUAGE_ALIASES: Final[Mapping[str, str]] = {
    "en": "en-us",
    "en-gb": "en",  # espeak-ng's "en" is British English
    "es-us": "es-419",
    "es-mx": "es-419",
    "zh": "cmn",
    "zh-cn": "cmn",
    "zh-tw": "cmn",
    "zh-hk": "yue",
    "iw": "he",
    "no": "nb",
}

# Scripts that name their language well enough (first match of a code point wins).
_SCRIPTS: Final[tuple[tuple[str, tuple[tuple[int, int], ...]], ...]] = (
    ("latin", ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x1E00, 0x1EFF))),
    ("ar-EG", ((0x600, 0x6FF), (0x750, 0x77F), (0x8A0, 0x8FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))),
    ("cyrillic", ((0x400, 0x4FF),)),
    ("el-GR", ((0x370, 0x3FF),)),
    ("he-IL", ((0x590, 0x5FF),)),
    ("hi-IN", ((0x900, 0x97F),)),
    ("bn-BD", ((0x980, 0x9FF),)),
    ("ta-IN", ((0xB80, 0xBFF),)),
    ("te-IN", ((0xC00, 0xC7F),)),
    ("th-TH", ((0xE00, 0xE7F),)),
    ("ko-KR", ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF))),
    ("ja-JP", ((0x3040, 0x30FF),)),
    ("cmn-CN", ((0x4E00, 0x9FFF),)),
)
_UKRAINIAN_LETTERS: Final = frozenset("іїєґІЇЄҐ")


def detect_language(text: str, default: str = "en-US") -> str:
    """Guess the BCP-47 language of ``text`` from its script.

    The script with the most letters wins: Arabic gives ``ar-EG`` (the Arabic Gemini Live speaks),
    Cyrillic ``ru-RU`` (``uk-UA`` when Ukrainian-only letters appear), Devanagari ``hi-IN``, Han
    ``cmn-CN`` (``ja-JP`` when kana appear), and so on. Latin text, or text without letters, gives
    ``default``: the script cannot tell English from German.
    """
    counts: dict[str, int] = {}
    for char in text:
        script = _script_of(ord(char))
        if script is not None:
            counts[script] = counts.get(script, 0) + 1
    if not counts:
        return default
    if "ja-JP" in counts and "cmn-CN" in counts:
        counts["ja-JP"] += counts.pop("cmn-CN")  # Japanese writes kanji between its kana.
    script = max(counts, key=lambda name: counts[name])
    if script == "latin":
        return default
    if script == "cyrillic":
        return "uk-UA" if _UKRAINIAN_LETTERS.intersection(text) else "ru-RU"
    return script


def _script_of(code_point: int) -> str | None:
    for name, ranges in _SCRIPTS:
        if any(low <= code_point <= high for low, high in ranges):
            return name
    return None


def espeak_language(language: str) -> str:
    """The espeak-ng language for a BCP-47 tag: ``ar-EG`` → ``ar``, ``pt-BR`` → ``pt-br``, ``en`` → ``en-us``.

    An alias or the full tag is tried first, then the same for its primary subtag (``en`` means American
    English, as Gemini's default ``en-US``); anything espeak-ng does not speak is American English.
    """
    available = _available_languages()
    tag = language.strip().replace("_", "-").lower()
    primary = tag.split("-", 1)[0]
    for candidate in (_LANGUAGE_ALIASES.get(tag), tag, _LANGUAGE_ALIASES.get(primary), primary):
        if candidate and candidate in available:
            return candidate
    return _FALLBACK_LANGUAGE


def voice_profile(voice: str | None) -> VoiceProfile:
    """The profile of a Gemini prebuilt voice (any case); unknown or no voice gives Gemini's default, Puck."""
    if voice:
        profile = _PROFILES_BY_LOWER_NAME.get(voice.strip().lower())
        if profile is not None:
            return profile
    return VOICE_PROFILES[DEFAULT_VOICE]


_languages: frozenset[str] | None = None


def _available_languages() -> frozenset[str]:
    """espeak-ng's languages: the file names under ``espeak-ng-data/lang`` (``ar``, ``en-us``, ``pt-br``…)."""
    global _languages  # noqa: PLW0603 - read once; the data directory does not change.
    if _languages is None:
        lang_dir = Path(espeakng_loader.get_data_path()) / "lang"
        _languages = frozenset(path.name.lower() for path in lang_dir.rglob("*") if path.is_file())
    return _languages


class _Engine:
    """The process's one espeak-ng instance. Callers hold :data:`_LOCK` around every method."""

    def __init__(self) -> None:
        try:
            self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        except OSError as err:
            raise SpeechError(f"Cannot load libespeak-ng: {err}") from err
        self._declare()
        self._chunks: list[bytes] = []
        # ctypes keeps no reference to a callback it hands to C: this attribute keeps it alive.
        self._callback = _SynthCallback(self._collect)
        data_path = espeakng_loader.get_data_path().encode()
        rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise SpeechError(f"espeak-ng failed to initialise with data from {data_path.decode()}")
        self.sample_rate: int = rate
        self._lib.espeak_SetSynthCallback(self._callback)

    def _declare(self) -> None:
        lib = self._lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,  # text
            ctypes.c_size_t,  # size in bytes, terminating NUL included
            ctypes.c_uint,  # position
            ctypes.c_int,  # position type
            ctypes.c_uint,  # end position (0: none)
            ctypes.c_uint,  # flags
            ctypes.c_void_p,  # unique identifier (out, may be NULL)
            ctypes.c_void_p,  # user data
        ]
        lib.espeak_Synth.restype = ctypes.c_int

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], count: int, _events: int | None) -> int:
        if wav and count > 0:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        return 0

    def render(self, text: str, language: str, profile: VoiceProfile) -> npt.NDArray[np.int16]:
        """Speak ``text`` and return its samples at :attr:`sample_rate`."""
        self._check(self._lib.espeak_SetVoiceByName(f"{language}+{profile.variant}".encode()), "set voice")
        for parameter, value in (
            (_PARAM_RATE, profile.rate),
            (_PARAM_PITCH, profile.pitch),
            (_PARAM_RANGE, profile.pitch_range),
            (_PARAM_VOLUME, _VOLUME),
        ):
            self._check(self._lib.espeak_SetParameter(parameter, value, 0), "set a parameter")
        encoded = text.encode() + b"\0"
        self._chunks = []
        try:
            self._check(
                self._lib.espeak_Synth(encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None),
                "synthesize",
            )
            return np.frombuffer(b"".join(self._chunks), dtype="<i2").astype(np.int16)
        finally:
            self._chunks = []

    @staticmethod
    def _check(status: int, action: str) -> None:
        if status != _EE_OK:
            raise SpeechError(f"espeak-ng could not {action} (error {status})")


_LOCK = threading.Lock()
_engine: _Engine | None = None


def _shared_engine() -> _Engine:
    """The process's espeak-ng instance, created on first use. The caller holds :data:`_LOCK`."""
    global _engine  # noqa: PLW0603 - espeak-ng itself is a process-wide singleton.
    if _engine is None:
        _engine = _Engine()
    return _engine


class Synthesizer:
    """Text to 16-bit mono PCM with espeak-ng; safe to share between threads.

    Every instance drives the one espeak-ng of the process, one call at a time.
    """

    def __init__(self) -> None:
        """Load and initialise espeak-ng now (once per process), so a broken install fails early."""
        with _LOCK:
            self._native_rate = _shared_engine().sample_rate

    def synthesize(self, text: str, language: str, *, sample_rate: int = 24000, voice: str | None = None) -> bytes:
        """Speak ``text`` in ``language`` (BCP-47) with a Gemini prebuilt ``voice``.

        Returns little-endian 16-bit mono PCM at ``sample_rate`` (empty for text with nothing to say).
        Unknown languages are spoken as American English, unknown voices as Puck.
        """
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, not {sample_rate}")
        clean = text.replace("\0", " ").strip()
        if not clean:
            return b""
        espeak_voice = espeak_language(language)
        profile = voice_profile(voice)
        with _LOCK:
            samples = _shared_engine().render(clean, espeak_voice, profile)
        return _resample(samples, self._native_rate, sample_rate).astype("<i2").tobytes()

    async def synthesize_async(
        self, text: str, language: str, *, sample_rate: int = 24000, voice: str | None = None
    ) -> bytes:
        """:meth:`synthesize` in a worker thread, leaving the event loop free."""
        return await asyncio.to_thread(self.synthesize, text, language, sample_rate=sample_rate, voice=voice)


def _resample(samples: npt.NDArray[np.int16], rate: int, target: int) -> npt.NDArray[np.int16]:
    if rate == target or samples.size == 0:
        return samples
    resampled: npt.NDArray[np.int16] = soxr.resample(samples, rate, target)
    return resampled


async def synthesize_async(text: str, language: str, *, sample_rate: int = 24000, voice: str | None = None) -> bytes:
    """Speak ``text`` in a worker thread (see :meth:`Synthesizer.synthesize`)."""
    return await asyncio.to_thread(_synthesize, text, language, sample_rate, voice)


def _synthesize(text: str, language: str, sample_rate: int, voice: str | None) -> bytes:
    # Built in the worker thread: creating a Synthesizer may wait for the lock.
    return Synthesizer().synthesize(text, language, sample_rate=sample_rate, voice=voice)
