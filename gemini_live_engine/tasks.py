"""Tasks that are started and not awaited where they start, kept until they end.

asyncio holds only a weak reference to a task: one nobody keeps may be garbage-collected before it finishes,
and one that fails with nobody awaiting it logs "Task exception was never retrieved" at exit. A
:class:`BackgroundTasks` keeps each task it starts until the task ends, logs a failure once, with the task's
name, and cancels whatever is still running when its owner closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

_LOGGER = logging.getLogger(__name__)

_T = TypeVar("_T")


class BackgroundTasks:
    """The background tasks of one owner (a satellite's turn, a console, a discovery browser)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, _T], *, name: str | None = None) -> asyncio.Task[_T]:
        """Start ``coro`` in a task of its own and keep it until it ends."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            _LOGGER.error("Background task %s failed", task.get_name(), exc_info=error)

    async def wait(self) -> None:
        """Return once every task started so far has ended."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def cancel_all(self) -> None:
        """Cancel every task still running (but the caller's own) and wait for them to end."""
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
