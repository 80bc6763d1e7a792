"""Prebuilt Core statements run straight on the sqlite3 connection of a session's transaction.

Inside a work function every ``session.execute`` passes through SQLAlchemy's ORM and Core
layers: about 170 us per statement on this machine, where sqlite3 runs the same primary-key
``SELECT`` in 12 us. A remote start runs about a dozen such statements in its two writes and
one read (issue 5). On SQLite with statements on the loop's thread (``inline_sqlite``, ADR
0006) the session's connection *is* a sqlite3 connection, so a statement can run on it
directly, inside the same transaction (the sqlite3 module begins one before the first write,
as it does for SQLAlchemy; the session commits or rolls it back as usual).

A :class:`Prepared` statement is compiled once for the SQLite dialect, and its parameters and
result values go through the very bind and result processors SQLAlchemy would use for the
columns' types (``UtcDateTime``, ``JSON``, ``Boolean``...), so both paths read and write the
same values (a test compares them), and a sqlite3 error is raised as the SQLAlchemy exception
the session would have raised (``IntegrityError``, ``OperationalError``...). Elsewhere
(PostgreSQL, or an engine whose connections are not inline ones) :func:`run` executes the
statement through the session as before.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from csms.storage.sql.inline_sqlite import InlineConnection

_Process = Callable[[Any], Any] | None
_RAW = "csms.lean_statements.raw"  # session.info key: (transaction, sqlite3 connection | None)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    binds: tuple[str, ...]  # parameter names in placeholder order
    defaults: Mapping[str, Any]  # values of the binds the statement itself holds (LIMIT 1...)
    bind_processors: tuple[_Process, ...]
    names: tuple[str, ...]  # result columns
    result_processors: tuple[_Process, ...]

    def run(self, conn: sqlite3.Connection, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        values = []
        for name, process in zip(self.binds, self.bind_processors, strict=True):
            value = params[name] if name in params else self.defaults[name]
            values.append(value if process is None or value is None else process(value))
        cursor = conn.execute(self.sql, values)
        if not self.names:
            cursor.close()
            return []
        out = []
        for row in cursor.fetchall():  # to the end: a SELECT leaves nothing open
            item = {}
            for name, value, process in zip(self.names, row, self.result_processors, strict=True):
                item[name] = value if process is None or value is None else process(value)
            out.append(item)
        return out


class Prepared:
    """A prebuilt statement (built once, parameters as ``bindparam`` names).

    ``columns``: for an ``INSERT`` without ``values()``, the columns every execution gives (as
    SQLAlchemy would take them from the parameters); it must cover every column that has a
    Python-side default, which only SQLAlchemy's execution would fill in.
    """

    __slots__ = ("_compiled", "columns", "statement")

    def __init__(self, statement: Executable, columns: tuple[str, ...] | None = None) -> None:
        self.statement = statement
        self.columns = columns
        self._compiled: _Compiled | None = None

    def for_sqlite(self, dialect: Dialect) -> _Compiled:
        if self._compiled is None:
            self._compiled = _compile(self.statement, dialect, self.columns)
        return self._compiled


def _compile(statement: Executable, dialect: Dialect, columns: tuple[str, ...] | None) -> _Compiled:
    keys = list(columns) if columns is not None else None
    element: Any = statement
    compiled: Any = element.compile(dialect=dialect, column_keys=keys)
    if any(bind.expanding for bind in compiled.binds.values()):
        # SQLAlchemy renders an IN list per execution: spell it as ORs of equalities instead.
        raise TypeError("lean statements cannot hold an IN list (an expanding parameter)")
    table = getattr(statement, "table", None) if getattr(statement, "is_insert", False) else None
    if table is not None and any(
        column.default is not None and column.key not in (columns or ()) for column in table.columns
    ):
        raise TypeError(f"{table.name}: a column with a Python-side default must be given")
    binds = tuple(compiled.positiontup or ())
    defaults = compiled.construct_params(_check=False)
    bind_types = {name: bind.type for name, bind in compiled.binds.items()}
    bind_processors = tuple(_bind_processor(bind_types, name, dialect) for name in binds)
    selected = list(getattr(statement, "selected_columns", ()) or ())
    if not selected:
        selected = list(getattr(statement, "_returning", ()) or ())
    names = tuple(column.key for column in selected)
    result_processors = tuple(
        column.type._cached_result_processor(dialect, None) for column in selected
    )
    return _Compiled(compiled.string, binds, defaults, bind_processors, names, result_processors)


def _bind_processor(types: Mapping[str, Any], name: str, dialect: Dialect) -> _Process:
    return types[name]._cached_bind_processor(dialect)  # type: ignore[no-any-return]


async def run(
    session: AsyncSession, prepared: Prepared, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Execute ``prepared`` in ``session``'s transaction; its rows as column -> value dicts."""
    raw = await _inline_sqlite(session)
    if raw is None:
        result: Any = await session.execute(prepared.statement, dict(params or {}))
        return [row._asdict() for row in result] if result.returns_rows else []
    compiled = prepared.for_sqlite(session.get_bind().dialect)
    try:
        return compiled.run(raw, params or {})
    except sqlite3.Error as exc:  # raised as SQLAlchemy raises it: the same class for callers
        raise DBAPIError.instance(
            compiled.sql, None, exc, sqlite3.Error, hide_parameters=True
        ) from exc


async def _inline_sqlite(session: AsyncSession) -> sqlite3.Connection | None:
    """The sqlite3 connection of the session's current transaction, None if not inline."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    held = session.info.get(_RAW)
    transaction = session.sync_session.get_transaction()
    if held is not None and transaction is not None and held[0] is transaction:
        return held[1]  # type: ignore[no-any-return]
    connection = await session.connection()  # begins the session's transaction if need be
    driver = (await connection.get_raw_connection()).driver_connection
    raw = driver.sqlite() if isinstance(driver, InlineConnection) else None
    session.info[_RAW] = (session.sync_session.get_transaction(), raw)
    return raw
