"""Wake-word listening for every always-streaming satellite, run behind conversations' audio.

Looking for a wake word costs about 0.5 ms of CPU per 64 ms chunk (pymicro-wakeword's frontend and model): a
hundred satellites streaming while nobody talks keep a core three-quarters busy. Done where each chunk is
read, that work sits in the event loop's queue in front of the chunks of the people who are talking, and their
audio waits behind it. So a satellite's idle chunks are only queued where they are read (:meth:`WakeWork.put`),
and one task for the whole bridge looks at them a slice of :data:`SLICE_S` at a time, satellites taken in turn,
handing the loop back between slices: a conversation's chunk waits for at most one slice, not for everyone's
wake-word work. When detection cannot keep up (the machine is overloaded), a satellite's oldest idle audio
beyond :data:`MAX_BACKLOG_S` is dropped, said in the log: a wake word heard late is worth less than the
conversations running meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Final, Protocol

from gemini_live_engine.audio import GEMINI_INPUT

_LOGGER = logging.getLogger(__name__)

SLICE_S: Final = 0.001
"""How long wake-word work may hold the event loop before other work (conversations' audio) runs."""
MAX_BACKLOG_S: Final = 5.0
"""Idle audio kept per satellite while detection falls behind; older audio is dropped."""
LINGER_S: Final = 1.0
"""How long the worker task waits for more audio before it ends (the next chunk starts it again)."""
DROP_LOG_INTERVAL_S: Final = 60.0

_MAX_BACKLOG_BYTES: Final = int(MAX_BACKLOG_S * GEMINI_INPUT.rate) * GEMINI_INPUT.bytes_per_frame


class WakeListener(Protocol):
    """A satellite whose idle audio is looked at for its wake word."""

    def check_wake(self, pcm: bytes) -> None:
        """Look at one chunk (16 kHz s16le mono) heard while idle; may take the rest with :meth:`WakeWork.take`."""


class _Backlog:
    __slots__ = ("bytes", "chunks")

    def __init__(self) -> None:
        self.chunks: deque[bytes] = deque()
        self.bytes = 0


class WakeWork:
    """Idle audio waiting for wake-word detection, per satellite, and the one task that detects (see the module)."""

    def __init__(self) -> None:
        self._backlogs: dict[WakeListener, _Backlog] = {}
        self._ready: deque[WakeListener] = deque()  # satellites with audio waiting, in turn
        self._task: asyncio.Task[None] | None = None
        self._more: asyncio.Future[None] | None = None
        self._dropped_s = 0.0
        self._drop_logged_at = float("-inf")

    def put(self, listener: WakeListener, pcm: bytes) -> None:
        """Queue a chunk heard while ``listener`` waits for its wake word (call from the event loop)."""
        backlog = self._backlogs.get(listener)
        if backlog is None:
            backlog = self._backlogs[listener] = _Backlog()
            self._ready.append(listener)
        backlog.chunks.append(pcm)
        backlog.bytes += len(pcm)
        while backlog.bytes > _MAX_BACKLOG_BYTES and len(backlog.chunks) > 1:
            dropped = backlog.chunks.popleft()
            backlog.bytes -= len(dropped)
            self._dropped(len(dropped))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="wake-word-detection")
        elif self._more is not None and not self._more.done():
            self._more.set_result(None)

    def take(self, listener: WakeListener) -> list[bytes]:
        """Remove and return ``listener``'s queued chunks, oldest first (it woke: they were heard after the word)."""
        backlog = self._backlogs.pop(listener, None)
        return list(backlog.chunks) if backlog is not None else []

    def drop(self, listener: WakeListener) -> None:
        """Forget ``listener``'s queued chunks (its turn started otherwise, or it went away)."""
        self._backlogs.pop(listener, None)

    async def close(self) -> None:
        """Stop detecting; queued audio is dropped."""
        self._backlogs.clear()
        self._ready.clear()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        try:
            while await self._wait_for_audio():
                deadline = time.perf_counter() + SLICE_S
                while self._ready and time.perf_counter() < deadline:
                    self._check_next()
                await asyncio.sleep(0)  # the loop's other work (conversations' audio) runs now
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    async def _wait_for_audio(self) -> bool:
        """True once audio is waiting; False when none came for :data:`LINGER_S` (the task then ends)."""
        while not self._ready:
            self._more = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(LINGER_S):
                    await self._more
            except TimeoutError:
                if not self._ready:
                    self._task = None  # put() starts a new task from here on
                    return False
            finally:
                self._more = None
        return True

    def _check_next(self) -> None:
        listener = self._ready.popleft()
        backlog = self._backlogs.get(listener)
        if backlog is None or not backlog.chunks:
            return  # taken or dropped meanwhile
        pcm = backlog.chunks.popleft()
        backlog.bytes -= len(pcm)
        if backlog.chunks:
            self._ready.append(listener)
        else:
            del self._backlogs[listener]
        try:
            listener.check_wake(pcm)
        except Exception:
            _LOGGER.exception("Wake-word detection failed on a chunk")

    def _dropped(self, size: int) -> None:
        self._dropped_s += size / GEMINI_INPUT.bytes_per_second
        now = time.monotonic()
        if now - self._drop_logged_at >= DROP_LOG_INTERVAL_S:
            self._drop_logged_at = now
            _LOGGER.warning(
                "Wake-word detection falls behind (the machine is overloaded): %.1f s of idle audio dropped so far",
                self._dropped_s,
            )
