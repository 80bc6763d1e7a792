"""SQL repositories with exactly the behaviour of ``storage/memory.py``.

Each repository works inside the caller's ``AsyncSession`` (one unit of work) and returns
domain objects; rows never leave this package. ``add`` and ``save`` both store the object
whole (insert or overwrite), as the in-memory repositories do.
"""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from csms.domain.model import (
    ApiKey,
    Charger,
    ChargerEvent,
    ConnectorState,
    IdToken,
    TokenStatus,
)
from csms.storage.sql import tables
from csms.storage.sql._dialect import upsert, values_of
from csms.storage.sql.lean_statements import Prepared, run
from csms.storage.sql.row_mapping import api_key_of, charger_of, connector_of
from csms.storage.sql.session_repository import SessionRepository

__all__ = ["ApiKeyRepository", "ChargerRepository", "SessionRepository", "TokenRepository"]

_chargers = tables.table_of(tables.ChargerRow)
_connectors = tables.table_of(tables.ConnectorRow)
_events = tables.table_of(tables.ChargerEventRow)
_tokens = tables.table_of(tables.IdTokenRow)
_api_keys = tables.table_of(tables.ApiKeyRow)

# Built once: a statement built per call (and its cache key) costs more than running it.
# Prepared: on SQLite they run straight on the transaction's sqlite3 connection (ADR 0013).
CHARGER = Prepared(select(_chargers).where(_chargers.c.id == bindparam("p_id")))
CONNECTORS = Prepared(
    select(_connectors)
    .where(_connectors.c.charger_id == bindparam("p_id"))
    .order_by(_connectors.c.evse_id, _connectors.c.connector_id)
)
_CONNECTOR_BY_EVSE_REF = Prepared(
    select(_connectors)
    .where(_connectors.c.evse_ref == bindparam("p_ref"))
    .order_by(_connectors.c.charger_id, _connectors.c.evse_id, _connectors.c.connector_id)
)
_TOKEN = Prepared(select(_tokens).where(_tokens.c.id_token == bindparam("p_token")))
_USER_TOKENS = Prepared(
    select(_tokens).where(_tokens.c.user_id == bindparam("p_user")).order_by(_tokens.c.id_token)
)
API_KEY = Prepared(select(_api_keys).where(_api_keys.c.id == bindparam("p_id")))


class ChargerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, charger_id: str) -> Charger | None:
        found = await run(self._session, CHARGER, {"p_id": charger_id})
        return charger_of(found[0]) if found else None

    async def add(self, charger: Charger) -> None:
        await self.save(charger)

    async def save(self, charger: Charger) -> None:
        await upsert(self._session, _chargers, values_of(charger), ["id"])

    async def list(self) -> builtins.list[Charger]:
        result = await self._session.execute(select(_chargers).order_by(tables.ChargerRow.id))
        return [_charger(row) for row in result]

    async def set_connector(self, state: ConnectorState) -> None:
        keys = ["charger_id", "evse_id", "connector_id"]
        await upsert(self._session, _connectors, values_of(state), keys)

    async def connectors(self, charger_id: str) -> builtins.list[ConnectorState]:
        rows = await run(self._session, CONNECTORS, {"p_id": charger_id})
        return [connector_of(row) for row in rows]

    async def connector_by_evse_ref(self, evse_ref: str) -> ConnectorState | None:
        found = await run(self._session, _CONNECTOR_BY_EVSE_REF, {"p_ref": evse_ref})
        return ConnectorState(**found[0]) if found else None

    async def add_event(self, event: ChargerEvent) -> None:
        await self._session.execute(_events.insert().values(values_of(event)))

    async def events(self, charger_id: str, kind: str | None = None) -> builtins.list[ChargerEvent]:
        row = tables.ChargerEventRow
        stmt = select(row.charger_id, row.kind, row.timestamp, row.data).where(
            row.charger_id == charger_id
        )
        if kind is not None:
            stmt = stmt.where(row.kind == kind)
        result = await self._session.execute(stmt.order_by(row.id))
        return [ChargerEvent(**r._asdict()) for r in result]

    async def mark_all_offline(self) -> None:
        await self._session.execute(
            update(_chargers).where(tables.ChargerRow.online.is_(True)).values(online=False)
        )


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, id_token: str) -> IdToken | None:
        found = await run(self._session, _TOKEN, {"p_token": id_token})
        return _token(found[0]) if found else None

    async def add(self, token: IdToken) -> None:
        await self.save(token)

    async def save(self, token: IdToken) -> None:
        await upsert(self._session, _tokens, values_of(token), ["id_token"])

    async def list(self) -> builtins.list[IdToken]:
        result = await self._session.execute(select(_tokens).order_by(tables.IdTokenRow.id_token))
        return [_token(row._asdict()) for row in result]

    async def for_user(self, user_id: str) -> builtins.list[IdToken]:
        return [_token(r) for r in await run(self._session, _USER_TOKENS, {"p_user": user_id})]


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, key_id: str) -> ApiKey | None:
        found = await run(self._session, API_KEY, {"p_id": key_id})
        return api_key_of(found[0]) if found else None

    async def add(self, key: ApiKey) -> None:
        await self.save(key)

    async def save(self, key: ApiKey) -> None:
        await upsert(self._session, _api_keys, values_of(key), ["id"])

    async def list(self) -> builtins.list[ApiKey]:
        row = tables.ApiKeyRow
        result = await self._session.execute(select(_api_keys).order_by(row.created_at, row.id))
        return [ApiKey(**r._asdict()) for r in result]


def _charger(row: Row[Any]) -> Charger:
    return charger_of(row._asdict())


def _token(values: dict[str, Any]) -> IdToken:
    token = IdToken(**values)
    token.status = TokenStatus(token.status)
    return token
