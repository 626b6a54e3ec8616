"""What a satellite sends, checked field by field before the bridge acts on it.

The ``wyoming`` library reads an event's fields as they come: a rate of 0, a rate given as a string, a missing
stage or an odd number of bytes in 16-bit audio surface later as an exception deep in a conversion, which used
to take the satellite's connection down for good. These readers refuse such an event with a :class:`BadEvent`
naming the field, so the turn controller logs it and carries on with the next one.
"""

from __future__ import annotations

from typing import Any, Final

from wyoming.event import Event
from wyoming.pipeline import PipelineStage

from gemini_live_engine.audio import AudioFormat

MAX_RATE: Final = 192_000
MAX_CHANNELS: Final = 8
WIDTHS: Final = (1, 2, 4)


class BadEvent(ValueError):
    """An event the bridge cannot use; ``field`` names what is wrong with it."""

    def __init__(self, event_type: str, field: str, why: str) -> None:
        super().__init__(f"{event_type}: {field} {why}")
        self.event_type = event_type
        self.field = field


def _whole(event_type: str, data: dict[str, Any], field: str, bounds: tuple[int, int], where: str = "") -> int:
    low, high = bounds
    value = data.get(field)
    name = f"{where}{field}"
    if value is None:
        raise BadEvent(event_type, name, "is missing")
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadEvent(event_type, name, f"must be a whole number, not {type(value).__name__} {value!r}")
    if not low <= value <= high:
        raise BadEvent(event_type, name, f"must be from {low} to {high}, not {value}")
    return value


def _format(event_type: str, data: dict[str, Any], where: str = "") -> AudioFormat:
    rate = _whole(event_type, data, "rate", (1, MAX_RATE), where)
    width = _whole(event_type, data, "width", (1, 4), where)
    if width not in WIDTHS:
        raise BadEvent(event_type, f"{where}width", f"must be one of {WIDTHS} bytes, not {width}")
    channels = _whole(event_type, data, "channels", (1, MAX_CHANNELS), where)
    return AudioFormat(rate, width, channels)


def audio_chunk(event: Event) -> tuple[AudioFormat, bytes]:
    """An ``audio-chunk``'s format and audio (raises :class:`BadEvent`)."""
    fmt = _format(event.type, event.data)
    audio = event.payload or b""
    if len(audio) % fmt.bytes_per_frame:
        raise BadEvent(
            event.type, "payload", f"holds {len(audio)} bytes, not whole frames of {fmt.bytes_per_frame} bytes"
        )
    return fmt, audio


def run_pipeline(event: Event) -> tuple[PipelineStage, AudioFormat | None]:
    """A ``run-pipeline``'s start stage and, when it gives one, the satellite's ``snd_format``."""
    data = event.data
    stage = data.get("start_stage")
    if stage is None:
        raise BadEvent(event.type, "start_stage", "is missing")
    try:
        start = PipelineStage(stage)
    except ValueError:
        stages = ", ".join(s.value for s in PipelineStage)
        raise BadEvent(event.type, "start_stage", f"must be one of {stages}, not {stage!r}") from None
    snd = data.get("snd_format")
    if snd is None:
        return start, None
    if not isinstance(snd, dict):
        raise BadEvent(event.type, "snd_format", f"must be an object, not {type(snd).__name__}")
    return start, _format(event.type, snd, "snd_format.")
