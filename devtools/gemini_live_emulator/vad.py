"""The emulator's automatic activity detection (``realtimeInputConfig.automaticActivityDetection``).

Two judges look at every 10 ms frame of 16 kHz audio:

* pymicro-vad's speech probability. Its model hears the last 0.76 s of audio, so it is sure about
  speech but late: it rises 0.15–0.5 s after speech starts and stays up ~0.6 s after it stops. It
  answers -1 until it has heard 0.76 s, so the detector primes it with that much digital silence
  whenever a stream begins (under a millisecond): speech at the very start of a stream is heard.
* the frame's level against the room: a frame is *loud* when it is at least 10 dB above the noise
  level (the median level over the last second the model heard no speech in) and at least -60 dBFS.
  Loudness is immediate, so it places the edges of speech to the frame.

Start of speech is committed once the model has called the audio speech (probability at or above the
start threshold) for ``prefixPaddingMs`` without a break. Its offset is the first loud frame within the
model's window of that run, where the speech began rather than where it was recognised; speech that
never stands 10 dB above the noise (at least 100 ms of it) is placed where the model recognised it.
While the model still hears an utterance that loudness has already ended, a new start needs new loud
audio.

End of speech is committed after ``silenceDurationMs`` of silence; its offset is where that silence
began. Silence is a frame the model no longer calls speech (probability below the end threshold) or,
for speech that stood out from the noise, a frame that is not loud.

Defaults (Google documents neither thresholds nor default durations):

=============================  ==============  ==============
setting                        HIGH (default)  LOW
=============================  ==============  ==============
start threshold                0.5             0.8
default ``prefixPaddingMs``    100 ms          200 ms
end threshold                  0.5             0.3
default ``silenceDurationMs``  500 ms          1000 ms
=============================  ==============  ==============

Why: 0.5 is the model's own decision point (and Home Assistant's in-command threshold). Clear speech
drives the probability to ~1.0 within a few frames and steady noise keeps it below 0.15, so LOW's 0.8
with twice the prefix still hears clear speech, only later, but lets doubtful sounds go (speech
half-drowned in noise leaves the model between 0.5 and 0.8). 100 ms of prefix rejects blips but not a
short "yes". 500 ms of silence outlasts the pauses inside a sentence (espeak-ng pauses 340 ms at a
comma) yet ends a turn promptly, as OpenAI's server VAD does; END_SENSITIVITY_LOW waits twice as long,
near Home Assistant's "relaxed" 1.25 s, and keeps speech going while the model is merely doubtful.

Offsets are seconds of audio since the detector was created: :meth:`ActivityDetector.flush` and
:meth:`ActivityDetector.reset` do not rewind that clock, so offsets index the audio a session has
received since setup.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import numpy as np
import soxr
from pymicro_vad import MicroVad

__all__ = [
    "FRAME_SECONDS",
    "MODEL_WINDOW_SECONDS",
    "SAMPLE_RATE",
    "ActivityDetector",
    "ActivityEvent",
    "ActivityKind",
    "ActivitySettings",
    "EndSensitivity",
    "StartSensitivity",
]

SAMPLE_RATE: Final = 16000
FRAME_SECONDS: Final = 0.01
_FRAME_SAMPLES: Final = 160
_FRAME_BYTES: Final = 2 * _FRAME_SAMPLES

# pymicro-vad answers -1 for its first 76 frames: the span of audio its model looks at.
_MODEL_WINDOW_FRAMES: Final = 76
_SILENT_FRAME: Final = bytes(_FRAME_BYTES)
MODEL_WINDOW_SECONDS: Final = _MODEL_WINDOW_FRAMES * FRAME_SECONDS

_LOUDNESS_MARGIN_DB: Final = 10.0
_LOUDNESS_MIN_DBFS: Final = -60.0
_SILENT_DBFS: Final = -100.0
_NOISE_WINDOW_FRAMES: Final = 100
# Speech must have this many loud frames for its edges to be judged by loudness.
_LOUD_EVIDENCE_FRAMES: Final = 10


class StartSensitivity(StrEnum):
    """``startOfSpeechSensitivity``: HIGH detects the start of speech more often."""

    HIGH = "START_SENSITIVITY_HIGH"
    LOW = "START_SENSITIVITY_LOW"


class EndSensitivity(StrEnum):
    """``endOfSpeechSensitivity``: HIGH ends speech more often."""

    HIGH = "END_SENSITIVITY_HIGH"
    LOW = "END_SENSITIVITY_LOW"


_START_THRESHOLD: Final = {StartSensitivity.HIGH: 0.5, StartSensitivity.LOW: 0.8}
_DEFAULT_PREFIX_MS: Final = {StartSensitivity.HIGH: 100, StartSensitivity.LOW: 200}
_END_THRESHOLD: Final = {EndSensitivity.HIGH: 0.5, EndSensitivity.LOW: 0.3}
_DEFAULT_SILENCE_MS: Final = {EndSensitivity.HIGH: 500, EndSensitivity.LOW: 1000}


@dataclass(frozen=True)
class ActivitySettings:
    """A Live setup's ``automaticActivityDetection``; ``None`` durations take the sensitivity's default."""

    disabled: bool = False
    start_sensitivity: StartSensitivity = StartSensitivity.HIGH
    end_sensitivity: EndSensitivity = EndSensitivity.HIGH
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None

    @classmethod
    def from_setup(cls, config: Mapping[str, Any] | None) -> ActivitySettings:
        """Read the canonical camelCase dict; missing keys and ``*_UNSPECIFIED`` take the defaults.

        Raises :class:`ValueError` for values the API would reject (unknown enum names, negative or
        non-integer durations, a non-boolean ``disabled``).
        """
        config = config or {}
        disabled = config.get("disabled")
        if disabled is None:
            disabled = False
        if not isinstance(disabled, bool):
            raise ValueError(f"disabled must be a boolean, not {disabled!r}")  # noqa: TRY004 - a bad setup value
        return cls(
            disabled=disabled,
            start_sensitivity=_enum(config.get("startOfSpeechSensitivity"), StartSensitivity),
            end_sensitivity=_enum(config.get("endOfSpeechSensitivity"), EndSensitivity),
            prefix_padding_ms=_milliseconds(config.get("prefixPaddingMs"), "prefixPaddingMs"),
            silence_duration_ms=_milliseconds(config.get("silenceDurationMs"), "silenceDurationMs"),
        )

    @property
    def start_threshold(self) -> float:
        """Speech probability at or above which the model's frame counts toward start of speech."""
        return _START_THRESHOLD[self.start_sensitivity]

    @property
    def end_threshold(self) -> float:
        """Speech probability below which a frame counts as silence once speech has started."""
        return _END_THRESHOLD[self.end_sensitivity]

    @property
    def prefix_ms(self) -> int:
        """The effective ``prefixPaddingMs``."""
        if self.prefix_padding_ms is None:
            return _DEFAULT_PREFIX_MS[self.start_sensitivity]
        return self.prefix_padding_ms

    @property
    def silence_ms(self) -> int:
        """The effective ``silenceDurationMs``."""
        if self.silence_duration_ms is None:
            return _DEFAULT_SILENCE_MS[self.end_sensitivity]
        return self.silence_duration_ms


def _enum[E: (StartSensitivity, EndSensitivity)](value: Any, kind: type[E]) -> E:
    """An enum from its proto3-JSON form: its name, or its number (0 unspecified, 1 HIGH, 2 LOW)."""
    members = list(kind)
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if value is None or number == 0 or value == members[0].value.replace("_HIGH", "_UNSPECIFIED"):
        return members[0]
    if number is not None and 1 <= number <= len(members):
        return members[number - 1]
    if isinstance(value, str) and value in {member.value for member in members}:
        return kind(value)
    raise ValueError(f"Invalid {kind.__name__}: {value!r}")


def _milliseconds(value: Any, name: str) -> int | None:
    """A non-negative int32 from proto3 JSON (a number, or a string of digits)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    return value


class ActivityKind(StrEnum):
    """Start or end of speech."""

    START = "start"
    END = "end"

    @property
    def wire_type(self) -> str:
        """The ``voiceActivity.type`` the Live API uses: ``ACTIVITY_START`` or ``ACTIVITY_END``."""
        return f"ACTIVITY_{self.name}"


@dataclass(frozen=True)
class ActivityEvent:
    """Speech started or ended at ``offset``; the detector knew at ``detected_at`` (both seconds of audio)."""

    kind: ActivityKind
    offset: float
    detected_at: float


class _LoudnessGate:
    """Tells frames clearly above the room's noise from the rest.

    The noise level is the median level of the last second the model heard no speech in. A frame joins
    it only once the model's whole window has passed over the frame without hearing speech: the model
    is late, and the noise level must not learn the start of an utterance.
    """

    def __init__(self) -> None:
        self._noise: deque[float] = deque(maxlen=_NOISE_WINDOW_FRAMES)
        self._unconfirmed: deque[float] = deque()
        self.threshold_dbfs = _LOUDNESS_MIN_DBFS
        """The level at or above which a frame is loud."""

    def observe(self, level_dbfs: float, model_hears_speech: bool) -> None:
        """Note a frame's level and whether the model hears speech in the window ending with it."""
        if model_hears_speech:
            self._unconfirmed.clear()
            return
        self._unconfirmed.append(level_dbfs)
        if len(self._unconfirmed) > _MODEL_WINDOW_FRAMES:
            self._noise.append(self._unconfirmed.popleft())
            noise = statistics.median(self._noise)
            self.threshold_dbfs = max(_LOUDNESS_MIN_DBFS, noise + _LOUDNESS_MARGIN_DB)


@dataclass
class _Runs:
    """Where the current runs of frames began (samples at 16 kHz), followed across events."""

    model_speech: int | None = None
    """The model's current unbroken run at or above the start threshold."""
    model_silence: int | None = None
    """The model's current run below the end threshold."""
    silence: int | None = None
    """The current run of frames below the end threshold or not loud."""


@dataclass
class _Segment:
    """What the detector knows of the stretch of audio since the last event."""

    since: int = 0
    """Where the stretch began: creation, the last end of speech, or a flush (sample at 16 kHz)."""
    levels: deque[tuple[int, float]] = field(default_factory=deque)
    """(frame, level) of the frames the model's window can still be hearing, while no one speaks."""
    by_loudness: bool = False
    """The speech stands out from the noise, so quiet frames end it as well as the model's doubt."""


class ActivityDetector:
    """Automatic activity detection for one client's audio stream. Not thread-safe; cheap per chunk."""

    def __init__(self, settings: ActivitySettings | None = None) -> None:
        """Start listening with ``settings`` (the API's defaults when omitted)."""
        self._settings = settings or ActivitySettings()
        self._prefix_frames = max(1, math.ceil(self._settings.prefix_ms / 10))
        self._silence_frames = max(1, math.ceil(self._settings.silence_ms / 10))
        self._vad = MicroVad()
        if not self._settings.disabled:
            self._prime_model()
        self._gate = _LoudnessGate()
        self._clock = 0
        self._pending = bytearray()
        self._resampler: soxr.ResampleStream | None = None
        self._resampler_rate = SAMPLE_RATE
        self._odd_byte = b""
        self._speaking = False
        self._runs = _Runs()
        self._segment = _Segment()

    @property
    def settings(self) -> ActivitySettings:
        """The settings the detector honours."""
        return self._settings

    @property
    def speaking(self) -> bool:
        """Whether start of speech has been committed and its end has not."""
        return self._speaking

    @property
    def position(self) -> float:
        """Seconds of audio analysed since creation (up to the last whole 10 ms frame)."""
        return self._clock / SAMPLE_RATE

    def process(self, pcm: bytes, sample_rate: int = SAMPLE_RATE) -> list[ActivityEvent]:
        """Feed 16-bit little-endian mono PCM of any length; returns the events it completes, in order."""
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, not {sample_rate}")
        self._pending += self._to_16k(pcm, sample_rate)
        count = len(self._pending) // _FRAME_BYTES
        if count == 0:
            return []
        frames = bytes(self._pending[: count * _FRAME_BYTES])
        del self._pending[: count * _FRAME_BYTES]
        if self._settings.disabled:
            self._clock += count * _FRAME_SAMPLES
            return []
        events: list[ActivityEvent] = []
        for index, level in enumerate(_levels_dbfs(frames)):
            frame = frames[index * _FRAME_BYTES : (index + 1) * _FRAME_BYTES]
            probability = max(0.0, self._vad.Process10ms(frame))
            events.extend(self._step(probability, float(level)))
            self._clock += _FRAME_SAMPLES
        return events

    def flush(self) -> list[ActivityEvent]:
        """The audio stream ended (``audioStreamEnd``): end any speech now; what follows is a new stream.

        The model starts afresh; the noise level is kept, and so is a partial frame, so that the clock
        stays aligned with the audio received.
        """
        if self._settings.disabled:
            return []
        events: list[ActivityEvent] = []
        if self._speaking:
            silence = self._silence_start()
            offset = self._clock if silence is None else silence
            events.append(ActivityEvent(ActivityKind.END, offset / SAMPLE_RATE, self._clock / SAMPLE_RATE))
            self._speaking = False
        self._prime_model()
        self._runs = _Runs()
        self._segment = _Segment(since=self._clock)
        return events

    def reset(self) -> None:
        """Forget all audio heard (model, noise floor, buffers, speech) without events; the clock runs on."""
        self._clock += len(self._pending) // 2
        self._pending.clear()
        self._resampler = None
        self._resampler_rate = SAMPLE_RATE
        self._odd_byte = b""
        if not self._settings.disabled:
            self._prime_model()
        self._gate = _LoudnessGate()
        self._speaking = False
        self._runs = _Runs()
        self._segment = _Segment(since=self._clock)

    def _prime_model(self) -> None:
        """Fill the model's window with silence, off the clock, so it judges real audio from the start."""
        self._vad.Reset()
        for _ in range(_MODEL_WINDOW_FRAMES):
            self._vad.Process10ms(_SILENT_FRAME)

    def _to_16k(self, pcm: bytes, sample_rate: int) -> bytes:
        if sample_rate == SAMPLE_RATE:
            self._resampler = None
            self._resampler_rate = SAMPLE_RATE
            self._odd_byte = b""
            return pcm
        if self._resampler is None or sample_rate != self._resampler_rate:
            self._resampler = soxr.ResampleStream(sample_rate, SAMPLE_RATE, 1, dtype="int16")
            self._resampler_rate = sample_rate
            self._odd_byte = b""
        data = self._odd_byte + pcm
        whole = len(data) - len(data) % 2
        self._odd_byte = data[whole:]
        samples = np.frombuffer(data[:whole], dtype="<i2")
        resampled = self._resampler.resample_chunk(samples)
        return bytes(np.asarray(resampled, dtype="<i2").tobytes())

    def _step(self, probability: float, level_dbfs: float) -> list[ActivityEvent]:
        """Advance one frame starting at sample ``self._clock``."""
        settings, runs, now = self._settings, self._runs, self._clock
        loud = level_dbfs >= self._gate.threshold_dbfs
        if not self._speaking:
            self._segment.levels.append((now, level_dbfs))
        if probability < settings.start_threshold:
            runs.model_speech = None
        elif runs.model_speech is None:
            runs.model_speech = now
        if probability >= settings.end_threshold:
            runs.model_silence = None
        elif runs.model_silence is None:
            runs.model_silence = now
        if probability >= settings.end_threshold and loud:
            runs.silence = None
        elif runs.silence is None:
            runs.silence = now
        self._gate.observe(level_dbfs, probability >= min(settings.start_threshold, settings.end_threshold))
        if not self._speaking:
            return self._maybe_start()
        return self._maybe_end()

    def _maybe_start(self) -> list[ActivityEvent]:
        runs, segment, end_of_frame = self._runs, self._segment, self._clock + _FRAME_SAMPLES
        self._forget_unheard_levels()
        run = runs.model_speech
        if run is None or end_of_frame - run < self._prefix_frames * _FRAME_SAMPLES:
            return []
        # Loudness judged now, against the noise level learned since those frames went by.
        threshold = self._gate.threshold_dbfs
        loud = [frame for frame, level in segment.levels if level >= threshold]
        by_loudness = len(loud) >= _LOUD_EVIDENCE_FRAMES
        if run < segment.since and not by_loudness:
            return []  # The model still hears the speech that just ended, and nothing new stands out.
        self._speaking = True
        segment.by_loudness = by_loudness
        if not by_loudness:
            return [self._event(ActivityKind.START, run)]
        # Speech stopped being heard after its last loud frame, even if the model only now agreed.
        if runs.silence is not None:
            runs.silence = max(runs.silence, loud[-1] + _FRAME_SAMPLES)
        events = [self._event(ActivityKind.START, loud[0])]
        return events + self._maybe_end()

    def _forget_unheard_levels(self) -> None:
        """Drop frames older than the model's window at the start of its run (or now, without one).

        A run that goes on without enough loud audio keeps only its last window and prefix of frames.
        """
        segment, end_of_frame = self._segment, self._clock + _FRAME_SAMPLES
        window = _MODEL_WINDOW_FRAMES * _FRAME_SAMPLES
        run = self._runs.model_speech
        anchor = end_of_frame if run is None else run
        oldest = max(segment.since, anchor - window, end_of_frame - 2 * window - self._prefix_frames * _FRAME_SAMPLES)
        while segment.levels and segment.levels[0][0] < oldest:
            segment.levels.popleft()

    def _silence_start(self) -> int | None:
        """Where the silence that may end the current speech began, if it has."""
        return self._runs.silence if self._segment.by_loudness else self._runs.model_silence

    def _maybe_end(self) -> list[ActivityEvent]:
        end_of_frame = self._clock + _FRAME_SAMPLES
        silence = self._silence_start()
        if silence is None or end_of_frame - silence < self._silence_frames * _FRAME_SAMPLES:
            return []
        self._speaking = False
        self._segment = _Segment(since=end_of_frame)
        return [self._event(ActivityKind.END, silence)]

    def _event(self, kind: ActivityKind, offset_samples: int) -> ActivityEvent:
        detected_at = (self._clock + _FRAME_SAMPLES) / SAMPLE_RATE
        return ActivityEvent(kind, offset_samples / SAMPLE_RATE, detected_at)


def _levels_dbfs(frames: bytes) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    """Each 10 ms frame's RMS level in dB relative to full scale (-100 for digital silence)."""
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64).reshape(-1, _FRAME_SAMPLES)
    power = np.mean(np.square(samples / 32768.0), axis=1)
    levels: np.ndarray[tuple[int], np.dtype[np.float64]] = 10.0 * np.log10(
        np.maximum(power, 10.0 ** (_SILENT_DBFS / 10.0))
    )
    return levels
