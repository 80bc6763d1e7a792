"""The naive baseline's storage: one statement batch and one commit per OCPP message.

SQLite goes through the standard ``sqlite3`` module, called straight from the event loop (as a
first version does); PostgreSQL through an ``asyncpg`` pool. The SQL is written once with
``$n`` placeholders and rewritten to ``?`` for SQLite.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from typing import Any

ENERGY = "Energy.Active.Import.Register"
Sample = tuple[str | None, str | None, str | None, float, str | None]  # ts, measurand, ctx, v, u

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chargers (id TEXT PRIMARY KEY, protocol TEXT, vendor TEXT,
    model TEXT, last_boot TEXT, last_seen TEXT);
CREATE TABLE IF NOT EXISTS connectors (charger_id TEXT, connector_id INTEGER, status TEXT,
    timestamp TEXT, PRIMARY KEY (charger_id, connector_id));
CREATE TABLE IF NOT EXISTS tokens (id_tag TEXT PRIMARY KEY, status TEXT);
CREATE TABLE IF NOT EXISTS transactions (id {serial}, charger_id TEXT, tx_key TEXT,
    id_tag TEXT, meter_start REAL, meter_stop REAL, started_at TEXT, stopped_at TEXT);
CREATE TABLE IF NOT EXISTS meter_samples (id {serial}, charger_id TEXT, transaction_id TEXT,
    timestamp TEXT, measurand TEXT, context TEXT, value REAL, unit TEXT);
CREATE TABLE IF NOT EXISTS remote_starts (id {serial}, charger_id TEXT, requested_at TEXT);
"""
_SERIAL = {"sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT", "postgres": "BIGSERIAL PRIMARY KEY"}
_INSERT_SAMPLE = (
    "INSERT INTO meter_samples (charger_id, transaction_id, timestamp, measurand, context, "
    "value, unit) VALUES ($1, $2, $3, $4, $5, $6, $7)"
)
_INSERT_TX = (
    "INSERT INTO transactions (charger_id, tx_key, id_tag, meter_start, started_at) "
    "VALUES ($1, $2, $3, $4, $5) RETURNING id"
)

Statement = tuple[str, tuple[Any, ...]]


def samples(meter_values: list[dict[str, Any]]) -> list[Sample]:
    """Rows from snake_cased ``meterValue`` objects (1.6 values are strings, 2.0.1 numbers)."""
    rows: list[Sample] = []
    for meter_value in meter_values:
        for sv in meter_value.get("sampled_value", []):
            unit = sv.get("unit") or (sv.get("unit_of_measure") or {}).get("unit")
            stamp, measurand = meter_value.get("timestamp"), sv.get("measurand", ENERGY)
            rows.append((stamp, measurand, sv.get("context"), float(sv["value"]), unit))
    return rows


def register_wh(rows: list[Sample]) -> float | None:
    for _, measurand, _, value, unit in rows:
        if measurand == ENERGY:
            return value * 1000 if unit == "kWh" else value
    return None


class Store:
    """Writes of the naive CSMS; each method is one message and one commit."""

    def now(self) -> str:
        return datetime.now(UTC).isoformat().replace("+00:00", "Z")

    async def boot(self, charger: str, protocol: str, vendor: Any, model: Any) -> None:
        sql = (
            "INSERT INTO chargers (id, protocol, vendor, model, last_boot, last_seen) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET "
            "protocol = excluded.protocol, vendor = excluded.vendor, model = excluded.model, "
            "last_boot = excluded.last_boot, last_seen = excluded.last_seen"
        )
        now = self.now()
        await self._commit([(sql, (charger, protocol, vendor, model, now, now))])

    async def seen(self, charger: str) -> None:
        sql = "UPDATE chargers SET last_seen = $1 WHERE id = $2"
        await self._commit([(sql, (self.now(), charger))])

    async def status(self, charger: str, connector: int, status: str, at: Any) -> None:
        sql = (
            "INSERT INTO connectors (charger_id, connector_id, status, timestamp) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (charger_id, connector_id) DO UPDATE SET "
            "status = excluded.status, timestamp = excluded.timestamp"
        )
        await self._commit([(sql, (charger, connector, status, at))])

    async def token(self, id_tag: str) -> None:
        await self._fetch("SELECT status FROM tokens WHERE id_tag = $1", (id_tag,))

    async def start(
        self,
        charger: str,
        key: str | None,
        id_tag: str | None,
        meter_start: float | None,
        at: str,
        values: list[Sample],
    ) -> int:
        first = (_INSERT_TX, (charger, key, id_tag, meter_start, at))
        return await self._commit([first, *self._sample_rows(charger, key, values)])

    async def samples(self, charger: str, key: str | None, values: list[Sample]) -> None:
        await self._commit(self._sample_rows(charger, key, values))

    async def stop(
        self, charger: str, tx: int | str, meter_stop: float | None, at: str, values: list[Sample]
    ) -> None:
        """``tx``: our row id (1.6 transactionId) or the charger's 2.0.1 transactionId."""
        sql = "UPDATE transactions SET meter_stop = $1, stopped_at = $2 WHERE "
        args: tuple[Any, ...]
        if isinstance(tx, int):
            sql, args = sql + "id = $3", (meter_stop, at, tx)
        else:
            sql, args = sql + "charger_id = $3 AND tx_key = $4", (meter_stop, at, charger, tx)
        await self._commit([(sql, args), *self._sample_rows(charger, str(tx), values)])

    async def remote_start(self, charger: str) -> None:
        sql = "INSERT INTO remote_starts (charger_id, requested_at) VALUES ($1, $2)"
        await self._commit([(sql, (charger, self.now()))])

    def _sample_rows(self, charger: str, key: str | None, values: list[Sample]) -> list[Statement]:
        return [(_INSERT_SAMPLE, (charger, key, *row[:3], row[3], row[4])) for row in values]

    async def _commit(self, statements: list[Statement]) -> int:
        """Run ``statements`` in one transaction; the id a ``RETURNING id`` gave, else 0."""
        raise NotImplementedError

    async def _fetch(self, sql: str, args: tuple[Any, ...]) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class SqliteStore(Store):
    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000"):
            self._conn.execute(f"PRAGMA {pragma}")
        self._conn.executescript(_SCHEMA.format(serial=_SERIAL["sqlite"]))

    async def _commit(self, statements: list[Statement]) -> int:
        returned = 0
        self._conn.execute("BEGIN")
        try:
            for sql, args in statements:
                row = self._conn.execute(_qmarks(sql), args).fetchone()
                if row is not None:
                    returned = int(row[0])
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return returned

    async def _fetch(self, sql: str, args: tuple[Any, ...]) -> None:
        self._conn.execute(_qmarks(sql), args).fetchall()

    async def close(self) -> None:
        self._conn.close()


class PostgresStore(Store):
    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def _commit(self, statements: list[Statement]) -> int:
        returned = 0
        async with self._pool.acquire() as conn, conn.transaction():
            for sql, args in statements:
                row = await conn.fetchrow(sql, *args)
                if row is not None:
                    returned = int(row[0])
        return returned

    async def _fetch(self, sql: str, args: tuple[Any, ...]) -> None:
        await self._pool.fetch(sql, *args)

    async def close(self) -> None:
        await self._pool.close()


async def open_store(url: str) -> Store:
    """``sqlite:PATH`` or ``postgresql://...``; the schema is created if missing."""
    if url.startswith("sqlite:"):
        return SqliteStore(url.removeprefix("sqlite:"))
    import asyncpg  # type: ignore[import-untyped]  # the postgres extra; no type hints

    pool = await asyncpg.create_pool(url)
    async with pool.acquire() as conn:
        await conn.execute(_SCHEMA.format(serial=_SERIAL["postgres"]))
    return PostgresStore(pool)


def _qmarks(sql: str) -> str:
    return re.sub(r"\$\d+", "?", sql)
