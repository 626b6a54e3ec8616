"""One Live WebSocket connection, from connect to close, run by a task of its own.

The SDK's ``client.aio.live.connect`` is a context manager; the link's task enters it (connect, setup,
``setupComplete``), holds it while the connection lasts, and leaves it in the same task. Messages are read
by whoever calls :meth:`Link.receive` (the session's own task: a reply's audio is not handed from a reading
task to the session through a queue), stamped with their arrival time; once the connection has ended on its
own, :meth:`Link.receive` returns a :class:`Lost` naming why.

Microphone audio, the one message sent many times a second, is written as the JSON text the SDK's
``send_realtime_input(audio=Blob(...))`` produces (:func:`audio_frame`), straight to the session's WebSocket:
the SDK would build and validate pydantic models and run its converters for every chunk. Everything else goes
through the SDK. Messages from the service are read from that WebSocket too and made into the SDK's
``LiveServerMessage`` with the SDK's converter and model (:func:`server_message`), without the extra work its
``receive`` does for each one.
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import base64
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Final

import pydantic
import websockets
from google import genai
from google.genai import _live_converters as live_converters
from google.genai import errors as genai_errors
from google.genai import live as genai_live
from google.genai import types

from ..errors import LiveError, classify
from ..options import INPUT_MIME
from .replay import Input

_LOGGER = logging.getLogger(__name__)

CLOSE_TIMEOUT_S: Final = 2.0  # how long a closing handshake may take before the connection is dropped
_CLOSE_ERRORS = (websockets.ConnectionClosed, OSError)
MAX_UNREADABLE: Final = 10  # unreadable messages in a row before the connection is given up
# The SDK's frame for audio, around the base64 data (google-genai 1.x: snake_case keys, URL-safe base64).
_AUDIO_HEAD: Final = '{"realtime_input": {"audio": {"data": "'
_AUDIO_TAIL: Final = f'", "mime_type": {json.dumps(INPUT_MIME)}}}}}}}'


TLS_READ_BYTES: Final = 64 * 1024


def limit_tls_reads(size: int = TLS_READ_BYTES) -> None:
    """Make asyncio's TLS connections opened from now on, in this process, read at most ``size`` bytes at a time.

    asyncio gives every TLS connection a read buffer of ``SSLProtocol.max_size`` bytes (256 KiB), allocated and
    zero-filled when the connection opens and kept until it closes, and decrypts up to that much per read. A
    bridge holds a warm Live connection for every satellite, so that buffer was 0.25 MB of the 0.67 MB an idle
    satellite cost; Live messages are tens of kilobytes and a TLS record is at most 16 KiB, so a smaller buffer
    only means a few more reads for the largest messages. Process-wide (a class attribute of the standard
    library): a program that holds many connections calls it once, at start.
    """
    asyncio.sslproto.SSLProtocol.max_size = size


def audio_frame(pcm: bytes) -> str:
    """The text frame ``send_realtime_input(audio=Blob(data=pcm, mime_type=INPUT_MIME))`` sends, for either backend."""
    return _AUDIO_HEAD + base64.urlsafe_b64encode(pcm).decode("ascii") + _AUDIO_TAIL


def server_message(raw: bytes | str, *, vertexai: bool) -> types.LiveServerMessage:
    """The :class:`~google.genai.types.LiveServerMessage` the SDK's ``AsyncSession.receive`` makes of a frame.

    The same JSON parsing, converter and model as the SDK's, without what it adds to every message (an empty
    message built and dumped, and a walk removing fields the models do not know, which only matters when the
    service sends such a field: then the SDK's own path is taken). Half the CPU per message (34 against 74 µs
    for a ``sessionResumptionUpdate``, 88 against 153 µs for 40 ms of reply audio).
    """
    response = json.loads(raw) if raw else {}
    convert = (
        live_converters._LiveServerMessage_from_vertex if vertexai else live_converters._LiveServerMessage_from_mldev
    )
    converted = convert(response)
    if not converted and response:
        genai_errors.APIError.raise_error(response.get("code"), response, None)  # type: ignore[arg-type]  # as the SDK
    try:
        return types.LiveServerMessage.model_validate(converted)
    except pydantic.ValidationError:
        return types.LiveServerMessage._from_response(response=converted, kwargs={})


@dataclass(frozen=True, slots=True)
class Received:
    """A server message and the (monotonic) time it arrived."""

    message: types.LiveServerMessage
    at: float


@dataclass(frozen=True, slots=True)
class Lost:
    """The connection ended (not by :meth:`Link.close`)."""

    error: LiveError


class Link:
    """One connection. ``open`` returns once the service has sent ``setupComplete``."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.connected_at = 0.0
        self._session: genai_live.AsyncSession | None = None
        self._received: genai_live.AsyncSession | None = None  # what receive() reads, kept after the end
        self._vertexai = False
        self._unreadable = 0  # messages in a row the SDK could not read
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def open(self, client: genai.Client, model: str, config: types.LiveConnectConfig, timeout_s: float) -> None:
        """Connect and set up; raises :class:`LiveError` when that fails."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        # Mark the outcome as seen even when open() was cancelled first (no "exception never retrieved").
        ready.add_done_callback(lambda future: future.cancelled() or future.exception())
        self._task = asyncio.create_task(
            self._run(client, model, config, timeout_s, ready), name=f"live-link-{self.number}"
        )
        try:
            await asyncio.shield(ready)
        except asyncio.CancelledError:
            await self.close()
            raise
        self.connected_at = time.monotonic()

    async def _run(
        self,
        client: genai.Client,
        model: str,
        config: types.LiveConnectConfig,
        timeout_s: float,
        ready: asyncio.Future[None],
    ) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                async with asyncio.timeout(timeout_s):
                    self._session = await stack.enter_async_context(client.aio.live.connect(model=model, config=config))
                self._received = self._session
                self._vertexai = bool(self._session._api_client.vertexai)
                ready.set_result(None)
                await self._session._ws.wait_closed()  # receive() reads the messages meanwhile
        except asyncio.CancelledError:
            if not ready.done():
                ready.cancel()
            raise
        except Exception as err:  # a failed connect reaches open() as a LiveError
            if not ready.done():
                ready.set_exception(classify(err))
            else:
                _LOGGER.debug("Live link %d: leaving the connection failed: %r", self.number, err)
        finally:
            self._session = None

    async def receive(self) -> Received | Lost:
        """The next message from the service, read in the calling task; :class:`Lost` once the connection has ended.

        A message the SDK cannot read (a new message type) is skipped with a warning, up to
        :data:`MAX_UNREADABLE` in a row. Cancelling a call loses no message (the next call returns it).
        """
        session = self._received
        if session is None:
            raise ConnectionResetError(f"Live link {self.number} is not connected")
        while True:
            try:
                raw = await session._ws.recv(decode=False)
            except Exception as err:  # every way a connection can end reaches the session as a LiveError
                return self._lost(err)
            try:
                message = server_message(raw, vertexai=self._vertexai)
            except Exception as err:
                self._unreadable += 1
                if self._unreadable > MAX_UNREADABLE:
                    return self._lost(err)
                _LOGGER.warning("Live link %d: skipped a message the SDK could not read (%r)", self.number, err)
                continue
            self._unreadable = 0
            return Received(message, time.monotonic())

    def _lost(self, err: Exception) -> Lost:
        error = classify(err)
        if not self._closing:
            _LOGGER.debug("Live link %d ended: %r", self.number, error)
        return Lost(error)

    async def send(self, item: Input) -> None:
        """Send one piece of user input (raises ``websockets.ConnectionClosed`` when the connection is gone)."""
        session = self._live()
        if item.kind == "audio":
            await session._ws.send(audio_frame(item.audio))  # what the SDK would send, without its models
        elif item.kind == "text":
            await session.send_realtime_input(text=item.text)
        elif item.kind == "model_context":
            model_turn = types.Content(role="model", parts=[types.Part(text=item.text)])
            await session.send_client_content(turns=[model_turn], turn_complete=False)
        elif item.kind == "activity_start":
            await session.send_realtime_input(activity_start=types.ActivityStart())
        elif item.kind == "activity_end":
            await session.send_realtime_input(activity_end=types.ActivityEnd())
        else:
            await session.send_realtime_input(audio_stream_end=True)

    async def send_tool_response(self, response: types.FunctionResponse) -> None:
        """Answer one function call."""
        await self._live().send_tool_response(function_responses=[response])

    def _live(self) -> genai_live.AsyncSession:
        if self._session is None:
            raise ConnectionResetError(f"Live link {self.number} is not connected")
        return self._session

    async def close(self) -> None:
        """Close the connection (normal closure, 1000) and wait for its task to end."""
        task = self._task
        if task is None or task.done():
            return
        self._closing = True
        session = self._session
        if session is not None:
            # Closing from here says 1000; cancelling the task would leave the SDK's context with 1011. The
            # service's close frame is only read once the messages before it are (the WebSocket stops reading
            # the socket when unread messages pile up), so they are read and dropped meanwhile.
            discard = asyncio.create_task(_discard(session), name=f"live-link-{self.number}-closing")
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await session.close()
            except TimeoutError:
                session._ws.transport.abort()  # no answer: drop the connection rather than keep it half-closed
            except _CLOSE_ERRORS:
                pass
            finally:
                discard.cancel()
                await asyncio.gather(discard, return_exceptions=True)
        if not task.done():
            task.cancel()
        _done, pending = await asyncio.wait([task], timeout=CLOSE_TIMEOUT_S)
        if pending:  # the closing handshake hangs (a dead network): cancelling again drops the connection
            task.cancel()
            await asyncio.wait([task])


async def _discard(session: genai_live.AsyncSession) -> None:
    """Read and drop messages until the connection ends (or another task is reading them)."""
    with contextlib.suppress(Exception):
        while True:
            await session._ws.recv(decode=False)
