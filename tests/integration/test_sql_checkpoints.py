"""SQLite WAL checkpoints run in a thread of their own, never inside a commit on the loop."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from csms.domain.model import Charger
from csms.storage.sql import SqlDatabase, create_engine, migrate
from csms.storage.sql.checkpoints import WalCheckpointer

WAIT = 10.0  # seconds: the bound of every wait for the checkpoint thread


async def _started(path: Path, checkpointer: WalCheckpointer) -> SqlDatabase:
    """A migrated, started database on the SQLite file ``path`` with ``checkpointer``."""
    url = f"sqlite+aiosqlite:///{path}"
    await migrate(url)
    db = SqlDatabase(create_engine(url), checkpointer=checkpointer)
    await db.start()
    return db


async def _autocheckpoint(db: SqlDatabase) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one())


async def test_with_a_checkpointer_commits_never_checkpoint_and_the_thread_does(
    tmp_path: Path,
) -> None:
    """The serving connections have autocheckpoint off; the thread copies the WAL back."""
    path = tmp_path / "ck.db"
    checkpointer = WalCheckpointer.for_url(f"sqlite+aiosqlite:///{path}", interval=3600)
    assert checkpointer is not None and checkpointer.path == str(path)  # runs when told
    db = await _started(path, checkpointer)
    try:
        assert await _autocheckpoint(db) == 0
        for n in range(1500):  # well past SQLite's default 1,000-page autocheckpoint
            await db.write(lambda uow, n=n: uow.chargers.add(Charger(id=f"CP{n:05d}")))
        checkpointer.done.clear()
    finally:
        await db.close()  # stop(): one last checkpoint in the thread
    assert checkpointer.done.wait(WAIT)
    assert checkpointer.last is not None
    assert checkpointer.last.busy == 0
    assert checkpointer.last.wal_frames > 1000  # nothing was checkpointed by a commit
    assert checkpointer.last.checkpointed == checkpointer.last.wal_frames


async def test_the_thread_checkpoints_while_the_server_writes(tmp_path: Path) -> None:
    """Every interval, what was committed is copied back without stopping the writers."""
    path = tmp_path / "ck.db"
    checkpointer = WalCheckpointer(str(path), interval=0.05)
    db = await _started(path, checkpointer)
    try:
        await db.write(lambda uow: uow.chargers.add(Charger(id="CP1")))
        last = None
        for _ in range(100):  # bounded: a checkpoint already under way may predate the write
            checkpointer.done.clear()
            assert checkpointer.done.wait(WAIT)
            last = checkpointer.last
            if last is not None and last.wal_frames > 0:
                break
        assert last is not None and last.busy == 0
        assert last.checkpointed == last.wal_frames > 0
        assert await db.read(lambda uow: uow.chargers.get("CP1")) is not None
    finally:
        await db.close()


async def test_under_steady_writes_the_wal_starts_over_instead_of_growing(
    tmp_path: Path,
) -> None:
    """Past ``restart_frames`` a RESTART checkpoint lets the next write start the WAL over."""
    path = tmp_path / "ck.db"
    checkpointer = WalCheckpointer(str(path), interval=0.01, restart_frames=60)
    db = await _started(path, checkpointer)
    frames: list[int] = []
    try:
        for n in range(5000):  # bounded; writes never pause, as under a fleet's load
            await db.write(lambda uow, n=n: uow.chargers.add(Charger(id=f"CP{n:05d}")))
            if checkpointer.last is not None:
                frames.append(checkpointer.last.wal_frames)
            if checkpointer.restarts >= 2 and frames[-1] < 60:
                break
    finally:
        await db.close()
    assert checkpointer.restarts >= 2
    assert frames[-1] < 60  # started over: not the ever-growing WAL a passive pass leaves
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size < 64 * 1024 * 1024


async def test_without_a_checkpointer_sqlite_checkpoints_as_usual(tmp_path: Path) -> None:
    """A plain SqlDatabase (tests, tools) keeps SQLite's own autocheckpoint."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'plain.db'}"
    await migrate(url)
    db = SqlDatabase(create_engine(url))
    try:
        assert await _autocheckpoint(db) == 1000
    finally:
        await db.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://u@h/db",
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite:///file:x?mode=memory&uri=true",
    ],
)
def test_only_a_sqlite_file_gets_a_checkpointer(url: str) -> None:
    """PostgreSQL and in-memory SQLite have no WAL file to checkpoint."""
    assert WalCheckpointer.for_url(url) is None
