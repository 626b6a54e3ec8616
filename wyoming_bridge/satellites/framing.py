"""Reading Wyoming events from an untrusted peer, with limits.

``wyoming.event.async_read_event`` trusts the peer's ``data_length``/``payload_length`` (a 2 GB length
would be read into memory) and folds every malformed frame into "disconnected". The bridge needs to
name the cause in its log and bound memory per satellite, so it reads frames itself; writing still goes
through ``wyoming.event.async_write_event``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Final

from wyoming.event import Event

MAX_HEADER_BYTES: Final = 64 * 1024
MAX_DATA_BYTES: Final = 1024 * 1024
MAX_PAYLOAD_BYTES: Final = 4 * 1024 * 1024


class FrameError(Exception):
    """A frame that breaks the Wyoming framing rules or the bridge's size limits."""


def _length(header: dict[str, object], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FrameError(f"{key} must be a non-negative integer, got {value!r}")
    if value > limit:
        raise FrameError(f"{key} {value} is over the limit of {limit} bytes")
    return value


async def read_event(
    reader: asyncio.StreamReader,
    *,
    max_data: int = MAX_DATA_BYTES,
    max_payload: int = MAX_PAYLOAD_BYTES,
) -> Event | None:
    """The next event, or None at a clean end of stream; FrameError for a frame that must close the connection."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as err:
        if not err.partial:
            return None
        raise FrameError("connection closed in the middle of a header") from err
    except asyncio.LimitOverrunError as err:
        raise FrameError(f"header line over {MAX_HEADER_BYTES} bytes") from err
    try:
        header = json.loads(line)
    except ValueError as err:
        raise FrameError(f"header is not JSON: {line[:80]!r}") from err
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise FrameError("header has no event type")
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise FrameError("inline data is not an object")
    data_length = _length(header, "data_length", max_data)
    payload_length = _length(header, "payload_length", max_payload)
    try:
        if data_length:
            extra = json.loads(await reader.readexactly(data_length))
            if not isinstance(extra, dict):
                raise FrameError("data block is not an object")
            data.update(extra)
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError as err:
        raise FrameError("connection closed in the middle of a frame") from err
    except ValueError as err:
        raise FrameError("data block is not JSON") from err
    return Event(type=header["type"], data=data, payload=payload)
