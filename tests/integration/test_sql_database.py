"""SqlDatabase: group commit, isolation of failing writes, write_soon, recovery from DB errors."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, OperationalError

from csms.domain.changes import EventJournaled, SamplesAdded
from csms.domain.events import DomainEvent
from csms.domain.model import (
    ENERGY_REGISTER,
    IdToken,
    MeterSample,
    Protocol,
    Session,
    SessionStatus,
)
from csms.domain.ports import UnitOfWork
from csms.storage.sql import SqlDatabase, create_engine, migrate
from tests.faults import short_busy_timeout, sqlite_locked


async def test_concurrent_writes_are_group_committed(database: SqlDatabase) -> None:
    """Fifty concurrent writes all commit, several of them in a shared transaction."""
    units: list[UnitOfWork] = []

    async def add(uow: UnitOfWork, n: int) -> int:
        units.append(uow)
        await uow.tokens.add(IdToken(f"T{n:02}"))
        return n

    results = await asyncio.gather(
        *[database.write(lambda uow, n=n: add(uow, n)) for n in range(50)]
    )
    assert results == list(range(50))
    tokens = await database.read(lambda uow: uow.tokens.list())
    assert [t.id_token for t in tokens] == [f"T{n:02}" for n in range(50)]
    assert len({id(uow) for uow in units}) < 50


async def test_one_failing_write_fails_only_its_caller(database: SqlDatabase) -> None:
    """In a batch, a failing work item fails its caller; the others commit."""

    async def add(uow: UnitOfWork, n: int) -> int:
        await uow.tokens.add(IdToken(f"T{n}"))
        if n == 3:
            raise ValueError("boom")
        return n

    results = await asyncio.gather(
        *[database.write(lambda uow, n=n: add(uow, n)) for n in range(10)],
        return_exceptions=True,
    )
    assert isinstance(results[3], ValueError)
    assert [r for i, r in enumerate(results) if i != 3] == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    tokens = await database.read(lambda uow: uow.tokens.list())
    assert sorted(t.id_token for t in tokens) == [f"T{n}" for n in range(10) if n != 3]


async def test_write_soon_is_committed_in_order(database: SqlDatabase) -> None:
    """A write_soon lands before a later write returns; its failure is only logged."""

    async def fail(uow: UnitOfWork) -> None:
        raise RuntimeError("lost")

    database.write_soon(fail)
    database.write_soon(lambda uow: uow.tokens.add(IdToken("soon")))
    await database.write(lambda uow: uow.tokens.add(IdToken("later")))
    tokens = await database.read(lambda uow: uow.tokens.list())
    assert [t.id_token for t in tokens] == ["later", "soon"]


async def test_writer_survives_database_errors(database_url: str) -> None:
    """A write failing in the database fails its caller; the writer keeps serving."""
    db = SqlDatabase(create_engine(database_url))
    try:
        with pytest.raises(DBAPIError):
            await db.write(lambda uow: uow.tokens.add(IdToken("A")))
        await migrate(database_url)
        await db.write(lambda uow: uow.tokens.add(IdToken("A")))
        assert await db.read(lambda uow: uow.tokens.get("A")) == IdToken("A")
    finally:
        await db.close()


async def test_a_locked_sqlite_fails_queued_writes_at_once_and_recovers_alone(
    tmp_path: Path,
) -> None:
    """While another process holds the write lock, a batch fails whole and waits twice at most."""
    db = await _impatient_database(tmp_path / "csms.db")
    runs: list[int] = []

    async def add(uow: UnitOfWork, n: int) -> int:
        runs.append(n)
        await uow.tokens.add(IdToken(f"T{n}"))
        return n

    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    sample = MeterSample(at, ENERGY_REGISTER, 4_000.0, "Wh")
    event = DomainEvent("session.updated", "s1", at, {})
    staged = [SamplesAdded("s1", [sample]), EventJournaled(event)]
    try:
        await db.write(lambda uow: uow.sessions.add(started_session("s1", at)))
        async with sqlite_locked(tmp_path / "csms.db") as release:
            results = await asyncio.gather(
                db.apply(staged),  # staged changes go to sqlite3 itself: its error class
                *[db.write(lambda uow, n=n: add(uow, n)) for n in range(10)],
                return_exceptions=True,
            )
            locked = (OperationalError, sqlite3.OperationalError)
            assert all(isinstance(r, locked) for r in results), results
            assert len(runs) <= 2  # the batch, then its first write alone: not one wait each
            await release()
        # Nothing half-written; the same writer commits again, no restart.
        assert await db.read(lambda uow: uow.tokens.list()) == []
        assert await db.read(lambda uow: uow.sessions.samples("s1")) == []
        assert await db.read(lambda uow: uow.journal.last()) == 0
        await asyncio.gather(db.write(lambda uow: add(uow, 10)), db.apply(staged))
        assert [t.id_token for t in await db.read(lambda uow: uow.tokens.list())] == ["T10"]
        assert await db.read(lambda uow: uow.sessions.samples("s1")) == [sample]
        assert await db.read(lambda uow: uow.journal.last()) == 1
    finally:
        await db.close()


async def test_changes_alone_commit_without_the_orm_and_fail_only_their_caller(
    database: SqlDatabase,
) -> None:
    """On SQLite a batch of changes alone commits on a connection the writer holds (no pool
    checkout, no session); a bad change rolls its batch back and fails only its own caller."""
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    await database.write(lambda uow: uow.sessions.add(started_session("s1", at)))
    sample = MeterSample(at, ENERGY_REGISTER, 4_000.0, "Wh")
    updated = DomainEvent("session.updated", "s1", at, {})
    good = [SamplesAdded("s1", [sample]), EventJournaled(updated)]
    orphan = [SamplesAdded("no-such-session", [sample])]  # its foreign key fails the batch
    await database.apply(good)  # the first one gets the writer its connection
    checkouts: list[object] = []

    def checkout(*args: object) -> None:
        checkouts.append(args)

    event.listen(database.engine.sync_engine, "checkout", checkout)
    try:
        await database.apply(good)
    finally:
        event.remove(database.engine.sync_engine, "checkout", checkout)
    assert (checkouts == []) == (database.engine.dialect.name == "sqlite"), checkouts
    results = await asyncio.gather(
        database.apply(good), database.apply(orphan), return_exceptions=True
    )
    assert results[0] is None
    assert isinstance(results[1], sqlite3.IntegrityError | DBAPIError), results
    assert await database.read(lambda uow: uow.sessions.samples("s1")) == [sample]
    assert await database.read(lambda uow: uow.journal.last()) == 3
    await database.apply(good)  # after a failed batch, a new connection serves
    assert await database.read(lambda uow: uow.journal.last()) == 4


async def test_a_locked_sqlite_fails_changes_alone_and_they_commit_once_released(
    tmp_path: Path,
) -> None:
    """Changes alone meet the other process's lock as writes do: they fail, nothing is kept,
    and the same database commits them once the lock is gone."""
    db = await _impatient_database(tmp_path / "csms.db")
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    sample = MeterSample(at, ENERGY_REGISTER, 4_000.0, "Wh")
    staged = [SamplesAdded("s1", [sample]), EventJournaled(DomainEvent("e", "s1", at, {}))]
    try:
        await db.write(lambda uow: uow.sessions.add(started_session("s1", at)))
        await db.apply([EventJournaled(DomainEvent("e", "s0", at, {}))])
        async with sqlite_locked(tmp_path / "csms.db") as release:
            with pytest.raises(sqlite3.OperationalError):
                await db.apply(staged)
            await release()
        assert await db.read(lambda uow: uow.sessions.samples("s1")) == []
        assert await db.read(lambda uow: uow.journal.last()) == 1
        await db.apply(staged)
        assert await db.read(lambda uow: uow.sessions.samples("s1")) == [sample]
        assert await db.read(lambda uow: uow.journal.last()) == 2
    finally:
        await db.close()


async def _impatient_database(path: Path) -> SqlDatabase:
    """A migrated database on the SQLite file ``path`` that waits 100 ms for a lock, not 5 s."""
    url = f"sqlite+aiosqlite:///{path}"
    await migrate(url)
    engine = create_engine(url)
    await short_busy_timeout(engine, 100)
    return SqlDatabase(engine)


def started_session(session_id: str, at: datetime) -> Session:
    return Session(
        id=session_id,
        charger_id="CP1",
        protocol=Protocol.V16,
        status=SessionStatus.STARTED,
        created_at=at,
        updated_at=at,
        transaction_id="1",
    )
