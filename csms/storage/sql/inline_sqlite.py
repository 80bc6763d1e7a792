"""SQLite for SQLAlchemy's asyncio engine, run on the event loop's own thread (ADR 0006).

aiosqlite runs every call (execute, fetch, close, commit) in a thread of its own and hands the
result back to the loop. Under load each of those hand-overs costs more than the statement:
the loop thread waits for the GIL the worker thread holds, a few hundred microseconds each,
several times per query. A local SQLite statement takes microseconds, so this shim runs it
right away and gives SQLAlchemy's asyncio adapter the aiosqlite-shaped object it expects
(via ``create_async_engine(async_creator=...)``), with no thread at all.

What it gives up: a statement blocks the loop while it runs. Our statements are indexed and
small, writes go through one writer task (``SqlDatabase``), and WAL mode keeps readers and the
writer from waiting for each other; the busy timeout only matters when another process (the
``csms`` CLI) holds the write lock for its few milliseconds.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any


class _Now:
    """Stands in for aiosqlite's queue of calls to its thread: runs each call at once.

    SQLAlchemy's adapter sets the isolation level by putting ``(future, function)`` here.
    """

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to whoever awaits the future
            future.set_exception(exc)
        else:
            future.set_result(result)


class InlineCursor:
    """An aiosqlite-shaped cursor over a ``sqlite3.Cursor``."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        if size is None:
            return self._cursor.fetchmany()
        return self._cursor.fetchmany(size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """An aiosqlite-shaped connection over a ``sqlite3.Connection``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._tx = _Now()

    @property
    def _connection(self) -> sqlite3.Connection | None:
        """What SQLAlchemy checks before commit and rollback (None once closed)."""
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._live().isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._live().cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        self._live().commit()

    async def rollback(self) -> None:
        self._live().rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._live().create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection itself, for multi-row writes without SQLAlchemy's per-row work."""
        return self._live()

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("Connection closed")
        return self._conn


def connector(database: str, *, uri: bool = False) -> Callable[..., Any]:
    """The ``async_creator`` for ``create_async_engine``: a new inline connection each call."""

    async def connect(*_args: Any, **_kwargs: Any) -> InlineConnection:
        conn = sqlite3.connect(database, uri=uri, check_same_thread=False)
        return InlineConnection(conn)

    return connect
