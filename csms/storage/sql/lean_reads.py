"""The reads of every connect as plain sqlite3 statements, without an ORM session.

Each charger that connects is read at its handshake (admission), its connectors at its first
status since start-up, and each API request reads its API key. Through the ORM each of those
opened a session, checked a connection out of the pool, compiled and ran a ``select`` and
closed the session again: in a 10,000-charger reconnect storm that was a third of the server's
time (issue 5). On SQLite (statements on the loop's thread, ADR 0006) these few primary-key
reads run on one connection held for them, with the values converted exactly as the column
types would (the repositories' prepared statements, ADR 0013; a test compares both);
PostgreSQL keeps the ORM path.

Only committed data is seen, as through the ORM: each statement is stepped to its end
(``fetchall``), so no read transaction stays open on the held connection.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.engine import Dialect

from csms.domain.model import ApiKey, Charger, ConnectorState
from csms.storage.sql.repositories import API_KEY, CHARGER, CONNECTORS
from csms.storage.sql.row_mapping import api_key_of, charger_of, connector_of


class LeanReads:
    """Primary-key reads on a sqlite3 connection of the loop's thread (see the module): the
    repositories' prepared statements, with their type conversions (``lean_statements``)."""

    def __init__(self, conn: sqlite3.Connection, dialect: Dialect) -> None:
        self._conn = conn
        self._charger = CHARGER.for_sqlite(dialect)
        self._connectors = CONNECTORS.for_sqlite(dialect)
        self._api_key = API_KEY.for_sqlite(dialect)

    def charger(self, charger_id: str) -> Charger | None:
        found = self._charger.run(self._conn, {"p_id": charger_id})
        return charger_of(found[0]) if found else None

    def connectors(self, charger_id: str) -> list[ConnectorState]:
        return [connector_of(row) for row in self._connectors.run(self._conn, {"p_id": charger_id})]

    def api_key(self, key_id: str) -> ApiKey | None:
        found = self._api_key.run(self._conn, {"p_id": key_id})
        return api_key_of(found[0]) if found else None
