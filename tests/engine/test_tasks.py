"""Background tasks are kept until they end, and a failure is logged once (``gemini_live_engine.tasks``)."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from gemini_live_engine.tasks import BackgroundTasks


async def test_a_task_is_kept_until_it_ends_even_when_nobody_else_holds_it() -> None:
    tasks = BackgroundTasks()
    release = asyncio.Event()
    finished = asyncio.Event()

    async def job() -> None:
        await release.wait()
        finished.set()

    tasks.spawn(job(), name="job")
    gc.collect()
    assert len(tasks) == 1
    release.set()
    await tasks.wait()
    assert finished.is_set()
    assert len(tasks) == 0


async def test_a_failure_is_logged_with_the_task_name(caplog: pytest.LogCaptureFixture) -> None:
    tasks = BackgroundTasks()

    async def broken() -> None:
        raise RuntimeError("boom")

    tasks.spawn(broken(), name="turn-held-kitchen")
    await tasks.wait()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == ["Background task turn-held-kitchen failed"]
    assert errors[0].exc_info is not None and isinstance(errors[0].exc_info[1], RuntimeError)


async def test_cancel_all_cancels_what_runs_but_not_the_caller() -> None:
    tasks = BackgroundTasks()
    forever = tasks.spawn(asyncio.Event().wait(), name="forever")

    async def closer() -> str:
        await tasks.cancel_all()  # from inside one of the tasks: it must not cancel (or wait for) itself
        return "closed"

    closing = tasks.spawn(closer(), name="closer")
    assert await closing == "closed"
    assert forever.cancelled()
