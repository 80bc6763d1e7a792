"""``Database.apply`` over SQL: the changes of many callers as a few multi-row statements.

The group-commit writer collects the changes of consecutive ``apply`` calls in a
:class:`StagedChanges` and flushes it (one ``executemany`` per kind of change) before the next
``write`` in the batch runs and before the commit, so every write sees the changes queued
before it and the journal keeps the order in which events were queued. Within one flush the
last change to a row wins (changes to a charger are merged field by field, in order).
"""

from __future__ import annotations

import enum
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from operator import attrgetter, itemgetter
from typing import Any, cast

from sqlalchemy import JSON, Executable, Table, bindparam, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from csms.domain.changes import (
    METERED_FIELDS,
    Change,
    ChargerRegistered,
    ChargerUpdated,
    ConnectorStatusSet,
    EventJournaled,
    SamplesAdded,
    SessionMetered,
    TransactionEventSeen,
)
from csms.domain.model import SessionStatus
from csms.storage.sql import tables
from csms.storage.sql._dialect import dialect_insert, values_of
from csms.storage.sql.engine import json_dumps
from csms.storage.sql.inline_sqlite import InlineConnection
from csms.storage.sql.session_repository import SAMPLE_COLUMNS, sample_key, sample_values

_samples = tables.table_of(tables.MeterSampleRow)
_sessions = tables.table_of(tables.SessionRow)
_seen = tables.table_of(tables.TransactionEventRow)
_journal = tables.table_of(tables.JournalRow)
_chargers = tables.table_of(tables.ChargerRow)
_connectors = tables.table_of(tables.ConnectorRow)

_CONNECTOR_KEY = ("charger_id", "evse_id", "connector_id")
_CONNECTOR_SET = ("status", "error_code", "info", "timestamp")

Rows = list[dict[str, Any]]
Values = tuple[Any, ...]

# The hot changes (every meter value) are staged as tuples of column values, in these orders,
# not as dicts: no dict per row, no lookups by name when the parameters are made.
_VALUE_COLUMNS: dict[str, tuple[str, ...]] = {
    "samples": SAMPLE_COLUMNS,
    "seen": ("charger_id", "transaction_id", "key"),
    "metered": (*METERED_FIELDS, "id"),
}
_metered_values = attrgetter(*_VALUE_COLUMNS["metered"])


class StagedChanges:
    """Changes waiting for the next flush, grouped by statement, each group in queue order."""

    def __init__(self) -> None:
        self._registered: dict[str, dict[str, Any]] = {}
        self._charger_updates: dict[str, dict[str, Any]] = {}
        self._connectors: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._samples: dict[Values, Values] = {}  # by unique key
        self._seen: dict[Values, None] = {}  # the keys are the values
        self._metered: dict[str, Values] = {}  # by session id
        self._journal: Rows = []

    def _staged(self) -> tuple[dict[Any, Any] | list[Any], ...]:
        return (
            self._registered,
            self._charger_updates,
            self._connectors,
            self._samples,
            self._seen,
            self._metered,
            self._journal,
        )

    def clear(self) -> None:
        for staged in self._staged():
            staged.clear()

    def __bool__(self) -> bool:
        return any(self._staged())

    def add(self, changes: Sequence[Change]) -> None:
        for change in changes:
            if isinstance(change, SamplesAdded):
                session_id, samples = change.session_id, self._samples
                for sample in change.samples:
                    values = sample_values(session_id, sample)
                    samples.setdefault(sample_key(values), values)
            elif isinstance(change, SessionMetered):
                session = change.session
                self._metered[session.id] = _metered_values(session)
            elif isinstance(change, EventJournaled):
                event = change.event
                row = {"name": event.name, "subject": event.subject, "at": event.at}
                row["data"] = event.data
                self._journal.append(row)
            elif isinstance(change, TransactionEventSeen):
                self._seen[(change.charger_id, change.transaction_id, change.key)] = None
            else:
                self._add_charger_change(change)

    def _add_charger_change(
        self, change: ChargerRegistered | ChargerUpdated | ConnectorStatusSet
    ) -> None:
        if isinstance(change, ChargerRegistered):
            self._registered.setdefault(change.charger.id, values_of(change.charger))
        elif isinstance(change, ChargerUpdated):
            merged = self._charger_updates.setdefault(change.charger_id, {})
            merged.update(change.values)
        else:
            row = values_of(change.state)
            key = tuple(row[name] for name in _CONNECTOR_KEY)
            known = self._connectors.get(key)
            if known is None or not _older(row["timestamp"], known["timestamp"]):
                self._connectors[key] = row

    def batches(self) -> list[tuple[str, Rows | list[Values]]]:
        """The staged rows as (statement kind, rows), in the order to run them; clears.

        Rows are dicts by column name, or for the kinds in ``_VALUE_COLUMNS`` tuples of values
        in that order.
        """
        out: list[tuple[str, Rows | list[Values]]] = [
            ("registered", list(self._registered.values()))
        ]
        by_fields: dict[tuple[str, ...], Rows] = {}
        for charger_id, values in self._charger_updates.items():
            by_fields.setdefault(tuple(values), []).append({**values, "id": charger_id})
        out += [("charger:" + ",".join(fields), rows) for fields, rows in by_fields.items()]
        out += [
            ("connectors", list(self._connectors.values())),
            ("samples", list(self._samples.values())),
            ("seen", list(self._seen)),
            ("metered", list(self._metered.values())),
            ("journal", list(self._journal)),
        ]
        self.clear()
        return [(kind, rows) for kind, rows in out if rows]

    async def flush(self, session: AsyncSession) -> None:
        """Run the staged statements in ``session``'s transaction and forget them.

        On SQLite they go straight to the sqlite3 connection under the session
        (``inline_sqlite``), with values converted exactly as the SQLAlchemy column types would
        (a test compares both), skipping SQLAlchemy's per-row work; elsewhere they are Core
        ``executemany`` statements.
        """
        if not self:
            return
        conn = await session.connection()
        driver = (await conn.get_raw_connection()).driver_connection
        if isinstance(driver, InlineConnection):
            self.run_sqlite(driver.sqlite())
            return
        dialect = conn.dialect.name
        for kind, staged in self.batches():
            rows = _as_dicts(kind, staged)
            if kind == "metered" or kind.startswith("charger:"):
                rows = [_where_id(row) for row in rows]
            await conn.execute(_core_statement(kind, dialect), rows)

    def run_sqlite(self, raw: sqlite3.Connection) -> None:
        """Run the staged statements on ``raw`` (in its open transaction) and forget them."""
        for sql, params in self.sqlite_statements():
            raw.executemany(sql, params)

    def sqlite_statements(self) -> list[tuple[str, Sequence[Sequence[Any]]]]:
        """The staged statements as sqlite3 SQL and parameter rows, in order; forget them."""
        out = []
        for kind, rows in self.batches():
            statement = _sqlite_statement(kind)
            out.append((statement.sql, statement.params(rows)))
        return out


def _as_dicts(kind: str, rows: Rows | list[Values]) -> Rows:
    columns = _VALUE_COLUMNS.get(kind)
    if columns is None:
        return cast(Rows, rows)
    return [dict(zip(columns, values, strict=True)) for values in cast(list[Values], rows)]


def _older(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and b is not None and a < b


# -- SQLAlchemy Core (PostgreSQL) -----------------------------------------------------------


@cache
def _core_statement(kind: str, dialect: str) -> Executable:
    if kind == "registered":
        return dialect_insert(dialect, _chargers).on_conflict_do_nothing()
    if kind.startswith("charger:"):
        fields = kind.removeprefix("charger:").split(",")
        return _update(_chargers, fields, _chargers.c.id == bindparam("b_id"))
    if kind == "connectors":
        stmt = dialect_insert(dialect, _connectors)
        table = _connectors
        return stmt.on_conflict_do_update(
            index_elements=list(_CONNECTOR_KEY),
            set_={
                **{name: stmt.excluded[name] for name in _CONNECTOR_SET},
                "evse_ref": func.coalesce(stmt.excluded.evse_ref, table.c.evse_ref),
            },
            where=or_(
                table.c.timestamp.is_(None),
                stmt.excluded.timestamp.is_(None),
                table.c.timestamp <= stmt.excluded.timestamp,
            ),
        )
    if kind == "samples":
        return dialect_insert(dialect, _samples).on_conflict_do_nothing()
    if kind == "seen":
        return dialect_insert(dialect, _seen).on_conflict_do_nothing()
    if kind == "metered":
        started = _sessions.c.status == SessionStatus.STARTED.value
        return _update(_sessions, METERED_FIELDS, _sessions.c.id == bindparam("b_id"), started)
    assert kind == "journal", kind
    return _journal.insert()


def _where_id(row: dict[str, Any]) -> dict[str, Any]:
    values = {name: value for name, value in row.items() if name != "id"}
    values["b_id"] = row["id"]
    return values


def _update(table: Table, fields: Sequence[str], *where: Any) -> Executable:
    # Core reserves a column's name for its SET parameter: the WHERE takes ``b_id``.
    return update(table).where(*where).values({name: bindparam(name) for name in fields})


# -- sqlite3 directly ------------------------------------------------------------------------


class _SqliteStatement:
    """A plain SQL statement for sqlite3 and the converters of its parameters, in order.

    ``params`` runs for every row of every flush: only the columns that need converting
    (times, JSON, enums) are touched. Rows are dicts (their values come out with one
    ``itemgetter`` call) or, for ``values=True``, tuples already in the converters' order.
    ``enums``: rows of this statement may hold enum members (charger and connector rows); the
    hot statements' rows are built from plain values.
    """

    __slots__ = ("_converted", "_get", "sql")

    def __init__(
        self,
        sql: str,
        converters: Sequence[tuple[str, Callable[[Any], Any]]],
        *,
        enums: bool,
        values: bool = False,
    ) -> None:
        self.sql = sql
        keys = [key for key, _ in converters]
        self._get: Callable[[Any], Sequence[Any]] | None = None
        if not values:
            self._get = itemgetter(*keys) if len(keys) > 1 else lambda row: (row[keys[0]],)
        self._converted = tuple(
            (index, convert)
            for index, (_, convert) in enumerate(converters)
            if enums or convert is not _plain
        )

    def params(self, rows: Rows | list[Values]) -> Sequence[Sequence[Any]]:
        get, converted = self._get, self._converted
        if not converted:
            return cast(list[Values], rows) if get is None else [get(row) for row in rows]
        out: list[Sequence[Any]] = []
        for row in rows:
            values = list(row if get is None else get(row))
            for index, convert in converted:
                values[index] = convert(values[index])
            out.append(values)
        return out


@cache
def _sqlite_statement(kind: str) -> _SqliteStatement:
    if kind == "registered":
        return _sqlite_insert(
            _chargers, list(_chargers.c.keys()), "ON CONFLICT DO NOTHING", enums=True
        )
    if kind.startswith("charger:"):
        fields = kind.removeprefix("charger:").split(",")
        return _sqlite_update(_chargers, fields, "id = ?", enums=True)
    if kind == "connectors":
        sets = [f"{name} = excluded.{name}" for name in _CONNECTOR_SET]
        sets.append("evse_ref = coalesce(excluded.evse_ref, connectors.evse_ref)")
        tail = (
            f"ON CONFLICT ({', '.join(_CONNECTOR_KEY)}) DO UPDATE SET {', '.join(sets)} "
            "WHERE connectors.timestamp IS NULL OR excluded.timestamp IS NULL "
            "OR connectors.timestamp <= excluded.timestamp"
        )
        return _sqlite_insert(_connectors, list(_connectors.c.keys()), tail, enums=True)
    if kind == "samples":
        columns = _VALUE_COLUMNS[kind]
        return _sqlite_insert(_samples, columns, "ON CONFLICT DO NOTHING", values=True)
    if kind == "seen":
        return _sqlite_insert(_seen, _VALUE_COLUMNS[kind], "ON CONFLICT DO NOTHING", values=True)
    if kind == "metered":
        started = f"status = '{SessionStatus.STARTED.value}'"
        return _sqlite_update(_sessions, METERED_FIELDS, f"id = ? AND {started}", values=True)
    assert kind == "journal", kind
    return _sqlite_insert(_journal, ["name", "subject", "at", "data"], "")


def _sqlite_insert(
    table: Table, columns: Sequence[str], tail: str, *, enums: bool = False, values: bool = False
) -> _SqliteStatement:
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks}) {tail}".strip()
    converters = [(name, _converter(table, name)) for name in columns]
    return _SqliteStatement(sql, converters, enums=enums, values=values)


def _sqlite_update(
    table: Table, fields: Sequence[str], where: str, *, enums: bool = False, values: bool = False
) -> _SqliteStatement:
    sets = ", ".join(f"{name} = ?" for name in fields)
    sql = f"UPDATE {table.name} SET {sets} WHERE {where}"
    converters = [(name, _converter(table, name)) for name in [*fields, "id"]]
    return _SqliteStatement(sql, converters, enums=enums, values=values)


def _converter(table: Table, column: str) -> Callable[[Any], Any]:
    column_type: TypeEngine[Any] = table.c[column].type
    if isinstance(column_type, tables.UtcDateTime):
        return _sqlite_time
    if isinstance(column_type, JSON):
        return json_dumps
    return _plain


def _sqlite_time(value: datetime | None) -> str | None:
    """As SQLAlchemy's SQLite ``DATETIME`` stores a naive UTC time (always 6 digits).

    Remembered for the last few thousand times: a session's charging start is written again
    with every meter value.
    """
    if value is None:
        return None
    text = _TIMES.get(value)
    if text is not None:
        return text
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the domain only deals in aware UTC")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    text = _TIME_TEXT % (
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )
    if len(_TIMES) >= _TIMES_KEPT:
        _TIMES.clear()
    _TIMES[value] = text
    return text


_TIME_TEXT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"  # isoformat(" ", "microseconds"), cheaper
_TIMES: dict[datetime, str] = {}
_TIMES_KEPT = 4096


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value
