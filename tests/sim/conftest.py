"""Helpers for running the simulator against the real CSMS from the shared fixtures."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import pytest

from csms.bootstrap import Csms
from tests.conftest import MakeCsms, add_charger, add_token

T = TypeVar("T")


def sim_url(csms: Csms) -> str:
    """The base URL the simulator appends its charger id to."""
    return f"ws://127.0.0.1:{csms.ocpp.port}/ocpp"


@pytest.fixture
async def csms(make_csms: MakeCsms) -> Csms:
    """The shared test CSMS, journaling a session.updated for every metered message
    (``update_interval = 0``): these tests follow the simulator's meter through those events."""
    return await make_csms(sessions={"update_interval": 0.0})


@pytest.fixture
async def sim1(csms: Csms) -> Csms:
    """The CSMS with charger SIM1 registered and the simulator's tokens SIMTAG01 and APP known."""
    await add_charger(csms, "SIM1")
    await add_token(csms, "SIMTAG01")
    await add_token(csms, "APP")
    return csms


@contextlib.asynccontextmanager
async def in_background(coro: Coroutine[Any, Any, T]) -> AsyncIterator[asyncio.Task[T]]:
    """Run ``coro`` as a task for the block; cancel it if the block leaves it unfinished.

    A task that failed on its own (a simulator error, not our cancellation) fails the block,
    even if the block never awaited it. If the block fails itself, its error is the one raised,
    with the task's failure added as a note.
    """
    task = asyncio.create_task(coro)
    try:
        yield task
    except BaseException as exc:
        failure = await _finish(task)
        if failure is not None:
            exc.add_note(f"the background task failed too: {failure!r}")
        raise
    failure = await _finish(task)
    if failure is not None:
        raise failure


async def _finish(task: asyncio.Task[Any]) -> BaseException | None:
    """Cancel ``task`` if still running and wait for it; its failure, or None."""
    task.cancel()  # a no-op once it is done
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # the test itself is being cancelled
    except Exception as exc:
        return exc
    return None
