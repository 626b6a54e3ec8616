"""``docs/systemd/gemini-live-bridge.service``: a unit systemd accepts, confined, running the installed bridge.

systemd cannot run the unit here (the tests do not run as PID 1's services); ``systemd-analyze`` checks it
offline with the console script the wheel installs, and the bridge is run the way the unit runs it.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest

from .wheel_helpers import COMMAND_TIMEOUT_S, ROOT, clean_env

UNIT = ROOT / "docs" / "systemd" / "gemini-live-bridge.service"
COMMAND = "/usr/local/bin/gemini-live-bridge"  # where docs/bridge.md installs it
# systemd-analyze security's overall exposure ×10: 1.1 now; an unconfined service is 9.6.
EXPOSURE_THRESHOLD = 15


def unit_settings() -> dict[str, list[str]]:
    """Every ``Key=value`` of the unit (comments skipped), each key's values in order."""
    settings: dict[str, list[str]] = {}
    for line in map(str.strip, UNIT.read_text(encoding="utf-8").splitlines()):
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def unit_environment() -> dict[str, str]:
    """The bridge's options among the unit's ``Environment=`` lines, as the service gets them (``%%`` is ``%``)."""
    assignments = (value.strip('"').replace("%%", "%").split("=", 1) for value in unit_settings()["Environment"])
    return {name: value for name, value in assignments if name.startswith("GEMINI_")}


def systemd_analyze() -> str:
    """``systemd-analyze``, which Debian's systemd package installs."""
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze is missing (apt-get install systemd): these tests check the unit with it")
    return found


def analyze(*arguments: str | Path, cwd: Path) -> str:
    """Run systemd-analyze; everything it printed, or a failure showing it."""
    command = [systemd_analyze(), *map(str, arguments)]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, (
        f"{' '.join(command)} exited with {result.returncode}:\n{result.stdout}{result.stderr}"
    )
    return result.stdout + result.stderr


def test_unit_runs_the_bridge_from_a_root_only_environment_file_as_its_own_user() -> None:
    """Options (secrets included) come from the environment file, never the command line; a dedicated user,
    restarts on failure but not on bad options, a state directory, and the main confinement settings."""
    settings = unit_settings()
    assert settings["ExecStart"] == [COMMAND]
    assert settings["EnvironmentFile"] == ["/etc/gemini-live-bridge.env"]
    assert settings["User"] == ["gemini-live-bridge"]
    assert settings["Restart"] == ["on-failure"]
    assert settings["RestartPreventExitStatus"] == ["2"]
    assert settings["StateDirectory"] == ["gemini-live-bridge"]
    confinement = {
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
    }
    for key, value in confinement.items():
        assert settings[key] == [value], key
    log_format = unit_environment()["GEMINI_BRIDGE_LOG_FORMAT"]
    logging.Formatter(log_format, validate=True)
    assert "asctime" not in log_format, "the journal stamps each line already"


def test_systemd_accepts_the_unit_with_the_installed_console_script(debian_venv: Path, tmp_path: Path) -> None:
    """``systemd-analyze verify`` has nothing to say about it; its security exposure stays low."""
    unit = tmp_path / UNIT.name
    installed = debian_venv / "bin" / "gemini-live-bridge"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace(f"ExecStart={COMMAND}\n", f"ExecStart={installed}\n"))
    assert analyze("verify", unit, cwd=tmp_path) == ""
    analyze("security", "--offline=yes", f"--threshold={EXPOSURE_THRESHOLD}", unit, cwd=tmp_path)


def test_missing_options_exit_2_which_the_unit_does_not_restart(debian_venv: Path, tmp_path: Path) -> None:
    """The installed bridge as the unit starts it, with an environment file that gives it nothing to do."""
    result = subprocess.run(
        [debian_venv / "bin" / "gemini-live-bridge"],
        cwd=tmp_path,
        env=clean_env() | unit_environment(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "nothing to do" in result.stderr
