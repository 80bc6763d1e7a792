"""Running transactions held in memory: their meter values recorded without reads.

Meter values are most of what chargers send. For a transaction whose committed state we hold,
they become plain changes (``Database.apply``): no reads, and group commit turns the changes of
many chargers into a few multi-row statements (ADR 0006). Anything unusual (an unknown
transaction, an out-of-order or replayed seqNo, a token, another EVSE) takes the general path of
``TransactionService``, which reads the stored state and refreshes what is held here.

The samples and the session's meter fields are always committed before the answer, but
``session.updated`` is journaled only if none was within ``update_interval`` (ADR 0010): the
snapshot, its JSON and the journal row are most of the cost, and the next one (or
``session.ended``) supersedes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from csms.domain import events as ev
from csms.domain.changes import (
    Change,
    EventJournaled,
    SamplesAdded,
    SessionMetered,
    TransactionEventSeen,
)
from csms.domain.energy import apply_samples
from csms.domain.events import DomainEvent
from csms.domain.model import MeterSample, Protocol, Session, SessionStatus
from csms.domain.ports import Clock, Database, EventBus
from csms.domain.sessions import copy_session, session_event_data
from csms.domain.transaction_messages import TransactionEvent


@dataclass(frozen=True, slots=True)
class Running:
    """The committed state of a running transaction, kept to record samples without reads."""

    session: Session  # never mutated: the fast path works on a copy
    last_seq: int | None  # 2.0.1: the highest seqNo recorded; None for 1.6
    journaled_at: datetime | None  # the last session event journaled; None = unknown


class RunningTransactions:
    """Running transactions by (charger id, transaction id), and their fast path."""

    def __init__(
        self, db: Database, events: EventBus, clock: Clock, update_interval: float
    ) -> None:
        self._db = db
        self._events = events
        self._clock = clock
        self._update_interval = update_interval  # seconds between session.updated (ADR 0010)
        self._held: dict[tuple[str, str], Running] = {}
        events.subscribe(self._forget_changed)

    def get(self, charger_id: str, transaction_id: str | None) -> Running | None:
        return self._held.get((charger_id, transaction_id)) if transaction_id else None

    async def record(
        self,
        running: Running,
        samples: list[MeterSample],
        msg: TransactionEvent | None,
        seen: TransactionEventSeen | None,
    ) -> Session:
        """Commit ``samples`` of ``running`` (and ``msg``'s charging state) as plain changes."""
        now = self._clock.now()
        session = copy_session(running.session)
        if msg is not None:
            if msg.charging_state == "Charging" and session.charging_start is None:
                session.charging_start = msg.timestamp
            session.offline = session.offline or msg.offline
        apply_samples(session, samples, baseline_from_samples=baseline_from_samples(session))
        session.updated_at = now
        changes: list[Change] = [SamplesAdded(session.id, samples), SessionMetered(session)]
        if seen is not None:
            changes.append(seen)
        journaled_at = running.journaled_at
        event = None
        if _update_due(journaled_at, now, self._update_interval):
            event = DomainEvent(ev.SESSION_UPDATED, session.id, now, session_event_data(session))
            changes.append(EventJournaled(event))
            journaled_at = now
        await self._db.apply(changes)
        key = (session.charger_id, str(session.transaction_id))
        if self._held.get(key) is running:  # nothing else changed it meanwhile
            last_seq = msg.seq_no if msg is not None else None
            self._held[key] = Running(session, last_seq, journaled_at)
        if event is not None:
            self._events.publish(event)
        return session

    def note(self, session: Session, last_seq: int | None, journaled_at: datetime | None) -> None:
        """Hold the committed state of a started transaction; forget it once it is not."""
        if session.transaction_id is None:
            return
        key = (session.charger_id, session.transaction_id)
        if session.status is SessionStatus.STARTED:
            self._held[key] = Running(copy_session(session), last_seq, journaled_at)
        else:
            self._held.pop(key, None)

    def _forget_changed(self, event: DomainEvent) -> None:
        """Another write changed a transaction we hold (a joined remote start): forget it."""
        if not event.name.startswith("session."):
            return
        key = (event.data.get("charger_id"), event.data.get("transaction_id"))
        running = self._held.get(key)  # type: ignore[arg-type]
        if running is None:
            return
        if running.session.id != event.subject or event.data.get("status") != "started":
            del self._held[key]  # type: ignore[arg-type]


def baseline_from_samples(session: Session) -> bool:
    """2.0.1 has no meterStart: a session's energy baseline comes from its register samples."""
    return session.protocol is Protocol.V201


def _update_due(journaled_at: datetime | None, now: datetime, interval: float) -> bool:
    """True unless a session event was journaled less than ``interval`` seconds before ``now``.

    The last tenth of the interval (at most 1 s) already counts: a charger that samples every
    ``interval`` seconds, now and then a little early, still journals each sample rather than
    every other one. A clock that went back makes it due, so a step back cannot silence a
    session.
    """
    if journaled_at is None:
        return True
    elapsed = (now - journaled_at).total_seconds()
    return not 0 <= elapsed < interval - min(1.0, interval / 10)


def samples_only(running: Running, msg: TransactionEvent) -> bool:
    """True when ``msg`` only adds samples to ``running``: the next seqNo, nothing else new."""
    session = running.session
    return (
        msg.event_type == "Updated"
        and running.last_seq is not None
        and msg.seq_no == running.last_seq + 1
        and msg.id_token is None
        and msg.remote_start_id in (None, session.remote_start_id)
        and msg.evse_id in (None, session.evse_id)
        and msg.connector_id in (None, session.connector_id)
        and session.session_start is not None
        and msg.timestamp >= session.session_start
    )
