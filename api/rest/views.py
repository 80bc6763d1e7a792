"""Domain objects as REST response models."""

from __future__ import annotations

from collections.abc import Sequence

from api.rest.schemas import (
    BootInfoOut,
    ChargerOut,
    ConnectorOut,
    Cost,
    MeterValue,
    Metrics,
    SessionOut,
    SessionState,
    TokenOut,
)
from csms.domain.model import (
    Charger,
    ConnectorState,
    IdToken,
    MeterSample,
    Session,
    SessionStatus,
)
from csms.domain.sessions import connector_key

# Our one status vocabulary on the wire (eDRV casing); "pending" is eDRV's "created".
WIRE_STATUS: dict[SessionStatus, SessionState] = {
    SessionStatus.PENDING: "created",
    SessionStatus.STARTED: "started",
    SessionStatus.ENDED: "ended",
    SessionStatus.CANCELLED: "cancelled",
    SessionStatus.START_FAILED: "start_failed",
}
FROM_WIRE = {wire: status for status, wire in WIRE_STATUS.items()} | {
    "pending": SessionStatus.PENDING
}


def session_out(session: Session, samples: Sequence[MeterSample] | None = None) -> SessionOut:
    period = None
    if session.charging_start and session.charging_end:
        period = int((session.charging_end - session.charging_start).total_seconds())
    return SessionOut(
        id=session.id,
        status=WIRE_STATUS[session.status],
        chargestation=session.charger_id,
        connector=connector_key(session.charger_id, session.evse_id, session.connector_id),
        evse_id=session.evse_id,
        connector_id=session.connector_id,
        user=session.id_token,
        transaction_id=session.transaction_id,
        protocol=session.protocol.value,
        requested_by=session.requested_by,
        energy_kwh=session.energy_kwh,
        metrics=Metrics(
            meterStart=session.meter_start_wh,
            meterStop=session.meter_stop_wh,
            energyConsumed=session.energy_wh,
            energyPeriod=period,
            sessionStart=session.session_start,
            sessionStop=session.session_end,
            chargingStart=session.charging_start,
            chargingStop=session.charging_end,
        ),
        cost=Cost(amount=session.cost, currency=session.currency),
        stop_reason=session.stop_reason,
        failure_reason=session.failure_reason,
        offline=session.offline,
        createdAt=session.created_at,
        updatedAt=session.updated_at,
        meter_values=None if samples is None else [_sample(s) for s in samples],
    )


def _sample(s: MeterSample) -> MeterValue:
    return MeterValue(
        timestamp=s.timestamp,
        measurand=s.measurand,
        value=s.value,
        unit=s.unit,
        phase=s.phase or None,
        location=s.location or None,
        context=s.context or None,
    )


def charger_out(
    charger: Charger, connectors: Sequence[ConnectorState], password: str | None = None
) -> ChargerOut:
    return ChargerOut(
        id=charger.id,
        endpoint=charger.id,
        protocol=charger.protocol.value if charger.protocol else None,
        online=charger.online,
        registration_status=charger.registration_status.value,
        security_profile=charger.security_profile,
        has_password=charger.password_hash is not None,
        allow_missing_subprotocol=charger.allow_missing_subprotocol,
        bootInfo=BootInfoOut(
            chargePointVendor=charger.vendor,
            chargePointModel=charger.model,
            chargePointSerialNumber=charger.serial_number,
            firmwareVersion=charger.firmware_version,
            reason=charger.boot_reason,
        ),
        connectors=[_connector(c) for c in connectors],
        lastMessageAt=charger.last_seen,
        lastBootAt=charger.last_boot_at,
        createdAt=charger.created_at,
        password=password,
    )


def _connector(c: ConnectorState) -> ConnectorOut:
    return ConnectorOut(
        id=connector_key(c.charger_id, c.evse_id, c.connector_id),
        evse_id=c.evse_id,
        connector_id=c.connector_id,
        evse_ref=c.evse_ref,
        status=c.status,
        error_code=c.error_code,
        timestamp=c.timestamp,
    )


def token_out(token: IdToken) -> TokenOut:
    return TokenOut(
        id=token.id_token,
        id_token=token.id_token,
        type=token.type,
        status=token.status.value,
        expires_at=token.expires_at,
        group_id=token.group_id,
        user_id=token.user_id,
    )
