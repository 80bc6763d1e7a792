"""Transaction messages reported by chargers, for both protocol versions.

Every function here runs inside one ``Database.write``: the charger is answered only after the
commit. Replays are answered as the first time and change nothing (see ADR 0002).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from csms.domain import events as ev
from csms.domain.authorization import AuthorizationPolicy, authorize_at
from csms.domain.changes import (
    TransactionEventSeen,
    event_key,
)
from csms.domain.energy import apply_samples, recompute_energy
from csms.domain.events import DomainEvent
from csms.domain.journal import journaled_write
from csms.domain.model import (
    Authorization,
    FailedStop,
    MeterSample,
    Protocol,
    Session,
    SessionStatus,
    TokenStatus,
)
from csms.domain.ports import Clock, Database, EventBus, IdFactory, UnitOfWork
from csms.domain.running import RunningTransactions, baseline_from_samples, samples_only
from csms.domain.sessions import adopt_transaction, session_event_data
from csms.domain.tariffs import Tariff
from csms.domain.transaction_messages import (
    EventAnswer,
    StartAnswer,
    StartTransaction,
    StopTransaction,
    TransactionEvent,
)

T = TypeVar("T")

__all__ = [
    "EventAnswer",
    "StartAnswer",
    "StartTransaction",
    "StopTransaction",
    "TransactionEvent",
    "TransactionService",
]


@dataclass(slots=True)
class _Outcome:
    """What a write produced; events are published only after the commit."""

    events: list[tuple[str, Session]] = field(default_factory=list)
    adopted: list[DomainEvent] = field(default_factory=list)  # from a joined remote start
    last_seq: int | None = None  # 2.0.1: the highest seqNo recorded for the transaction
    journaled_at: datetime | None = None  # when ``events`` were journaled


class TransactionService:
    def __init__(
        self,
        db: Database,
        events: EventBus,
        clock: Clock,
        ids: IdFactory,
        tariff: Tariff,
        auth_policy: AuthorizationPolicy,
        plugin_timeout: float,
        update_interval: float,
    ) -> None:
        self._db = db
        self._events = events
        self._clock = clock
        self._ids = ids
        self._tariff = tariff
        self._auth = auth_policy
        self._plugin_timeout = plugin_timeout
        # Running transactions whose meter values need no reads (ADR 0006, 0010).
        self._running = RunningTransactions(db, events, clock, update_interval)

    # -- 1.6 -------------------------------------------------------------------------------

    async def start_v16(self, msg: StartTransaction) -> StartAnswer:
        key = f"{msg.connector_id}|{msg.id_tag}|{msg.timestamp.isoformat()}|{msg.meter_start}"
        out = _Outcome()

        async def _start(uow: UnitOfWork) -> StartAnswer:
            now = self._clock.now()
            replay = await uow.sessions.by_start_key(msg.charger_id, key)
            if replay is not None and replay.transaction_id is not None:
                status = TokenStatus(replay.auth_status or TokenStatus.INVALID.value)
                return StartAnswer(int(replay.transaction_id), Authorization(status))
            session = await self._claim_pending(uow, msg.charger_id, msg.id_tag, msg.connector_id)
            claimed = session is not None
            if session is not None:
                auth = Authorization(TokenStatus.ACCEPTED)
            else:
                auth = await authorize_at(uow, self._auth, msg.charger_id, msg.id_tag, now)
                session = self._new_session(msg.charger_id, Protocol.V16, now)
                session.id_token, session.id_token_type = msg.id_tag, "Local"
            session.transaction_id = str(await uow.sessions.next_transaction_id())
            session.evse_id = session.connector_id = msg.connector_id
            session.status = SessionStatus.STARTED
            session.auth_status = auth.status.value
            session.start_key = key
            session.session_start = msg.timestamp
            session.meter_start_wh = float(msg.meter_start)
            session.updated_at = now
            await (uow.sessions.save if claimed else uow.sessions.add)(session)
            out.events.append((ev.SESSION_STARTED, session))
            return StartAnswer(int(session.transaction_id), auth)

        answer = await self._write(out, _start)
        return answer

    async def meter_values(
        self,
        charger_id: str,
        connector_id: int,
        transaction_id: str | None,
        samples: list[MeterSample],
    ) -> None:
        """Store samples against their session; samples after the end are kept, not counted."""
        running = self._running.get(charger_id, transaction_id)
        if running is not None:
            await self._running.record(running, samples, None, None)
            return
        out = _Outcome()

        async def _meter(uow: UnitOfWork) -> None:
            session = await self._session_for_samples(uow, charger_id, connector_id, transaction_id)
            if session is None:
                return
            await uow.sessions.add_samples(session.id, samples)
            if session.status is SessionStatus.STARTED:
                apply_samples(
                    session, samples, baseline_from_samples=baseline_from_samples(session)
                )
                session.updated_at = self._clock.now()
                await uow.sessions.save(session)
                out.events.append((ev.SESSION_UPDATED, session))

        await self._write(out, _meter)

    async def stop_v16(self, msg: StopTransaction) -> Authorization | None:
        out = _Outcome()
        tx = str(msg.transaction_id)

        async def _stop(uow: UnitOfWork) -> Authorization | None:
            now = self._clock.now()
            auth = None
            if msg.id_tag is not None:
                auth = await authorize_at(uow, self._auth, msg.charger_id, msg.id_tag, now)
            session = await uow.sessions.by_transaction(msg.charger_id, tx)
            problem = _stop_problem(session, msg)
            if problem == "replay":
                return auth
            if problem is not None or session is None:
                await self._failed_stop(uow, msg.charger_id, tx, problem or "unknown", msg)
                return auth
            await uow.sessions.add_samples(session.id, msg.samples)
            apply_samples(session, msg.samples, baseline_from_samples=False)
            session.meter_stop_wh = float(msg.meter_stop)
            self._end(session, msg.timestamp, msg.reason or "Local", now)
            await uow.sessions.save(session)
            out.events.append((ev.SESSION_ENDED, session))
            return auth

        answer = await self._write(out, _stop)
        return answer

    # -- 2.0.1 -----------------------------------------------------------------------------

    async def event_v201(self, msg: TransactionEvent) -> EventAnswer:
        key = event_key(msg.seq_no, msg.event_type, msg.timestamp)
        running = self._running.get(msg.charger_id, msg.transaction_id)
        if running is not None and samples_only(running, msg):
            seen = TransactionEventSeen(msg.charger_id, msg.transaction_id, key)
            session = await self._running.record(running, msg.samples, msg, seen)
            return EventAnswer(None, self._running_cost(session))
        out = _Outcome()

        async def _event(uow: UnitOfWork) -> EventAnswer:
            now = self._clock.now()
            fresh = await uow.sessions.remember_event(msg.charger_id, msg.transaction_id, key)
            session = await uow.sessions.by_transaction(msg.charger_id, msg.transaction_id)
            if session is None:
                session = await self._session_for_event(uow, msg, now)
            elif msg.remote_start_id is not None and session.remote_start_id is None:
                session = await self._join_remote_start(uow, session, msg, now, out)
            auth = await self._event_auth(uow, session, msg, now)
            if fresh and session.status is not SessionStatus.ENDED:
                await self._apply_event(uow, session, msg, auth, now, out)
            elif fresh:
                await uow.sessions.add_samples(session.id, msg.samples)
            if session.status is SessionStatus.STARTED and session.transaction_id is not None:
                out.last_seq = await uow.sessions.last_event_seq(
                    session.charger_id, session.transaction_id
                )
            return EventAnswer(auth, self._running_cost(session))

        answer = await self._write(out, _event)
        return answer

    async def _session_for_event(
        self, uow: UnitOfWork, msg: TransactionEvent, now: datetime
    ) -> Session:
        session = None
        if msg.remote_start_id is not None:
            found = await uow.sessions.by_remote_start_id(msg.charger_id, msg.remote_start_id)
            if found is not None and found.transaction_id is None:
                session = found
        if session is None and msg.id_token is not None:
            session = await self._claim_pending(uow, msg.charger_id, msg.id_token, msg.evse_id)
        if session is None:
            session = self._new_session(msg.charger_id, Protocol.V201, now)
            await uow.sessions.add(session)
        session.transaction_id = msg.transaction_id
        session.status = SessionStatus.STARTED
        session.session_start = msg.timestamp
        await uow.sessions.save(session)
        return session

    async def _join_remote_start(
        self, uow: UnitOfWork, running: Session, msg: TransactionEvent, now: datetime, out: _Outcome
    ) -> Session:
        """F01: a transaction started on plug-in now carries the remoteStartId we sent."""
        assert msg.remote_start_id is not None
        pending = await uow.sessions.by_remote_start_id(msg.charger_id, msg.remote_start_id)
        if pending is None or pending.status is not SessionStatus.PENDING:
            return running
        out.adopted.extend(await adopt_transaction(uow, pending, running, now))
        return pending

    async def _event_auth(
        self, uow: UnitOfWork, session: Session, msg: TransactionEvent, now: datetime
    ) -> Authorization | None:
        if msg.id_token is None:
            return None
        if session.requested_by != "charger" and msg.id_token == session.id_token:
            return Authorization(TokenStatus.ACCEPTED)  # our own remote start
        return await authorize_at(
            uow, self._auth, session.charger_id, msg.id_token, now, msg.id_token_type
        )

    async def _apply_event(
        self,
        uow: UnitOfWork,
        session: Session,
        msg: TransactionEvent,
        auth: Authorization | None,
        now: datetime,
        out: _Outcome,
    ) -> None:
        first = session.session_start is None or msg.event_type == "Started"
        if msg.event_type == "Started" or msg.timestamp < (session.session_start or msg.timestamp):
            session.session_start = msg.timestamp
        if msg.evse_id is not None:
            session.evse_id = msg.evse_id
        if msg.connector_id is not None:
            session.connector_id = msg.connector_id
        if msg.id_token is not None and session.id_token is None:
            session.id_token, session.id_token_type = msg.id_token, msg.id_token_type
        if auth is not None:
            session.auth_status = auth.status.value
        if msg.remote_start_id is not None and session.remote_start_id is None:
            session.remote_start_id = msg.remote_start_id
        if msg.charging_state == "Charging" and session.charging_start is None:
            session.charging_start = msg.timestamp
        session.offline = session.offline or msg.offline
        await uow.sessions.add_samples(session.id, msg.samples)
        apply_samples(session, msg.samples, baseline_from_samples=True)
        if msg.event_type == "Ended":
            session.meter_stop_wh = session.last_register_wh
            self._end(session, msg.timestamp, msg.stopped_reason or "Local", now)
            out.events.append((ev.SESSION_ENDED, session))
        else:
            name = (
                ev.SESSION_STARTED if first and msg.event_type == "Started" else ev.SESSION_UPDATED
            )
            out.events.append((name, session))
        session.updated_at = now
        await uow.sessions.save(session)

    # -- shared ----------------------------------------------------------------------------

    async def _claim_pending(
        self, uow: UnitOfWork, charger_id: str, id_token: str, connector: int | None
    ) -> Session | None:
        """The pending remote start this charger-side start answers, if any."""
        since = self._clock.now() - timedelta(seconds=self._plugin_timeout)
        for session in await uow.sessions.pending_for(charger_id, id_token, since):
            wanted = session.connector_id if session.connector_id is not None else session.evse_id
            if wanted is None or connector is None or wanted == connector:
                return session
        return None

    async def _session_for_samples(
        self, uow: UnitOfWork, charger_id: str, connector_id: int, transaction_id: str | None
    ) -> Session | None:
        if transaction_id is not None:
            return await uow.sessions.by_transaction(charger_id, transaction_id)
        if connector_id <= 0:
            return None
        open_ = await uow.sessions.open_on_connector(charger_id, None, connector_id)
        started = [s for s in open_ if s.status is SessionStatus.STARTED]
        return started[0] if len(started) == 1 else None

    def _new_session(self, charger_id: str, protocol: Protocol, now: datetime) -> Session:
        return Session(
            id=self._ids.new_id(),
            charger_id=charger_id,
            protocol=protocol,
            status=SessionStatus.STARTED,
            created_at=now,
            updated_at=now,
            requested_by="charger",
        )

    def _end(self, session: Session, ended_at: datetime, reason: str, now: datetime) -> None:
        recompute_energy(session)
        session.session_end = ended_at
        if session.charging_end is None or session.charging_end > ended_at:
            session.charging_end = ended_at if session.charging_start else None
        session.status = SessionStatus.ENDED
        session.stop_reason = reason
        session.currency = self._tariff.currency
        session.cost = self._tariff.cost(session)
        session.updated_at = now

    def _running_cost(self, session: Session) -> float | None:
        if session.cost is not None:
            return session.cost
        return self._tariff.cost(session)

    async def _failed_stop(
        self, uow: UnitOfWork, charger_id: str, tx: str, reason: str, msg: StopTransaction
    ) -> None:
        data: dict[str, object] = {
            "meter_stop": msg.meter_stop,
            "timestamp": msg.timestamp.isoformat(),
            "reason": msg.reason,
            "id_tag": msg.id_tag,
        }
        await uow.sessions.add_failed_stop(
            FailedStop(charger_id, tx, reason, self._clock.now(), data)
        )

    async def _write(self, out: _Outcome, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run ``work``; the events it notes in ``out`` are journaled with it, then published."""

        async def run(uow: UnitOfWork, emitted: list[DomainEvent]) -> T:
            out.events.clear()
            out.adopted.clear()
            out.last_seq = None
            result = await work(uow)
            emitted.extend(out.adopted)
            now = out.journaled_at = self._clock.now()
            for name, session in out.events:
                emitted.append(DomainEvent(name, session.id, now, session_event_data(session)))
            return result

        result = await journaled_write(self._db, self._events, run)
        for _, session in out.events:
            self._running.note(session, out.last_seq, out.journaled_at)
        return result


def _stop_problem(session: Session | None, msg: StopTransaction) -> str | None:
    if session is None:
        return "unknown transaction"
    if session.status is SessionStatus.ENDED:
        same = (
            session.meter_stop_wh == float(msg.meter_stop) and session.session_end == msg.timestamp
        )
        return "replay" if same else "already stopped"
    if session.meter_start_wh is not None and msg.meter_stop < session.meter_start_wh:
        return "meterStop below meterStart"
    return None
