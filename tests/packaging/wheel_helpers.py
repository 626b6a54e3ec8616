"""Helpers for the packaging tests: this tree's project metadata, commands run with a clean environment, uv,
and Debian's own Python."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
VERSION = PROJECT["version"]
PACKAGES = ("gemini_live_engine", "wyoming_bridge")

DEBIAN_PYTHON = Path("/usr/bin/python3")
LOWEST_PYTHON = (3, 11)  # the wheel's Requires-Python, and Debian 12's python3
COMMAND_TIMEOUT_S = 300.0  # a safety net: on a cold uv cache, installing downloads every dependency


def clean_env() -> dict[str, str]:
    """This environment without what would aim a Python elsewhere (the development venv, PYTHONPATH) or give
    the bridge options of its own (``GEMINI_*``, ``GOOGLE_APPLICATION_CREDENTIALS``)."""
    dropped = {"VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE"}
    dropped.add("GOOGLE_APPLICATION_CREDENTIALS")
    return {key: value for key, value in os.environ.items() if key not in dropped and not key.startswith("GEMINI_")}


def run(
    *command: str | Path, cwd: Path = ROOT, timeout: float = COMMAND_TIMEOUT_S, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in a clean environment (plus ``env``); fail the test with everything it printed if it fails."""
    words = [str(word) for word in command]
    try:
        result = subprocess.run(
            words,
            cwd=cwd,
            env=clean_env() | (env or {}),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{shlex.join(words)}` did not finish within {timeout:g} s")
    if result.returncode != 0:
        pytest.fail(f"`{shlex.join(words)}` exited with {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def uv() -> str:
    """The uv that runs the tests (``uv run`` names it in ``UV``), else the one on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        pytest.fail("uv builds and installs the wheel in these tests and it is not on PATH: run scripts/bootstrap.sh")
    return found


def debian_python_version() -> tuple[int, ...]:
    """The version of Debian's ``/usr/bin/python3``; a clear failure when it is missing or too old."""
    if not DEBIAN_PYTHON.exists():
        pytest.fail(
            f"{DEBIAN_PYTHON} is missing: these tests install the bridge's wheel into Debian's own Python "
            "(apt-get install python3; Debian 12 ships 3.11)"
        )
    printed = run(DEBIAN_PYTHON, "-c", "import sys; print(*sys.version_info[:3])").stdout
    version = tuple(int(part) for part in printed.split())
    if version[:2] < LOWEST_PYTHON:
        pytest.fail(
            f"{DEBIAN_PYTHON} is Python {'.'.join(map(str, version))}; the bridge's wheel declares "
            f"Requires-Python >={'.'.join(map(str, LOWEST_PYTHON))} and these tests run it on that interpreter"
        )
    return version
