"""A virtualenv of its own for the real ``wyoming-satellite`` 1.0.0 from PyPI, created once and cached.

Why 1.0.0: it is the only wyoming-satellite release on PyPI (Dec 2023); 1.1.0 and later were only ever released
on GitHub, and the project does not ship code (or a wheel built from code) taken from other repositories. So the
tests install ``wyoming-satellite==1.0.0`` from PyPI, as any user can.

wyoming-satellite 1.0.0 pins ``wyoming==1.4.1``, ``zeroconf==0.88.0`` and ``pyring-buffer==1.0.0`` and declares
Python ≤ 3.11, so it cannot join the project's Python 3.14 environment: it gets a Python 3.11 virtualenv of its own,
made with ``uv venv`` + ``uv pip install`` (or ``python3 -m venv`` + pip when uv is missing). Nothing but
interpreters already on the machine is used (no Python download); the packages come from PyPI.

The virtualenv lives under the system's temporary directory, named after the satellite's version and a hash of
everything that goes into it, so a changed pin makes a new one; a file lock makes concurrent test runs build it once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PROGRAMS_DIR = Path(__file__).parent / "satellite_programs"
SATELLITE_VERSION = "1.0.0"
# The satellite pins its own dependencies (wyoming 1.4.1, zeroconf 0.88.0, pyring-buffer 1.0.0); zeroconf leaves
# ifaddr open, pinned here so that the environment does not change under the tests.
REQUIREMENTS = (f"wyoming-satellite=={SATELLITE_VERSION}", "ifaddr==0.2.0")
# 1.0.0 declares Python 3.7–3.11; zeroconf 0.88.0 has binary wheels up to 3.12.
PYTHON_VERSIONS = ("3.11", "3.12", "3.10")
VENV_PARENT = Path(tempfile.gettempdir())
VENV_PREFIX = f"gemini-live-wyoming-satellite-{SATELLITE_VERSION}"
_READY = ".ready"
_INSTALL_TIMEOUT_S = 300.0
# Checks the installed version, and that the program's modules import (``--help`` would too, but 1.0.0 has no
# ``--version`` to print).
_CHECK = (
    "import importlib.metadata as m, sys, wyoming_satellite.__main__, wyoming_satellite.satellite; "
    "v = m.version('wyoming-satellite'); print(v); sys.exit(v != sys.argv[1])"
)


class SatelliteEnvError(RuntimeError):
    """The satellite's virtualenv could not be made."""


@dataclass(frozen=True)
class SatelliteEnv:
    """A ready virtualenv with wyoming-satellite 1.0.0 installed."""

    path: Path
    created: bool  # made by this call (False: found in the cache)
    seconds: float  # how long this call took

    @property
    def python(self) -> Path:
        """The virtualenv's interpreter: ``python -m wyoming_satellite`` runs the satellite."""
        return self.path / "bin" / "python"


def _cache_key() -> str:
    digest = hashlib.sha256()
    for part in (*REQUIREMENTS, *PYTHON_VERSIONS):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:12]


def venv_path() -> Path:
    """Where the cached virtualenv lives (a new directory whenever its contents would change)."""
    return VENV_PARENT / f"{VENV_PREFIX}-{_cache_key()}"


def _run(command: list[str], what: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT_S, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SatelliteEnvError(f"{what}: {err}") from err
    if result.returncode != 0:
        raise SatelliteEnvError(f"{what} failed ({result.returncode}): {command}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _create_with_uv(uv: str, path: Path) -> None:
    errors = []
    for version in PYTHON_VERSIONS:  # a system or already-installed interpreter; nothing is downloaded
        try:
            _run([uv, "venv", "--quiet", "--no-python-downloads", "--python", version, str(path)], "uv venv")
            break
        except SatelliteEnvError as err:
            errors.append(str(err))
    else:
        raise SatelliteEnvError("no Python " + "/".join(PYTHON_VERSIONS) + " found:\n" + "\n".join(errors))
    python = str(path / "bin" / "python")
    _run([uv, "pip", "install", "--quiet", "--python", python, *REQUIREMENTS], "uv pip install")


def _create_with_venv(path: Path) -> None:
    names = [f"python{v}" for v in PYTHON_VERSIONS] + ["python3"]
    interpreter = next((p for name in names if (p := shutil.which(name))), None)
    if interpreter is None:
        raise SatelliteEnvError("neither uv nor " + "/".join(names) + " is on PATH")
    _run([interpreter, "-m", "venv", str(path)], "python -m venv")
    _run([str(path / "bin" / "python"), "-m", "pip", "install", "--quiet", *REQUIREMENTS], "pip install")


def ensure_satellite_env() -> SatelliteEnv:
    """The cached virtualenv, made now if it is missing or incomplete."""
    started = time.monotonic()
    path = venv_path()
    ready = path / _READY
    if ready.exists():
        return SatelliteEnv(path, created=False, seconds=time.monotonic() - started)
    lock_path = path.with_name(path.name + ".lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be making it right now
        try:
            if ready.exists():
                return SatelliteEnv(path, created=False, seconds=time.monotonic() - started)
            shutil.rmtree(path, ignore_errors=True)  # a half-made one from an interrupted run
            uv = shutil.which("uv")
            if uv is not None:
                _create_with_uv(uv, path)
            else:
                _create_with_venv(path)
            _run([str(path / "bin" / "python"), "-c", _CHECK, SATELLITE_VERSION], "wyoming-satellite version check")
            _run([str(path / "bin" / "python"), "-m", "wyoming_satellite", "--help"], "wyoming_satellite --help")
            ready.write_text(" ".join(REQUIREMENTS) + "\n")
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return SatelliteEnv(path, created=True, seconds=time.monotonic() - started)


if __name__ == "__main__":  # make (or find) it by hand: python -m tests.bridge.wyoming_satellite_env
    env = ensure_satellite_env()
    print(f"{env.python} ({'created' if env.created else 'cached'} in {env.seconds:.1f} s)")
