"""Meter values of running transactions are recorded as changes, without reads (ADR 0006);
anything unusual takes the general path, and the outcome is the same either way."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from csms.domain.authorization import AuthorizationPolicy
from csms.domain.changes import Change
from csms.domain.commands import Command, CommandResult, CommandStatus
from csms.domain.model import Charger, MeterSample, Protocol, Session, SessionStatus
from csms.domain.ports import Work
from csms.domain.sessions import SessionService
from csms.domain.tariffs import Tariff
from csms.domain.transactions import StartTransaction, StopTransaction, TransactionEvent
from csms.domain.transactions import TransactionService as Transactions
from csms.eventbus import InMemoryEventBus
from csms.storage.memory import MemoryDatabase
from tests.unit.test_session_use_cases import FakeBus, FakeClock, Ids

T = TypeVar("T")
T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
REGISTER = "Energy.Active.Import.Register"


class CountingDatabase:
    """The in-memory database, counting general writes and plain changes."""

    def __init__(self) -> None:
        self.inner = MemoryDatabase()
        self.writes = 0
        self.applies = 0

    async def write(self, work: Work[T]) -> T:
        self.writes += 1
        return await self.inner.write(work)

    def write_soon(self, work: Work[object]) -> None:
        self.inner.write_soon(work)

    async def apply(self, changes: Sequence[Change]) -> None:
        self.applies += 1
        await self.inner.apply(changes)

    def apply_soon(self, changes: Sequence[Change]) -> None:
        self.inner.apply_soon(changes)

    async def read(self, work: Work[T]) -> T:
        return await self.inner.read(work)


class World:
    def __init__(self, bus: FakeBus | None = None) -> None:
        self.db = CountingDatabase()
        self.events = InMemoryEventBus()
        self.journal: list[Any] = []
        self.events.subscribe(self.journal.append)
        clock, ids, policy = FakeClock(), Ids(), AuthorizationPolicy(accept_unknown=True)
        self.txs = Transactions(self.db, self.events, clock, ids, Tariff(), policy, 120)
        bus = bus or FakeBus()
        self.sessions = SessionService(self.db, bus, self.events, clock, ids, policy, 120)

    async def setup(self) -> None:
        await self.db.inner.uow.chargers.add(Charger("CP1", protocol=Protocol.V201))

    async def event(self, kind: str, seq: int, wh: float, tx: str = "TX1", **extra: Any) -> None:
        at = T0 + timedelta(minutes=seq)
        await self.txs.event_v201(
            TransactionEvent(
                "CP1",
                kind,
                at,
                "MeterValuePeriodic",
                seq,
                tx,
                samples=[MeterSample(at, REGISTER, wh, "Wh")],
                **extra,
            )
        )

    async def session(self, tx: str = "TX1") -> Session:
        found = await self.db.read(lambda uow: uow.sessions.by_transaction("CP1", tx))
        assert found is not None
        return found

    async def samples(self, session_id: str) -> list[MeterSample]:
        return await self.db.read(lambda uow: uow.sessions.samples(session_id))

    def updates(self) -> int:
        return sum(1 for e in self.journal if e.name == "session.updated")


async def _world(bus: FakeBus | None = None) -> World:
    world = World(bus)
    await world.setup()
    return world


async def test_samples_of_a_running_transaction_are_plain_changes() -> None:
    """2.0.1: after Started, in-order Updated events are applied as changes, energy is exact
    and each emits session.updated."""
    w = await _world()
    await w.event("Started", 0, 1000.0)
    writes = w.db.writes
    for seq, wh in ((1, 1500.0), (2, 2250.5), (3, 4000.0)):
        await w.event("Updated", seq, wh)
    assert (w.db.writes, w.db.applies) == (writes, 3)
    session = await w.session()
    assert session.energy_wh == 3000.0 and session.last_register_wh == 4000.0
    assert len(await w.samples(session.id)) == 4
    assert w.updates() == 3


async def test_a_replayed_event_changes_nothing() -> None:
    """TC_E_xx-style replay: the same Updated (same seqNo) again is answered but stores no
    second sample and emits no event; it goes through the general path."""
    w = await _world()
    await w.event("Started", 0, 1000.0)
    await w.event("Updated", 1, 1800.0)
    writes, updates = w.db.writes, w.updates()
    await w.event("Updated", 1, 1800.0)
    assert w.db.writes == writes + 1 and w.updates() == updates
    session = await w.session()
    assert session.energy_wh == 800.0 and len(await w.samples(session.id)) == 2


async def test_events_out_of_order_take_the_general_path_and_count() -> None:
    """A gap in seqNo and a late event are read and applied in full; the register wins."""
    w = await _world()
    await w.event("Started", 0, 1000.0)
    await w.event("Updated", 1, 1500.0)
    applies = w.db.applies
    await w.event("Updated", 3, 3000.0)  # seqNo 2 is missing
    await w.event("Updated", 2, 2000.0)  # ...and arrives late
    assert w.db.applies == applies
    await w.event("Updated", 4, 3500.0)  # in order again after the highest
    assert w.db.applies == applies + 1
    session = await w.session()
    assert session.energy_wh == 2500.0 and len(await w.samples(session.id)) == 5


async def test_after_the_end_samples_are_kept_but_not_counted() -> None:
    """Ended forgets the transaction: a late Updated is stored against it, energy unchanged."""
    w = await _world()
    await w.event("Started", 0, 1000.0)
    await w.event("Updated", 1, 1500.0)
    await w.event("Ended", 2, 2000.0, stopped_reason="EVDisconnected")
    applies = w.db.applies
    await w.event("Updated", 3, 9000.0)
    assert w.db.applies == applies
    session = await w.session()
    assert session.status is SessionStatus.ENDED and session.energy_wh == 1000.0
    assert len(await w.samples(session.id)) == 4


async def test_a_joined_remote_start_takes_over_the_samples() -> None:
    """F01: a transaction started on plug-in, then joined by our remote start (its remoteStartId
    arrives on an Updated): later samples count for the remote start's session only."""
    w = await _world()
    await w.event("Started", 0, 1000.0)
    await w.event("Updated", 1, 1500.0)
    outcome = await w.sessions.start_session("CP1", "T1", connector_id=None)
    remote_id = outcome.session.remote_start_id
    await w.event("Updated", 2, 2000.0, remote_start_id=remote_id)
    await w.event("Updated", 3, 3000.0)
    session = await w.session()
    assert session.id == outcome.session.id
    assert session.status is SessionStatus.STARTED and session.energy_wh == 2000.0
    merged = await w.db.read(lambda uow: uow.sessions.list(status=SessionStatus.CANCELLED))
    assert len(merged) == 1 and await w.samples(merged[0].id) == []


async def test_meter_values_16_before_and_after_stop() -> None:
    """1.6: MeterValues of a started transaction are changes; after StopTransaction they are
    kept against the ended session without changing its energy."""
    w = await _world()
    answer = await w.txs.start_v16(StartTransaction("CP1", 1, "T1", 500, T0))
    tx = str(answer.transaction_id)
    writes = w.db.writes
    for n, wh in enumerate((900, 1300), start=1):
        at = T0 + timedelta(minutes=n)
        await w.txs.meter_values("CP1", 1, tx, [MeterSample(at, REGISTER, wh, "Wh")])
    assert w.db.writes == writes
    stop_at = T0 + timedelta(minutes=3)
    await w.txs.stop_v16(StopTransaction("CP1", int(tx), 1500, stop_at))
    late = [MeterSample(T0 + timedelta(minutes=4), REGISTER, 9999, "Wh")]
    await w.txs.meter_values("CP1", 1, tx, late)
    session = await w.session(tx)
    assert session.status is SessionStatus.ENDED and session.energy_wh == 1000.0
    assert len(await w.samples(session.id)) == 3


class AnsweringBus(FakeBus):
    """A charger that answers RequestStartTransaction with the transaction it already runs."""

    def __init__(self, transaction_id: str) -> None:
        super().__init__()
        self.transaction_id = transaction_id

    async def send(self, charger_id: str, command: Command) -> CommandResult:
        self.sent.append((charger_id, command))
        return CommandResult(CommandStatus.ACCEPTED, {"transactionId": self.transaction_id})


async def test_a_remote_start_answered_with_the_running_transaction_takes_it_over() -> None:
    """F01 (the answer carries the running transactionId): the transaction we held for the
    charger's own session is forgotten, so the next samples count for the remote start."""
    w = await _world(AnsweringBus("TX1"))
    await w.event("Started", 0, 1000.0)
    await w.event("Updated", 1, 1500.0)
    outcome = await w.sessions.start_session("CP1", "T1", connector_id=None)
    await w.event("Updated", 2, 2500.0)
    session = await w.session()
    assert session.id == outcome.session.id
    assert session.status is SessionStatus.STARTED and session.energy_wh == 1500.0
    assert len(await w.samples(session.id)) == 3
