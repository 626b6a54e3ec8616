"""``python -m gemini_live_demo``: the end-to-end demo (see :mod:`.demo`)."""

from .demo import run

if __name__ == "__main__":
    run()
