"""pymicro-vad's speech probability of 10 ms frames (16 kHz mono PCM), whichever pymicro-vad is installed.

pymicro-vad 1.x (the version Home Assistant pins) names its methods ``Process10ms`` and ``Reset``; 2.x (what
a fresh install of the bridge gets, as ``pymicro-vad>=1.0.1`` allows) renamed them ``process_10ms`` and
``reset``. Both answer -1 until they have heard 76 frames, then the same probabilities.
"""

from __future__ import annotations

from collections.abc import Callable

from pymicro_vad import MicroVad


class Vad:
    """One voice activity detector."""

    def __init__(self) -> None:
        vad = MicroVad()
        self._process: Callable[[bytes], float] = getattr(vad, "process_10ms", None) or vad.Process10ms
        self._reset: Callable[[], None] = getattr(vad, "reset", None) or vad.Reset

    def process_10ms(self, frame: bytes) -> float:
        """The probability that ``frame`` (10 ms) is speech, or -1 while the detector is still filling its window."""
        return self._process(frame)

    def reset(self) -> None:
        """Forget everything heard."""
        self._reset()
