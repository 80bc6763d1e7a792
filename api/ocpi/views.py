"""Our chargers and sessions as OCPI 2.2.1 objects: Location, EVSE, Session, CDR.

Identifiers: a Location is a charger (``location_id`` = charger id); an EVSE's ``uid`` is our
connector id ``<charger>:<evse>`` (OCPP 1.6 connectors are EVSEs of their own, as OCPI asks);
a connector's id is its OCPP connector number. ``evse_id`` is the operator's EVSE ID where one
is assigned. A CDR has the id of the session it closes.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from api.ocpi.schemas import (
    Cdr,
    CdrDimension,
    CdrLocation,
    CdrToken,
    ChargingPeriod,
    Connector,
    Evse,
    GeoLocation,
    Location,
    OcpiSession,
    Price,
)
from csms.config import OcpiConfig
from csms.domain.model import Charger, ConnectorState, RoamingSession, Session, SessionStatus
from csms.domain.sessions import connector_key

# OCPP connector status (either version) -> OCPI EVSE status.
_EVSE_STATUS = {
    "Available": "AVAILABLE",
    "Preparing": "CHARGING",
    "Charging": "CHARGING",
    "SuspendedEV": "CHARGING",
    "SuspendedEVSE": "CHARGING",
    "Finishing": "CHARGING",
    "Occupied": "CHARGING",
    "Reserved": "RESERVED",
    "Unavailable": "INOPERATIVE",
    "Faulted": "OUTOFORDER",
}
INOPERATIVE = frozenset({"Unavailable", "Faulted"})
_SESSION_STATUS = {
    SessionStatus.PENDING: "PENDING",
    SessionStatus.STARTED: "ACTIVE",
    SessionStatus.ENDED: "COMPLETED",
    SessionStatus.CANCELLED: "INVALID",
    SessionStatus.START_FAILED: "INVALID",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def evse_uid(charger_id: str, evse_id: int | None) -> str:
    return connector_key(charger_id, evse_id, None) if evse_id is not None else "#NA"


def parse_evse_uid(location_id: str, uid: str) -> int | None:
    """The EVSE number of ``uid`` if it is an EVSE of ``location_id``."""
    prefix = f"{location_id}:"
    number = uid[len(prefix) :] if uid.startswith(prefix) else ""
    return int(number) if number.isdigit() and int(number) > 0 else None


def location(cfg: OcpiConfig, charger: Charger, connectors: list[ConnectorState]) -> Location:
    by_evse: dict[int, list[ConnectorState]] = defaultdict(list)
    for c in connectors:
        if c.evse_id > 0:  # 1.6 connector 0 is the whole charger
            by_evse[c.evse_id].append(c)
    evses = [evse(cfg, charger, n, by_evse[n]) for n in sorted(by_evse)]
    stamps = [charger.created_at, charger.last_boot_at, *(e.last_updated for e in evses)]
    return Location(
        country_code=cfg.country_code,
        party_id=cfg.party_id,
        id=charger.id,
        publish=True,
        name=charger.id,
        address=cfg.address,
        city=cfg.city,
        postal_code=cfg.postal_code or None,
        country=cfg.country,
        coordinates=GeoLocation(latitude=cfg.latitude, longitude=cfg.longitude),
        evses=evses,
        time_zone=cfg.time_zone,
        last_updated=max((s for s in stamps if s is not None), default=_EPOCH),
    )


def evse(cfg: OcpiConfig, charger: Charger, number: int, connectors: list[ConnectorState]) -> Evse:
    statuses = [c.status for c in connectors]
    status = "UNKNOWN" if not charger.online else _status(statuses)
    updated = max((c.timestamp for c in connectors if c.timestamp), default=None)
    updated = updated or charger.created_at or _EPOCH
    return Evse(
        uid=evse_uid(charger.id, number),
        evse_id=next((c.evse_ref for c in connectors if c.evse_ref), None),
        status=status,
        capabilities=["REMOTE_START_STOP_CAPABLE", "UNLOCK_CAPABLE"],
        connectors=[
            Connector(
                id=str(c.connector_id),
                standard=cfg.connector_standard,
                format=cfg.connector_format,
                power_type=cfg.power_type,
                max_voltage=cfg.max_voltage,
                max_amperage=cfg.max_amperage,
                last_updated=c.timestamp or updated,
            )
            for c in sorted(connectors, key=lambda c: c.connector_id)
        ],
        last_updated=updated,
    )


def _status(statuses: list[str]) -> str:
    mapped = [_EVSE_STATUS.get(s, "UNKNOWN") for s in statuses]
    for preferred in ("CHARGING", "RESERVED", "OUTOFORDER", "INOPERATIVE", "AVAILABLE"):
        if preferred in mapped:
            return preferred
    return "UNKNOWN"


def _periods(session: Session, *, with_time: bool) -> list[ChargingPeriod]:
    start = session.session_start or session.created_at
    dimensions = [CdrDimension(type="ENERGY", volume=_kwh(session))]
    if with_time:
        dimensions.append(CdrDimension(type="TIME", volume=_hours(session)))
    return [ChargingPeriod(start_date_time=start, dimensions=dimensions)]


def _kwh(session: Session) -> float:
    """OCPI numbers carry at most 4 decimals (0.1 Wh)."""
    return round(session.energy_wh / 1000.0, 4)


def emi3_evse_id(cfg: OcpiConfig, uid: str) -> str:
    """An eMI3-style EVSE ID for an EVSE the operator gave none: ``CC*PID*E<charger>*<evse>``."""
    body = "".join(ch if ch.isalnum() else "*" for ch in uid)
    return f"{cfg.country_code}*{cfg.party_id}*E{body}"[:48]


def _hours(session: Session) -> float:
    start = session.session_start or session.created_at
    end = session.session_end or session.updated_at
    return round(max(0.0, (end - start).total_seconds()) / 3600.0, 4)


def session_view(
    cfg: OcpiConfig, currency: str, session: Session, link: RoamingSession
) -> OcpiSession:
    started = session.status is not SessionStatus.PENDING
    return OcpiSession(
        country_code=cfg.country_code,
        party_id=cfg.party_id,
        id=session.id,
        start_date_time=session.session_start or session.created_at,
        end_date_time=session.session_end,
        kwh=_kwh(session),
        cdr_token=CdrToken.model_validate(link.cdr_token),
        auth_method=link.auth_method,
        authorization_reference=link.authorization_reference,
        location_id=session.charger_id,
        evse_uid=evse_uid(session.charger_id, session.evse_id),
        connector_id=str(session.connector_id) if session.connector_id else "#NA",
        currency=session.currency or currency,
        charging_periods=_periods(session, with_time=False) if started else None,
        total_cost=Price(excl_vat=round(session.cost, 4)) if session.cost is not None else None,
        status=_SESSION_STATUS[session.status],
        last_updated=session.updated_at,
    )


def cdr_view(
    cfg: OcpiConfig,
    currency: str,
    session: Session,
    link: RoamingSession,
    evse_ref: str | None,
) -> Cdr:
    start = session.session_start or session.created_at
    uid = evse_uid(session.charger_id, session.evse_id)
    return Cdr(
        country_code=cfg.country_code,
        party_id=cfg.party_id,
        id=session.id,
        start_date_time=start,
        end_date_time=session.session_end or session.updated_at,
        session_id=session.id,
        cdr_token=CdrToken.model_validate(link.cdr_token),
        auth_method=link.auth_method,
        authorization_reference=link.authorization_reference,
        cdr_location=CdrLocation(
            id=session.charger_id,
            name=session.charger_id,
            address=cfg.address,
            city=cfg.city,
            postal_code=cfg.postal_code or None,
            country=cfg.country,
            coordinates=GeoLocation(latitude=cfg.latitude, longitude=cfg.longitude),
            evse_uid=uid,
            evse_id=evse_ref or emi3_evse_id(cfg, uid),
            connector_id=str(session.connector_id or 1),
            connector_standard=cfg.connector_standard,
            connector_format=cfg.connector_format,
            connector_power_type=cfg.power_type,
        ),
        currency=session.currency or currency,
        charging_periods=_periods(session, with_time=True),
        total_cost=Price(excl_vat=round(session.cost or 0.0, 4)),
        total_energy=_kwh(session),
        total_time=_hours(session),
        last_updated=session.updated_at,
    )


def evse_ref_of(connectors: list[ConnectorState], evse_id: int | None) -> str | None:
    return next((c.evse_ref for c in connectors if c.evse_id == evse_id and c.evse_ref), None)
