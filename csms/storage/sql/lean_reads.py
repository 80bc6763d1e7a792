"""The reads of every connect as plain sqlite3 statements, without an ORM session.

Each charger that connects is read at its handshake (admission), its connectors at its first
status since start-up, and each API request reads its API key. Through the ORM each of those
opened a session, checked a connection out of the pool, compiled and ran a ``select`` and
closed the session again: in a 10,000-charger reconnect storm that was a third of the server's
time (issue 5). On SQLite (statements on the loop's thread, ADR 0006) these few primary-key
reads run on one connection held for them, with the values converted exactly as the column
types would (a test compares both); PostgreSQL keeps the ORM path.

Only committed data is seen, as through the ORM: each statement is stepped to its end
(``fetchall``), so no read transaction stays open on the held connection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Table

from csms.domain.model import ApiKey, Charger, ConnectorState
from csms.storage.sql import tables
from csms.storage.sql.row_mapping import api_key_of, charger_of, connector_of

_Convert = Callable[[Any], Any] | None


class _Select:
    """``SELECT <every column> FROM table WHERE ...`` and the result converters of its columns."""

    def __init__(self, table: Table, where: str, order_by: str = "") -> None:
        names = [column.name for column in table.c]
        self.names = tuple(names)
        tail = f" ORDER BY {order_by}" if order_by else ""
        self.sql = f"SELECT {', '.join(names)} FROM {table.name} WHERE {where}{tail}"
        self._converters = tuple(
            (index, convert)
            for index, column in enumerate(table.c)
            if (convert := _result_converter(column.type)) is not None
        )

    def rows(self, conn: sqlite3.Connection, params: Sequence[Any]) -> list[dict[str, Any]]:
        found = conn.execute(self.sql, params).fetchall()  # to the end: no open read
        out = []
        for row in found:
            values = list(row)
            for index, convert in self._converters:
                if values[index] is not None:
                    values[index] = convert(values[index])
            out.append(dict(zip(self.names, values, strict=True)))
        return out


def _result_converter(column_type: Any) -> _Convert:
    if isinstance(column_type, tables.UtcDateTime):
        return _utc
    if isinstance(column_type, JSON):
        return json.loads
    if isinstance(column_type, Boolean):
        return bool
    if isinstance(column_type, String | Integer):
        return None  # sqlite3 gives them as the ORM would
    # A type this module does not know would come back unconverted: fail at import instead.
    raise TypeError(f"lean_reads cannot convert a {column_type!r} column")


def _utc(value: str) -> datetime:
    """SQLAlchemy's SQLite ``DATETIME`` text (naive UTC) as the aware UTC time it stands for."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


_CHARGER = _Select(tables.table_of(tables.ChargerRow), "id = ?")
_CONNECTORS = _Select(
    tables.table_of(tables.ConnectorRow), "charger_id = ?", "evse_id, connector_id"
)
_API_KEY = _Select(tables.table_of(tables.ApiKeyRow), "id = ?")


class LeanReads:
    """Primary-key reads on a sqlite3 connection of the loop's thread (see the module)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def charger(self, charger_id: str) -> Charger | None:
        found = _CHARGER.rows(self._conn, (charger_id,))
        return charger_of(found[0]) if found else None

    def connectors(self, charger_id: str) -> list[ConnectorState]:
        return [connector_of(row) for row in _CONNECTORS.rows(self._conn, (charger_id,))]

    def api_key(self, key_id: str) -> ApiKey | None:
        found = _API_KEY.rows(self._conn, (key_id,))
        return api_key_of(found[0]) if found else None
