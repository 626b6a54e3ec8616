"""The link's vocabulary (docs/link-protocol.md): versions, limits, close codes, and reading one message.

Everything that crosses the link is a JSON object with a ``type``. :func:`parse` turns a text frame into
one, or raises :class:`BadMessage` naming what is wrong, so a malformed message is answered and the link
stays up.
"""

from __future__ import annotations

import json
from typing import Any, Final

VERSIONS: Final = (1,)
"""Protocol versions the bridge speaks."""

PATH: Final = "/link"
ZEROCONF_TYPE: Final = "_gemini-live._tcp.local."

MAX_MESSAGE_BYTES: Final = 256 * 1024
MAX_ANNOUNCE_CHUNK_BYTES: Final = 64 * 1024
MAX_ANNOUNCE_S: Final = 600.0
MAX_TOOLS: Final = 512
MAX_CALLS_IN_FLIGHT: Final = 64
AUTH_TIMEOUT_S: Final = 10.0
SILENCE_TIMEOUT_S: Final = 60.0  # nothing received for this long: the link is gone

CLOSE_NORMAL: Final = 1000
CLOSE_TOO_BIG: Final = 1009
CLOSE_BAD_TOKEN: Final = 4401
CLOSE_NO_VERSION: Final = 4406
CLOSE_AUTH_TIMEOUT: Final = 4408
CLOSE_REPLACED: Final = 4409
CLOSE_LOCKED_OUT: Final = 4429


class BadMessage(Exception):
    """A message the protocol does not allow; ``str(error)`` names the field."""


def parse(text: str) -> dict[str, Any]:
    """A text frame as a message object (raises :class:`BadMessage`)."""
    try:
        message = json.loads(text)
    except json.JSONDecodeError as err:
        raise BadMessage(f"not JSON ({err.msg} at position {err.pos})") from err
    if not isinstance(message, dict):
        raise BadMessage("a message must be a JSON object")
    if not isinstance(message.get("type"), str):
        raise BadMessage("the message has no type")
    return message


def text(message: dict[str, Any], field: str, *, optional: bool = False) -> str:
    """A string field (raises :class:`BadMessage`)."""
    value = message.get(field)
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise BadMessage(f"{message['type']}: {field} must be a string")
    return value


def flag(message: dict[str, Any], field: str) -> bool:
    """A boolean field, false when missing (raises :class:`BadMessage` for anything else)."""
    value = message.get(field, False)
    if not isinstance(value, bool):
        raise BadMessage(f"{message['type']}: {field} must be true or false")
    return value


def obj(message: dict[str, Any], field: str, *, optional: bool = False) -> dict[str, Any] | None:
    """An object field (raises :class:`BadMessage`)."""
    value = message.get(field)
    if value is None and optional:
        return None
    if not isinstance(value, dict):
        raise BadMessage(f"{message['type']}: {field} must be an object")
    return value


def dump(message: dict[str, Any]) -> str:
    """A message as a text frame."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))
