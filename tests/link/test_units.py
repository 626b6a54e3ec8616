"""The link's pieces on their own: WAV decoding, PCM framing, the outcome cache, held calls, texts, the logbook."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.intent import TimerInfo
from homeassistant.core import Event

from custom_components.gemini_live import link_protocol, link_tools
from custom_components.gemini_live.announce import NotPcmWav, PcmFormat, WavReader, async_wav_audio
from custom_components.gemini_live.bridge import _fit, _frames, timer_finished_text
from custom_components.gemini_live.confirmation import HeldCall, HeldCalls
from custom_components.gemini_live.link_tools import OutcomeCache
from custom_components.gemini_live.logbook import async_describe_events


def riff(*chunks: tuple[bytes, bytes], size: int | None = None) -> bytes:
    """A RIFF/WAVE file of ``chunks``; the data chunk's declared size can be set."""
    body = b""
    for chunk_id, payload in chunks:
        declared = size if chunk_id == b"data" and size is not None else len(payload)
        body += chunk_id + struct.pack("<I", declared) + payload + (b"\0" if len(payload) % 2 else b"")
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def fmt_chunk(encoding: int = 1, channels: int = 1, rate: int = 16000, bits: int = 16, extra: bytes = b"") -> bytes:
    """A WAVE format chunk."""
    align = channels * bits // 8
    return struct.pack("<HHIIHH", encoding, channels, rate, rate * align, align, bits) + extra


async def stream(*pieces: bytes) -> AsyncIterator[bytes]:
    """Bytes arriving in pieces."""
    for piece in pieces:
        yield piece


async def read_all(data: bytes, piece: int) -> tuple[PcmFormat, bytes]:
    """Decode ``data`` arriving ``piece`` bytes at a time."""
    audio = await async_wav_audio(stream(*(data[i : i + piece] for i in range(0, len(data), piece))))
    return audio.format, b"".join([chunk async for chunk in audio.pcm])


@pytest.mark.parametrize("piece", [1, 7, 44, 4096])
async def test_wav_reader_finds_the_pcm_in_any_split(piece: int) -> None:
    """The header is read however the bytes arrive; a LIST chunk is skipped; the data chunk's size is kept to."""
    pcm = bytes(range(200)) * 5
    data = riff((b"fmt ", fmt_chunk()), (b"LIST", b"odd"), (b"data", pcm)) + b"trailing junk"
    assert await read_all(data, piece) == (PcmFormat(16000, 2, 1), pcm)


async def test_wav_reader_streams_with_an_unknown_length() -> None:
    """A streamed WAV (data size 0) is read to its end; 8-bit stereo extensible PCM is plain PCM too."""
    guid_tail = bytes(14)
    extensible = fmt_chunk(0xFFFE, channels=2, rate=8000, bits=8, extra=struct.pack("<HHIH", 22, 8, 3, 1) + guid_tail)
    fmt, pcm = await read_all(riff((b"fmt ", extensible), (b"data", b"\x80" * 100), size=0), 10)
    assert fmt == PcmFormat(8000, 1, 2)
    assert pcm == b"\x80" * 100


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"ID3\x04" + bytes(100), "not a WAV file"),
        (riff((b"data", b"x")), "data chunk comes before the format"),
        (riff((b"fmt ", b"short")), "too short"),
        (riff((b"fmt ", fmt_chunk(encoding=3, bits=32)), (b"data", b"")), "encoding 3"),
        (riff((b"fmt ", fmt_chunk(bits=24)), (b"data", b"")), "24-bit"),
        (riff((b"fmt ", fmt_chunk())), "ended before the audio"),
        (riff((b"fmt ", fmt_chunk()), (b"LIST", bytes(70000))), "first 64 KiB"),
    ],
)
async def test_wav_reader_refuses_what_is_not_plain_pcm(data: bytes, reason: str) -> None:
    """Anything else than PCM WAV is refused with the reason (ffmpeg is the way for those)."""
    with pytest.raises(NotPcmWav, match=reason):
        await read_all(data, 1000)


def test_wav_reader_waits_for_a_whole_header() -> None:
    """Less than a RIFF header: nothing yet."""
    assert WavReader().feed(b"RIFF") == b""


async def test_frames_are_whole_and_at_most_64_kib() -> None:
    """PCM goes out in whole frames, never more than 64 KiB; the tail goes last."""
    pieces = [piece async for piece in _frames(stream(b"\1" * 5, b"\2" * 70_000, b"\3"), 4)]
    assert b"".join(pieces) == b"\1" * 5 + b"\2" * 70_000 + b"\3"
    assert all(len(piece) <= link_protocol.MAX_AUDIO_CHUNK_BYTES for piece in pieces)
    assert all(len(piece) % 4 == 0 for piece in pieces[:-1])


def test_protocol_fields() -> None:
    """Nonces and proofs must be base64 of the right size; a frame must be an object with a type."""
    assert link_protocol.decode(None, 32) is None
    assert link_protocol.decode("***", 32) is None
    assert link_protocol.decode(link_protocol.encode(bytes(31)), 32) is None
    assert link_protocol.parse("{") is None
    assert link_protocol.parse("[]") is None
    assert link_protocol.parse('{"type": 1}') is None
    assert link_protocol.parse('{"type": "ping"}') == {"type": "ping"}


async def test_outcome_cache_forgets_old_and_too_many(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers are kept 10 minutes and at most 1,024 of them; one still being worked out is never dropped."""
    now = [1000.0]
    monkeypatch.setattr(link_tools.time, "monotonic", lambda: now[0])
    cache = OutcomeCache(ttl_s=600, limit=3)
    done = cache.start("a")
    done.set_result({"type": "tool_result"})
    running = cache.start("b")
    now[0] += 601
    assert cache.get("a") is None, "expired"
    assert cache.get("b") is running, "still running: kept"
    for key in "cdef":
        cache.start(key)
    assert len(cache) == 3
    assert cache.get("b") is None, "the oldest went when the cache was full"


async def test_held_calls_expire_after_30_seconds(freezer: FrozenDateTimeFactory) -> None:
    """A confirmation releases its call once, on its satellite, within 30 s."""
    held = HeldCalls()
    first = held.hold(HeldCall("sat-1", "call-1", "intent__HassTurnOff", {}, "Unlock Front door?", "1"))
    second = held.hold(HeldCall("sat-1", "call-2", "intent__HassTurnOff", {}, "Unlock Back door?", "1"))
    assert held.take(first, "sat-2") is None, "asked on another satellite"
    released = held.take(first, "sat-1")
    assert released is not None and released.call_id == "call-1"
    assert held.take(first, "sat-1") is None, "once only"
    freezer.tick(timedelta(seconds=31))
    assert held.take(second, "sat-1") is None, "too late"
    assert len(held) == 0


def timer(**values: object) -> TimerInfo:
    """A finished timer."""
    fields: dict[str, object] = {
        "id": "t",
        "name": None,
        "seconds": 0,
        "device_id": None,
        "start_hours": None,
        "start_minutes": None,
        "start_seconds": None,
        "created_at": 0,
        "updated_at": 0,
        "language": "en",
    }
    return TimerInfo(**(fields | values))  # type: ignore[arg-type]


def test_timer_texts() -> None:
    """What Gemini is asked to say names the timer, or its length."""
    assert timer_finished_text(timer(name="pasta")).endswith('that the timer "pasta" has finished.')
    assert "the timer of 1 hour 5 minutes has finished" in timer_finished_text(timer(start_hours=1, start_minutes=5))
    assert "that the timer has finished" in timer_finished_text(timer())


def test_logbook_lines() -> None:
    """Turns, tool calls and confirmations as the logbook shows them, linked to the satellite's entity."""
    described = {}
    async_describe_events(None, lambda _domain, event_type, describe: described.setdefault(event_type, describe))  # type: ignore[arg-type]
    base = {"name": "Kitchen satellite", "entity_id": "assist_satellite.kitchen", "satellite": "tcp://x"}
    turn = described["gemini_live_turn"](
        Event("gemini_live_turn", {**base, "user": "hi", "reply": "hello", "tools": ["a({})"], "error": "boom"})
    )
    assert turn == {
        "name": "Kitchen satellite",
        "entity_id": "assist_satellite.kitchen",
        "message": 'heard "hi", answered "hello" (tools: a({})); failed: boom',
    }
    call = described["gemini_live_tool_call"](Event("gemini_live_tool_call", {"satellite": "tcp://x", "tool": "t"}))
    assert call == {"name": "tcp://x", "message": "ran t {}"}
    confirmed = described["gemini_live_confirmed"](
        Event("gemini_live_confirmed", {**base, "tool": "t", "args": {"a": 1}, "heard": "yes"})
    )
    assert confirmed["message"] == "ran t {'a': 1} after hearing \"yes\""


def test_configure_fits_the_links_limits() -> None:
    """At most 512 declarations and 256 KiB per message: the rest is left out, and named."""
    many = {"type": "configure", "tools": [{"name": f"tool_{n}"} for n in range(600)]}
    assert _fit(many) == [f"tool_{n}" for n in range(512, 600)]
    assert len(many["tools"]) == 512
    big = {"type": "configure", "tools": [{"name": f"big_{n}", "description": "x" * 100_000} for n in range(4)]}
    assert _fit(big) == ["big_2", "big_3"]
    assert len(link_protocol.dump(big).encode()) <= link_protocol.MAX_MESSAGE_BYTES
    small = {"type": "configure", "tools": [{"name": "one"}]}
    assert _fit(small) == []
