"""The SQLite writer process (ADR 0016): batches of changes run and commit in a process of
their own; a failed batch keeps nothing, and a process that died is replaced."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from csms.domain.changes import EventJournaled, SamplesAdded
from csms.domain.events import DomainEvent
from csms.domain.model import ENERGY_REGISTER, MeterSample
from csms.storage.sql import SqlDatabase, create_engine, migrate
from csms.storage.sql.sqlite_writer import SqliteWriterProcess, WriterProcessGone
from tests.faults import sqlite_locked
from tests.integration.test_sql_database import started_session

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _database(path: Path) -> SqlDatabase:
    url = f"sqlite+aiosqlite:///{path}"
    await migrate(url)
    db = SqlDatabase(create_engine(url))
    await db.write(lambda uow: uow.sessions.add(started_session("s1", AT)))
    return db


def _sample(wh: float) -> SamplesAdded:
    return SamplesAdded("s1", [MeterSample(AT, ENERGY_REGISTER, wh, "Wh")])


async def _writer(path: Path) -> SqliteWriterProcess:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE child (id INTEGER PRIMARY KEY, parent REFERENCES parent (id))")
    conn.close()
    return SqliteWriterProcess(str(path), ("PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=5000"))


def _count(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        (count,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(count)
    finally:
        conn.close()


async def test_changes_alone_commit_in_a_writer_process_that_ends_with_the_database(
    tmp_path: Path,
) -> None:
    """On a SQLite file, changes alone are committed by another process, and closing the
    database ends it."""
    db = await _database(tmp_path / "csms.db")
    try:
        assert db.writer_pid is None  # started by the first batch of changes
        await db.apply([_sample(1_000.0), EventJournaled(DomainEvent("e", "s1", AT, {}))])
        pid = db.writer_pid
        assert pid is not None and pid != os.getpid() and _alive(pid)
        samples = await db.read(lambda uow: uow.sessions.samples("s1"))
        assert [s.value for s in samples] == [1_000.0]
        assert await db.read(lambda uow: uow.journal.last()) == 1
    finally:
        await db.close()
    assert db.writer_pid is None and not _alive(pid)


async def test_a_failed_batch_is_rolled_back_and_the_process_serves_on(tmp_path: Path) -> None:
    """A batch that breaks a constraint raises sqlite3's own error class, keeps none of its
    rows, and the same process commits the next batch."""
    writer = await _writer(tmp_path / "w.db")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            await writer.run(
                [
                    ("INSERT INTO parent (id) VALUES (?)", [(1,)]),
                    ("INSERT INTO child (id, parent) VALUES (?, ?)", [(1, 1), (2, 99)]),
                ]
            )
        pid = writer.pid
        assert _count(tmp_path / "w.db", "parent") == 0
        await writer.run([("INSERT INTO parent (id) VALUES (?)", [(1,), (2,)])])
        assert writer.pid == pid
        assert _count(tmp_path / "w.db", "parent") == 2
    finally:
        await writer.close()


async def test_a_killed_writer_process_is_replaced_and_its_batch_committed(
    tmp_path: Path,
) -> None:
    """After the writer process is killed, the next batch of changes still commits (a new
    process runs it) and every caller hears success."""
    db = await _database(tmp_path / "csms.db")
    try:
        await db.apply([_sample(1_000.0)])
        killed = db.writer_pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        await asyncio.gather(db.apply([_sample(2_000.0)]), db.apply([_sample(3_000.0)]))
        assert db.writer_pid not in (None, killed)
        samples = await db.read(lambda uow: uow.sessions.samples("s1"))
        assert sorted(s.value for s in samples) == [1_000.0, 2_000.0, 3_000.0]
    finally:
        await db.close()


async def test_a_writer_process_killed_mid_batch_fails_it_and_keeps_nothing(
    tmp_path: Path,
) -> None:
    """Killed while its batch waits for another process's lock, the writer process fails
    that batch as unavailable; nothing of it is stored, and the next batch commits."""
    path = tmp_path / "w.db"
    writer = await _writer(path)
    try:
        await writer.run([("INSERT INTO parent (id) VALUES (?)", [(1,)])])
        pid = writer.pid
        assert pid is not None
        async with sqlite_locked(path) as release:
            batch = asyncio.create_task(
                writer.run([("INSERT INTO parent (id) VALUES (?)", [(2,)])])
            )
            await asyncio.sleep(0)  # the batch is sent; the lock holds it for 5 s
            os.kill(pid, signal.SIGKILL)
            with pytest.raises(WriterProcessGone):
                await batch
            await release()
        assert _count(path, "parent") == 1
        await writer.run([("INSERT INTO parent (id) VALUES (?)", [(3,)])])
        assert writer.pid not in (None, pid)
        assert _count(path, "parent") == 2
    finally:
        await writer.close()


async def test_the_writer_process_ignores_sigint_and_ends_with_its_input(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group: the writer process stays for the server's
    graceful shutdown, and ends when the server closes it."""
    writer = await _writer(tmp_path / "w.db")
    try:
        await writer.run([("INSERT INTO parent (id) VALUES (?)", [(1,)])])
        pid = writer.pid
        assert pid is not None
        os.kill(pid, signal.SIGINT)
        await writer.run([("INSERT INTO parent (id) VALUES (?)", [(2,)])])
        assert writer.pid == pid
    finally:
        await writer.close()
    assert writer.pid is None and not _alive(pid)
    assert _count(tmp_path / "w.db", "parent") == 2
