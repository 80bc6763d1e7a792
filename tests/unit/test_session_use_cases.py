"""Session use cases on the in-memory storage with a fake command bus and a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import TypeVar

import pytest

from csms.domain.authorization import AuthorizationPolicy
from csms.domain.commands import Command, CommandResult, CommandStatus, RemoteStart
from csms.domain.errors import ConnectorNotFound, ConnectorOccupied, NotAuthorized
from csms.domain.model import Charger, IdToken, Protocol, SessionStatus
from csms.domain.ports import Work
from csms.domain.sessions import SessionService
from csms.domain.tariffs import Tariff
from csms.domain.transactions import StartTransaction, TransactionService
from csms.eventbus import InMemoryEventBus
from csms.storage.memory import MemoryDatabase

T = TypeVar("T")


class FakeClock:
    def __init__(self) -> None:
        self.at = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


class Ids:
    def __init__(self) -> None:
        self._n = count(1)

    def new_id(self) -> str:
        return f"s{next(self._n)}"


class FakeBus:
    def __init__(self, status: CommandStatus = CommandStatus.ACCEPTED) -> None:
        self.status = status
        self.sent: list[tuple[str, Command]] = []

    def is_connected(self, charger_id: str) -> bool:
        return True

    async def send(self, charger_id: str, command: Command) -> CommandResult:
        self.sent.append((charger_id, command))
        return CommandResult(self.status)


@pytest.fixture
async def world() -> tuple[MemoryDatabase, FakeBus, FakeClock, SessionService, TransactionService]:
    db, bus, clock, ids, events = (
        MemoryDatabase(),
        FakeBus(),
        FakeClock(),
        Ids(),
        InMemoryEventBus(),
    )
    policy = AuthorizationPolicy()
    await db.uow.chargers.add(Charger("CP1", protocol=Protocol.V16))
    await db.uow.tokens.add(IdToken("T1"))
    sessions = SessionService(db, bus, events, clock, ids, policy, plugin_timeout=120)
    txs = TransactionService(
        db, events, clock, ids, Tariff(), policy, plugin_timeout=120, update_interval=10
    )
    return db, bus, clock, sessions, txs


async def test_timeout_and_offline_answers_end_start_failed(world: tuple) -> None:
    """A remote start the charger does not answer (timeout) ends start_failed with the reason."""
    _, bus, _, sessions, _ = world
    bus.status = CommandStatus.TIMEOUT
    outcome = await sessions.start_session("CP1", "T1", connector_id=1)
    assert outcome.session.status is SessionStatus.START_FAILED
    assert outcome.session.failure_reason == "timeout"


async def test_unknown_token_is_refused_before_asking_the_charger(world: tuple) -> None:
    """start_session checks the id token first; nothing is sent for an unknown token."""
    _, bus, _, sessions, _ = world
    with pytest.raises(NotAuthorized):
        await sessions.start_session("CP1", "NOBODY")
    assert bus.sent == []


async def test_occupied_connector_is_refused(world: tuple) -> None:
    """A connector with a started session cannot take a second remote start."""
    _, _, clock, sessions, txs = world
    await txs.start_v16(StartTransaction("CP1", 1, "T1", 0, clock.now()))
    with pytest.raises(ConnectorOccupied):
        await sessions.start_session("CP1", "T1", connector_id=1)


async def test_pending_session_expires_after_plugin_timeout(world: tuple) -> None:
    """expire_pending cancels pending sessions older than the plug-in timeout, not younger ones."""
    _, _, clock, sessions, _ = world
    outcome = await sessions.start_session("CP1", "T1", connector_id=2)
    assert await sessions.expire_pending(clock.now() + timedelta(seconds=119)) == []
    (cancelled,) = await sessions.expire_pending(clock.now() + timedelta(seconds=121))
    assert cancelled.id == outcome.session.id and cancelled.status is SessionStatus.CANCELLED


async def test_late_start_after_timeout_is_a_new_local_session(world: tuple) -> None:
    """A StartTransaction after the plug-in timeout does not join the stale pending session."""
    _, _, clock, sessions, txs = world
    outcome = await sessions.start_session("CP1", "T1", connector_id=1)
    clock.at += timedelta(seconds=200)
    await txs.start_v16(StartTransaction("CP1", 1, "T1", 0, clock.now()))
    found = await sessions.list(charger_id="CP1")
    assert {s.id for s in found if s.status is SessionStatus.STARTED} != {outcome.session.id}


class CountingDatabase(MemoryDatabase):
    """The in-memory database, counting the round trips a use case makes."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.writes = 0

    async def read(self, work: Work[T]) -> T:
        self.reads += 1
        return await super().read(work)

    async def write(self, work: Work[T]) -> T:
        self.writes += 1
        return await super().write(work)


async def test_start_at_looks_up_connector_and_user_in_one_read() -> None:
    """start_at resolves the connector and the user's token in one read, then one write."""
    db, bus = CountingDatabase(), FakeBus()
    await db.uow.chargers.add(Charger("CP1", protocol=Protocol.V16))
    await db.uow.tokens.add(IdToken("RF-1", user_id="u1"))
    sessions = SessionService(
        db, bus, InMemoryEventBus(), FakeClock(), Ids(), AuthorizationPolicy(), plugin_timeout=120
    )
    outcome = await sessions.start_at("CP1:1", "u1")
    assert outcome.session.status is SessionStatus.PENDING
    assert bus.sent[0][1] == RemoteStart("RF-1", evse_id=1)
    assert (db.reads, db.writes) == (1, 1)


async def test_start_at_an_unknown_offline_charger_is_connector_not_found() -> None:
    """A connector ref naming no known charger is ConnectorNotFound, nothing is stored or sent."""
    db, bus = CountingDatabase(), FakeBus()
    bus.is_connected = lambda charger_id: False  # type: ignore[method-assign]
    sessions = SessionService(
        db, bus, InMemoryEventBus(), FakeClock(), Ids(), AuthorizationPolicy(), plugin_timeout=120
    )
    with pytest.raises(ConnectorNotFound):
        await sessions.start_at("NOPE:1", "T1")
    assert bus.sent == [] and db.writes == 0
