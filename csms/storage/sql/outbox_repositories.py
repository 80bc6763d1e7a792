"""SQL repositories of the event journal, webhooks and the delivery outbox."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.domain.events import DomainEvent
from csms.domain.model import Delivery, DeliveryStatus, Webhook
from csms.storage.sql import tables
from csms.storage.sql._dialect import upsert, values_of
from csms.storage.sql.lean_statements import Prepared, run

_journal = tables.table_of(tables.JournalRow)
_cursors = tables.table_of(tables.JournalCursorRow)
_webhooks = tables.table_of(tables.WebhookRow)
_deliveries = tables.table_of(tables.DeliveryRow)
# Built once; on SQLite run straight on the transaction's sqlite3 connection (ADR 0013).
_JOURNAL_INSERT = Prepared(_journal.insert(), ("name", "subject", "at", "data"))


class JournalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(self, event: DomainEvent) -> None:
        values = {"name": event.name, "subject": event.subject, "at": event.at}
        values["data"] = event.data
        await run(self._session, _JOURNAL_INSERT, values)

    async def last(self) -> int:
        result = await self._session.execute(select(func.max(tables.JournalRow.seq)))
        return int(result.scalar_one_or_none() or 0)

    async def after(self, seq: int, limit: int) -> builtins.list[tuple[int, DomainEvent]]:
        row = tables.JournalRow
        result = await self._session.execute(
            select(_journal).where(row.seq > seq).order_by(row.seq).limit(limit)
        )
        return [(r.seq, DomainEvent(r.name, r.subject, r.at, r.data)) for r in result]

    async def cursor(self, consumer: str) -> int:
        row = tables.JournalCursorRow
        result = await self._session.execute(select(row.seq).where(row.consumer == consumer))
        found = result.scalar_one_or_none()
        if found is not None:
            return int(found)
        return await self.last()  # a new consumer starts at the end: what happens from now on

    async def set_cursor(self, consumer: str, seq: int) -> None:
        await upsert(self._session, _cursors, {"consumer": consumer, "seq": seq}, ["consumer"])

    async def prune(self) -> None:
        low = select(func.min(tables.JournalCursorRow.seq)).scalar_subquery()
        await self._session.execute(delete(_journal).where(tables.JournalRow.seq <= low))


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, webhook_id: str) -> Webhook | None:
        result = await self._session.execute(
            select(_webhooks).where(tables.WebhookRow.id == webhook_id)
        )
        row = result.first()
        return Webhook(**row._asdict()) if row else None

    async def add(self, webhook: Webhook) -> None:
        await self.save(webhook)

    async def save(self, webhook: Webhook) -> None:
        await upsert(self._session, _webhooks, values_of(webhook), ["id"])

    async def delete(self, webhook_id: str) -> None:
        await self._session.execute(delete(_webhooks).where(tables.WebhookRow.id == webhook_id))

    async def list(self) -> builtins.list[Webhook]:
        row = tables.WebhookRow
        result = await self._session.execute(select(_webhooks).order_by(row.created_at, row.id))
        return [Webhook(**r._asdict()) for r in result]


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, delivery: Delivery) -> None:
        await self.save(delivery)

    async def save(self, delivery: Delivery) -> None:
        await upsert(self._session, _deliveries, values_of(delivery), ["id"])

    async def due(self, now: datetime, limit: int) -> builtins.list[Delivery]:
        row = tables.DeliveryRow
        result = await self._session.execute(
            select(_deliveries)
            .where(*_heads(), row.next_attempt_at <= now)
            .order_by(row.next_attempt_at, row.created_at, row.id)
            .limit(limit)
        )
        return [_delivery(r) for r in result]

    async def next_due(self) -> datetime | None:
        row = tables.DeliveryRow
        result = await self._session.execute(select(func.min(row.next_attempt_at)).where(*_heads()))
        found: datetime | None = result.scalar_one_or_none()
        return found

    async def for_target(self, target_id: str) -> builtins.list[Delivery]:
        row = tables.DeliveryRow
        result = await self._session.execute(
            select(_deliveries).where(row.target_id == target_id).order_by(row.created_at, row.id)
        )
        return [_delivery(r) for r in result]


def _heads() -> list[ColumnElement[bool]]:
    """Pending deliveries not queued behind an older, failing one to the same receiver."""
    older = _deliveries.alias("older")
    pending = DeliveryStatus.PENDING.value
    before = exists().where(
        older.c.consumer == _deliveries.c.consumer,
        older.c.target_id == _deliveries.c.target_id,
        older.c.status == pending,
        older.c.attempts > 0,
        or_(
            older.c.created_at < _deliveries.c.created_at,
            and_(older.c.created_at == _deliveries.c.created_at, older.c.id < _deliveries.c.id),
        ),
    )
    return [_deliveries.c.status == pending, ~before]


def _delivery(row: Row[Any]) -> Delivery:
    delivery = Delivery(**row._asdict())
    delivery.status = DeliveryStatus(delivery.status)
    return delivery
