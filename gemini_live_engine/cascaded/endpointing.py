"""Where the user's utterance ends, for the cascaded path, from local voice activity detection (pymicro-vad).

Gemini Live detects the end of speech on the service; the REST path has to decide it here before the audio
can be sent. :class:`Endpointer` judges every 10 ms frame of 16 kHz audio with pymicro-vad's speech
probability (the VAD Home Assistant uses). Speech has started once the probability stays at or above the
threshold for ``min_speech_ms``; the utterance then begins with up to ``preroll_s`` of the audio before that
moment, because the model hears speech 0.15–0.5 s late. It ends once the probability has stayed below the
threshold for ``silence_ms`` (the model also hears the end ~0.6 s late, so that much quiet is kept after the
words anyway); the utterance keeps ``tail_ms`` of that silence.

Push to talk (``auto_end=False``) never ends the utterance by itself: it is all the audio fed until
:meth:`Endpointer.finish`, and the VAD only tells whether it holds speech at all. Either way an utterance
without speech is dropped, and one reaching ``max_s`` ends there.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from ..vad import Vad

SAMPLE_RATE: Final = 16000
FRAME_BYTES: Final = 320  # 10 ms at 16 kHz, 16-bit mono
_FRAME_MS: Final = 10
# pymicro-vad answers -1 until it has heard this many frames (the span its model looks at).
_MODEL_WINDOW_FRAMES: Final = 76
_SILENT_FRAME: Final = bytes(FRAME_BYTES)


class Endpointer:
    """Cuts one utterance out of a stream of 16 kHz mono PCM (see the module docstring). Not thread-safe."""

    def __init__(
        self,
        *,
        auto_end: bool = True,
        silence_ms: int = 700,
        threshold: float = 0.5,
        min_speech_ms: int = 150,
        preroll_s: float = 1.0,
        tail_ms: int = 300,
        max_s: float = 30.0,
    ) -> None:
        """``auto_end`` False is push to talk: only :meth:`finish` ends the utterance."""
        self.auto_end = auto_end
        self._threshold = threshold
        self._speech_frames_needed = max(1, min_speech_ms // _FRAME_MS)
        self._silence_frames_needed = max(1, silence_ms // _FRAME_MS)
        self._tail_frames = max(0, min(tail_ms, silence_ms) // _FRAME_MS)
        self._max_bytes = round(max_s * SAMPLE_RATE) * 2
        self._vad = Vad()
        self._preroll: deque[bytes] = deque(maxlen=max(1, round(preroll_s * 1000) // _FRAME_MS))
        self._partial = b""
        self._audio = bytearray()
        self._speech_run = 0
        self._silence_run = 0
        self._speech_heard = False
        self.reset()

    @property
    def speech_heard(self) -> bool:
        """Whether speech has started in the utterance being collected."""
        return self._speech_heard

    @property
    def seconds(self) -> float:
        """Seconds of audio collected for the utterance so far (pre-roll included once speech started)."""
        return len(self._audio) / (2 * SAMPLE_RATE)

    def process(self, pcm: bytes) -> bytes | None:
        """Feed audio of any length; returns the utterance once it has ended (then starts afresh).

        Audio after the end of an utterance, in the same chunk, is dropped: the caller answers the utterance
        and does not listen meanwhile.
        """
        if not self.auto_end:
            self._audio += pcm
            if self._speech_heard:  # push to talk: speech is known, only the release (or max_s) ends it
                return self._take(trim_frames=0) if len(self._audio) >= self._max_bytes else None
        data = self._partial + pcm
        whole = len(data) - len(data) % FRAME_BYTES
        self._partial = data[whole:]
        for start in range(0, whole, FRAME_BYTES):
            if self._frame(data[start : start + FRAME_BYTES]):
                return self._take(trim_frames=self._silence_run - self._tail_frames if self.auto_end else 0)
        if len(self._audio) >= self._max_bytes:
            if self._speech_heard:
                return self._take(trim_frames=0)
            self.reset()  # push to talk held this long without speech: start over
        return None

    def finish(self) -> bytes | None:
        """End the utterance now (the microphone paused, or push to talk ended): it, if it holds speech."""
        if not self._speech_heard:
            self.reset()
            return None
        if self.auto_end:
            self._audio += self._partial
        return self._take(trim_frames=0)

    def reset(self) -> None:
        """Forget everything heard."""
        self._vad.reset()
        for _ in range(_MODEL_WINDOW_FRAMES):  # so that the model judges real audio from the first frame
            self._vad.process_10ms(_SILENT_FRAME)
        self._preroll.clear()
        self._partial = b""
        self._audio = bytearray()
        self._speech_run = 0
        self._silence_run = 0
        self._speech_heard = False

    def _frame(self, frame: bytes) -> bool:
        """Judge one frame; True when it ends the utterance."""
        speech = self._vad.process_10ms(frame) >= self._threshold
        if not self._speech_heard:
            if self.auto_end:
                self._preroll.append(frame)
            self._speech_run = self._speech_run + 1 if speech else 0
            if self._speech_run >= self._speech_frames_needed:
                self._speech_heard = True
                if self.auto_end:
                    self._audio = bytearray(b"".join(self._preroll))
                    self._preroll.clear()
            return False
        if not self.auto_end:
            return False
        self._audio += frame
        self._silence_run = 0 if speech else self._silence_run + 1
        return self._silence_run >= self._silence_frames_needed

    def _take(self, trim_frames: int) -> bytes:
        cut = len(self._audio) - max(0, trim_frames) * FRAME_BYTES
        utterance = bytes(self._audio[:cut])
        self.reset()
        return utterance
