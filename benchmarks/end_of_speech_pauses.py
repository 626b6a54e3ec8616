"""How long do people (and espeak-ng) pause inside one utterance? ``uv run python -m benchmarks.end_of_speech_pauses``.

The bridge ends the user's utterance after :data:`gemini_live_engine.defaults.END_OF_SPEECH_MS` without a loud
frame (:class:`gemini_live_engine.end_of_speech.EndOfSpeech`), so that threshold must outlast every pause inside
a sentence: a user who pauses after a comma must not be cut off. This measures, on the same detector:

* the pauses it sees inside utterances: runs of quiet frames (by its level gate) between loud ones, once a sound
  has been taken for speech; a pause over :data:`BETWEEN_UTTERANCES_S` counts as the gap between two utterances;
* the pauses pymicro-vad's speech probability sees (runs below 0.5 between the first and last loud frame): its
  model lags, so it hardly sees any, which is why the level places the end;
* for candidate thresholds, how many utterances the detector would end early (before their last loud frame).

Audio: espeak-ng sentences with commas (English and Arabic, every one of the 30 Gemini voices, as the emulator
renders them; the same synthesizer as ``tests/audio.py``) and the real recordings in ``tests/data/``.
"""

from __future__ import annotations

import argparse
import sys
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from gemini_live_emulator.speech import VOICE_PROFILES, Synthesizer

from gemini_live_engine.end_of_speech import FRAME_BYTES, FRAME_MS, EndOfSpeech
from gemini_live_engine.vad import Vad

from .common import REPO_ROOT

SENTENCES = {
    "en-US": (
        "Turn on the kitchen light, please.",
        "Well, I think, maybe, we should turn off the heating.",
        "Set the living room lights to fifty percent, and close the blinds.",
        "First, lock the front door, then, turn off the TV.",
        "Hmm, what is the weather tomorrow, in London?",
    ),
    "ar-EG": (
        "شغّل نور المطبخ، من فضلك.",
        "طيب، أعتقد، ربما، يجب أن نطفئ التدفئة.",
        "اضبط أضواء غرفة المعيشة على خمسين بالمئة، وأغلق الستائر.",
        "أولاً، أغلق الباب الأمامي، ثم، أطفئ التلفاز.",
    ),
}
RECORDINGS = sorted((REPO_ROOT / "tests" / "data").glob("**/*.wav"))
BETWEEN_UTTERANCES_S = 1.5
CHUNK_BYTES = 2048  # what wyoming-satellite sends: 1024 samples
CANDIDATES_MS = (200, 250, 300, 350, 400, 450, 500)
LEAD_IN_S = 1.0  # silence before each clip (the detector learns the room first, as it does between turns)
TAIL_S = 1.0


@dataclass
class Clip:
    """One piece of audio and what the detector saw in it."""

    name: str
    pcm: bytes
    pauses_ms: list[int] = field(default_factory=list)  # quiet runs inside utterances (level gate)
    gaps_ms: list[int] = field(default_factory=list)  # quiet runs between utterances
    vad_pauses_ms: list[int] = field(default_factory=list)  # pymicro-vad below 0.5 inside the speech

    @property
    def longest_pause_ms(self) -> int:
        """The longest pause inside an utterance."""
        return max(self.pauses_ms, default=0)


class _Watching(EndOfSpeech):
    """The bridge's detector, noting where utterances end and each quiet run a loud frame ends inside one."""

    def __init__(self, silence_ms: int = 60_000) -> None:
        super().__init__(silence_ms=silence_ms, give_up_ms=max(1000, silence_ms))
        self.runs: list[int] = []  # quiet frames before each loud frame of an utterance being followed
        self.utterance_loud: list[int] = []  # indices of the loud frames of utterances being followed
        self.ends: list[int] = []  # frames at which an utterance was ended
        self.frame_index = 0

    def _frame(self, frame: bytes, level: float) -> bool:
        quiet = self._quiet_run
        loud = level >= self.loud_dbfs
        ended = super()._frame(frame, level)
        if loud and self._phase.value != "waiting":
            if quiet:
                self.runs.append(quiet)
            self.utterance_loud.append(self.frame_index)
        if ended:
            self.ends.append(self.frame_index)
        self.frame_index += 1
        return ended


def feed(detector: EndOfSpeech, pcm: bytes) -> None:
    """The clip as a satellite streams it: 1024-sample chunks (64 ms)."""
    for start in range(0, len(pcm), CHUNK_BYTES):
        detector.process(pcm[start : start + CHUNK_BYTES])


def analyse(clip: Clip) -> list[int]:
    """Fill in the pauses the detector and pymicro-vad see in ``clip``; the loud frames of its utterances."""
    watcher = _Watching()
    feed(watcher, clip.pcm)
    for frames in watcher.runs:
        ms = frames * FRAME_MS
        (clip.gaps_ms if ms >= BETWEEN_UTTERANCES_S * 1000 else clip.pauses_ms).append(ms)
    if not watcher.utterance_loud:
        return []
    first, last = watcher.utterance_loud[0], watcher.utterance_loud[-1]
    vad = Vad()
    run = 0
    for index in range(0, last + 1):
        probability = vad.process_10ms(clip.pcm[index * FRAME_BYTES : (index + 1) * FRAME_BYTES])
        if index < first:
            continue
        if 0 <= probability < 0.5:
            run += 1
        elif run:
            if run * FRAME_MS < BETWEEN_UTTERANCES_S * 1000:  # longer: between utterances
                clip.vad_pauses_ms.append(run * FRAME_MS)
            run = 0
    return watcher.utterance_loud


def early_ends(clip: Clip, loud: list[int], silence_ms: int) -> int:
    """Utterances of ``clip`` that the detector with ``silence_ms`` ends while more of them follows.

    An end is early when a loud frame of the same utterance (less than BETWEEN_UTTERANCES_S later) follows it.
    """
    detector = _Watching(silence_ms)
    feed(detector, clip.pcm)
    gap = BETWEEN_UTTERANCES_S * 1000 // FRAME_MS
    return sum(any(end < index <= end + gap for index in loud) for end in detector.ends)


def clips(voices: Sequence[str]) -> list[Clip]:
    """espeak-ng sentences in every voice, and the real recordings."""
    synthesizer = Synthesizer()
    lead, tail = bytes(int(LEAD_IN_S * 16000) * 2), bytes(int(TAIL_S * 16000) * 2)
    out = []
    for language, sentences in SENTENCES.items():
        for sentence in sentences:
            for voice in voices:
                pcm = synthesizer.synthesize(sentence, language, sample_rate=16000, voice=voice)
                out.append(Clip(f"espeak {language} {voice}: {sentence}", lead + pcm + tail))
    for path in RECORDINGS:
        with wave.open(str(path), "rb") as wav:
            if (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) != (16000, 2, 1):
                continue
            pcm = wav.readframes(wav.getnframes())
        out.append(Clip(f"recording {path.relative_to(REPO_ROOT)}", pcm + tail))
    return out


def report(all_clips: list[Clip], loud: dict[str, list[int]]) -> str:
    """The longest pauses per source, and early ends per candidate threshold."""
    lines = ["Pauses inside utterances (ms): what the bridge's end-of-speech detector sees (its level gate)"]
    groups: dict[str, list[Clip]] = {}
    for clip in all_clips:
        key = clip.name.split(":")[0].rsplit(" ", 1)[0] if clip.name.startswith("espeak") else clip.name
        groups.setdefault(key, []).append(clip)
    for key, members in groups.items():
        pauses = [p for c in members for p in c.pauses_ms]
        vad = [p for c in members for p in c.vad_pauses_ms]
        longest = max(members, key=lambda c: c.longest_pause_ms)
        lines.append(
            f"  {key:<46} clips {len(members):>3}  pauses {len(pauses):>4}  longest {max(pauses, default=0):>4}"
            f"  p99 {np.percentile(pauses, 99) if pauses else 0:>6.0f}  pymicro-vad's longest {max(vad, default=0):>4}"
            f"  (longest in: {longest.name.split(': ', 1)[-1][:60]})"
        )
        gaps = [g for c in members for g in c.gaps_ms]
        if gaps:
            lines.append(f"  {'':<46} gaps between utterances (≥ {BETWEEN_UTTERANCES_S:g} s): {gaps}")
    lines += ["", "Utterances ended early (before their last loud frame), per threshold"]
    header = "  " + "".join(f"{ms:>8}" for ms in CANDIDATES_MS)
    lines.append(f"  {'':<46}{header}")
    for key, members in groups.items():
        counts = [sum(early_ends(c, loud[c.name], ms) for c in members) for ms in CANDIDATES_MS]
        lines.append(f"  {key:<46}  " + "".join(f"{n:>8}" for n in counts))
    longest = max(c.longest_pause_ms for c in all_clips)
    lines += ["", f"Longest pause inside an utterance, all sources: {longest} ms"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.end_of_speech_pauses", description=__doc__)
    parser.add_argument("--voices", default="all", help="comma-separated Gemini voices (default: all 30)")
    args = parser.parse_args(argv)
    voices = list(VOICE_PROFILES) if args.voices == "all" else args.voices.split(",")
    all_clips = clips(voices)
    loud = {clip.name: analyse(clip) for clip in all_clips}
    print(report(all_clips, loud))
    return 0


if __name__ == "__main__":
    sys.exit(main())
