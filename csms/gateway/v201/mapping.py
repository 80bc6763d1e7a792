"""Pure translations between OCPP 2.0.1 payloads and domain values."""

from __future__ import annotations

from typing import Any

from csms.domain.energy import MAX_READING, normalise
from csms.domain.model import ENERGY_REGISTER, Authorization, BootInfo, MeterSample
from csms.domain.transactions import TransactionEvent
from csms.gateway.rpc import Err, RpcError
from csms.gateway.timefmt import format_time, parse_time


def boot_info(p: dict[str, Any]) -> BootInfo:
    station = p["chargingStation"]
    modem = station.get("modem") or {}
    return BootInfo(
        vendor=station["vendorName"],
        model=station["model"],
        serial_number=station.get("serialNumber"),
        firmware_version=station.get("firmwareVersion"),
        reason=p.get("reason"),
        extra={"modem": modem} if modem else {},
    )


def samples(meter_values: list[dict[str, Any]]) -> list[MeterSample]:
    out = []
    for mv in meter_values:
        ts = parse_time(mv["timestamp"])
        for sv in mv["sampledValue"]:
            measurand = sv.get("measurand", ENERGY_REGISTER)
            uom = sv.get("unitOfMeasure") or {}
            default_unit = "Wh" if "Energy" in measurand else None
            value, unit = _reading(
                sv["value"], uom.get("unit", default_unit), uom.get("multiplier", 0)
            )
            out.append(
                MeterSample(
                    timestamp=ts,
                    measurand=measurand,
                    value=value,
                    unit=unit,
                    phase=sv.get("phase"),
                    location=sv.get("location"),
                    context=sv.get("context", "Sample.Periodic"),
                    signed=False,  # 2.0.1 keeps the plain reading in `value` beside the signature
                )
            )
    return out


def _reading(value: float, unit: str | None, multiplier: int) -> tuple[float, str]:
    """``value`` x 10^multiplier in the canonical unit, refused past :data:`MAX_READING`."""
    try:
        scaled, canonical = normalise(float(value), unit, multiplier)
    except ArithmeticError:  # decimal overflow: a multiplier of 2**31 - 1
        scaled, canonical = float("inf"), ""
    if not abs(scaled) <= MAX_READING:
        raise RpcError(Err.PROPERTY, f"sampledValue {value!r} x 10^{multiplier} is out of range")
    return scaled, canonical


def transaction_event(charger_id: str, p: dict[str, Any]) -> TransactionEvent:
    info = p["transactionInfo"]
    evse = p.get("evse") or {}
    token = p.get("idToken") or {}
    return TransactionEvent(
        charger_id=charger_id,
        event_type=p["eventType"],
        timestamp=parse_time(p["timestamp"]),
        trigger_reason=p["triggerReason"],
        seq_no=p["seqNo"],
        transaction_id=info["transactionId"],
        offline=bool(p.get("offline", False)),
        charging_state=info.get("chargingState"),
        stopped_reason=info.get("stoppedReason"),
        remote_start_id=info.get("remoteStartId"),
        id_token=token.get("idToken"),
        id_token_type=token.get("type"),
        evse_id=evse.get("id"),
        connector_id=evse.get("connectorId"),
        samples=samples(p.get("meterValue", [])),
    )


def id_token_info(auth: Authorization) -> dict[str, Any]:
    info: dict[str, Any] = {"status": auth.status.value}
    if auth.expires_at is not None:
        info["cacheExpiryDateTime"] = format_time(auth.expires_at)
    if auth.group_id is not None:
        info["groupIdToken"] = {"idToken": auth.group_id[:36], "type": "Central"}
    return info
