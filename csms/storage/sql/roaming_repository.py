"""SQL repository of OCPI partners, their tokens and the sessions that belong to them."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.domain.model import (
    OcpiPartner,
    PartnerStatus,
    RoamingSession,
    RoamingToken,
    Session,
    SessionStatus,
)
from csms.storage.sql import tables
from csms.storage.sql._dialect import upsert, values_of
from csms.storage.sql.session_repository import session_of

_partners = tables.table_of(tables.OcpiPartnerRow)
_tokens = tables.table_of(tables.OcpiTokenRow)
_links = tables.table_of(tables.OcpiSessionRow)
_sessions = tables.table_of(tables.SessionRow)
_P, _T, _L, _S = (
    tables.OcpiPartnerRow,
    tables.OcpiTokenRow,
    tables.OcpiSessionRow,
    tables.SessionRow,
)


class RoamingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def partner(self, partner_id: str) -> OcpiPartner | None:
        return await self._partner(_P.id == partner_id)

    async def partner_by_token(self, token_hash: str) -> OcpiPartner | None:
        return await self._partner(_P.token_hash == token_hash)

    async def partners(self) -> builtins.list[OcpiPartner]:
        result = await self._session.execute(select(_partners).order_by(_P.created_at, _P.id))
        return [_partner_of(r) for r in result]

    async def save_partner(self, partner: OcpiPartner) -> None:
        await upsert(self._session, _partners, values_of(partner), ["id"])

    async def _partner(self, where: ColumnElement[bool]) -> OcpiPartner | None:
        row = (await self._session.execute(select(_partners).where(where))).first()
        return _partner_of(row) if row else None

    async def token(
        self, country_code: str, party_id: str, uid: str, type: str
    ) -> RoamingToken | None:
        result = await self._session.execute(
            select(_tokens).where(
                _T.country_code == country_code,
                _T.party_id == party_id,
                _T.uid == uid,
                _T.type == type,
            )
        )
        row = result.first()
        return RoamingToken(**row._asdict()) if row else None

    async def tokens_by_uid(self, uid: str) -> builtins.list[RoamingToken]:
        result = await self._session.execute(
            select(_tokens).where(_T.uid == uid).order_by(_T.last_updated)
        )
        return [RoamingToken(**r._asdict()) for r in result]

    async def save_token(self, token: RoamingToken) -> None:
        keys = ["country_code", "party_id", "uid", "type"]
        await upsert(self._session, _tokens, values_of(token), keys)

    async def session(self, session_id: str) -> RoamingSession | None:
        row = (
            await self._session.execute(select(_links).where(_L.session_id == session_id))
        ).first()
        return RoamingSession(**row._asdict()) if row else None

    async def add_session(self, link: RoamingSession) -> None:
        await upsert(self._session, _links, values_of(link), ["session_id"])

    async def sessions(
        self,
        partner_id: str,
        *,
        updated_from: datetime | None,
        updated_to: datetime | None,
        ended_only: bool,
        offset: int,
        limit: int,
    ) -> tuple[int, builtins.list[tuple[Session, RoamingSession]]]:
        where: list[ColumnElement[bool]] = [_L.partner_id == partner_id]
        if updated_from is not None:
            where.append(_S.updated_at >= updated_from)
        if updated_to is not None:
            where.append(_S.updated_at < updated_to)
        if ended_only:
            where.append(_S.status == SessionStatus.ENDED.value)
        joined = _sessions.join(_links, _L.session_id == _S.id)
        total = await self._session.execute(select(func.count()).select_from(joined).where(*where))
        page = await self._session.execute(
            select(_sessions, *_link_columns())
            .select_from(joined)
            .where(*where)
            .order_by(_S.updated_at, _S.id)
            .offset(offset)
            .limit(limit)
        )
        found = [(_session_part(r), _link_part(r)) for r in page]
        return int(total.scalar_one()), found


_LINK_PREFIX = "ocpi_"


def _link_columns() -> list[Any]:
    return [c.label(_LINK_PREFIX + c.name) for c in _links.columns]


def _session_part(row: Row[Any]) -> Session:
    values = {k: v for k, v in row._asdict().items() if not k.startswith(_LINK_PREFIX)}
    return session_of(values)


def _link_part(row: Row[Any]) -> RoamingSession:
    n = len(_LINK_PREFIX)
    values = {k[n:]: v for k, v in row._asdict().items() if k.startswith(_LINK_PREFIX)}
    return RoamingSession(**values)


def _partner_of(row: Row[Any]) -> OcpiPartner:
    partner = OcpiPartner(**row._asdict())
    partner.status = PartnerStatus(partner.status)
    return partner
