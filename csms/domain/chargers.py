"""Charger use cases: handshake admission, boot, status, authorize, presence, reported events."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from csms.domain import events as ev
from csms.domain.authorization import AuthorizationPolicy, authorize_at
from csms.domain.changes import (
    Change,
    ChargerRegistered,
    ChargerUpdated,
    ConnectorStatusSet,
    EventJournaled,
)
from csms.domain.events import DomainEvent
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
from csms.domain.rotation import PasswordChanges
from csms.domain.security import HandshakeCredentials, refusal


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
        password_changes: PasswordChanges,
    ) -> None:
        self._db = db
        self._password_changes = password_changes
        self._events = events
        self._clock = clock
        self._policy = policy
        self._auth = auth_policy
        # (charger, evse, connector) -> the newest status time stored, for chargers loaded
        self._newest_status: dict[tuple[str, int, int], datetime] = {}
        self._statuses_loaded: set[str] = set()
        self._admitted: dict[str, Charger] = {}  # read in the handshake, until the first boot

    @property
    def clock(self) -> Clock:
        return self._clock

    async def admit(self, charger_id: str, credentials: HandshakeCredentials) -> Admission:
        """Decide a handshake: 404 for an unknown id, else what the charger's profile says.

        401 for missing or wrong Basic credentials, 403 for a transport weaker than the
        charger's security profile or a client certificate that is not the charger's (see
        :mod:`csms.domain.security`).
        """
        charger = await self._db.read(lambda uow: uow.chargers.get(charger_id))
        if charger is None:
            if not self._policy.auto_register:
                return Admission(None, 404, "unknown charger")
            charger = Charger(id=charger_id, created_at=self._clock.now())
            await self._db.apply([ChargerRegistered(charger)])  # a concurrent one is kept
        # A password the charger just accepted counts (and the old one no longer) even before
        # its hash is committed: the charger reconnects with it at once (see rotation.py).
        accepted = self._password_changes.accepted_hash(charger_id)
        checked = (
            charger if accepted is None else dataclasses.replace(charger, password_hash=accepted)
        )
        refused = refusal(checked, credentials)
        if refused is not None:
            return Admission(None, refused.http_status, refused.reason)
        self._admitted[charger_id] = charger  # read once: the boot that follows uses it
        return Admission(charger, 0)

    async def boot(self, charger_id: str, info: BootInfo) -> BootDecision:
        now = self._clock.now()
        charger = self._admitted.pop(charger_id, None)
        if charger is None:  # a later boot on the same connection: look again
            charger = await self._db.read(lambda uow: _require(uow, charger_id))
        status = charger.registration_status
        accepted = status is RegistrationStatus.ACCEPTED
        details = {
            "vendor": info.vendor,
            "model": info.model,
            "serial_number": info.serial_number,
            "firmware_version": info.firmware_version,
            "boot_reason": info.reason,
            "last_boot_at": now,
            "last_seen": now,
            "boot_accepted": accepted,
        }
        event_data = {"status": status.value, **_boot_data(info)}
        await self._apply(
            charger_id, ChargerUpdated(charger_id, details), ev.CHARGER_BOOTED, event_data
        )
        interval = self._policy.heartbeat_interval if accepted else self._policy.retry_interval
        return BootDecision(status, interval, now)

    def heartbeat(self, charger_id: str) -> datetime:
        now = self._clock.now()
        self.seen(charger_id, now)
        return now

    def seen(self, charger_id: str, when: datetime) -> None:
        self._db.apply_soon([ChargerUpdated(charger_id, {"last_seen": when})])

    async def connector_status(self, state: ConnectorState) -> None:
        """Store a connector status unless a newer one is already stored."""
        state.timestamp = state.timestamp or self._clock.now()
        key = (state.charger_id, state.evse_id, state.connector_id)
        if state.charger_id not in self._statuses_loaded:  # first status since start-up
            stored = await self._db.read(lambda uow: uow.chargers.connectors(state.charger_id))
            for known in stored:
                if known.timestamp is not None:
                    self._note_status(
                        (state.charger_id, known.evse_id, known.connector_id), known.timestamp
                    )
            self._statuses_loaded.add(state.charger_id)
        newest = self._newest_status.get(key)
        if newest is not None and newest > state.timestamp:
            return  # older than what we have: an offline replay; keep the newer one
        self._note_status(key, state.timestamp)
        data = {
            "evse_id": state.evse_id,
            "connector_id": state.connector_id,
            "status": state.status,
            "error_code": state.error_code,
            "timestamp": state.timestamp.isoformat(),
        }
        await self._apply(state.charger_id, ConnectorStatusSet(state), ev.CONNECTOR_STATUS, data)

    def _note_status(self, key: tuple[str, int, int], at: datetime) -> None:
        known = self._newest_status.get(key)
        if known is None or at > known:
            self._newest_status[key] = at

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
        values = {"online": True, "protocol": protocol, "last_seen": self._clock.now()}
        change = ChargerUpdated(charger_id, values)
        await self._apply(charger_id, change, ev.CHARGER_ONLINE, {"protocol": protocol.value})

    async def disconnected(self, charger_id: str) -> None:
        self._admitted.pop(charger_id, None)
        change = ChargerUpdated(charger_id, {"online": False, "last_seen": self._clock.now()})
        await self._apply(charger_id, change, ev.CHARGER_OFFLINE, {})

    async def get(self, charger_id: str) -> Charger | None:
        return await self._db.read(lambda uow: uow.chargers.get(charger_id))

    async def _apply(
        self, charger_id: str, change: Change, event_name: str, event_data: dict[str, Any]
    ) -> None:
        """Apply ``change`` with its event journaled in the same commit, then publish it."""
        event = DomainEvent(event_name, charger_id, self._clock.now(), event_data)
        await self._db.apply([change, EventJournaled(event)])
        self._events.publish(event)


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
