"""On SQLite, prebuilt statements run straight on the transaction's sqlite3 connection
(``lean_statements``): they must store and read exactly what SQLAlchemy stores and reads."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, select

from csms.domain.events import DomainEvent
from csms.domain.model import Protocol, Session, SessionStatus
from csms.domain.ports import UnitOfWork
from csms.storage.sql import SqlDatabase, tables
from csms.storage.sql._dialect import values_of
from csms.storage.sql.lean_statements import Prepared, run

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
_sessions = tables.table_of(tables.SessionRow)
_journal = tables.table_of(tables.JournalRow)


def _full_session(session_id: str, charger_id: str = "CP1") -> Session:
    return Session(
        id=session_id,
        charger_id=charger_id,
        protocol=Protocol.V201,
        status=SessionStatus.STARTED,
        created_at=T0.astimezone(timezone(timedelta(hours=-5))),  # stored as UTC
        updated_at=T0 + timedelta(seconds=1),
        evse_id=1,
        connector_id=2,
        transaction_id="TX-1",
        id_token="TAG",
        id_token_type="ISO14443",
        auth_status="Accepted",
        remote_start_id=7,
        requested_by="api",
        session_start=T0.replace(microsecond=0),
        meter_start_wh=10.5,
        energy_wh=1234.5,
        cost=0.37,
        currency="EUR",
        start_key="k",
        offline=True,
    )


def _stored(path: Path, table: str, key: str, value: Any) -> dict[str, Any]:
    """A row as sqlite3 holds it (the text SQLAlchemy's types made of the values)."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute(f"SELECT * FROM {table} WHERE {key} = ?", (value,)).fetchone()
        return dict(row)
    finally:
        conn.close()


async def test_lean_writes_store_the_same_text_as_sqlalchemy(
    sqlite_db: tuple[SqlDatabase, Path],
) -> None:
    """A session upserted and an event journaled on sqlite3 are stored as SQLAlchemy stores them."""
    db, path = sqlite_db
    event_data = {"nested": {"at": "2026-03-01T12:00:00Z"}, "n": [1, 2.5, None], "ok": True}

    async def lean(uow: UnitOfWork) -> None:
        await uow.sessions.add(_full_session("LEAN"))
        await uow.journal.append(DomainEvent("session.updated", "LEAN", T0, event_data))

    await db.write(lean)
    async with db.engine.begin() as conn:  # the same values through SQLAlchemy's execution
        values = values_of(_full_session("ORM", "CP2"), exclude=["samples"])
        await conn.execute(_sessions.insert(), values)
        await conn.execute(
            _journal.insert(),
            {"name": "session.updated", "subject": "ORM", "at": T0, "data": event_data},
        )
    lean_row, orm_row = (
        _stored(path, "sessions", "id", "LEAN"),
        _stored(path, "sessions", "id", "ORM"),
    )
    assert {**lean_row, "id": "ORM", "charger_id": "CP2"} == orm_row
    assert lean_row["created_at"] == "2026-03-01 12:00:00.123456"  # naive UTC text
    lean_event = _stored(path, "journal", "subject", "LEAN")
    orm_event = _stored(path, "journal", "subject", "ORM")
    for name in ("name", "at", "data"):
        assert lean_event[name] == orm_event[name], name


async def test_lean_reads_return_what_sqlalchemy_returns(
    sqlite_db: tuple[SqlDatabase, Path],
) -> None:
    """A prepared SELECT on sqlite3 gives the values SQLAlchemy's result gives, types included."""
    db, _ = sqlite_db

    async def add(uow: UnitOfWork) -> None:
        await uow.sessions.add(_full_session("S1"))
        await uow.sessions.add(Session("S2", "CP1", Protocol.V16, SessionStatus.PENDING, T0, T0))

    await db.write(add)
    by_charger = select(_sessions).where(_sessions.c.charger_id == bindparam("p_charger"))
    prepared = Prepared(by_charger.order_by(_sessions.c.id))

    async def lean(uow: UnitOfWork) -> list[dict[str, Any]]:
        return await run(uow.sessions._session, prepared, {"p_charger": "CP1"})  # type: ignore[attr-defined]

    async with db.engine.connect() as conn:
        result = await conn.execute(prepared.statement, {"p_charger": "CP1"})
        orm = [dict(row._mapping) for row in result]
    got = await db.read(lean)
    assert got == orm
    assert [row["id"] for row in got] == ["S1", "S2"]
    assert got[0]["created_at"] == T0 and got[0]["created_at"].tzinfo is not None
    assert got[0]["offline"] is True and got[1]["offline"] is False
    assert got[1]["session_start"] is None


async def test_a_failed_transaction_rolls_back_its_lean_statements(
    sqlite_db: tuple[SqlDatabase, Path],
) -> None:
    """Lean statements are part of the work's transaction: a failing work leaves nothing."""
    db, path = sqlite_db

    async def failing(uow: UnitOfWork) -> None:
        await uow.sessions.add(_full_session("GONE"))
        await uow.journal.append(DomainEvent("session.created", "GONE", T0, {}))
        assert await uow.sessions.get("GONE") is not None  # seen inside the transaction
        raise RuntimeError("the work fails after writing")

    with pytest.raises(RuntimeError):
        await db.write(failing)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM journal").fetchone() == (0,)
    finally:
        conn.close()
    assert await db.read(lambda uow: uow.sessions.get("GONE")) is None


@pytest.mark.parametrize("values", [bindparam("p_ids", expanding=True), ["a", "b"]])
def test_an_in_list_is_refused_when_compiled(values: Any) -> None:
    """SQLAlchemy renders an IN list per execution: such a statement cannot be prepared."""
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    stmt = select(_sessions).where(_sessions.c.id.in_(values))
    with pytest.raises(TypeError, match="IN list"):
        Prepared(stmt).for_sqlite(sqlite_dialect.dialect())
