"""Writes that emit domain events: journaled in the same transaction, published after commit.

The journal (``UnitOfWork.journal``) makes an event as durable as the change it describes;
the in-process bus then tells live listeners at once. Consumers that must not miss anything
(webhooks, partner pushes) read the journal, and use the bus only as a wake-up call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from csms.domain.events import DomainEvent
from csms.domain.ports import Database, EventBus, UnitOfWork

T = TypeVar("T")

EmittingWork = Callable[[UnitOfWork, list[DomainEvent]], Awaitable[T]]


async def journaled_write(db: Database, bus: EventBus, work: EmittingWork[T]) -> T:
    """Run ``work(uow, emitted)``; events it appends to ``emitted`` are journaled and published.

    ``work`` may run more than once (group commit retries it alone); only the last run counts.
    """
    emitted: list[DomainEvent] = []

    async def run(uow: UnitOfWork) -> T:
        emitted.clear()
        result = await work(uow, emitted)
        for event in emitted:
            await uow.journal.append(event)
        return result

    result = await db.write(run)
    for event in emitted:
        bus.publish(event)
    return result
