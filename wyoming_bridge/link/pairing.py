"""The bridge's identity for the link: its data directory, pairing token and id, and the proofs of the handshake.

The token is made once, kept in the data directory (readable by the bridge's user only) and printed once, in
the log line that says it was made. Each side of the link proves that it knows the token with an HMAC over
both sides' nonces (docs/link-protocol.md, *Pairing*), so the token itself never crosses the wire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

_LOGGER = logging.getLogger(__name__)

TOKEN_FILE: Final = "pairing-token"
ID_FILE: Final = "bridge-id"
NONCE_BYTES: Final = 32
CLIENT_LABEL: Final = b"gemini-live-link/1 client"
BRIDGE_LABEL: Final = b"gemini-live-link/1 bridge"


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/gemini-live-bridge`` (``~/.local/share/gemini-live-bridge`` when it is not set)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gemini-live-bridge"


@dataclass(frozen=True)
class Identity:
    """Who the bridge is to Home Assistant: a stable id, and the pairing token (never in ``repr``)."""

    bridge_id: str
    token: str = field(repr=False)

    @classmethod
    def load(cls, data_dir: Path, token: str | None = None) -> Identity:
        """Read the id and token from ``data_dir``, making them on first start; ``token`` overrides the file's."""
        data_dir.mkdir(parents=True, exist_ok=True)
        id_path = data_dir / ID_FILE
        if id_path.exists():
            bridge_id = id_path.read_text(encoding="utf-8").strip()
        else:
            bridge_id = str(uuid.uuid4())
            _write_private(id_path, bridge_id)
        if token:
            return cls(bridge_id, token)
        token_path = data_dir / TOKEN_FILE
        if token_path.exists():
            stored = token_path.read_text(encoding="utf-8").strip()
            if stored:
                return cls(bridge_id, stored)
        made = secrets.token_urlsafe(18)
        _write_private(token_path, made)
        # The one time the token is logged: the user needs it to add the bridge in Home Assistant.
        _LOGGER.warning("Pairing token for Home Assistant (shown once; kept in %s): %s", token_path, made)
        return cls(bridge_id, made)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text + "\n")


def new_nonce() -> bytes:
    """Fresh random bytes for one handshake."""
    return secrets.token_bytes(NONCE_BYTES)


def encode(raw: bytes) -> str:
    """Base64, standard alphabet, padded (as the protocol sends nonces and proofs)."""
    return base64.b64encode(raw).decode("ascii")


def decode(text: object, size: int | None = None) -> bytes | None:
    """The bytes of a base64 field, or None when it is not one (or not ``size`` bytes long)."""
    if not isinstance(text, str) or len(text) > 256:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    return raw if size is None or len(raw) == size else None


def proof(token: str, label: bytes, first: bytes, second: bytes) -> bytes:
    """HMAC-SHA256 keyed with the token over ``label ‖ first ‖ second``."""
    return hmac.new(token.encode("utf-8"), label + first + second, hashlib.sha256).digest()


def client_proof(token: str, bridge_nonce: bytes, client_nonce: bytes) -> bytes:
    """What Home Assistant sends in ``auth``."""
    return proof(token, CLIENT_LABEL, bridge_nonce, client_nonce)


def bridge_proof(token: str, bridge_nonce: bytes, client_nonce: bytes) -> bytes:
    """What the bridge sends in ``welcome``."""
    return proof(token, BRIDGE_LABEL, client_nonce, bridge_nonce)
