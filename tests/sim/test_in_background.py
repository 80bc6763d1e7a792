"""The ``in_background`` test helper: a background failure is never lost, an unfinished task is
cancelled quietly, and the block's own failure stays the one reported."""

from __future__ import annotations

import asyncio

import pytest

from tests.sim.conftest import in_background


async def fail_soon() -> None:
    raise RuntimeError("the simulator failed")


async def test_a_task_that_failed_fails_the_block_even_if_never_awaited() -> None:
    """A simulator error is raised when the block ends, though the block never awaited it."""
    with pytest.raises(RuntimeError, match="the simulator failed"):
        async with in_background(fail_soon()) as task:
            await asyncio.wait({task})


async def test_an_unfinished_task_is_cancelled_without_an_error() -> None:
    """A task still running when the block ends is cancelled; that is no failure."""
    forever = asyncio.Event()
    async with in_background(forever.wait()) as task:
        pass
    assert task.cancelled()


async def test_the_blocks_own_error_wins_with_the_tasks_as_a_note() -> None:
    """When both fail, the block's error is raised and names the task's failure in a note."""
    with pytest.raises(AssertionError) as failed:
        async with in_background(fail_soon()) as task:
            await asyncio.wait({task})
            raise AssertionError("the test's own check")
    assert any("the simulator failed" in note for note in failed.value.__notes__)
