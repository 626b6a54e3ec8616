"""The tools the model may call: the executor interface the Live engine calls, and the built-in tools.

An executor declares its functions as the SDK's ``types.FunctionDeclaration`` (the form Live setup takes,
and the one Home Assistant's own Gemini integration builds from its LLM API tools), and runs a call with
:meth:`ToolExecutor.call`: it returns the function's result as a dict, raises :class:`ToolError` for a
call that failed (the message goes to the model), and stops when its task is cancelled (the model
cancelled the call, or the session ended). :class:`CombinedTools` puts several executors behind one,
so Home Assistant's tools can join the built-in ones.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

from google.genai import types

_LOGGER = logging.getLogger(__name__)

GET_CURRENT_TIME: Final = "get_current_time"
END_CONVERSATION: Final = "end_conversation"


class ToolError(Exception):
    """A function call that failed; ``str(error)`` is what the model is told."""


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """How one call ended: a ``result``, or an ``error`` the model is told."""

    result: dict[str, Any] | None
    error: str | None = None

    def response(self) -> dict[str, Any]:
        """The function response the model gets: ``{"output": result}`` or ``{"error": message}``."""
        return {"output": self.result} if self.error is None else {"error": self.error}


async def run_tool(
    tools: ToolExecutor | None,
    call_id: str,
    name: str,
    args: dict[str, Any],
    *,
    timeout_s: float,
    log_prefix: str = "",
) -> ToolOutcome:
    """Run one call within ``timeout_s``; every failure becomes an error for the model (cancellation propagates)."""
    deadline: asyncio.Timeout | None = None
    try:
        if tools is None:
            raise ToolError("no functions are available")
        async with asyncio.timeout(timeout_s) as deadline:
            result = await tools.call(call_id, name, args)
        if not isinstance(result, dict):
            raise ToolError(f"the function returned {type(result).__name__}, not an object")
    except TimeoutError as err:
        expired = deadline is not None and deadline.expired()
        return ToolOutcome(None, f"timed out after {timeout_s:g} s" if expired else f"TimeoutError: {err}")
    except ToolError as err:
        return ToolOutcome(None, str(err) or type(err).__name__)
    except Exception as err:
        _LOGGER.exception("%sTool call %s (%s) failed", log_prefix, name, call_id)
        return ToolOutcome(None, f"{type(err).__name__}: {err}")
    return ToolOutcome(result)


@runtime_checkable
class ToolExecutor(Protocol):
    """Runs the functions the model may call."""

    def declarations(self) -> list[types.FunctionDeclaration]:
        """The functions, as Live setup declares them (read before every connection)."""
        ...

    async def call(self, call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run one call and return its result; raise :class:`ToolError` when it fails."""
        ...


class BuiltinTools:
    """Tools that need nothing but the bridge: the local time, and ending the conversation.

    ``end_conversation`` does nothing itself: the satellite ends the conversation after the model's turn
    when it sees a finished call of that name.
    """

    def __init__(
        self,
        time_zone: datetime.tzinfo | None = None,
        *,
        clock: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        self._time_zone = time_zone
        self._clock = clock or (lambda: datetime.datetime.now(datetime.UTC))

    def declarations(self) -> list[types.FunctionDeclaration]:
        """``get_current_time`` and ``end_conversation``, both BLOCKING (the model waits for the result)."""
        return [
            types.FunctionDeclaration(
                name=GET_CURRENT_TIME,
                description="Get the current local date, time, weekday and time zone.",
                behavior=types.Behavior.BLOCKING,
            ),
            types.FunctionDeclaration(
                name=END_CONVERSATION,
                description=(
                    "End the conversation when the user is done (says goodbye, thanks you and wants nothing "
                    "more, or asks you to stop listening). Say your goodbye in the same turn."
                ),
                behavior=types.Behavior.BLOCKING,
            ),
        ]

    async def call(self, call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run a built-in function."""
        if name == GET_CURRENT_TIME:
            return self._current_time()
        if name == END_CONVERSATION:
            return {"ended": True}
        raise ToolError(f"unknown function {name}")

    def _current_time(self) -> dict[str, Any]:
        now = self._clock().astimezone(self._time_zone)
        offset = now.strftime("%z")
        return {
            "date": now.date().isoformat(),
            "time": now.strftime("%H:%M"),
            "weekday": now.strftime("%A"),
            "timezone": now.tzname() or "",
            "utc_offset": f"{offset[:3]}:{offset[3:]}" if offset else "+00:00",
        }


class CombinedTools:
    """Several executors as one: declarations merged, each call sent to the executor that declares it.

    When two executors declare the same name, the first one keeps it.
    """

    def __init__(self, *executors: ToolExecutor) -> None:
        self._executors = executors
        self._owners: dict[str, ToolExecutor] = {}

    def declarations(self) -> list[types.FunctionDeclaration]:
        """Every executor's declarations, first one winning a name."""
        owners: dict[str, ToolExecutor] = {}
        merged: list[types.FunctionDeclaration] = []
        for executor in self._executors:
            for declaration in executor.declarations():
                name = declaration.name or ""
                if name in owners:
                    _LOGGER.warning("Tool %s is declared twice; keeping the first declaration", name)
                    continue
                owners[name] = executor
                merged.append(declaration)
        self._owners = owners
        return merged

    async def call(self, call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run the call on the executor that declares ``name``."""
        executor = self._owners.get(name)
        if executor is None:
            self.declarations()
            executor = self._owners.get(name)
        if executor is None:
            raise ToolError(f"unknown function {name}")
        return await executor.call(call_id, name, args)
