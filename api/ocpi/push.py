"""What we push to eMSPs, through the outbox: Sessions (PUT) as they change, the CDR (POST) when
one ends, and CommandResults (POST to the command's ``response_url``).

A session is an eMSP's when it started it (START_SESSION) or when a charger started it with a
token that eMSP pushed to us (auth_method WHITELIST); the link is written then.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel

from api.ocpi import views
from api.ocpi.framework import encode_token
from api.ocpi.schemas import CommandResult, DisplayText
from csms.config import OcpiConfig
from csms.domain import events as ev
from csms.domain.events import DomainEvent
from csms.domain.model import (
    Delivery,
    OcpiPartner,
    PartnerStatus,
    RoamingSession,
    Session,
    SessionStatus,
)
from csms.domain.ports import UnitOfWork
from csms.domain.roaming import COMMAND_RESULT, token_parties
from csms.domain.sessions import session_from_event

log = logging.getLogger("csms.ocpi")

CONSUMER = "ocpi"
_SESSION_EVENTS = frozenset(
    {
        ev.SESSION_CREATED,
        ev.SESSION_STARTED,
        ev.SESSION_UPDATED,
        ev.SESSION_ENDED,
        ev.SESSION_CANCELLED,
        ev.SESSION_START_FAILED,
    }
)


class OcpiRouter:
    """Journal consumer for registered eMSPs."""

    cursor = "ocpi"

    def __init__(self, config: OcpiConfig, currency: str) -> None:
        self._config = config
        self._currency = currency

    async def listening(self, uow: UnitOfWork) -> bool:
        return any(p.status is PartnerStatus.REGISTERED for p in await uow.roaming.partners())

    async def route(
        self, uow: UnitOfWork, events: Sequence[DomainEvent], now: datetime
    ) -> list[Delivery]:
        out: list[Delivery] = []
        latest: dict[str, DomainEvent] = {}  # one PUT per session per batch: its newest state
        ended: set[str] = set()
        begun: set[str] = set()  # only a session's start can make it an eMSP's (WHITELIST)
        for event in events:
            if event.name == COMMAND_RESULT:
                out.extend(await self._command_result(uow, event, now))
            elif event.name in _SESSION_EVENTS:
                latest[event.subject] = event
                if event.name == ev.SESSION_ENDED:
                    ended.add(event.subject)
                elif event.name in (ev.SESSION_CREATED, ev.SESSION_STARTED):
                    begun.add(event.subject)
        for session_id, event in latest.items():
            session = session_from_event(event.data)
            link = await uow.roaming.session(session_id)
            if link is None and session_id in begun:
                link = await _whitelisted(uow, session)
            if link is None:
                continue
            partner = await uow.roaming.partner(link.partner_id)
            if partner is None or partner.status is not PartnerStatus.REGISTERED:
                continue
            out.extend(self._session_push(partner, session, link, now))
            if session_id in ended:
                out.extend(await self._cdr_push(uow, partner, session, link, now))
        return out

    async def _command_result(
        self, uow: UnitOfWork, event: DomainEvent, now: datetime
    ) -> list[Delivery]:
        data = event.data
        message = data.get("message")
        result = CommandResult(
            result=data["result"],
            message=[DisplayText(language="en", text=str(message)[:512])] if message else None,
        )
        return [
            _delivery(event.subject, "POST", data["response_url"], "command_result", result, now)
        ]

    def _session_push(
        self, partner: OcpiPartner, session: Session, link: RoamingSession, now: datetime
    ) -> list[Delivery]:
        base = partner.endpoint("sessions")
        if base is None:
            return []
        cfg = self._config
        url = f"{base.rstrip('/')}/{cfg.country_code}/{cfg.party_id}/{session.id}"
        body = views.session_view(cfg, self._currency, session, link)
        return [_delivery(partner.id, "PUT", url, "session", body, now)]

    async def _cdr_push(
        self,
        uow: UnitOfWork,
        partner: OcpiPartner,
        session: Session,
        link: RoamingSession,
        now: datetime,
    ) -> list[Delivery]:
        url = partner.endpoint("cdrs")
        if url is None or session.status is not SessionStatus.ENDED:
            return []
        connectors = await uow.chargers.connectors(session.charger_id)
        ref = views.evse_ref_of(connectors, session.evse_id)
        body = views.cdr_view(self._config, self._currency, session, link, ref)
        return [_delivery(partner.id, "POST", url, "cdr", body, now)]


async def _whitelisted(uow: UnitOfWork, session: Session) -> RoamingSession | None:
    """Link a charger-started session whose token an eMSP pushed to us (WHITELIST)."""
    if session.requested_by != "charger" or not session.id_token:
        return None
    tokens = await uow.roaming.tokens_by_uid(session.id_token)
    if not tokens:
        return None
    partners = [p for p in await uow.roaming.partners() if p.status is PartnerStatus.REGISTERED]
    for token in tokens:
        for partner in partners:
            if (token.country_code, token.party_id) in token_parties(partner):
                data = token.data
                link = RoamingSession(
                    session_id=session.id,
                    partner_id=partner.id,
                    cdr_token={
                        "country_code": token.country_code,
                        "party_id": token.party_id,
                        "uid": token.uid,
                        "type": token.type,
                        "contract_id": str(data.get("contract_id") or token.uid),
                    },
                    auth_method="WHITELIST",
                    created_at=session.created_at,
                )
                await uow.roaming.add_session(link)
                return link
    return None


def _delivery(
    partner_id: str, method: str, url: str, event: str, body: BaseModel, now: datetime
) -> Delivery:
    return Delivery(
        id=secrets.token_hex(12),
        consumer=CONSUMER,
        target_id=partner_id,
        url=url,
        event=event,
        body=body.model_dump_json(exclude_none=True),
        created_at=now,
        next_attempt_at=now - timedelta(microseconds=1),
        method=method,
    )


class OcpiSender:
    """Presents our token B for the partner and the OCPI routing headers on each attempt."""

    def __init__(self, config: OcpiConfig) -> None:
        self._config = config

    async def headers(self, uow: UnitOfWork, delivery: Delivery) -> dict[str, str] | None:
        partner = await uow.roaming.partner(delivery.target_id)
        if partner is None or partner.status is not PartnerStatus.REGISTERED:
            return None
        if not partner.their_token:
            return None
        request_id = str(uuid.uuid4())
        return {
            "Content-Type": "application/json",
            "Authorization": f"Token {encode_token(partner.their_token)}",
            "X-Request-ID": request_id,
            "X-Correlation-ID": request_id,
            "OCPI-from-country-code": self._config.country_code,
            "OCPI-from-party-id": self._config.party_id,
            "OCPI-to-country-code": partner.country_code,
            "OCPI-to-party-id": partner.party_id,
        }

    async def gave_up(self, uow: UnitOfWork, delivery: Delivery) -> None:
        log.error(
            "OCPI %s %s to %s was not delivered: %s",
            delivery.event,
            delivery.id,
            delivery.target_id,
            delivery.last_error,
        )
