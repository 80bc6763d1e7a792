"""Helpers for running the simulator against the real CSMS from the shared fixtures."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

from csms.bootstrap import Csms

T = TypeVar("T")


def sim_url(csms: Csms) -> str:
    """The base URL the simulator appends its charger id to."""
    return f"ws://127.0.0.1:{csms.ocpp.port}/ocpp"


@contextlib.asynccontextmanager
async def in_background(coro: Coroutine[Any, Any, T]) -> AsyncIterator[asyncio.Task[T]]:
    """Run ``coro`` as a task for the block; cancel it if the block leaves it unfinished."""
    task = asyncio.create_task(coro)
    try:
        yield task
    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
