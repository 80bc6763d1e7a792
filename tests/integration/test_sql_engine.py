"""Engine set-up and migrations, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from csms.storage.sql import SqlDatabase, async_url, create_engine, migrate, migrate_sync
from csms.storage.sql.tables import Base


def test_async_url_rewrites_plain_schemes_to_async_drivers() -> None:
    """Plain sqlite and postgresql URLs get the aiosqlite and asyncpg drivers."""
    assert async_url("sqlite:///./data/csms.db").drivername == "sqlite+aiosqlite"
    assert async_url("postgresql://u:p@h/db").drivername == "postgresql+asyncpg"
    assert async_url("postgresql+asyncpg://h/db").drivername == "postgresql+asyncpg"


async def test_sqlite_engine_creates_folder_and_sets_pragmas(tmp_path: Path) -> None:
    """A SQLite engine creates the file's folder and sets WAL, NORMAL, busy timeout and FKs."""
    engine = create_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'csms.db'}")
    try:
        async with engine.connect() as conn:
            pragmas = [
                (await conn.execute(text(f"PRAGMA {name}"))).scalar_one()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            ]
    finally:
        await engine.dispose()
    assert (tmp_path / "nested" / "dir").is_dir()
    assert pragmas == ["wal", 1, 5000, 1]


async def test_migration_matches_tables(database_url: str) -> None:
    """Migrating to head builds exactly the schema declared in tables.py, and can run twice."""
    await migrate(database_url)
    await migrate(database_url)
    engine = create_engine(database_url)

    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_migrate_sync_works_inside_a_running_loop(database_url: str) -> None:
    """migrate_sync can be called from a coroutine without clashing with the running loop."""
    migrate_sync(database_url)
    db = SqlDatabase(create_engine(database_url))
    try:
        assert await db.read(lambda uow: uow.chargers.list()) == []
    finally:
        await db.close()
