"""The Quick start's main job, ``scripts/demo.sh`` (``gemini-live-demo``), run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path


def test_the_demo_answers_in_both_languages_and_turns_the_light_on_through_home_assistant(tmp_path: Path) -> None:
    """On the emulator: two spoken turns answered with a tool, the reply written as a WAV, then the linked path,
    where the light that Home Assistant reports off before is on after the satellite's request."""
    out = tmp_path / "reply.wav"
    env = {k: v for k, v in os.environ.items() if k != "GEMINI_API_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "gemini_live_demo", "--quiet", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = result.stdout
    assert "user:  What time is it?" in text and "user:  كم الساعة الآن؟" in text
    assert text.count("tool:  get_current_time") == 2
    with wave.open(str(out), "rb") as wav:
        assert wav.getnframes() / wav.getframerate() > 2.0
    before = text.index("[home] the kitchen light is off")
    after = text.index("[home] the kitchen light is on")
    assert before < text.index("[turn] user: 'Turn on the kitchen light'") < after
    assert "Traceback" not in result.stdout + result.stderr
