"""Database.apply on SQL (SQLite straight through sqlite3, PostgreSQL through Core) reads back
exactly as the in-memory reference (``apply_in``) does, and keeps its place in group commit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy.dialects import sqlite

from csms.domain.changes import (
    Change,
    ChargerRegistered,
    ChargerUpdated,
    ConnectorStatusSet,
    EventJournaled,
    SamplesAdded,
    SessionMetered,
    TransactionEventSeen,
)
from csms.domain.events import DomainEvent
from csms.domain.model import (
    Charger,
    ConnectorState,
    MeterSample,
    Protocol,
    Session,
    SessionStatus,
)
from csms.domain.ports import Database, UnitOfWork
from csms.storage.memory import MemoryDatabase
from csms.storage.sql import SqlDatabase, tables
from csms.storage.sql.changes import _sqlite_time

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _session(session_id: str, status: SessionStatus) -> Session:
    return Session(
        id=session_id,
        charger_id="CP1",
        protocol=Protocol.V201,
        status=status,
        created_at=T0,
        updated_at=T0,
        transaction_id=f"tx-{session_id}",
        session_start=T0,
        meter_start_wh=1000.0,
    )


async def _prepare(db: Database) -> None:
    """A charger with an operator-assigned EVSE ref, a started and an ended session."""
    charger = Charger(id="CP1", created_at=T0)

    async def setup(uow: UnitOfWork) -> None:
        await uow.chargers.add(charger)
        await uow.chargers.set_connector(
            ConnectorState("CP1", 1, 1, "Available", timestamp=T0, evse_ref="DE*ABC*E1*1")
        )
        await uow.sessions.add(_session("s1", SessionStatus.STARTED))
        await uow.sessions.add(_session("s2", SessionStatus.ENDED))

    await db.write(setup)


def _metered(session_id: str, status: SessionStatus, wh: float, at: datetime) -> SessionMetered:
    session = _session(session_id, status)
    session.last_register_wh, session.energy_wh = wh, wh - 1000.0
    session.charging_start, session.charging_end = T0, at
    session.offline, session.updated_at = True, at
    return SessionMetered(session)


def _changes() -> list[Change]:
    at = T0 + timedelta(minutes=5)
    sample = MeterSample(
        at, "Energy.Active.Import.Register", 4000.0, "Wh", context="Sample.Periodic"
    )
    power = MeterSample(at, "Power.Active.Import", 7400.5, "W", phase="L1")
    event = DomainEvent("session.updated", "s1", at, {"energy_wh": 3000.0, "nested": {"a": [1]}})
    return [
        ChargerRegistered(Charger(id="CP2", created_at=at)),
        ChargerRegistered(Charger(id="CP1", vendor="must not overwrite", created_at=at)),
        ChargerUpdated("CP1", {"online": True, "protocol": Protocol.V201, "last_seen": at}),
        ChargerUpdated("CP1", {"vendor": "ACME", "last_seen": at + timedelta(seconds=1)}),
        ChargerUpdated("CP1", {"online": False}),
        ChargerUpdated("gone", {"online": True}),
        ConnectorStatusSet(ConnectorState("CP1", 1, 1, "Charging", timestamp=at)),
        ConnectorStatusSet(ConnectorState("CP1", 1, 1, "Preparing", timestamp=T0)),  # older
        ConnectorStatusSet(ConnectorState("CP1", 1, 2, "Available", timestamp=at)),
        SamplesAdded("s1", [sample, power, sample]),  # an exact duplicate is stored once
        _metered("s1", SessionStatus.STARTED, 4000.0, at),
        _metered("s2", SessionStatus.STARTED, 9000.0, at),  # s2 is ended: left alone
        TransactionEventSeen("CP1", "tx-s1", "7|Updated|x"),
        TransactionEventSeen("CP1", "tx-s1", "7|Updated|x"),
        EventJournaled(event),
    ]


async def _state(db: Database) -> dict[str, Any]:
    async def read(uow: UnitOfWork) -> dict[str, Any]:
        return {
            "chargers": await uow.chargers.list(),
            "connectors": await uow.chargers.connectors("CP1"),
            "s1": await uow.sessions.get("s1"),
            "s2": await uow.sessions.get("s2"),
            "samples": await uow.sessions.samples("s1"),
            "journal": [e for _, e in await uow.journal.after(0, 100)],
            "seen": await uow.sessions.last_event_seq("CP1", "tx-s1"),
            "replay": await uow.sessions.remember_event("CP1", "tx-s1", "7|Updated|x"),
        }

    return await db.read(read)


async def test_applied_changes_read_back_as_the_reference_does(database: SqlDatabase) -> None:
    """Every kind of change, applied in one commit, reads back like the in-memory reference:
    merged charger updates, older statuses ignored, EVSE refs kept, duplicates dropped, an
    ended session untouched, JSON and microseconds intact."""
    reference = MemoryDatabase()
    for db in (reference, database):
        await _prepare(db)
        await db.apply(_changes())
    got, want = await _state(database), await _state(reference)
    assert got == want
    assert want["connectors"][0].status == "Charging"
    assert want["connectors"][0].evse_ref == "DE*ABC*E1*1"
    assert want["s1"].energy_wh == 3000.0 and want["s2"].energy_wh == 0.0
    assert len(want["samples"]) == 2 and want["seen"] == 7 and want["replay"] is False
    charger = next(c for c in want["chargers"] if c.id == "CP1")
    assert (charger.vendor, charger.online, charger.protocol) == ("ACME", False, Protocol.V201)


async def test_a_write_sees_the_changes_queued_before_it(database: SqlDatabase) -> None:
    """In one group commit, a work function reads the changes applied before it, in order."""
    await _prepare(database)
    at = T0 + timedelta(minutes=1)
    sample = MeterSample(at, "Energy.Active.Import.Register", 2500.0, "Wh")

    async def count_samples(uow: UnitOfWork) -> int:
        return len(await uow.sessions.samples("s1"))

    results = await asyncio.gather(
        database.apply([SamplesAdded("s1", [sample])]),
        database.write(count_samples),
        database.apply([_metered("s1", SessionStatus.STARTED, 2500.0, at)]),
        database.write(lambda uow: uow.sessions.get("s1")),
    )
    assert results[1] == 1
    seen = results[3]
    assert seen is not None and seen.energy_wh == 1500.0


async def test_apply_soon_lands_before_a_later_write_returns(database: SqlDatabase) -> None:
    """apply_soon is queued like write_soon: a later write sees it committed."""
    await _prepare(database)
    database.apply_soon([ChargerUpdated("CP1", {"last_seen": T0 + timedelta(hours=1)})])
    charger = await database.write(lambda uow: uow.chargers.get("CP1"))
    assert charger is not None and charger.last_seen == T0 + timedelta(hours=1)


def test_staged_times_are_the_text_sqlalchemy_stores() -> None:
    """Times staged for sqlite3 (whole seconds, years < 1000, other offsets, repeats) are the
    text SQLAlchemy's SQLite DATETIME stores for them."""
    column = tables.table_of(tables.MeterSampleRow).c.timestamp
    dialect = sqlite.dialect()
    reference = column.type.dialect_impl(dialect).bind_processor(dialect)
    assert reference is not None
    plus_two = timezone(timedelta(hours=2))
    times = [
        T0,
        T0.replace(microsecond=0),
        datetime(987, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 3, 1, 14, 0, 0, 500, tzinfo=plus_two),
        T0,  # again: remembered
    ]
    for value in times:
        assert _sqlite_time(value) == reference(value), value
    assert _sqlite_time(None) is None
