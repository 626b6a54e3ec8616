"""A stand-in speaker for wyoming-satellite's ``--snd-command`` (stdlib only; runs in the satellite's venv).

The satellite starts it for each sound (on ``audio-start``) and closes its stdin at ``audio-stop``, then waits for
it to exit (wyoming-satellite 1.0.0 answers nothing then; later releases send ``played``). It copies stdin, the raw
PCM the satellite plays, to a new file in OUT_DIR, named ``<time_ns>-<pid>.raw`` once complete (so names sort in
playing order and a file is never seen half-written).

    snd.py OUT_DIR
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path


def main() -> None:
    """Copy stdin to OUT_DIR/<time_ns>-<pid>.raw."""
    out_dir = Path(sys.argv[1])
    name = f"{time.time_ns()}-{os.getpid()}"
    partial = out_dir / f".{name}.part"
    with partial.open("wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out)
    partial.rename(out_dir / f"{name}.raw")


if __name__ == "__main__":
    main()
