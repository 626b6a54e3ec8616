"""The bridge's wheel built from this tree, and installed into a virtual environment of Debian's own Python.

The wheel is built with ``uv build`` as it would be published. The virtual environment is made from
``/usr/bin/python3`` (3.11 on Debian 12, the lowest Python the wheel declares; missing or older fails the
tests, it never skips them), and the wheel is installed into it with its dependencies resolved from PyPI, as
``uv tool install`` or ``pip install`` would resolve them.

The virtual environment is kept in ``build/bridge-wheel-venv/`` (gitignored) for the next run. It is reused
only for the same wheel (by hash) and the same interpreter, and for at most a day (so that new releases of
the dependencies get tested); otherwise it is rebuilt in place, under a file lock that also keeps it from
being rebuilt while another run uses it. Without it (a fresh machine) the fixture builds it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .wheel_helpers import DEBIAN_PYTHON, ROOT, VERSION, debian_python_version, run, uv

VENV_CACHE = ROOT / "build" / "bridge-wheel-venv"
VENV_MAX_AGE_S = 24 * 3600.0


@pytest.fixture(scope="session")
def bridge_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bridge's wheel, built from this tree as it would be published."""
    out = tmp_path_factory.mktemp("bridge-wheel")
    run(uv(), "build", "--wheel", "--package", "gemini-live-bridge", "--out-dir", out)
    wheels = sorted(path.name for path in out.glob("*.whl"))
    assert wheels == [f"gemini_live_bridge-{VERSION}-py3-none-any.whl"]
    return out / wheels[0]


def _venv_is_current(venv: Path, marker: Path, key: dict[str, str]) -> bool:
    try:
        made = json.loads(marker.read_text(encoding="utf-8"))
        age = time.time() - marker.stat().st_mtime
    except OSError, ValueError:
        return False
    return made == key and 0 <= age < VENV_MAX_AGE_S and (venv / "bin" / "gemini-live-bridge").is_file()


@pytest.fixture
def debian_venv(bridge_wheel: Path) -> Iterator[Path]:
    """A virtual environment of Debian's ``/usr/bin/python3`` with the wheel installed (cached, see above)."""
    version = debian_python_version()
    key = {
        "wheel_sha256": hashlib.sha256(bridge_wheel.read_bytes()).hexdigest(),
        "python": str(DEBIAN_PYTHON.resolve()),
        "python_version": ".".join(map(str, version)),
    }
    VENV_CACHE.mkdir(parents=True, exist_ok=True)
    venv, marker = VENV_CACHE / "venv", VENV_CACHE / "installed.json"
    with (VENV_CACHE / "lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)  # held while the test uses the venv: nobody rebuilds it meanwhile
        if not _venv_is_current(venv, marker, key):
            fcntl.flock(lock, fcntl.LOCK_UN)  # let go before waiting for the exclusive lock: no deadlock
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not _venv_is_current(venv, marker, key):
                marker.unlink(missing_ok=True)
                shutil.rmtree(venv, ignore_errors=True)
                run(uv(), "venv", "--quiet", "--no-project", "--python", DEBIAN_PYTHON, venv)
                run(uv(), "pip", "install", "--quiet", "--python", venv / "bin" / "python", bridge_wheel)
                marker.write_text(json.dumps(key), encoding="utf-8")  # last: a half-made venv is never reused
            fcntl.flock(lock, fcntl.LOCK_SH)
        yield venv
