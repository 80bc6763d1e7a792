"""Build the async engine: async drivers, SQLite pragmas, a folder for the database file."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from csms.storage.sql import inline_sqlite

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
    # Page cache per connection: up to 16 MiB, not SQLite's default 2 MiB. A flood from 1,000
    # chargers writes about 2,000 pages at random (each session's row, the last leaf of its
    # samples in the dedupe index, its transaction-event keys); with 2 MiB the writer read about
    # two pages per message back from the WAL file (strace in the flood: pread64 2.0 -> 0.1 per
    # message). Pages are allocated as they are used; at most 16 MiB per connection.
    "PRAGMA cache_size=-16384",
)

# Charger-supplied JSON may hold values json cannot encode (a datetime in event data): store
# their text rather than fail a write the charger would only retry forever.
json_dumps = functools.partial(json.dumps, default=str)


def async_url(url: str) -> URL:
    """Parse ``url`` and swap a plain ``sqlite``/``postgresql`` scheme for its async driver.

    Config files and operators write ``sqlite:///./data/csms.db`` or ``postgresql://...``; the
    storage layer only runs on asyncio drivers, so the rewrite happens here, in one place.
    """
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


class _NoRows(logging.Filter):
    """SQLAlchemy at DEBUG logs every result row; rows hold stored secrets (OCPI token B,
    webhook secrets), so their contents are left out. Statements still show (INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Row %r":
            record.msg, record.args = "Row (contents not logged)", ()
        return True


logging.getLogger("sqlalchemy.engine.Engine").addFilter(_NoRows())


def create_engine(url: str) -> AsyncEngine:
    """Create the ``AsyncEngine`` for ``url`` (plain or async scheme).

    For SQLite the database file's folder is created, statements run on the event loop's
    thread (``inline_sqlite``: no aiosqlite thread) and every new connection gets WAL,
    ``synchronous=NORMAL``, a 5 s busy timeout and enforced foreign keys.
    """
    parsed = async_url(url)
    # hide_parameters: SQL logged at DEBUG (or in an error) never shows bound values -- OCPI
    # token B and webhook secrets are stored as they are and must not reach the logs.
    options: dict[str, Any] = {"json_serializer": json_dumps, "hide_parameters": True}
    if parsed.get_backend_name() != "sqlite":
        engine = create_async_engine(parsed, pool_pre_ping=True, **options)
        return engine
    _create_parent_folder(parsed)
    connect = inline_sqlite.connector(parsed.database or ":memory:", uri=_is_uri(parsed))
    engine = create_async_engine(parsed, async_creator=connect, **options)
    event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


def sqlite_file(url: str | URL) -> str | None:
    """The path of a SQLite database file; None for another backend, in memory or a URI."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or _is_uri(parsed) or database.startswith("file:"):
        return None
    return database


def _is_uri(parsed: URL) -> bool:
    """SQLite's ``?uri=true``: the database is a ``file:`` URI, options and all."""
    return str(parsed.query.get("uri", "")).lower() in ("1", "true")


def _create_parent_folder(url: URL) -> None:
    database = sqlite_file(url)
    if database is not None:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    execute_pragmas(dbapi_connection, SQLITE_PRAGMAS)


def execute_pragmas(dbapi_connection: Any, pragmas: Sequence[str]) -> None:
    """Run ``pragmas`` on a new connection (from an engine's ``connect`` event)."""
    cursor = dbapi_connection.cursor()
    try:
        for pragma in pragmas:
            cursor.execute(pragma)
    finally:
        cursor.close()
