"""Session use cases driven from the API side: start, stop, read, and the plug-in timeout.

A session started here is stored ``pending`` before the charger is asked, so the charger's
StartTransaction / TransactionEvent(Started) always finds it (see ``transactions.py``).
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from csms.domain import events as ev
from csms.domain.authorization import AuthorizationPolicy, authorize_token
from csms.domain.commands import CommandResult, CommandStatus, RemoteStart, RemoteStop
from csms.domain.errors import (
    ChargerNotFound,
    ChargerOffline,
    ConnectorNotFound,
    ConnectorOccupied,
    NotAuthorized,
    SessionNotActive,
    SessionNotFound,
)
from csms.domain.events import DomainEvent
from csms.domain.journal import journaled_write
from csms.domain.model import MeterSample, Protocol, Session, SessionStatus
from csms.domain.ports import Clock, CommandBus, Database, EventBus, IdFactory, UnitOfWork


@dataclass(frozen=True, slots=True)
class ConnectorRef:
    """Where to start: a charger and its EVSE / connector numbers."""

    charger_id: str
    evse_id: int | None = None
    connector_id: int | None = None

    @property
    def key(self) -> str:
        """Our connector id: ``<charger>:<evse>:<connector>`` (``<charger>:<evse>`` if unknown)."""
        return connector_key(self.charger_id, self.evse_id, self.connector_id)


def connector_key(charger_id: str, evse_id: int | None, connector_id: int | None) -> str:
    if evse_id is None:
        return charger_id
    if connector_id is None:
        return f"{charger_id}:{evse_id}"
    return f"{charger_id}:{evse_id}:{connector_id}"


@dataclass(frozen=True, slots=True)
class StartOutcome:
    session: Session
    result: CommandResult


_TIMES = frozenset(
    {"created_at", "updated_at", "session_start", "session_end", "charging_start", "charging_end"}
)


def session_event_data(session: Session) -> dict[str, Any]:
    """What every session event carries: the whole session (without samples) as JSON values.

    Built for meter values of running transactions (at most once per session per
    ``[sessions] update_interval``): one dict comprehension, then the few fields that are not
    JSON values already (times, the two enums) are replaced.
    """
    data = {name: getattr(session, name) for name in _EVENT_FIELDS}
    for name in _TIMES:
        value = data[name]
        if value is not None:
            data[name] = value.isoformat()
    data["protocol"] = session.protocol.value
    data["status"] = session.status.value
    return data


def copy_session(session: Session) -> Session:
    """A shallow copy: every field read at once, passed to the constructor in order
    (``copy.copy`` takes the slow reduce path for slotted dataclasses; a setattr per field
    costs twice this, and it runs for every meter value)."""
    return Session(*_all_values(session))


_ALL_FIELDS = tuple(f.name for f in dataclasses.fields(Session))
_all_values = attrgetter(*_ALL_FIELDS)
_EVENT_FIELDS = tuple(name for name in _ALL_FIELDS if name != "samples")


def session_from_event(data: dict[str, Any]) -> Session:
    """The session as it was when the event was emitted (the inverse of session_event_data)."""
    values = {k: v for k, v in data.items() if k in _FIELDS}
    for name in _TIMES:
        if values.get(name) is not None:
            values[name] = datetime.fromisoformat(values[name])
    values["protocol"] = Protocol(values["protocol"])
    values["status"] = SessionStatus(values["status"])
    return Session(**values)


_FIELDS = frozenset(_EVENT_FIELDS)


_ADOPTED = (
    "transaction_id",
    "session_start",
    "charging_start",
    "charging_end",
    "meter_start_wh",
    "last_register_wh",
    "energy_wh",
    "offline",
    "start_key",
    "evse_id",
    "connector_id",
)


async def adopt_transaction(
    uow: UnitOfWork, pending: Session, running: Session, now: datetime
) -> builtins.list[DomainEvent]:
    """Let a pending remote start take over a transaction the charger started before it (F01).

    The charger started a transaction when the cable went in and then accepted our remote start
    for it. The session the API client knows (``pending``) becomes that transaction; the
    charger's placeholder is closed as merged, its samples move over. Returns the events.
    """
    for name in _ADOPTED:
        value = getattr(running, name)
        if value is not None or name not in ("evse_id", "connector_id"):
            setattr(pending, name, value)
    pending.status, pending.updated_at = SessionStatus.STARTED, now
    running.transaction_id = running.start_key = None
    running.status, running.updated_at = SessionStatus.CANCELLED, now
    running.failure_reason = f"merged into session {pending.id}"
    await uow.sessions.save(running)  # frees (charger, transaction id) before pending takes it
    await uow.sessions.move_samples(running.id, pending.id)
    await uow.sessions.save(pending)
    return [
        DomainEvent(ev.SESSION_CANCELLED, running.id, now, session_event_data(running)),
        DomainEvent(ev.SESSION_STARTED, pending.id, now, session_event_data(pending)),
    ]


async def _resolve_connector(
    uow: UnitOfWork, ref: str, connected: Callable[[str], bool] | None = None
) -> ConnectorRef:
    """``ref`` as a connector; ``connected(charger_id)`` true spares reading the charger."""
    state = await uow.chargers.connector_by_evse_ref(ref)
    if state is not None:
        return ConnectorRef(state.charger_id, state.evse_id, state.connector_id)
    charger_id, numbers = ref, list[int]()
    while ":" in charger_id and len(numbers) < 2:
        head, _, tail = charger_id.rpartition(":")
        if not tail.isdigit() or int(tail) <= 0:
            break
        charger_id, numbers = head, [int(tail), *numbers]
    if not numbers:
        raise ConnectorNotFound(f"unknown connector or EVSE ID {ref!r}")
    known = connected is not None and connected(charger_id)  # only known chargers connect
    if not known and await uow.chargers.get(charger_id) is None:
        raise ConnectorNotFound(f"unknown connector {ref!r}: no charger {charger_id!r}")
    return ConnectorRef(charger_id, numbers[0], numbers[1] if len(numbers) > 1 else None)


async def _token_for_user(
    uow: UnitOfWork, policy: AuthorizationPolicy, user: str, now: datetime
) -> str:
    if await uow.tokens.get(user) is not None:
        return user
    for token in await uow.tokens.for_user(user):
        auth = await authorize_token(uow, policy, token.id_token, now)
        if auth.accepted:
            return token.id_token
    return user  # unknown: start_session decides (free-vend sites accept any tag)


class SessionService:
    def __init__(
        self,
        db: Database,
        bus: CommandBus,
        events: EventBus,
        clock: Clock,
        ids: IdFactory,
        auth_policy: AuthorizationPolicy,
        plugin_timeout: float,
    ) -> None:
        self._db = db
        self._bus = bus
        self._events = events
        self._clock = clock
        self._ids = ids
        self._auth = auth_policy
        self._plugin_timeout = plugin_timeout

    async def resolve_connector(self, ref: str) -> ConnectorRef:
        """An external EVSE ID (``DE*ABC*E1234*1``) or our ``<charger>:<evse>[:<connector>]``."""
        return await self._db.read(lambda uow: _resolve_connector(uow, ref, self._bus.is_connected))

    async def token_for_user(self, user: str) -> str:
        """The id token to start with for ``user``: the token itself, or a user's live token."""
        now = self._clock.now()
        return await self._db.read(lambda uow: _token_for_user(uow, self._auth, user, now))

    async def start_at(
        self, connector: str, user: str, *, requested_by: str = "api"
    ) -> StartOutcome:
        """Start a session from what a backend knows: a connector or EVSE ID, and a user."""
        now = self._clock.now()

        async def _lookup(uow: UnitOfWork) -> tuple[ConnectorRef, str]:
            # One read for both: every round trip to the database is on the caller's clock.
            ref = await _resolve_connector(uow, connector, self._bus.is_connected)
            return ref, await _token_for_user(uow, self._auth, user, now)

        ref, id_token = await self._db.read(_lookup)
        return await self.start_session(
            ref.charger_id,
            id_token,
            evse_id=ref.evse_id,
            connector_id=ref.connector_id,
            requested_by=requested_by,
        )

    async def start_session(
        self,
        charger_id: str,
        id_token: str,
        *,
        evse_id: int | None = None,
        connector_id: int | None = None,
        id_token_type: str = "Central",
        requested_by: str = "api",
        check_token: bool = True,
        attach: Callable[[UnitOfWork, Session], Awaitable[None]] | None = None,
    ) -> StartOutcome:
        """Store a pending session, then ask the charger to start it.

        ``attach`` writes what a façade keeps about the session (an OCPI partner's link) in the
        same transaction that creates it.
        """
        if not self._bus.is_connected(charger_id):
            if await self._db.read(lambda uow: uow.chargers.get(charger_id)) is None:
                raise ChargerNotFound(charger_id)
            raise ChargerOffline(charger_id)
        now = self._clock.now()

        async def _create(uow: UnitOfWork, emitted: builtins.list[DomainEvent]) -> Session:
            charger = await uow.chargers.get(charger_id)
            if charger is None:
                raise ChargerNotFound(charger_id)
            if check_token:
                auth = await authorize_token(uow, self._auth, id_token, now)
                if not auth.accepted:
                    raise NotAuthorized(f"id token {id_token}: {auth.status.value}")
            if evse_id is not None or connector_id is not None:
                busy = await uow.sessions.open_on_connector(charger_id, evse_id, connector_id)
                # A transaction the charger started on plug-in without a token (2.0.1 cable
                # first) waits for exactly this remote start (F01): it does not occupy.
                if any(s.status is SessionStatus.STARTED and s.id_token for s in busy):
                    raise ConnectorOccupied(f"{charger_id} evse {evse_id} connector {connector_id}")
            protocol = charger.protocol or Protocol.V16
            session = Session(
                id=self._ids.new_id(),
                charger_id=charger_id,
                protocol=protocol,
                status=SessionStatus.PENDING,
                created_at=now,
                updated_at=now,
                evse_id=evse_id,
                connector_id=connector_id,
                id_token=id_token,
                id_token_type=id_token_type,
                requested_by=requested_by,
            )
            if protocol is Protocol.V201:
                session.remote_start_id = await uow.sessions.next_remote_start_id()
            await uow.sessions.add(session)
            if attach is not None:
                await attach(uow, session)
            emitted.append(self._event(ev.SESSION_CREATED, session))
            return session

        session = await journaled_write(self._db, self._events, _create)
        command = RemoteStart(
            id_token=id_token,
            evse_id=evse_id,
            connector_id=connector_id,
            remote_start_id=session.remote_start_id,
            id_token_type=id_token_type,
        )
        result = await self._bus.send(charger_id, command)
        if result.accepted:
            running = result.payload.get("transactionId")
            if isinstance(running, str) and running:
                session = await self._join_running(session, running)
            return StartOutcome(session, result)
        failed = await self._fail_start(session.id, result.describe())
        return StartOutcome(failed or session, result)

    async def _join_running(self, session: Session, transaction_id: str) -> Session:
        """F01: the charger answered the remote start with a transaction it already runs."""

        async def _join(uow: UnitOfWork, emitted: builtins.list[DomainEvent]) -> Session:
            pending = await uow.sessions.get(session.id)
            running = await uow.sessions.by_transaction(session.charger_id, transaction_id)
            if pending is None or running is None or pending.status is not SessionStatus.PENDING:
                return pending or session
            emitted.extend(await adopt_transaction(uow, pending, running, self._clock.now()))
            return pending

        return await journaled_write(self._db, self._events, _join)

    async def _fail_start(self, session_id: str, reason: str) -> Session | None:
        async def _fail(uow: UnitOfWork, emitted: builtins.list[DomainEvent]) -> Session | None:
            session = await uow.sessions.get(session_id)
            if session is None or session.status is not SessionStatus.PENDING:
                return None  # the charger started it after all; the transaction wins
            session.status = SessionStatus.START_FAILED
            session.failure_reason = reason
            session.updated_at = self._clock.now()
            await uow.sessions.save(session)
            emitted.append(self._event(ev.SESSION_START_FAILED, session))
            return session

        return await journaled_write(self._db, self._events, _fail)

    async def stop_session(self, session_id: str) -> CommandResult:
        """Ask the charger to stop; a session still pending is cancelled instead."""
        session = await self.get(session_id)
        if session.status is SessionStatus.PENDING:
            await self._cancel(session.id, "stopped before start")
            return CommandResult(CommandStatus.ACCEPTED)
        if session.status is not SessionStatus.STARTED or session.transaction_id is None:
            raise SessionNotActive(f"session {session_id} is {session.status.value}")
        result = await self._bus.send(session.charger_id, RemoteStop(session.transaction_id))
        if not result.accepted:
            session.failure_reason = result.describe()
            failure = self._event(ev.SESSION_STOP_FAILED, session)

            async def _journal(uow: UnitOfWork, emitted: builtins.list[DomainEvent]) -> None:
                emitted.append(failure)

            await journaled_write(self._db, self._events, _journal)
        return result

    async def get(self, session_id: str) -> Session:
        session = await self._db.read(lambda uow: uow.sessions.get(session_id))
        if session is None:
            raise SessionNotFound(session_id)
        return session

    async def samples(self, session_id: str) -> builtins.list[MeterSample]:
        return await self._db.read(lambda uow: uow.sessions.samples(session_id))

    async def list(self, **filters: Any) -> builtins.list[Session]:
        return await self._db.read(lambda uow: uow.sessions.list(**filters))

    async def expire_pending(self, now: datetime | None = None) -> builtins.list[Session]:
        """Cancel remote starts nobody plugged in for within the plug-in timeout."""
        now = now or self._clock.now()
        cutoff = now - timedelta(seconds=self._plugin_timeout)
        stale = await self._db.read(lambda uow: uow.sessions.pending_before(cutoff))
        cancelled = []
        for session in stale:
            done = await self._cancel(session.id, "no start within the plug-in timeout")
            if done is not None:
                cancelled.append(done)
        return cancelled

    async def _cancel(self, session_id: str, reason: str) -> Session | None:
        async def _do(uow: UnitOfWork, emitted: builtins.list[DomainEvent]) -> Session | None:
            session = await uow.sessions.get(session_id)
            if session is None or session.status is not SessionStatus.PENDING:
                return None
            session.status = SessionStatus.CANCELLED
            session.failure_reason = reason
            session.updated_at = self._clock.now()
            await uow.sessions.save(session)
            emitted.append(self._event(ev.SESSION_CANCELLED, session))
            return session

        return await journaled_write(self._db, self._events, _do)

    def _event(self, name: str, session: Session) -> DomainEvent:
        return DomainEvent(name, session.id, self._clock.now(), session_event_data(session))
