"""The link's vocabulary as Home Assistant speaks it (docs/link-protocol.md): limits, close codes, pairing proofs.

Home Assistant is the link's client. It proves that it knows the pairing token with an HMAC over the
bridge's nonce and its own, and checks the bridge's proof before it trusts anything the bridge says, so
the token itself never crosses the wire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any, Final

VERSIONS: Final = (1,)
"""Protocol versions Home Assistant speaks."""

PATH: Final = "/link"
MAX_MESSAGE_BYTES: Final = 256 * 1024
MAX_AUDIO_CHUNK_BYTES: Final = 64 * 1024  # raw PCM per announce_audio message
MAX_TOOLS: Final = 512  # declarations per configure message

CONNECT_TIMEOUT_S: Final = 10.0
HANDSHAKE_TIMEOUT_S: Final = 10.0
PING_INTERVAL_S: Final = 20.0
SILENCE_TIMEOUT_S: Final = 60.0  # nothing received for this long: the link is gone
BACKOFF_INITIAL_S: Final = 1.0
BACKOFF_MAX_S: Final = 60.0

CLOSE_NORMAL: Final = 1000
CLOSE_TOO_BIG: Final = 1009
CLOSE_BAD_TOKEN: Final = 4401
CLOSE_NO_VERSION: Final = 4406
CLOSE_AUTH_TIMEOUT: Final = 4408
CLOSE_REPLACED: Final = 4409
CLOSE_LOCKED_OUT: Final = 4429

NONCE_BYTES: Final = 32
PROOF_BYTES: Final = 32
CLIENT_LABEL: Final = b"gemini-live-link/1 client"
BRIDGE_LABEL: Final = b"gemini-live-link/1 bridge"


def new_nonce() -> bytes:
    """Fresh random bytes for one handshake."""
    return secrets.token_bytes(NONCE_BYTES)


def encode(raw: bytes) -> str:
    """Base64, standard alphabet, padded (as nonces and proofs are sent)."""
    return base64.b64encode(raw).decode("ascii")


def decode(text: object, size: int) -> bytes | None:
    """The ``size`` bytes of a base64 field, or None when it is not that."""
    if not isinstance(text, str) or len(text) > 256:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    return raw if len(raw) == size else None


def _proof(token: str, label: bytes, first: bytes, second: bytes) -> bytes:
    return hmac.new(token.encode("utf-8"), label + first + second, hashlib.sha256).digest()


def client_proof(token: str, bridge_nonce: bytes, client_nonce: bytes) -> bytes:
    """What Home Assistant sends in ``auth``."""
    return _proof(token, CLIENT_LABEL, bridge_nonce, client_nonce)


def bridge_proof(token: str, bridge_nonce: bytes, client_nonce: bytes) -> bytes:
    """What a bridge that knows the token sends in ``welcome``."""
    return _proof(token, BRIDGE_LABEL, client_nonce, bridge_nonce)


def proof_matches(received: object, expected: bytes) -> bool:
    """Whether a proof field holds the expected proof (compared in constant time)."""
    raw = decode(received, PROOF_BYTES)
    return raw is not None and hmac.compare_digest(raw, expected)


def dump(message: dict[str, Any]) -> str:
    """A message as a text frame."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def parse(text: str) -> dict[str, Any] | None:
    """A text frame as a message, or None when it is not a JSON object with a type."""
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return None
    return message
