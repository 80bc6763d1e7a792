"""Meter values of running transactions are recorded as changes, without reads (ADR 0006);
anything unusual takes the general path, and the outcome is the same either way."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from csms.domain.authorization import AuthorizationPolicy
from csms.domain.changes import Change
from csms.domain.commands import Command, CommandResult, CommandStatus
from csms.domain.events import DomainEvent
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
    def __init__(self, bus: FakeBus | None = None, update_interval: float = 10.0) -> None:
        self.db = CountingDatabase()
        self.events = InMemoryEventBus()
        self.journal: list[Any] = []
        self.events.subscribe(self.journal.append)
        clock, ids, policy = FakeClock(), Ids(), AuthorizationPolicy(accept_unknown=True)
        self.clock = clock
        self.txs = Transactions(
            self.db, self.events, clock, ids, Tariff(), policy, 120, update_interval
        )
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

    async def journaled(self) -> list[DomainEvent]:
        """The session events in the journal (what webhooks and partner pushes are sent)."""
        rows = await self.db.read(lambda uow: uow.journal.after(0, 1000))
        return [e for _, e in rows if e.name.startswith("session.")]

    def later(self, seconds: float) -> None:
        self.clock.at += timedelta(seconds=seconds)


async def _world(bus: FakeBus | None = None, update_interval: float = 10.0) -> World:
    world = World(bus, update_interval)
    await world.setup()
    return world


async def test_samples_of_a_running_transaction_are_plain_changes() -> None:
    """2.0.1: after Started, in-order Updated events are applied as changes, energy is exact
    and, with update_interval 0, each emits session.updated."""
    w = await _world(update_interval=0)
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


# -- session.updated at most once per update_interval (ADR 0010) ------------------------------


def _names_and_energy(events: list[DomainEvent]) -> list[tuple[str, float]]:
    return [(e.name, e.data["energy_wh"]) for e in events]


async def test_meter_values_within_the_interval_journal_one_update() -> None:
    """2.0.1: two Updated within update_interval store both samples and the second's energy,
    but journal and publish one session.updated (the first, once the interval since Started
    has passed)."""
    w = await _world(update_interval=10)
    await w.event("Started", 0, 1000.0)
    w.later(10)
    await w.event("Updated", 1, 1500.0)
    w.later(8.5)
    await w.event("Updated", 2, 2250.0)
    session = await w.session()
    assert session.energy_wh == 1250.0 and session.last_register_wh == 2250.0
    assert len(await w.samples(session.id)) == 3
    assert _names_and_energy(await w.journaled()) == [
        ("session.started", 0.0),
        ("session.updated", 500.0),
    ]
    assert w.updates() == 1


async def test_a_charger_sampling_at_the_interval_journals_each_sample_despite_jitter() -> None:
    """Samples every update_interval seconds, some a little early (9.2 s), each journal one
    session.updated: the last tenth of the interval (at most 1 s) counts as due."""
    w = await _world(update_interval=10)
    await w.event("Started", 0, 1000.0)
    for seq, gap in enumerate((10.0, 9.2, 10.3, 9.9), start=1):
        w.later(gap)
        await w.event("Updated", seq, 1000.0 + 100 * seq)
    assert w.updates() == 4


async def test_meter_values_16_within_the_interval_of_the_start_journal_nothing() -> None:
    """1.6: MeterValues right after StartTransaction are stored and counted without a
    session.updated, since session.started was journaled less than update_interval ago."""
    w = await _world(update_interval=10)
    tx = str((await w.txs.start_v16(StartTransaction("CP1", 1, "T1", 500, T0))).transaction_id)
    for n, wh in enumerate((900, 1300), start=1):
        w.later(1)
        at = T0 + timedelta(minutes=n)
        await w.txs.meter_values("CP1", 1, tx, [MeterSample(at, REGISTER, wh, "Wh")])
    session = await w.session(tx)
    assert session.energy_wh == 800.0 and len(await w.samples(session.id)) == 2
    assert [e.name for e in await w.journaled()] == ["session.started"]


async def test_a_meter_value_after_the_interval_journals_again() -> None:
    """Once update_interval has passed since the last journaled session.updated, the next
    meter value journals one again, with the energy of that moment."""
    w = await _world(update_interval=10)
    await w.event("Started", 0, 1000.0)
    w.later(10)
    await w.event("Updated", 1, 1500.0)  # journaled
    w.later(5)
    await w.event("Updated", 2, 2000.0)  # 5 s later: not journaled
    w.later(5)
    await w.event("Updated", 3, 2600.0)  # 10 s after the last journaled one
    assert _names_and_energy(await w.journaled()) == [
        ("session.started", 0.0),
        ("session.updated", 500.0),
        ("session.updated", 1600.0),
    ]
    assert w.updates() == 2


async def test_interval_zero_journals_every_metered_message() -> None:
    """update_interval 0: every MeterValues journals session.updated, even at the same instant."""
    w = await _world(update_interval=0)
    tx = str((await w.txs.start_v16(StartTransaction("CP1", 1, "T1", 500, T0))).transaction_id)
    for n, wh in enumerate((900, 1300, 1700), start=1):
        at = T0 + timedelta(minutes=n)
        await w.txs.meter_values("CP1", 1, tx, [MeterSample(at, REGISTER, wh, "Wh")])
    assert _names_and_energy(await w.journaled()) == [
        ("session.started", 0.0),
        ("session.updated", 400.0),
        ("session.updated", 800.0),
        ("session.updated", 1200.0),
    ]
    assert w.updates() == 3


async def test_the_ended_event_after_suppressed_updates_carries_the_final_energy() -> None:
    """Ended is never suppressed: session.ended right after unjournaled meter values carries
    the final energy, as the stored session does."""
    w = await _world(update_interval=10)
    await w.event("Started", 0, 1000.0)
    w.later(1)
    await w.event("Updated", 1, 1500.0)
    w.later(1)
    await w.event("Updated", 2, 2500.0)
    w.later(1)
    await w.event("Ended", 3, 3100.0, stopped_reason="EVDisconnected")
    assert _names_and_energy(await w.journaled()) == [
        ("session.started", 0.0),
        ("session.ended", 2100.0),
    ]
    session = await w.session()
    assert session.status is SessionStatus.ENDED and session.energy_wh == 2100.0


async def test_a_general_path_event_starts_the_interval_again() -> None:
    """A session.updated journaled by the general path (here a gap in seqNo) counts: a meter
    value on the fast path within update_interval of it journals nothing."""
    w = await _world(update_interval=10)
    await w.event("Started", 0, 1000.0)
    w.later(20)
    await w.event("Updated", 2, 2000.0)  # seqNo 1 missing: read and journaled in full
    applies = w.db.applies
    w.later(5)
    await w.event("Updated", 3, 2500.0)
    assert w.db.applies == applies + 1  # the fast path
    assert _names_and_energy(await w.journaled()) == [
        ("session.started", 0.0),
        ("session.updated", 1000.0),
    ]
    assert (await w.session()).energy_wh == 1500.0


async def test_a_clock_stepped_back_does_not_silence_updates() -> None:
    """If the clock goes back past the last journaled event, the next meter value journals."""
    w = await _world(update_interval=10)
    await w.event("Started", 0, 1000.0)
    w.later(-60)
    await w.event("Updated", 1, 1500.0)
    assert [e.name for e in await w.journaled()] == ["session.started", "session.updated"]
