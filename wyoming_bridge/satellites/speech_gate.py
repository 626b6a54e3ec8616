"""Start of speech on an always-streaming satellite, for the spoken-name wake word.

With ``--wake-phrase`` there is no acoustic wake word to wait for: any speech may be addressed to the
assistant, and only Gemini's transcription can tell. This gate keeps Gemini out of the room until someone
speaks: pymicro-vad's speech probability (the VAD Home Assistant uses) must stay above a threshold for a
short while, and the audio just before that moment is kept as pre-roll so the first word is not cut.
"""

from __future__ import annotations

from collections import deque

from gemini_live_engine.vad import Vad

_FRAME_BYTES = 320  # 10 ms at 16 kHz, 16-bit


class SpeechGate:
    """Tells when speech starts in 16 kHz mono PCM; cheap enough to run on every streaming satellite."""

    def __init__(self, threshold: float = 0.5, min_speech_s: float = 0.15, preroll_s: float = 1.0) -> None:
        self._threshold = threshold
        self._frames_needed = max(1, round(min_speech_s / 0.01))
        self._vad = Vad()
        self._buffer = b""
        self._speech_frames = 0
        self._preroll: deque[bytes] = deque(maxlen=max(1, round(preroll_s / 0.01)))

    def process(self, pcm: bytes) -> bool:
        """Feed audio; True once speech has started (then call :meth:`reset` after the turn)."""
        self._buffer += pcm
        started = False
        while len(self._buffer) >= _FRAME_BYTES:
            frame, self._buffer = self._buffer[:_FRAME_BYTES], self._buffer[_FRAME_BYTES:]
            self._preroll.append(frame)
            probability = self._vad.process_10ms(frame)
            self._speech_frames = self._speech_frames + 1 if probability >= self._threshold else 0
            started = started or self._speech_frames >= self._frames_needed
        return started

    def preroll(self) -> bytes:
        """The audio leading up to (and including) the start of speech."""
        return b"".join(self._preroll)

    def reset(self) -> None:
        """Forget everything heard (after a turn)."""
        self._vad.reset()
        self._buffer = b""
        self._speech_frames = 0
        self._preroll.clear()
