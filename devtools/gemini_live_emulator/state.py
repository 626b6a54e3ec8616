"""The emulator's state directory: what it keeps there, so that a restart looks the same to clients.

It holds the CA and the server certificate (:mod:`.tls`), the service-account key file (:mod:`.oauth`)
and the Developer API key the emulator minted (``api-key``). With ``--state-dir`` it outlives the
process: a second start reuses all of it, so a client configured with the first run's CA file and key
keeps working. Without it the emulator uses a temporary directory, removed when it stops.
"""

from __future__ import annotations

import os
from pathlib import Path

API_KEY_FILE = "api-key"


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read, replacing any old one whole (never half-written)."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)  # a left-over one may have other permissions
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    partial.replace(path)


def load_api_key(directory: Path) -> str | None:
    """The API key minted by an earlier run with this state directory, if any."""
    try:
        key = (directory / API_KEY_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return key or None


def save_api_key(directory: Path, key: str) -> None:
    """Keep a minted API key for the next run."""
    directory.mkdir(parents=True, exist_ok=True)
    write_private(directory / API_KEY_FILE, (key + "\n").encode())
