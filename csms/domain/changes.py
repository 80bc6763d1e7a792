"""Changes that need no reads: recorded in batches, without a unit of work per message.

A :class:`~csms.domain.ports.Database` applies a list of changes in one transaction and
returns once it is committed, exactly like ``write``; group commit folds the changes of many
concurrent callers into a few multi-row statements. The meter values of a running transaction
are recorded this way (see ``TransactionService``): they are by far the most frequent message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from csms.domain.events import DomainEvent
from csms.domain.model import Charger, ConnectorState, MeterSample, Session, SessionStatus

if TYPE_CHECKING:  # ports imports this module
    from csms.domain.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class SamplesAdded:
    """Store ``samples`` against a session; exact duplicates are ignored."""

    session_id: str
    samples: Sequence[MeterSample]


@dataclass(frozen=True, slots=True)
class SessionMetered:
    """Store what samples change on a started session: register, energy, charging times.

    Applied only while the stored session is still started, so it never revives or alters
    a session another write has ended meanwhile.
    """

    session: Session


@dataclass(frozen=True, slots=True)
class EventJournaled:
    """Append a domain event to the journal, in order."""

    event: DomainEvent


@dataclass(frozen=True, slots=True)
class TransactionEventSeen:
    """Remember a 2.0.1 TransactionEvent key, as ``SessionRepository.remember_event`` does."""

    charger_id: str
    transaction_id: str
    key: str


def event_key(seq_no: int, event_type: str, timestamp: datetime) -> str:
    """The replay key of a 2.0.1 TransactionEvent: ``seqNo|eventType|timestamp``."""
    return f"{seq_no}|{event_type}|{timestamp.isoformat()}"


def seq_of_key(key: str) -> int | None:
    """The seqNo of an :func:`event_key`, or None for a key in another format."""
    head = key.partition("|")[0]
    return int(head) if head.lstrip("-").isdigit() else None


@dataclass(frozen=True, slots=True)
class ChargerRegistered:
    """Store a new charger; nothing happens if one with its id exists."""

    charger: Charger


@dataclass(frozen=True, slots=True)
class ChargerUpdated:
    """Set some fields of a stored charger (presence, boot details); nothing if it is gone."""

    charger_id: str
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ConnectorStatusSet:
    """Store a connector's status unless the stored one is newer; an operator's evse_ref stays."""

    state: ConnectorState


Change = (
    SamplesAdded
    | SessionMetered
    | EventJournaled
    | TransactionEventSeen
    | ChargerRegistered
    | ChargerUpdated
    | ConnectorStatusSet
)

METERED_FIELDS = (
    "meter_start_wh",
    "last_register_wh",
    "energy_wh",
    "charging_start",
    "charging_end",
    "offline",
    "updated_at",
)
"""The session fields ``SessionMetered`` stores; the rest of the row is left alone."""


async def apply_in(uow: UnitOfWork, changes: Sequence[Change]) -> None:
    """Apply ``changes`` through the repositories of ``uow``: the reference behaviour.

    Storage that cannot do better (the in-memory one) applies changes with this; SQL storage
    does the same in multi-row statements.
    """
    for change in changes:
        if isinstance(change, SamplesAdded):
            await uow.sessions.add_samples(change.session_id, change.samples)
        elif isinstance(change, SessionMetered):
            stored = await uow.sessions.get(change.session.id)
            if stored is not None and stored.status is SessionStatus.STARTED:
                for name in METERED_FIELDS:
                    setattr(stored, name, getattr(change.session, name))
                await uow.sessions.save(stored)
        elif isinstance(change, EventJournaled):
            await uow.journal.append(change.event)
        elif isinstance(change, TransactionEventSeen):
            await uow.sessions.remember_event(change.charger_id, change.transaction_id, change.key)
        else:
            await _apply_charger_change(uow, change)


async def _apply_charger_change(
    uow: UnitOfWork, change: ChargerRegistered | ChargerUpdated | ConnectorStatusSet
) -> None:
    if isinstance(change, ChargerRegistered):
        if await uow.chargers.get(change.charger.id) is None:
            await uow.chargers.add(change.charger)
    elif isinstance(change, ChargerUpdated):
        charger = await uow.chargers.get(change.charger_id)
        if charger is not None:
            for name, value in change.values.items():
                setattr(charger, name, value)
            await uow.chargers.save(charger)
    else:
        state = replace(change.state)
        for known in await uow.chargers.connectors(state.charger_id):
            if (known.evse_id, known.connector_id) != (state.evse_id, state.connector_id):
                continue
            if known.timestamp and state.timestamp and known.timestamp > state.timestamp:
                return
            state.evse_ref = state.evse_ref or known.evse_ref
        await uow.chargers.set_connector(state)
