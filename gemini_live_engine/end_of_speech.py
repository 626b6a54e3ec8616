"""When the user has stopped speaking, decided on the client, so a Live session can say so at once.

Gemini Live's automatic activity detection ends the user's turn after its own silence window (the emulator's
default: 500 ms). A client that knows the speech has ended sends ``audioStreamEnd`` (realtimeInput): the service
ends the current activity then and there, keeps its automatic detection on, and audio that follows reopens the
stream. :class:`EndOfSpeech` tells a front end when to send it, from the 16 kHz mono PCM it sends anyway.

Two signals, for what each is good at:

* **pymicro-vad's speech probability** tells speech from other sounds, but late: its model hears the last
  0.76 s (it answers nothing for its first 76 frames), rises 0.15-0.5 s after speech starts and stays up about
  0.65 s after it stops (it does not dip at all in the 0.2-0.35 s pause after a comma). It also costs ~0.2 ms
  of CPU per 10 ms frame on a small machine (2 % of a core), so it only runs while a loud sound is being
  checked: from the sound's first loud frame until it has called the sound speech for ``min_speech_ms`` in a
  row, or ``reject_ms`` have passed without that (a steady noise), or the sound has died away for ``give_up_ms``.
* **the frame's level** places the end to the frame: a frame is *loud* when it is at least ``margin_db`` above
  the room's noise level and at least ``floor_dbfs``. The noise level is the 10th percentile of the frame levels
  of the last 5 s (minimum statistics: even while someone talks, a tenth of the frames are the room between
  words), once 1 s has been heard; until then only ``floor_dbfs`` counts. The end of speech is ``silence_ms``
  without a loud frame, once the speech has been confirmed.

:meth:`EndOfSpeech.process` returns True once per utterance, at the frame that completes the silence; the
detector then waits for the next utterance by itself. Speech that never stands out from the noise is never
ended here (the service's own window still ends it). The threshold must outlast the pauses inside a sentence:
``benchmarks/end_of_speech_pauses.py`` measures them (see :data:`~.defaults.END_OF_SPEECH_MS`).

Usage, in a front end that streams a microphone to a :class:`~.voice_session.VoiceSession`::

    detector = EndOfSpeech(silence_ms)
    await session.send_audio(pcm16k)
    if detector.process(pcm16k):
        await session.end_audio_stream()
"""

from __future__ import annotations

from enum import Enum
from typing import Final

import numpy as np
import numpy.typing as npt

from . import defaults
from .vad import Vad

SAMPLE_RATE: Final = 16000
FRAME_MS: Final = 10
FRAME_BYTES: Final = SAMPLE_RATE * FRAME_MS // 1000 * 2  # 320: 10 ms of 16-bit mono
_FRAME_SAMPLES: Final = FRAME_BYTES // 2
_SILENT_DBFS: Final = -100.0
_NOISE_FRAMES: Final = 500  # the noise level is learned over the last 5 s
_NOISE_MIN_FRAMES: Final = 100  # and only once 1 s has been heard
_NOISE_PERCENTILE: Final = 10.0
_ONSET_FRAMES: Final = 2  # loud frames in a row that make a sound worth checking
_MODEL_WINDOW_FRAMES: Final = 76  # pymicro-vad answers -1 until it has heard this many frames


class _Phase(Enum):
    WAITING = "waiting"  # no sound worth checking
    CHECKING = "checking"  # a loud sound: pymicro-vad decides whether it is speech
    SPEECH = "speech"  # speech confirmed: its end is near once loudness stops


class EndOfSpeech:
    """Tells when an utterance in a stream of 16 kHz mono PCM has ended (see the module docstring).

    Not thread-safe; one per stream. Cheap while nobody speaks (the level of each frame, ~10 µs per 64 ms chunk).
    """

    def __init__(
        self,
        silence_ms: int = defaults.END_OF_SPEECH_MS,
        *,
        threshold: float = 0.5,
        min_speech_ms: int = 100,
        margin_db: float = 10.0,
        floor_dbfs: float = -60.0,
        reject_ms: int = 1500,
        give_up_ms: int = 1000,
    ) -> None:
        """End an utterance after ``silence_ms`` without a loud frame (must be positive)."""
        if silence_ms <= 0:
            raise ValueError(f"silence_ms must be positive, not {silence_ms}")
        self.silence_ms: Final = silence_ms
        self._threshold = threshold
        self._speech_frames = max(1, min_speech_ms // FRAME_MS)
        self._silence_frames = max(1, -(-silence_ms // FRAME_MS))
        self._give_up_frames = max(self._silence_frames, give_up_ms // FRAME_MS)
        self._reject_frames = max(_MODEL_WINDOW_FRAMES + self._speech_frames, reject_ms // FRAME_MS)
        self._margin_db = margin_db
        self._floor_dbfs = floor_dbfs
        self._loud_dbfs = floor_dbfs
        self._vad: Vad | None = None  # made for the first sound checked (an idle stream never needs one)
        self._noise: npt.NDArray[np.float64] | None = None  # the last frame levels, a ring made on the first audio
        self._noise_count = 0  # levels in the ring
        self._noise_next = 0  # where the next level goes
        self._checked = 0  # frames of the sound being checked
        self._partial = b""
        self._phase = _Phase.WAITING
        self._onset = 0  # loud frames in a row while waiting
        self._speech_run = 0  # frames in a row pymicro-vad called speech
        self._quiet_run = 0  # frames since the last loud one
        self.vad_frames = 0  # frames given to pymicro-vad so far (its CPU is the detector's cost)

    @property
    def speaking(self) -> bool:
        """Speech has been confirmed and has not ended yet."""
        return self._phase is _Phase.SPEECH

    @property
    def loud_dbfs(self) -> float:
        """The level at or above which a frame counts as loud now."""
        return self._loud_dbfs

    def process(self, pcm: bytes) -> bool:
        """Feed 16-bit little-endian mono PCM at 16 kHz, any length: True when it completes the end of an utterance.

        Audio after the end, in the same piece, already counts toward the next utterance.
        """
        data = self._partial + pcm if self._partial else pcm
        whole = len(data) - len(data) % FRAME_BYTES
        self._partial = data[whole:]
        if not whole:
            return False
        samples = np.frombuffer(data, dtype="<i2", count=whole // 2).astype(np.float32).reshape(-1, _FRAME_SAMPLES)
        power = np.mean(np.square(samples * (1 / 32768)), axis=1)
        levels = 10.0 * np.log10(np.maximum(power, 10 ** (_SILENT_DBFS / 10)))
        self._remember_levels(levels)
        ended = False
        for index, level in enumerate(levels.tolist()):
            if self._frame(data[index * FRAME_BYTES : (index + 1) * FRAME_BYTES], level):
                ended = True
        if self._noise is not None and self._noise_count >= _NOISE_MIN_FRAMES:
            heard = self._noise if self._noise_count == _NOISE_FRAMES else self._noise[: self._noise_count]
            noise = float(np.percentile(heard, _NOISE_PERCENTILE))
            self._loud_dbfs = max(self._floor_dbfs, noise + self._margin_db)
        return ended

    def _remember_levels(self, levels: npt.NDArray[np.float64]) -> None:
        """Keep the last ``_NOISE_FRAMES`` frame levels (their order does not matter to a percentile)."""
        ring = self._noise
        if ring is None:
            ring = self._noise = np.empty(_NOISE_FRAMES, dtype=np.float64)
        levels = levels[-_NOISE_FRAMES:]
        start, count = self._noise_next, len(levels)
        first = min(count, _NOISE_FRAMES - start)
        ring[start : start + first] = levels[:first]
        ring[: count - first] = levels[first:]
        self._noise_next = (start + count) % _NOISE_FRAMES
        self._noise_count = min(_NOISE_FRAMES, self._noise_count + count)

    def reset(self) -> None:
        """Forget the utterance under way (a new turn); the room's noise level is kept."""
        self._partial = b""
        self._checked = 0
        self._phase = _Phase.WAITING
        self._onset = self._speech_run = self._quiet_run = 0

    def _frame(self, frame: bytes, level: float) -> bool:
        """Judge one 10 ms frame; True when it ends the utterance."""
        loud = level >= self._loud_dbfs
        self._quiet_run = 0 if loud else self._quiet_run + 1
        phase = self._phase
        if phase is _Phase.WAITING:
            self._onset = self._onset + 1 if loud else 0
            if self._onset >= _ONSET_FRAMES:  # a sound: let pymicro-vad hear it from here on
                self._phase = _Phase.CHECKING
                if self._vad is None:
                    self._vad = Vad()
                else:
                    self._vad.reset()
                self._speech_run = 0
            return False
        if phase is _Phase.CHECKING:
            self._checked += 1
            if self._judge(frame) and self._confirmed():
                return self._ended()
            if self._checked >= self._reject_frames or self._quiet_run >= self._give_up_frames:
                self.reset()  # not speech
            return False
        return self._ended()

    def _judge(self, frame: bytes) -> bool:
        """One frame through pymicro-vad (-1 while its window fills counts as not speech); True if it was speech."""
        assert self._vad is not None  # made when the check began
        self.vad_frames += 1
        speech = self._vad.process_10ms(frame) >= self._threshold
        self._speech_run = self._speech_run + 1 if speech else 0
        return speech

    def _confirmed(self) -> bool:
        if self._speech_run < self._speech_frames:
            return False
        self._phase = _Phase.SPEECH
        return True

    def _ended(self) -> bool:
        """In SPEECH: True (and wait for the next utterance) once the quiet has lasted long enough."""
        if self._quiet_run < self._silence_frames:
            return False
        self.reset()
        return True
