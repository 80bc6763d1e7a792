"""The journal relay on the in-memory storage: when it writes, what it skips, what it routes;
and what a webhook added late is sent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from api.outbox import JournalRelay
from api.rest.webhooks import WebhookRouter
from csms.domain import events as ev
from csms.domain.events import DomainEvent
from csms.domain.model import Delivery, Webhook
from csms.domain.ports import UnitOfWork, Work
from csms.storage.memory import MemoryDatabase

T = TypeVar("T")
AT = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def now(self) -> datetime:
        return AT


class CountingDatabase(MemoryDatabase):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    async def write(self, work: Work[T]) -> T:
        self.writes += 1
        return await super().write(work)


class Router:
    """Listens when told to; remembers the events it was given to route."""

    cursor = "test"

    def __init__(self) -> None:
        self.on = False
        self.routed: list[str] = []

    async def listening(self, uow: UnitOfWork) -> bool:
        return self.on

    async def route(
        self, uow: UnitOfWork, events: Sequence[DomainEvent], now: datetime
    ) -> list[Delivery]:
        self.routed.extend(e.subject for e in events)
        return []


async def _journal(db: MemoryDatabase, *subjects: str) -> None:
    for subject in subjects:
        await db.uow.journal.append(DomainEvent("session.created", subject, AT, {}))


async def _relay(batch: int = 500) -> tuple[CountingDatabase, Router, JournalRelay]:
    db, router = CountingDatabase(), Router()
    relay = JournalRelay(db, Clock(), router, lambda: None, batch=batch)
    await relay.register()
    db.writes = 0
    return db, router, relay


async def test_relay_nobody_listens_to_does_not_write_per_event() -> None:
    """With nobody listening, rounds after each event only read; the cursor stays put."""
    db, _, relay = await _relay()
    for n in range(5):
        await _journal(db, f"s{n}")
        assert await relay.round() == (0, 0)
    assert db.writes == 0
    assert await db.uow.journal.cursor("test") == 0


async def test_events_skipped_while_nobody_listened_are_not_routed_later() -> None:
    """A listener that appears gets the events journaled after the relay last saw nobody."""
    db, router, relay = await _relay()
    await _journal(db, "before-1", "before-2")
    await relay.round()
    router.on = True
    await _journal(db, "after")
    assert await relay.round() == (1, 0)
    assert router.routed == ["after"]
    assert await db.uow.journal.cursor("test") == 3


async def test_skipped_events_are_written_down_after_a_batch_or_a_quiet_round() -> None:
    """The skip becomes the cursor (and the journal is pruned) once a batch is skipped, or when
    the relay pumps without looking first (after a quiet spell)."""
    db, _, relay = await _relay(batch=3)
    await _journal(db, "a", "b")
    await relay.round()
    assert db.writes == 0
    await _journal(db, "c")
    await relay.round()
    assert db.writes == 1 and await db.uow.journal.cursor("test") == 3
    await _journal(db, "d")
    await relay.round(look_first=False)
    assert await db.uow.journal.cursor("test") == 4
    assert await db.uow.journal.after(0, 10) == []


async def test_listening_relay_routes_each_event_once() -> None:
    """With a listener, a round routes what is new; a round with nothing new writes nothing."""
    db, router, relay = await _relay()
    router.on = True
    await _journal(db, "x", "y")
    assert await relay.round() == (2, 0)
    writes = db.writes
    assert await relay.round() == (0, 0)
    assert db.writes == writes and router.routed == ["x", "y"]


async def test_webhook_gets_only_events_from_after_it_was_added() -> None:
    """However late the relay notices a new webhook, events older than the webhook skip it."""
    db = MemoryDatabase()
    hook = Webhook("h1", "http://hooks.test/", [ev.CHARGER_ONLINE], "whsec_x", AT)
    await db.uow.webhooks.add(hook)
    events = [
        DomainEvent(ev.CHARGER_ONLINE, "before", AT - timedelta(seconds=1), {}),
        DomainEvent(ev.CHARGER_ONLINE, "after", AT, {}),
    ]
    deliveries = await WebhookRouter().route(db.uow, events, AT)
    assert [json.loads(d.body)["data"]["_id"] for d in deliveries] == ["after"]
