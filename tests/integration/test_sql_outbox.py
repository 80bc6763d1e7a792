"""The event journal, webhooks and the delivery outbox on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.domain.events import DomainEvent
from csms.domain.model import Delivery, DeliveryStatus, Webhook
from csms.domain.ports import UnitOfWork
from csms.storage.sql import SqlDatabase

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _event(n: int) -> DomainEvent:
    return DomainEvent("session.updated", f"s{n}", T0 + timedelta(seconds=n), {"n": n})


async def _append(db: SqlDatabase, *numbers: int) -> None:
    async def work(uow: UnitOfWork) -> None:
        for n in numbers:
            await uow.journal.append(_event(n))

    await db.write(work)


async def test_journal_reads_after_a_cursor_in_order(database: SqlDatabase) -> None:
    """Events come back in commit order after a sequence number, limited, with their data."""
    await _append(database, 1, 2, 3)
    everything = await database.read(lambda uow: uow.journal.after(0, 10))
    assert [e for _, e in everything] == [_event(1), _event(2), _event(3)]
    seqs = [s for s, _ in everything]
    assert seqs == sorted(seqs)
    tail = await database.read(lambda uow: uow.journal.after(seqs[0], 1))
    assert [e.subject for _, e in tail] == ["s2"]


async def test_new_consumer_starts_at_the_end_and_pins_its_cursor(database: SqlDatabase) -> None:
    """A consumer without a cursor starts after the last event; set_cursor keeps its place."""
    await _append(database, 1, 2)
    start = await database.read(lambda uow: uow.journal.cursor("c"))
    assert await database.read(lambda uow: uow.journal.after(start, 10)) == []
    await database.write(lambda uow: uow.journal.set_cursor("c", start))
    await _append(database, 3)
    assert await database.read(lambda uow: uow.journal.cursor("c")) == start
    assert len(await database.read(lambda uow: uow.journal.after(start, 10))) == 1


async def test_prune_keeps_unread_events_and_never_reuses_numbers(database: SqlDatabase) -> None:
    """Pruning drops what every consumer read; later events still get higher numbers."""
    await _append(database, 1, 2)
    read = await database.read(lambda uow: uow.journal.after(0, 10))
    await database.write(lambda uow: uow.journal.set_cursor("a", read[-1][0]))
    await database.write(lambda uow: uow.journal.set_cursor("b", read[0][0]))
    await database.write(lambda uow: uow.journal.prune())
    assert [e.subject for _, e in await database.read(lambda uow: uow.journal.after(0, 10))] == [
        "s2"
    ]
    await database.write(lambda uow: uow.journal.set_cursor("b", read[-1][0]))
    await database.write(lambda uow: uow.journal.prune())
    await _append(database, 3)
    (seq, event), *_ = await database.read(lambda uow: uow.journal.after(0, 10))
    assert event.subject == "s3" and seq > read[-1][0]


async def test_webhooks_round_trip_and_delete(database: SqlDatabase) -> None:
    """Webhooks keep their event list; delete removes one."""
    hook = Webhook("w1", "http://x/h", ["session.ended"], "secret", T0)
    await database.write(lambda uow: uow.webhooks.add(hook))
    assert await database.read(lambda uow: uow.webhooks.get("w1")) == hook
    hook.active, hook.disabled_reason = False, "HTTP 500"
    await database.write(lambda uow: uow.webhooks.save(hook))
    assert await database.read(lambda uow: uow.webhooks.list()) == [hook]
    await database.write(lambda uow: uow.webhooks.delete("w1"))
    assert await database.read(lambda uow: uow.webhooks.list()) == []


async def test_deliveries_due_in_order_and_next_due(database: SqlDatabase) -> None:
    """due() returns pending deliveries whose time has come, earliest first; next_due the soonest."""

    def delivery(
        name: str, due_in: int, status: DeliveryStatus = DeliveryStatus.PENDING
    ) -> Delivery:
        return Delivery(
            name,
            "webhook",
            "w1",
            "http://x",
            "e",
            "{}",
            T0,
            T0 + timedelta(seconds=due_in),
            status=status,
        )

    items = [
        delivery("late", 30),
        delivery("now", 0),
        delivery("sooner", -5),
        delivery("done", -9, DeliveryStatus.DELIVERED),
    ]
    for item in items:
        await database.write(lambda uow, d=item: uow.deliveries.add(d))  # type: ignore[misc]
    due = await database.read(lambda uow: uow.deliveries.due(T0, 10))
    assert [d.id for d in due] == ["sooner", "now"] and due[0].status is DeliveryStatus.PENDING
    assert await database.read(lambda uow: uow.deliveries.next_due()) == T0 - timedelta(seconds=5)
    assert [d.id for d in await database.read(lambda uow: uow.deliveries.for_target("w1"))] == [
        "done",
        "late",
        "now",
        "sooner",
    ]


async def test_deliveries_wait_behind_a_failing_one_to_the_same_receiver(
    database: SqlDatabase,
) -> None:
    """A pending delivery that failed holds back newer ones to its receiver, not to others."""

    def delivery(name: str, target: str, created: int, attempts: int = 0) -> Delivery:
        at = T0 + timedelta(seconds=created)
        retry = at + timedelta(seconds=60) if attempts else at
        return Delivery(name, "ocpi", target, "http://x", "e", "{}", at, retry, attempts=attempts)

    items = [
        delivery("a1", "p1", 0, attempts=1),  # failed once, retry not due yet
        delivery("a2", "p1", 1),
        delivery("b1", "p2", 2),
        delivery("b2", "p2", 3),
    ]
    for item in items:
        await database.write(lambda uow, d=item: uow.deliveries.add(d))  # type: ignore[misc]
    later = T0 + timedelta(seconds=10)
    due = await database.read(lambda uow: uow.deliveries.due(later, 10))
    assert [d.id for d in due] == ["b1", "b2"]
    assert await database.read(lambda uow: uow.deliveries.next_due()) == T0 + timedelta(seconds=2)
    items[0].status = DeliveryStatus.DELIVERED
    await database.write(lambda uow: uow.deliveries.save(items[0]))
    due = await database.read(lambda uow: uow.deliveries.due(later, 10))
    assert [d.id for d in due] == ["a2", "b1", "b2"]


async def test_last_is_the_newest_sequence_number(database: SqlDatabase) -> None:
    """last() is 0 on an empty journal and the newest number after appends."""
    assert await database.read(lambda uow: uow.journal.last()) == 0
    await _append(database, 1, 2)
    read = await database.read(lambda uow: uow.journal.after(0, 10))
    assert await database.read(lambda uow: uow.journal.last()) == read[-1][0]
