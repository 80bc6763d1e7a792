"""Charger use cases: handshake admission, boot, status, authorize, presence, reported events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from csms.domain import events as ev
from csms.domain.authorization import AuthorizationPolicy, authorize_at
from csms.domain.credentials import verify_password
from csms.domain.events import DomainEvent
from csms.domain.journal import journaled_write
from csms.domain.model import (
    Authorization,
    BootInfo,
    Charger,
    ChargerEvent,
    ConnectorState,
    Protocol,
    RegistrationStatus,
    SessionStatus,
    TokenStatus,
)
from csms.domain.ports import Clock, Database, EventBus, UnitOfWork

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ChargerPolicy:
    auto_register: bool = False
    heartbeat_interval: int = 300
    retry_interval: int = 60  # what a Pending/Rejected charger waits before its next Boot
    plugin_timeout: float = 120.0


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of checking a WebSocket handshake."""

    charger: Charger | None
    http_status: int  # 0 = admitted
    reason: str = ""

    @property
    def admitted(self) -> bool:
        return self.http_status == 0


@dataclass(frozen=True, slots=True)
class BootDecision:
    status: RegistrationStatus
    interval: int
    current_time: datetime


class ChargerService:
    def __init__(
        self,
        db: Database,
        events: EventBus,
        clock: Clock,
        policy: ChargerPolicy,
        auth_policy: AuthorizationPolicy,
    ) -> None:
        self._db = db
        self._events = events
        self._clock = clock
        self._policy = policy
        self._auth = auth_policy

    @property
    def clock(self) -> Clock:
        return self._clock

    async def admit(self, charger_id: str, password: str | None) -> Admission:
        """Decide a handshake: 404 for an unknown id, 401 for missing or wrong credentials."""
        charger = await self._db.read(lambda uow: uow.chargers.get(charger_id))
        if charger is None:
            if not self._policy.auto_register:
                return Admission(None, 404, "unknown charger")
            charger = await self._db.write(self._register(charger_id))
        if charger.password_hash is not None:
            if password is None:
                return Admission(None, 401, "credentials required")
            if not verify_password(password, charger.password_hash):
                return Admission(None, 401, "invalid credentials")
        return Admission(charger, 0)

    def _register(self, charger_id: str) -> Callable[[UnitOfWork], Awaitable[Charger]]:
        new = Charger(id=charger_id, created_at=self._clock.now())

        async def register(uow: UnitOfWork) -> Charger:
            existing = await uow.chargers.get(charger_id)
            if existing is not None:
                return existing
            await uow.chargers.add(new)
            return new

        return register

    async def boot(self, charger_id: str, info: BootInfo) -> BootDecision:
        now = self._clock.now()

        async def _boot(uow: UnitOfWork) -> RegistrationStatus:
            charger = await _require(uow, charger_id)
            charger.vendor, charger.model = info.vendor, info.model
            charger.serial_number = info.serial_number
            charger.firmware_version = info.firmware_version
            charger.boot_reason = info.reason
            charger.last_boot_at = charger.last_seen = now
            charger.boot_accepted = charger.registration_status is RegistrationStatus.ACCEPTED
            await uow.chargers.save(charger)
            return charger.registration_status

        status = await self._write(
            charger_id,
            _boot,
            lambda st: (ev.CHARGER_BOOTED, {"status": st.value, **_boot_data(info)}),
        )
        accepted = status is RegistrationStatus.ACCEPTED
        interval = self._policy.heartbeat_interval if accepted else self._policy.retry_interval
        return BootDecision(status, interval, now)

    def heartbeat(self, charger_id: str) -> datetime:
        now = self._clock.now()
        self.seen(charger_id, now)
        return now

    def seen(self, charger_id: str, when: datetime) -> None:
        async def _seen(uow: UnitOfWork) -> None:
            charger = await uow.chargers.get(charger_id)
            if charger is not None:
                charger.last_seen = when
                await uow.chargers.save(charger)

        self._db.write_soon(_seen)

    async def connector_status(self, state: ConnectorState) -> None:
        """Store a connector status unless a newer one is already stored."""
        state.timestamp = state.timestamp or self._clock.now()

        async def _store(uow: UnitOfWork) -> bool:
            for known in await uow.chargers.connectors(state.charger_id):
                if (known.evse_id, known.connector_id) != (state.evse_id, state.connector_id):
                    continue
                if known.timestamp and state.timestamp and known.timestamp > state.timestamp:
                    return False
                state.evse_ref = state.evse_ref or known.evse_ref  # set by the operator
            await uow.chargers.set_connector(state)
            return True

        def _event(stored: bool) -> tuple[str, dict[str, Any]] | None:
            if not stored:
                return None
            return ev.CONNECTOR_STATUS, {
                "evse_id": state.evse_id,
                "connector_id": state.connector_id,
                "status": state.status,
                "error_code": state.error_code,
                "timestamp": state.timestamp.isoformat() if state.timestamp else None,
            }

        await self._write(state.charger_id, _store, _event)

    async def authorize(
        self, charger_id: str, id_token: str, token_type: str | None
    ) -> Authorization:
        """Authorize a token at a charger; a token we remote-started there is accepted."""
        now = self._clock.now()
        since = now - timedelta(seconds=self._policy.plugin_timeout)

        async def _check(uow: UnitOfWork) -> Authorization:
            pending = await uow.sessions.pending_for(charger_id, id_token, since)
            if any(s.status is SessionStatus.PENDING for s in pending):
                return Authorization(TokenStatus.ACCEPTED)
            return await authorize_at(uow, self._auth, charger_id, id_token, now, token_type)

        return await self._db.read(_check)

    async def record_event(self, charger_id: str, kind: str, data: dict[str, Any]) -> None:
        """Durably store something the charger reported (security event, firmware status...)."""
        event = ChargerEvent(charger_id, kind, self._clock.now(), data)
        await self._db.write(lambda uow: uow.chargers.add_event(event))

    async def connected(self, charger_id: str, protocol: Protocol) -> None:
        now = self._clock.now()

        async def _online(uow: UnitOfWork) -> None:
            charger = await _require(uow, charger_id)
            charger.online, charger.protocol, charger.last_seen = True, protocol, now
            await uow.chargers.save(charger)

        await self._write(
            charger_id, _online, lambda _: (ev.CHARGER_ONLINE, {"protocol": protocol.value})
        )

    async def disconnected(self, charger_id: str) -> None:
        now = self._clock.now()

        async def _offline(uow: UnitOfWork) -> None:
            charger = await uow.chargers.get(charger_id)
            if charger is not None:
                charger.online, charger.last_seen = False, now
                await uow.chargers.save(charger)

        await self._write(charger_id, _offline, lambda _: (ev.CHARGER_OFFLINE, {}))

    async def get(self, charger_id: str) -> Charger | None:
        return await self._db.read(lambda uow: uow.chargers.get(charger_id))

    async def _write(
        self,
        charger_id: str,
        work: Callable[[UnitOfWork], Awaitable[T]],
        event: Callable[[T], tuple[str, dict[str, Any]] | None],
    ) -> T:
        """Run ``work``; the event made from its result is journaled with it, then published."""

        async def run(uow: UnitOfWork, emitted: list[DomainEvent]) -> T:
            result = await work(uow)
            made = event(result)
            if made is not None:
                name, data = made
                emitted.append(DomainEvent(name, charger_id, self._clock.now(), data))
            return result

        return await journaled_write(self._db, self._events, run)


async def _require(uow: UnitOfWork, charger_id: str) -> Charger:
    from csms.domain.errors import ChargerNotFound

    charger = await uow.chargers.get(charger_id)
    if charger is None:
        raise ChargerNotFound(charger_id)
    return charger


def _boot_data(info: BootInfo) -> dict[str, Any]:
    return {
        "vendor": info.vendor,
        "model": info.model,
        "serial_number": info.serial_number,
        "firmware_version": info.firmware_version,
        "reason": info.reason,
    }
