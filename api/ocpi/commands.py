"""OCPI 2.2.1 Commands receiver: ``POST /ocpi/2.2.1/commands/{command}``.

The answer (CommandResponse) is our own decision, given at once with the ``timeout`` the eMSP
should wait; the charger's outcome follows as a CommandResult POSTed to ``response_url``
(through the outbox). START_SESSION follows §13.3.5: the eMSP has authorized the token, so we
do not check it before the remote start, the charger's own checks on it are accepted (see
``authorize_at``), and an unknown token is not added to our tokens; its details go into the
Session and the CDR.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from api.ocpi.framework import VERSION, OcpiCall, OcpiEndpoint, OcpiError, OcpiReply, dump, endpoint
from api.ocpi.schemas import (
    CancelReservation,
    CdrToken,
    CommandResponse,
    DisplayText,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
)
from api.ocpi.views import INOPERATIVE, parse_evse_uid
from csms.domain.authorization import ROAMING_REQUESTER
from csms.domain.commands import CommandResult, CommandStatus
from csms.domain.commands import UnlockConnector as Unlock
from csms.domain.errors import ConnectorOccupied, DomainError, NotFound
from csms.domain.model import ConnectorState, OcpiPartner, RoamingSession, Session
from csms.domain.ports import UnitOfWork
from csms.domain.roaming import token_parties

log = logging.getLogger("csms.ocpi")

# Work that outlives the request (waiting for the charger); referenced so it is not collected.
_RUNNING: set[asyncio.Task[None]] = set()

# OCPI TokenType -> OCPP 2.0.1 IdTokenEnumType for RequestStartTransaction.
_OCPP_TOKEN_TYPE = {"RFID": "ISO14443", "APP_USER": "Central", "AD_HOC_USER": "Central"}
# The charger's answer -> CommandResult.
_RESULT = {
    CommandStatus.ACCEPTED: "ACCEPTED",
    CommandStatus.REJECTED: "REJECTED",
    CommandStatus.TIMEOUT: "TIMEOUT",
    CommandStatus.OFFLINE: "FAILED",
    CommandStatus.FAILED: "FAILED",
}


def _response(call: OcpiCall, result: str, message: str | None = None) -> CommandResponse:
    text = [DisplayText(language="en", text=message[:512])] if message else None
    # Never promise less than the charger's own answer time plus the trip through the outbox.
    config = call.services.config
    timeout = max(config.ocpi.command_timeout, math.ceil(config.ocpp.call_timeout) + 10)
    return CommandResponse(result=result, timeout=timeout, message=text)


def _later(
    call: OcpiCall, response_url: str, work: Callable[[], Awaitable[tuple[str, str | None]]]
) -> None:
    """Run ``work`` after answering; its (result, message) becomes the CommandResult."""
    services, partner_id = call.services, call.partner.id

    async def run() -> None:
        try:
            result, message = await work()
        except Exception:
            log.exception("OCPI command for %s failed", partner_id)
            result, message = "FAILED", "internal error"
        await services.roaming.command_result(partner_id, response_url, result, message)

    task = asyncio.create_task(run(), name="ocpi-command")
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)


def _outcome(result: CommandResult) -> tuple[str, str | None]:
    return _RESULT[result.status], None if result.accepted else result.describe()


async def _connectors(call: OcpiCall, location_id: str) -> list[ConnectorState]:
    try:
        _, connectors = await call.services.operators.charger(location_id)
    except NotFound:
        message = f"unknown location {location_id!r}"
        raise OcpiError(2003, message, data=dump(_response(call, "REJECTED", message))) from None
    return connectors


@endpoint(
    "POST",
    f"/{VERSION}/commands/START_SESSION",
    "Start a session (RemoteStartTransaction / RequestStartTransaction)",
    body=StartSession,
    description="Unknown location: status_code 2003. The CommandResult (ACCEPTED, REJECTED, "
    "TIMEOUT, FAILED, EVSE_OCCUPIED, EVSE_INOPERATIVE) is POSTed to response_url.",
)
async def start_session(call: OcpiCall) -> OcpiReply:
    body = await call.body(StartSession)
    token = body.token
    if (token.country_code.upper(), token.party_id.upper()) not in token_parties(call.partner):
        message = f"token of {token.country_code}/{token.party_id}, not of this eMSP"
        return OcpiReply(dump(_response(call, "REJECTED", message)))
    connectors = await _connectors(call, body.location_id)
    evse_id: int | None = None
    connector_id: int | None = None
    if body.evse_uid is not None:
        evse_id = parse_evse_uid(body.location_id, body.evse_uid)
        on_evse = [c for c in connectors if c.evse_id == evse_id]
        if evse_id is None or not on_evse:
            message = f"unknown EVSE {body.evse_uid!r}"
            return OcpiReply(dump(_response(call, "REJECTED", message)))
        if body.connector_id is not None:
            chosen = [c for c in on_evse if str(c.connector_id) == body.connector_id]
            if not chosen:
                message = f"unknown connector {body.connector_id!r}"
                return OcpiReply(dump(_response(call, "REJECTED", message)))
            connector_id = chosen[0].connector_id
    if not call.services.bus.is_connected(body.location_id):
        return OcpiReply(dump(_response(call, "REJECTED", "the charger is offline")))
    services, partner = call.services, call.partner
    on_evse = [c for c in connectors if evse_id is not None and c.evse_id == evse_id]

    async def run() -> tuple[str, str | None]:
        if on_evse and all(c.status in INOPERATIVE for c in on_evse):
            return "EVSE_INOPERATIVE", f"the EVSE is {on_evse[0].status}"
        try:
            outcome = await services.sessions.start_session(
                body.location_id,
                token.uid,
                evse_id=evse_id,
                connector_id=connector_id,
                id_token_type=_OCPP_TOKEN_TYPE.get(token.type, "Central"),
                requested_by=ROAMING_REQUESTER + partner.id,
                check_token=False,
                attach=_linker(partner, body),
            )
        except ConnectorOccupied as exc:
            return "EVSE_OCCUPIED", str(exc)
        except DomainError as exc:
            return "FAILED", str(exc)
        return _outcome(outcome.result)

    _later(call, body.response_url, run)
    return OcpiReply(dump(_response(call, "ACCEPTED")))


def _linker(
    partner: OcpiPartner, body: StartSession
) -> Callable[[UnitOfWork, Session], Awaitable[None]]:
    token = body.token
    cdr_token = CdrToken(
        country_code=token.country_code.upper(),
        party_id=token.party_id.upper(),
        uid=token.uid,
        type=token.type,
        contract_id=token.contract_id,
    ).model_dump(mode="json")

    async def attach(uow: UnitOfWork, session: Session) -> None:
        link = RoamingSession(
            session_id=session.id,
            partner_id=partner.id,
            cdr_token=cdr_token,
            auth_method="COMMAND",
            created_at=session.created_at,
            authorization_reference=body.authorization_reference,
        )
        await uow.roaming.add_session(link)

    return attach


@endpoint(
    "POST",
    f"/{VERSION}/commands/STOP_SESSION",
    "Stop one of your sessions (RemoteStopTransaction / RequestStopTransaction)",
    body=StopSession,
    description="UNKNOWN_SESSION when the session is not yours or does not exist.",
)
async def stop_session(call: OcpiCall) -> OcpiReply:
    body = await call.body(StopSession)
    link = await call.services.roaming.session(body.session_id)
    if link is None or link.partner_id != call.partner.id:
        return OcpiReply(dump(_response(call, "UNKNOWN_SESSION", "no such session of yours")))
    session = await call.services.sessions.get(body.session_id)
    if not session.is_open:
        message = f"the session is {session.status.value}"
        return OcpiReply(dump(_response(call, "REJECTED", message)))
    services = call.services

    async def run() -> tuple[str, str | None]:
        try:
            return _outcome(await services.sessions.stop_session(body.session_id))
        except DomainError as exc:
            return "FAILED", str(exc)

    _later(call, body.response_url, run)
    return OcpiReply(dump(_response(call, "ACCEPTED")))


@endpoint(
    "POST",
    f"/{VERSION}/commands/UNLOCK_CONNECTOR",
    "Unlock a connector (UnlockConnector)",
    body=UnlockConnector,
)
async def unlock_connector(call: OcpiCall) -> OcpiReply:
    body = await call.body(UnlockConnector)
    connectors = await _connectors(call, body.location_id)
    evse_id = parse_evse_uid(body.location_id, body.evse_uid)
    chosen = [
        c for c in connectors if c.evse_id == evse_id and str(c.connector_id) == body.connector_id
    ]
    if evse_id is None or not chosen:
        message = f"unknown EVSE {body.evse_uid!r} or connector {body.connector_id!r}"
        return OcpiReply(dump(_response(call, "REJECTED", message)))
    if not call.services.bus.is_connected(body.location_id):
        return OcpiReply(dump(_response(call, "REJECTED", "the charger is offline")))
    services, target = call.services, chosen[0]

    async def run() -> tuple[str, str | None]:
        command = Unlock(target.evse_id, target.connector_id)
        return _outcome(await services.bus.send(body.location_id, command))

    _later(call, body.response_url, run)
    return OcpiReply(dump(_response(call, "ACCEPTED")))


@endpoint(
    "POST",
    f"/{VERSION}/commands/RESERVE_NOW",
    "Reservations are not supported yet: NOT_SUPPORTED",
    body=ReserveNow,
)
async def reserve_now(call: OcpiCall) -> OcpiReply:
    await call.body(ReserveNow)
    return OcpiReply(dump(_response(call, "NOT_SUPPORTED", "reservations are not supported")))


@endpoint(
    "POST",
    f"/{VERSION}/commands/CANCEL_RESERVATION",
    "Reservations are not supported yet: NOT_SUPPORTED",
    body=CancelReservation,
)
async def cancel_reservation(call: OcpiCall) -> OcpiReply:
    await call.body(CancelReservation)
    return OcpiReply(dump(_response(call, "NOT_SUPPORTED", "reservations are not supported")))


ENDPOINTS: list[OcpiEndpoint] = [
    start_session,
    stop_session,
    unlock_connector,
    reserve_now,
    cancel_reservation,
]
