"""In-memory repositories with the same behaviour as ``storage/sql``: for unit tests.

Not transactional: a failing ``write`` keeps what it changed. Good enough for domain tests.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from csms.domain.changes import Change, apply_in, seq_of_key
from csms.domain.events import DomainEvent
from csms.domain.model import (
    ApiKey,
    Charger,
    ChargerEvent,
    ConnectorState,
    Delivery,
    DeliveryStatus,
    FailedStop,
    IdToken,
    MeterSample,
    OcpiPartner,
    RoamingSession,
    RoamingToken,
    Session,
    SessionStatus,
    Webhook,
)
from csms.domain.ports import UnitOfWork, Work

T = TypeVar("T")


def _sample_key(s: MeterSample) -> tuple[Any, ...]:
    return (s.timestamp, s.measurand, s.phase, s.location, s.context, s.value)


class ChargerRepository:
    def __init__(self) -> None:
        self._chargers: dict[str, Charger] = {}
        self._connectors: dict[tuple[str, int, int], ConnectorState] = {}
        self._events: builtins.list[ChargerEvent] = []

    async def get(self, charger_id: str) -> Charger | None:
        found = self._chargers.get(charger_id)
        return copy.copy(found) if found else None

    async def add(self, charger: Charger) -> None:
        self._chargers[charger.id] = copy.copy(charger)

    async def save(self, charger: Charger) -> None:
        self._chargers[charger.id] = copy.copy(charger)

    async def list(self) -> builtins.list[Charger]:
        return [copy.copy(c) for c in sorted(self._chargers.values(), key=lambda c: c.id)]

    async def set_connector(self, state: ConnectorState) -> None:
        self._connectors[(state.charger_id, state.evse_id, state.connector_id)] = copy.copy(state)

    async def connectors(self, charger_id: str) -> builtins.list[ConnectorState]:
        return [copy.copy(c) for k, c in sorted(self._connectors.items()) if k[0] == charger_id]

    async def connector_by_evse_ref(self, evse_ref: str) -> ConnectorState | None:
        for _, state in sorted(self._connectors.items()):
            if state.evse_ref == evse_ref:
                return copy.copy(state)
        return None

    async def add_event(self, event: ChargerEvent) -> None:
        self._events.append(event)

    async def events(self, charger_id: str, kind: str | None = None) -> builtins.list[ChargerEvent]:
        return [e for e in self._events if e.charger_id == charger_id and kind in (None, e.kind)]

    async def mark_all_offline(self) -> None:
        for charger in self._chargers.values():
            charger.online = False


class SessionRepository:
    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._samples: dict[str, dict[tuple[Any, ...], MeterSample]] = {}
        self._tx_counter = 0
        self._remote_counter = 0
        self._events: set[tuple[str, str, str]] = set()
        self._failed: builtins.list[FailedStop] = []

    def _copy(self, session: Session) -> Session:
        clone = copy.copy(session)
        clone.samples = []
        return clone

    def _find(self, **match: Any) -> builtins.list[Session]:
        return [
            self._copy(s)
            for s in self._sessions.values()
            if all(getattr(s, k) == v for k, v in match.items())
        ]

    async def add(self, session: Session) -> None:
        self._sessions[session.id] = self._copy(session)

    async def save(self, session: Session) -> None:
        self._sessions[session.id] = self._copy(session)

    async def get(self, session_id: str) -> Session | None:
        found = self._sessions.get(session_id)
        return self._copy(found) if found else None

    async def by_transaction(self, charger_id: str, transaction_id: str) -> Session | None:
        found = self._find(charger_id=charger_id, transaction_id=transaction_id)
        return found[0] if found else None

    async def by_start_key(self, charger_id: str, start_key: str) -> Session | None:
        found = self._find(charger_id=charger_id, start_key=start_key)
        return found[0] if found else None

    async def by_remote_start_id(self, charger_id: str, remote_start_id: int) -> Session | None:
        found = self._find(charger_id=charger_id, remote_start_id=remote_start_id)
        return found[0] if found else None

    async def pending_for(
        self, charger_id: str, id_token: str, created_after: datetime
    ) -> builtins.list[Session]:
        found = self._find(charger_id=charger_id, id_token=id_token, status=SessionStatus.PENDING)
        return sorted(
            (s for s in found if s.created_at >= created_after), key=lambda s: s.created_at
        )

    async def open_on_connector(
        self, charger_id: str, evse_id: int | None, connector_id: int | None
    ) -> builtins.list[Session]:
        result = []
        for s in self._find(charger_id=charger_id):
            if not s.is_open:
                continue
            if evse_id is not None and s.evse_id not in (None, evse_id):
                continue
            if connector_id is not None and s.connector_id not in (None, connector_id):
                continue
            result.append(s)
        return result

    async def pending_before(self, created_before: datetime) -> builtins.list[Session]:
        return [
            s for s in self._find(status=SessionStatus.PENDING) if s.created_at < created_before
        ]

    async def list(
        self,
        *,
        status: SessionStatus | None = None,
        charger_id: str | None = None,
        id_token: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Session]:
        rows = [
            s
            for s in (self._copy(x) for x in self._sessions.values())
            if (status is None or s.status is status)
            and (charger_id is None or s.charger_id == charger_id)
            and (id_token is None or s.id_token == id_token)
            and (created_from is None or s.created_at >= created_from)
            and (created_to is None or s.created_at < created_to)
        ]
        rows.sort(key=lambda s: (s.created_at, s.id), reverse=True)
        return rows[offset : offset + limit]

    async def add_samples(self, session_id: str, samples: Sequence[MeterSample]) -> int:
        stored = self._samples.setdefault(session_id, {})
        new = 0
        for sample in samples:
            key = _sample_key(sample)
            if key not in stored:
                stored[key] = sample
                new += 1
        return new

    async def samples(self, session_id: str) -> builtins.list[MeterSample]:
        return sorted(
            self._samples.get(session_id, {}).values(), key=lambda s: (s.timestamp, s.measurand)
        )

    async def move_samples(self, from_session: str, to_session: str) -> None:
        moved = self._samples.pop(from_session, {})
        self._samples.setdefault(to_session, {}).update(moved)

    async def next_transaction_id(self) -> int:
        self._tx_counter += 1
        return self._tx_counter

    async def next_remote_start_id(self) -> int:
        self._remote_counter += 1
        return self._remote_counter

    async def remember_event(self, charger_id: str, transaction_id: str, key: str) -> bool:
        item = (charger_id, transaction_id, key)
        if item in self._events:
            return False
        self._events.add(item)
        return True

    async def last_event_seq(self, charger_id: str, transaction_id: str) -> int | None:
        seqs = [
            seq_of_key(key)
            for charger, tx, key in self._events
            if (charger, tx) == (charger_id, transaction_id)
        ]
        return max((s for s in seqs if s is not None), default=None)

    async def add_failed_stop(self, failed: FailedStop) -> None:
        self._failed.append(failed)

    async def failed_stops(self, charger_id: str | None = None) -> builtins.list[FailedStop]:
        return [f for f in self._failed if charger_id in (None, f.charger_id)]


class TokenRepository:
    def __init__(self) -> None:
        self._tokens: dict[str, IdToken] = {}

    async def get(self, id_token: str) -> IdToken | None:
        found = self._tokens.get(id_token)
        return copy.copy(found) if found else None

    async def add(self, token: IdToken) -> None:
        self._tokens[token.id_token] = copy.copy(token)

    async def save(self, token: IdToken) -> None:
        self._tokens[token.id_token] = copy.copy(token)

    async def list(self) -> builtins.list[IdToken]:
        return [copy.copy(t) for _, t in sorted(self._tokens.items())]

    async def for_user(self, user_id: str) -> builtins.list[IdToken]:
        return [t for t in await self.list() if t.user_id == user_id]


class ApiKeyRepository:
    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}

    async def get(self, key_id: str) -> ApiKey | None:
        found = self._keys.get(key_id)
        return copy.deepcopy(found) if found else None

    async def add(self, key: ApiKey) -> None:
        self._keys[key.id] = copy.deepcopy(key)

    async def save(self, key: ApiKey) -> None:
        self._keys[key.id] = copy.deepcopy(key)

    async def list(self) -> builtins.list[ApiKey]:
        return [copy.deepcopy(k) for k in sorted(self._keys.values(), key=lambda k: k.created_at)]


class JournalRepository:
    def __init__(self) -> None:
        self._events: builtins.list[tuple[int, DomainEvent]] = []
        self._last = 0
        self._cursors: dict[str, int] = {}

    async def append(self, event: DomainEvent) -> None:
        self._last += 1
        self._events.append((self._last, event))

    async def last(self) -> int:
        return self._last

    async def after(self, seq: int, limit: int) -> builtins.list[tuple[int, DomainEvent]]:
        return [(n, e) for n, e in self._events if n > seq][:limit]

    async def cursor(self, consumer: str) -> int:
        return self._cursors.get(consumer, self._last)  # a new consumer starts at the end

    async def set_cursor(self, consumer: str, seq: int) -> None:
        self._cursors[consumer] = seq

    async def prune(self) -> None:
        if self._cursors:
            low = min(self._cursors.values())
            self._events = [(n, e) for n, e in self._events if n > low]


class WebhookRepository:
    def __init__(self) -> None:
        self._hooks: dict[str, Webhook] = {}

    async def get(self, webhook_id: str) -> Webhook | None:
        found = self._hooks.get(webhook_id)
        return copy.deepcopy(found) if found else None

    async def add(self, webhook: Webhook) -> None:
        self._hooks[webhook.id] = copy.deepcopy(webhook)

    async def save(self, webhook: Webhook) -> None:
        self._hooks[webhook.id] = copy.deepcopy(webhook)

    async def delete(self, webhook_id: str) -> None:
        self._hooks.pop(webhook_id, None)

    async def list(self) -> builtins.list[Webhook]:
        hooks = sorted(self._hooks.values(), key=lambda h: (h.created_at, h.id))
        return [copy.deepcopy(h) for h in hooks]


class DeliveryRepository:
    def __init__(self) -> None:
        self._items: dict[str, Delivery] = {}

    async def add(self, delivery: Delivery) -> None:
        self._items[delivery.id] = copy.copy(delivery)

    async def save(self, delivery: Delivery) -> None:
        self._items[delivery.id] = copy.copy(delivery)

    def _pending(self) -> builtins.list[Delivery]:
        pending = [d for d in self._items.values() if d.status is DeliveryStatus.PENDING]
        return sorted(pending, key=lambda d: (d.next_attempt_at, d.created_at, d.id))

    def _heads(self) -> builtins.list[Delivery]:
        """Pending deliveries not queued behind an older, failing one to the same receiver."""
        failing: set[tuple[str, str]] = set()
        free = []
        for d in sorted(self._pending(), key=lambda d: (d.created_at, d.id)):
            receiver = (d.consumer, d.target_id)
            if receiver in failing:
                continue
            free.append(d)
            if d.attempts > 0:
                failing.add(receiver)
        return sorted(free, key=lambda d: (d.next_attempt_at, d.created_at, d.id))

    async def due(self, now: datetime, limit: int) -> builtins.list[Delivery]:
        return [copy.copy(d) for d in self._heads() if d.next_attempt_at <= now][:limit]

    async def next_due(self) -> datetime | None:
        heads = self._heads()
        return heads[0].next_attempt_at if heads else None

    async def for_target(self, target_id: str) -> builtins.list[Delivery]:
        found = [d for d in self._items.values() if d.target_id == target_id]
        return [copy.copy(d) for d in sorted(found, key=lambda d: (d.created_at, d.id))]


class RoamingRepository:
    def __init__(self, sessions: SessionRepository) -> None:
        self._sessions = sessions
        self._partners: dict[str, OcpiPartner] = {}
        self._tokens: dict[tuple[str, str, str, str], RoamingToken] = {}
        self._links: dict[str, RoamingSession] = {}

    async def partner(self, partner_id: str) -> OcpiPartner | None:
        found = self._partners.get(partner_id)
        return copy.deepcopy(found) if found else None

    async def partner_by_token(self, token_hash: str) -> OcpiPartner | None:
        for partner in self._partners.values():
            if partner.token_hash == token_hash:
                return copy.deepcopy(partner)
        return None

    async def partners(self) -> builtins.list[OcpiPartner]:
        found = sorted(self._partners.values(), key=lambda p: (p.created_at, p.id))
        return [copy.deepcopy(p) for p in found]

    async def save_partner(self, partner: OcpiPartner) -> None:
        self._partners[partner.id] = copy.deepcopy(partner)

    async def token(
        self, country_code: str, party_id: str, uid: str, type: str
    ) -> RoamingToken | None:
        found = self._tokens.get((country_code, party_id, uid, type))
        return copy.deepcopy(found) if found else None

    async def tokens_by_uid(self, uid: str) -> builtins.list[RoamingToken]:
        found = [t for t in self._tokens.values() if t.uid == uid]
        return [copy.deepcopy(t) for t in sorted(found, key=lambda t: t.last_updated)]

    async def save_token(self, token: RoamingToken) -> None:
        key = (token.country_code, token.party_id, token.uid, token.type)
        self._tokens[key] = copy.deepcopy(token)

    async def session(self, session_id: str) -> RoamingSession | None:
        found = self._links.get(session_id)
        return copy.deepcopy(found) if found else None

    async def add_session(self, link: RoamingSession) -> None:
        self._links[link.session_id] = copy.deepcopy(link)

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
        found = []
        for link in self._links.values():
            session = await self._sessions.get(link.session_id)
            if link.partner_id != partner_id or session is None:
                continue
            if updated_from is not None and session.updated_at < updated_from:
                continue
            if updated_to is not None and session.updated_at >= updated_to:
                continue
            if ended_only and session.status is not SessionStatus.ENDED:
                continue
            found.append((session, copy.deepcopy(link)))
        found.sort(key=lambda pair: (pair[0].updated_at, pair[0].id))
        return len(found), found[offset : offset + limit]


class MemoryUnitOfWork:
    def __init__(self) -> None:
        self.chargers = ChargerRepository()
        self.sessions = SessionRepository()
        self.tokens = TokenRepository()
        self.api_keys = ApiKeyRepository()
        self.journal = JournalRepository()
        self.webhooks = WebhookRepository()
        self.deliveries = DeliveryRepository()
        self.roaming = RoamingRepository(self.sessions)


class MemoryDatabase:
    """The ``Database`` port over one shared in-memory unit of work."""

    def __init__(self) -> None:
        self.uow = MemoryUnitOfWork()
        self._lock = asyncio.Lock()
        self._pending: set[asyncio.Task[object]] = set()

    async def write(self, work: Work[T]) -> T:
        async with self._lock:
            uow: UnitOfWork = self.uow
            return await work(uow)

    def write_soon(self, work: Work[object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(self.write(work))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def apply(self, changes: Sequence[Change]) -> None:
        async with self._lock:
            await apply_in(self.uow, changes)

    def apply_soon(self, changes: Sequence[Change]) -> None:
        self.write_soon(lambda uow: apply_in(uow, changes))

    async def read(self, work: Work[T]) -> T:
        uow: UnitOfWork = self.uow
        return await work(uow)

    async def close(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
