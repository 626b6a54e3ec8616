"""The model's function calls while they run: one task per call, a timeout, cancellation.

Each call is reported twice to the consumer, :class:`ToolCallStarted` and then exactly one
:class:`ToolCallFinished` (a result, an error, or cancelled). The result or error goes back to the model
on the connection the call came from, as ``{"output": result}`` or ``{"error": message}``; a call whose
connection is gone gets no response (the resumed session never made it).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from google.genai import types

from ..events import SessionEvent, ToolCallFinished, ToolCallStarted
from ..tools import ToolExecutor, run_tool
from .link import Link

_LOGGER = logging.getLogger(__name__)

CANCEL_WAIT_S: Final = 1.0  # how long a cancelled executor may take to stop before the session moves on

Respond: TypeAlias = Callable[[Link, types.FunctionResponse], Awaitable[None]]


@dataclass(slots=True)
class _Call:
    call_id: str
    name: str
    link: Link
    task: asyncio.Task[None] | None = None
    finished: bool = False
    started_at: float = field(default=0.0)


class ToolCalls:
    """Runs function calls for one session."""

    def __init__(
        self,
        tools: ToolExecutor | None,
        timeout_s: float,
        emit: Callable[[SessionEvent], None],
        respond: Respond,
        log_prefix: str = "",
    ) -> None:
        self._tools = tools
        self._timeout_s = timeout_s
        self._emit = emit
        self._respond = respond
        self._prefix = log_prefix
        self._running: dict[int, _Call] = {}  # by a key of ours: Vertex may send calls without ids
        self._keys = itertools.count()

    @property
    def running(self) -> bool:
        """Whether any call is still running."""
        return bool(self._running)

    def start(self, link: Link, function_call: types.FunctionCall) -> None:
        """Start running one call from the model."""
        name = function_call.name or ""
        call_id = function_call.id or ""
        args = dict(function_call.args or {})
        call = _Call(call_id, name, link, started_at=asyncio.get_running_loop().time())
        self._emit(ToolCallStarted(call_id, name, args))
        _LOGGER.info("%sTool call %s started (%s)", self._prefix, name, call_id)
        call.task = asyncio.create_task(self._run(call, args), name=f"live-tool-{name}")
        key = next(self._keys)
        self._running[key] = call
        call.task.add_done_callback(lambda _task: self._running.pop(key, None))

    async def _run(self, call: _Call, args: dict[str, Any]) -> None:
        try:
            outcome = await run_tool(
                self._tools, call.call_id, call.name, args, timeout_s=self._timeout_s, log_prefix=self._prefix
            )
        except asyncio.CancelledError:
            self._finish(call, cancelled=True)
            raise
        # Reported before the response goes out, so the reply it leads to always comes after it.
        self._finish(call, result=outcome.result, error=outcome.error)
        response = types.FunctionResponse(id=call.call_id, name=call.name, response=outcome.response())
        await self._respond(call.link, response)

    def _finish(
        self,
        call: _Call,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        cancelled: bool = False,
    ) -> None:
        if call.finished:
            return
        call.finished = True
        elapsed_ms = (asyncio.get_running_loop().time() - call.started_at) * 1000
        outcome = "cancelled" if cancelled else f"failed: {error}" if error is not None else "done"
        _LOGGER.info("%sTool call %s (%s) %s in %.0f ms", self._prefix, call.name, call.call_id, outcome, elapsed_ms)
        self._emit(ToolCallFinished(call.call_id, call.name, result, error, cancelled))

    def cancel(self, call_ids: Iterable[str]) -> None:
        """The model cancelled these calls: stop them (their results would no longer be wanted)."""
        wanted = set(call_ids)
        for call in list(self._running.values()):
            if call.call_id in wanted and call.task is not None:
                self._finish(call, cancelled=True)
                call.task.cancel()

    async def cancel_all(self) -> None:
        """Stop every running call (the connection is going away) and wait briefly for them to end."""
        calls = list(self._running.values())
        tasks = [call.task for call in calls if call.task is not None]
        for call in calls:
            self._finish(call, cancelled=True)
        for task in tasks:
            task.cancel()
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=CANCEL_WAIT_S)
            if pending:
                _LOGGER.warning("%s%d tool call(s) ignored cancellation", self._prefix, len(pending))
