"""What we send the OIOI partner: ``session-post`` when a session ends, ``connector-post-status``
when a connector's status changes. Both go through the outbox (retried, survive a restart).

A session is the partner's when it was started through OIOI (``session-start``) or with an RFID
the partner whitelisted (``rfid-post``). Connector statuses are sent for every connector; the
partner knows them by EVSE ID where one is assigned.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel

from api.oioi.schemas import ConnectorPostStatus, Cost, PostInterval, SessionPost, User
from csms.config import OioiConfig
from csms.domain import events as ev
from csms.domain.events import DomainEvent
from csms.domain.model import ConnectorState, Delivery, Session
from csms.domain.ports import UnitOfWork
from csms.domain.sessions import connector_key, session_from_event

log = logging.getLogger("csms.oioi")

CONSUMER = "oioi"
TARGET = "oioi-partner"
WHITELIST_GROUP = "oioi"  # IdToken.group_id of RFIDs the partner sent with rfid-post

# OCPP connector status (either version) -> OIOI connector status.
_STATUS = {
    "Available": "Available",
    "Preparing": "Occupied",
    "Charging": "Occupied",
    "SuspendedEV": "Occupied",
    "SuspendedEVSE": "Occupied",
    "Finishing": "Occupied",
    "Occupied": "Occupied",
    "Reserved": "Reserved",
    "Unavailable": "Offline",
    "Faulted": "Offline",
}
_RFID_TYPES = frozenset({"ISO14443", "ISO15693"})


class OioiRouter:
    """Journal consumer: session ends and connector statuses -> deliveries to the partner."""

    cursor = "oioi"

    def __init__(self, config: OioiConfig) -> None:
        self._config = config

    async def listening(self, uow: UnitOfWork) -> bool:
        return bool(self._config.partner_url)

    async def route(
        self, uow: UnitOfWork, events: Sequence[DomainEvent], now: datetime
    ) -> list[Delivery]:
        out: list[Delivery] = []
        for event in events:
            if event.name == ev.SESSION_ENDED:
                session = session_from_event(event.data)
                if await self._is_partners(uow, session):
                    out.append(self._delivery("session-post", await self._cdr(uow, session), now))
            elif event.name == ev.CONNECTOR_STATUS and event.data.get("evse_id"):
                data = event.data
                key = connector_key(event.subject, data["evse_id"], data.get("connector_id"))
                names = {_key(c): _name(c) for c in await uow.chargers.connectors(event.subject)}
                status = _STATUS.get(str(data.get("status")), "Unknown")
                body = self._status(names.get(key, key), status)
                out.append(self._delivery("connector-post-status", body, now))
            elif event.name == ev.CHARGER_OFFLINE:
                for c in await uow.chargers.connectors(event.subject):
                    if c.evse_id == 0:  # 1.6 connector 0 is the charger itself
                        continue
                    body = self._status(_name(c), "Offline")
                    out.append(self._delivery("connector-post-status", body, now))
        return out

    async def _is_partners(self, uow: UnitOfWork, session: Session) -> bool:
        if session.requested_by == "oioi":
            return True
        token = await uow.tokens.get(session.id_token) if session.id_token else None
        return token is not None and token.group_id == WHITELIST_GROUP

    async def _cdr(self, uow: UnitOfWork, session: Session) -> SessionPost:
        token = await uow.tokens.get(session.id_token) if session.id_token else None
        kind = "rfid" if token is not None and token.type in _RFID_TYPES else "evco-id"
        connectors = await uow.chargers.connectors(session.charger_id)
        on_evse = [c for c in connectors if c.evse_id == session.evse_id]
        exact = [c for c in on_evse if c.connector_id == session.connector_id]
        named = [c.evse_ref for c in (exact or on_evse) if c.evse_ref]
        key = connector_key(session.charger_id, session.evse_id, session.connector_id)
        charging = None
        if session.charging_start is not None:
            charging = PostInterval(start=session.charging_start, stop=session.charging_end)
        cost = None
        if session.cost is not None and session.currency:
            cost = Cost(amount=round(session.cost, 2), currency=session.currency)
        return SessionPost(
            user=User(identifier_type=kind, identifier=session.id_token or ""),
            session_id=session.id,
            connector_id=named[0] if named else key,
            session_interval=PostInterval(
                start=session.session_start or session.created_at, stop=session.session_end
            ),
            charging_interval=charging,
            energy_consumed=session.energy_kwh,
            calculated_cost=cost,
            partner_identifier=self._config.partner_identifier,
        )

    def _status(self, connector: str, status: str) -> ConnectorPostStatus:
        return ConnectorPostStatus(
            connector_id=connector,
            status=status,
            partner_identifier=self._config.partner_identifier,
        )

    def _delivery(self, call: str, body: BaseModel, now: datetime) -> Delivery:
        payload = {call: body.model_dump(mode="json", by_alias=True, exclude_none=True)}
        return Delivery(
            id=secrets.token_hex(12),
            consumer=CONSUMER,
            target_id=TARGET,
            url=self._config.partner_url,
            event=call,
            body=json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
            created_at=now,
            next_attempt_at=now - timedelta(microseconds=1),
        )


def _key(c: ConnectorState) -> str:
    return connector_key(c.charger_id, c.evse_id, c.connector_id)


def _name(c: ConnectorState) -> str:
    """How the partner knows a connector: its EVSE ID, or our connector id without one."""
    return c.evse_ref or _key(c)


class OioiSender:
    """Adds the partner's API key (``Authorization: key=...``) to each attempt."""

    def __init__(self, config: OioiConfig) -> None:
        self._config = config

    async def headers(self, uow: UnitOfWork, delivery: Delivery) -> dict[str, str] | None:
        if not self._config.partner_url:
            return None
        headers = {"Content-Type": "application/json", "User-Agent": "csms-oioi/4"}
        if self._config.api_key:
            headers["Authorization"] = f"key={self._config.api_key}"
        return headers

    async def gave_up(self, uow: UnitOfWork, delivery: Delivery) -> None:
        log.error(
            "OIOI %s %s was not delivered: %s", delivery.event, delivery.id, delivery.last_error
        )
