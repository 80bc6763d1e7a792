"""The unit of work over SQL: repositories made, and the session opened, on first use.

``SqlDatabase.read`` gives one a session factory, so a read that needs no ORM repository opens
no session; with ``LeanReads`` (SQLite) the charger, connector and API key reads of every
connect and every API call skip the ORM session altogether (ADR 0011). A write's unit of work
(``SqlUnitOfWork``) is one over the transaction's session, always through the ORM.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from csms.domain import ports
from csms.domain.model import ApiKey, Charger, ConnectorState
from csms.storage.sql.lean_reads import LeanReads
from csms.storage.sql.outbox_repositories import (
    DeliveryRepository,
    JournalRepository,
    WebhookRepository,
)
from csms.storage.sql.repositories import (
    ApiKeyRepository,
    ChargerRepository,
    SessionRepository,
    TokenRepository,
)
from csms.storage.sql.roaming_repository import RoamingRepository


class LazyUnitOfWork:
    """Repositories over the session ``sessions()`` opens when a repository first needs it.

    With ``lean`` (SQLite), a charger's and its connectors' reads and an API key's read run as
    plain statements (``lean_reads``); everything else goes through the ORM as usual.
    """

    def __init__(self, sessions: Callable[[], AsyncSession], lean: LeanReads | None) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None
        self._lean = lean

    def _open(self) -> AsyncSession:
        if self._session is None:
            self._session = self._sessions()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @functools.cached_property
    def chargers(self) -> ports.ChargerRepository:
        if self._lean is None:
            return ChargerRepository(self._open())
        return cast(ports.ChargerRepository, _LeanChargers(self._lean, self._open))

    @functools.cached_property
    def api_keys(self) -> ports.ApiKeyRepository:
        if self._lean is None:
            return ApiKeyRepository(self._open())
        return cast(ports.ApiKeyRepository, _LeanApiKeys(self._lean, self._open))

    @functools.cached_property
    def sessions(self) -> ports.SessionRepository:
        return SessionRepository(self._open())

    @functools.cached_property
    def tokens(self) -> ports.TokenRepository:
        return TokenRepository(self._open())

    @functools.cached_property
    def journal(self) -> ports.JournalRepository:
        return JournalRepository(self._open())

    @functools.cached_property
    def webhooks(self) -> ports.WebhookRepository:
        return WebhookRepository(self._open())

    @functools.cached_property
    def deliveries(self) -> ports.DeliveryRepository:
        return DeliveryRepository(self._open())

    @functools.cached_property
    def roaming(self) -> ports.RoamingRepository:
        return RoamingRepository(self._open())


class _LeanChargers:
    """``get`` and ``connectors`` from ``LeanReads``; any other call goes to the ORM one."""

    def __init__(self, lean: LeanReads, session: Callable[[], AsyncSession]) -> None:
        self._lean = lean
        self._session = session

    async def get(self, charger_id: str) -> Charger | None:
        return self._lean.charger(charger_id)

    async def connectors(self, charger_id: str) -> list[ConnectorState]:
        return self._lean.connectors(charger_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(ChargerRepository(self._session()), name)


class _LeanApiKeys:
    """``get`` from ``LeanReads``; any other call goes to the ORM one."""

    def __init__(self, lean: LeanReads, session: Callable[[], AsyncSession]) -> None:
        self._lean = lean
        self._session = session

    async def get(self, key_id: str) -> ApiKey | None:
        return self._lean.api_key(key_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(ApiKeyRepository(self._session()), name)
