"""The SQL ``SessionRepository``: sessions, meter samples, transaction ids and replay keys."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from csms.domain.changes import seq_of_key
from csms.domain.model import FailedStop, MeterSample, Protocol, Session, SessionStatus
from csms.storage.sql import tables
from csms.storage.sql._dialect import dialect_insert, insert, upsert, values_of
from csms.storage.sql.lean_statements import Prepared, run

_sessions = tables.table_of(tables.SessionRow)
_S = _sessions.c  # Core columns: cheaper to build into statements than the ORM attributes
_samples = tables.table_of(tables.MeterSampleRow)
_counters = tables.table_of(tables.CounterRow)
_events = tables.table_of(tables.TransactionEventRow)
_failed = tables.table_of(tables.FailedStopRow)

_TX16_COUNTER = "tx16"
_REMOTE_START_COUNTER = "remote_start"
_OPEN = (SessionStatus.PENDING.value, SessionStatus.STARTED.value)
_OPTIONAL_SAMPLE_FIELDS = ("phase", "location", "context")
_IN_ORDER = (_S.created_at, _S.id)
# Built once: a statement built per call (and its cache key) costs more than running it.
# Prepared: on SQLite they run straight on the transaction's sqlite3 connection (ADR 0013).
_BY_ID = Prepared(select(_sessions).where(_S.id == bindparam("p_id")))
_BY_TRANSACTION = Prepared(
    select(_sessions)
    .where(_S.charger_id == bindparam("p_charger"), _S.transaction_id == bindparam("p_tx"))
    .order_by(*_IN_ORDER)
    .limit(1)
)


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, session: Session) -> None:
        await self.save(session)

    async def save(self, session: Session) -> None:
        await upsert(self._session, _sessions, values_of(session, exclude=["samples"]), ["id"])

    async def get(self, session_id: str) -> Session | None:
        return await self._one(_BY_ID, {"p_id": session_id})

    async def by_transaction(self, charger_id: str, transaction_id: str) -> Session | None:
        return await self._one(_BY_TRANSACTION, {"p_charger": charger_id, "p_tx": transaction_id})

    async def by_start_key(self, charger_id: str, start_key: str) -> Session | None:
        return await self._first(_S.charger_id == charger_id, _S.start_key == start_key)

    async def by_remote_start_id(self, charger_id: str, remote_start_id: int) -> Session | None:
        return await self._first(_S.charger_id == charger_id, _S.remote_start_id == remote_start_id)

    async def pending_for(
        self, charger_id: str, id_token: str, created_after: datetime
    ) -> list[Session]:
        return await self._find(
            _S.charger_id == charger_id,
            _S.id_token == id_token,
            _S.status == SessionStatus.PENDING.value,
            _S.created_at >= created_after,
        )

    async def open_on_connector(
        self, charger_id: str, evse_id: int | None, connector_id: int | None
    ) -> list[Session]:
        stmt = _open_on_connector(evse_id is not None, connector_id is not None)
        params = {"p_charger": charger_id, "p_evse": evse_id, "p_connector": connector_id}
        return await self._all(stmt, params)

    async def pending_before(self, created_before: datetime) -> list[Session]:
        return await self._find(
            _S.status == SessionStatus.PENDING.value, _S.created_at < created_before
        )

    async def list(
        self,
        *,
        status: SessionStatus | None = None,
        charger_id: str | None = None,
        id_token: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Session]:
        stmt = select(_sessions)
        if status is not None:
            stmt = stmt.where(_S.status == status.value)
        if charger_id is not None:
            stmt = stmt.where(_S.charger_id == charger_id)
        if id_token is not None:
            stmt = stmt.where(_S.id_token == id_token)
        if created_from is not None:
            stmt = stmt.where(_S.created_at >= created_from)
        if created_to is not None:
            stmt = stmt.where(_S.created_at < created_to)
        stmt = stmt.order_by(_S.created_at.desc(), _S.id.desc())
        return await self._all(stmt.limit(max(limit, 0)).offset(max(offset, 0)))

    async def add_samples(self, session_id: str, samples: Sequence[MeterSample]) -> int:
        unique: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for sample in samples:
            values = sample_values(session_id, sample)
            unique.setdefault(sample_key(values), values)
        rows = [dict(zip(SAMPLE_COLUMNS, values, strict=True)) for values in unique.values()]
        if not rows:
            return 0
        stmt = insert(self._session, _samples).on_conflict_do_nothing()
        result = await self._session.execute(stmt.returning(_samples.c.id), rows)
        return len(result.all())

    async def samples(self, session_id: str) -> builtins.list[MeterSample]:
        row = tables.MeterSampleRow
        result = await self._session.execute(
            select(_samples)
            .where(row.session_id == session_id)
            .order_by(row.timestamp, row.measurand, row.id)
        )
        return [_sample(r) for r in result]

    async def move_samples(self, from_session: str, to_session: str) -> None:
        row = tables.MeterSampleRow
        await self._session.execute(
            update(_samples).where(row.session_id == from_session).values(session_id=to_session)
        )

    async def next_transaction_id(self) -> int:
        return await self._next(_TX16_COUNTER)

    async def next_remote_start_id(self) -> int:
        return await self._next(_REMOTE_START_COUNTER)

    async def remember_event(self, charger_id: str, transaction_id: str, key: str) -> bool:
        stmt = (
            insert(self._session, _events)
            .values(charger_id=charger_id, transaction_id=transaction_id, key=key)
            .on_conflict_do_nothing()
            .returning(_events.c.key)
        )
        result = await self._session.execute(stmt)
        return result.first() is not None

    async def last_event_seq(self, charger_id: str, transaction_id: str) -> int | None:
        row = tables.TransactionEventRow
        result = await self._session.execute(
            select(row.key).where(
                row.charger_id == charger_id, row.transaction_id == transaction_id
            )
        )
        seqs = [seq_of_key(key) for key in result.scalars()]
        return max((seq for seq in seqs if seq is not None), default=None)

    async def add_failed_stop(self, failed: FailedStop) -> None:
        await self._session.execute(_failed.insert().values(values_of(failed)))

    async def failed_stops(self, charger_id: str | None = None) -> builtins.list[FailedStop]:
        row = tables.FailedStopRow
        stmt = select(row.charger_id, row.transaction_id, row.reason, row.received_at, row.data)
        if charger_id is not None:
            stmt = stmt.where(row.charger_id == charger_id)
        result = await self._session.execute(stmt.order_by(row.id))
        return [FailedStop(**r._asdict()) for r in result]

    async def _next(self, name: str) -> int:
        """Increment counter ``name`` in one statement, creating it on first use.

        ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` takes the row lock on PostgreSQL, so
        concurrent writers (several nodes) each get their own value; a rolled-back value was
        never handed out, so no caller ever sees one reused.
        """
        stmt = _next_statement(self._session.get_bind().dialect.name)
        (row,) = await run(self._session, stmt, {"p_name": name})
        return int(row["value"])

    async def _first(self, *where: ColumnElement[bool]) -> Session | None:
        return await self._one(select(_sessions).where(*where).order_by(*_IN_ORDER).limit(1))

    async def _one(
        self, stmt: Select[Any] | Prepared, params: dict[str, Any] | None = None
    ) -> Session | None:
        if isinstance(stmt, Prepared):
            found = await run(self._session, stmt, params)
            return session_of(found[0]) if found else None
        row = (await self._session.execute(stmt, params)).first()
        return session_of(row._asdict()) if row else None

    async def _find(self, *where: ColumnElement[bool]) -> builtins.list[Session]:
        return await self._all(select(_sessions).where(*where).order_by(*_IN_ORDER))

    async def _all(
        self, stmt: Select[Any] | Prepared, params: dict[str, Any] | None = None
    ) -> builtins.list[Session]:
        if isinstance(stmt, Prepared):
            return [session_of(row) for row in await run(self._session, stmt, params)]
        result = await self._session.execute(stmt, params)
        return [session_of(row._asdict()) for row in result]


@cache
def _open_on_connector(evse: bool, connector: bool) -> Prepared:
    """Open sessions of a charger that may be on the EVSE / connector (None: any of them)."""
    # The statuses as ORs: a prepared statement holds no IN list (``lean_statements``).
    where = [_S.charger_id == bindparam("p_charger"), or_(*(_S.status == s for s in _OPEN))]
    if evse:
        where.append(or_(_S.evse_id.is_(None), _S.evse_id == bindparam("p_evse")))
    if connector:
        where.append(or_(_S.connector_id.is_(None), _S.connector_id == bindparam("p_connector")))
    return Prepared(select(_sessions).where(*where).order_by(*_IN_ORDER))


@cache
def _next_statement(dialect: str) -> Prepared:
    stmt = dialect_insert(dialect, _counters).values(name=bindparam("p_name"), value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"], set_={"value": _counters.c.value + 1}
    )
    return Prepared(stmt.returning(_counters.c.value))


def session_of(values: Mapping[str, Any]) -> Session:
    """A session from its column values."""
    session = Session(**values)
    session.protocol = Protocol(session.protocol)
    session.status = SessionStatus(session.status)
    return session


SAMPLE_COLUMNS = (
    "session_id",
    "timestamp",
    "measurand",
    "value",
    "unit",
    "phase",
    "location",
    "context",
    "signed",
)
"""The columns of a stored sample but its id, in the order of :func:`sample_values`."""


def sample_values(session_id: str, sample: MeterSample) -> tuple[Any, ...]:
    """A sample's column values (:data:`SAMPLE_COLUMNS`), optional text fields as "" (part of
    the unique key). Spelled out: this runs for every sampled value chargers send."""
    return (
        session_id,
        sample.timestamp,
        sample.measurand,
        sample.value,
        sample.unit,
        sample.phase or "",
        sample.location or "",
        sample.context or "",
        sample.signed,
    )


def sample_key(values: Sequence[Any]) -> tuple[Any, ...]:
    """The unique key of a sample's :func:`sample_values`: session, time, what, where, value."""
    session_id, timestamp, measurand, value, _unit, phase, location, context, _signed = values
    return (session_id, timestamp, measurand, phase, location, context, value)


def _sample(row: Row[Any]) -> MeterSample:
    values = row._asdict()
    del values["id"], values["session_id"]
    for name in _OPTIONAL_SAMPLE_FIELDS:
        values[name] = values[name] or None
    return MeterSample(**values)
