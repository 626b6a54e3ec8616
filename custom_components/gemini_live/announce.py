"""The audio of an announcement, as raw PCM for the link's ``announce_audio`` messages.

Home Assistant's own TTS is streamed from its result (the satellite entity asks for WAV, so no
conversion is needed); a media URL is fetched, and a WAV file is decoded here. Any other format needs
ffmpeg: Home Assistant's ffmpeg integration's binary (or ``ffmpeg`` on the path) converts it; without it
the announcement fails with a message saying so. The chime before an announcement is played only when
ffmpeg can decode it.
"""

from __future__ import annotations

import asyncio
import shutil
import struct
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Final

import aiohttp
from homeassistant.components import tts
from homeassistant.components.assist_satellite import AssistSatelliteAnnouncement
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .const import DOMAIN, LOGGER

READ_BYTES: Final = 32 * 1024
FETCH_TIMEOUT_S: Final = 30.0
MAX_HEADER_BYTES: Final = 64 * 1024
FFMPEG_RATE: Final = 16000
_WAVE_PCM: Final = 1
_WAVE_EXTENSIBLE: Final = 0xFFFE
_UNKNOWN_SIZES: Final = (0, 0xFFFFFFFF)


@dataclass(frozen=True)
class PcmFormat:
    """Raw PCM: samples per second, bytes per sample (1: unsigned, 2 and 4: signed little-endian), channels."""

    rate: int
    width: int
    channels: int

    @property
    def frame_bytes(self) -> int:
        """Bytes per frame (one sample of every channel)."""
        return self.width * self.channels

    def as_message(self) -> dict[str, int]:
        """The ``format`` of an ``announce`` message."""
        return {"rate": self.rate, "width": self.width, "channels": self.channels}


@dataclass
class AnnouncementAudio:
    """Decoded audio: its format and its PCM, as it arrives."""

    format: PcmFormat
    pcm: AsyncIterator[bytes]


class AnnouncementError(HomeAssistantError):
    """The announcement's audio cannot be had; the message says why."""

    def __init__(self, key: str, reason: str = "") -> None:
        super().__init__(translation_domain=DOMAIN, translation_key=key, translation_placeholders={"reason": reason})


class NotPcmWav(ValueError):
    """A WAV file whose samples are not plain PCM (or not a WAV file at all)."""


class WavReader:
    """Splits a WAV byte stream into its format and its PCM, as the bytes arrive."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.format: PcmFormat | None = None
        self._left: int | None = None  # PCM bytes still expected (None: until the stream ends)

    def feed(self, data: bytes) -> bytes:
        """More of the file; the PCM it completes (raises :class:`NotPcmWav`)."""
        if self.format is None:
            self._buffer.extend(data)
            if not self._parse_header():
                if len(self._buffer) > MAX_HEADER_BYTES:
                    raise NotPcmWav("no audio data in the first 64 KiB")
                return b""
            data, self._buffer = bytes(self._buffer), bytearray()
        if self._left is None:
            return data
        data = data[: self._left]
        self._left -= len(data)
        return data

    def _parse_header(self) -> bool:
        """Read the header from the buffer; True once the data chunk starts (the buffer then holds PCM)."""
        buffer = self._buffer
        if len(buffer) < 12:
            return False
        if buffer[:4] != b"RIFF" or buffer[8:12] != b"WAVE":
            raise NotPcmWav("not a WAV file")
        offset = 12
        fmt: PcmFormat | None = None
        while len(buffer) >= offset + 8:
            chunk_id = bytes(buffer[offset : offset + 4])
            (size,) = struct.unpack_from("<I", buffer, offset + 4)
            body = offset + 8
            if chunk_id == b"data":
                if fmt is None:
                    raise NotPcmWav("the data chunk comes before the format")
                self.format = fmt
                self._left = None if size in _UNKNOWN_SIZES else size
                del buffer[:body]
                return True
            if len(buffer) < body + size:
                return False
            if chunk_id == b"fmt ":
                fmt = _wave_format(bytes(buffer[body : body + size]))
            offset = body + size + (size & 1)  # chunks are padded to an even length
        return False


def _wave_format(chunk: bytes) -> PcmFormat:
    if len(chunk) < 16:
        raise NotPcmWav("the format chunk is too short")
    encoding, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", chunk)
    if encoding == _WAVE_EXTENSIBLE and len(chunk) >= 26:
        (encoding,) = struct.unpack_from("<H", chunk, 24)  # the sub-format GUID starts with the encoding
    if encoding != _WAVE_PCM or bits not in (8, 16, 32) or channels < 1 or rate < 1:
        raise NotPcmWav(f"WAV encoding {encoding} with {bits}-bit samples is not plain PCM")
    return PcmFormat(rate, bits // 8, channels)


async def async_wav_audio(chunks: AsyncIterator[bytes]) -> AnnouncementAudio:
    """A WAV stream's format (read from its header) and PCM (raises :class:`NotPcmWav`)."""
    reader = WavReader()
    first = b""
    async for data in chunks:
        first = reader.feed(data)
        if reader.format is not None:
            break
    if reader.format is None:
        raise NotPcmWav("the stream ended before the audio began")

    async def pcm() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for data in chunks:
            if piece := reader.feed(data):
                yield piece

    return AnnouncementAudio(reader.format, pcm())


async def async_announcement_audio(hass: HomeAssistant, announcement: AssistSatelliteAnnouncement) -> AnnouncementAudio:
    """The announcement's audio, decoded (raises :class:`AnnouncementError`)."""
    if announcement.tts_token and (stream := tts.async_get_stream(hass, announcement.tts_token)) is not None:
        if stream.extension == "wav":
            try:
                audio = await async_wav_audio(stream.async_stream_result())
            except NotPcmWav as err:
                raise AnnouncementError("announce_media_failed", str(err)) from err
        else:
            audio = await _async_ffmpeg_audio(hass, announcement.media_id, None)
    else:
        audio = await _async_url_audio(hass, announcement.media_id)
    if announcement.preannounce_media_id:
        audio = await _async_with_chime(hass, announcement.preannounce_media_id, audio)
    return audio


async def _async_url_audio(hass: HomeAssistant, url: str) -> AnnouncementAudio:
    """A media URL's audio: a WAV file decoded here, anything else through ffmpeg."""
    try:
        response = await async_get_clientsession(hass).get(
            url, timeout=aiohttp.ClientTimeout(total=None, connect=FETCH_TIMEOUT_S, sock_read=FETCH_TIMEOUT_S)
        )
        response.raise_for_status()
    except (aiohttp.ClientError, TimeoutError) as err:
        raise AnnouncementError("announce_media_failed", str(err) or type(err).__name__) from err
    chunks = _body(response)
    try:
        return await async_wav_audio(chunks)
    except NotPcmWav as err:
        await chunks.aclose()
        LOGGER.debug("%s is not a PCM WAV file (%s); converting it with ffmpeg", url, err)
    except aiohttp.ClientError as err:
        await chunks.aclose()
        raise AnnouncementError("announce_media_failed", str(err) or type(err).__name__) from err
    return await _async_ffmpeg_audio(hass, url, None)


async def _body(response: aiohttp.ClientResponse) -> AsyncGenerator[bytes]:
    try:
        async for data in response.content.iter_chunked(READ_BYTES):
            yield data
    finally:
        response.release()


async def _async_ffmpeg_binary(hass: HomeAssistant) -> str | None:
    """Home Assistant's ffmpeg binary (or ``ffmpeg``), if it is installed."""
    binary = "ffmpeg"
    if "ffmpeg" in hass.config.components:
        from homeassistant.components.ffmpeg import get_ffmpeg_manager  # noqa: PLC0415 - only when it is set up

        binary = get_ffmpeg_manager(hass).binary
    return await hass.async_add_executor_job(shutil.which, binary)


async def _async_ffmpeg_audio(hass: HomeAssistant, url: str, fmt: PcmFormat | None) -> AnnouncementAudio:
    """Any media ffmpeg reads, as PCM in ``fmt`` (16 kHz 16-bit mono by default)."""
    binary = await _async_ffmpeg_binary(hass)
    if binary is None:
        raise AnnouncementError("announce_needs_ffmpeg")
    fmt = fmt or PcmFormat(FFMPEG_RATE, 2, 1)
    sample = {1: "u8", 2: "s16le", 4: "s32le"}[fmt.width]
    process = await asyncio.create_subprocess_exec(
        binary,
        "-protocol_whitelist",
        "http,https,file,tcp,tls",
        "-i",
        url,
        "-f",
        sample,
        "-ac",
        str(fmt.channels),
        "-ar",
        str(fmt.rate),
        "-nostats",
        "pipe:",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )

    async def pcm() -> AsyncIterator[bytes]:
        assert process.stdout is not None
        try:
            while data := await process.stdout.read(READ_BYTES):
                yield data
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()

    return AnnouncementAudio(fmt, pcm())


async def _async_with_chime(hass: HomeAssistant, url: str, audio: AnnouncementAudio) -> AnnouncementAudio:
    """The chime (converted to the announcement's format by ffmpeg), then the announcement."""
    if await _async_ffmpeg_binary(hass) is None:
        LOGGER.debug("Announcing without the chime: decoding it needs ffmpeg, which is not installed")
        return audio
    chime = await _async_ffmpeg_audio(hass, url, audio.format)

    async def pcm() -> AsyncIterator[bytes]:
        async for data in chime.pcm:
            yield data
        async for data in audio.pcm:
            yield data

    return AnnouncementAudio(audio.format, pcm())
