"""Pure translations between OCPP 1.6 payloads and domain values."""

from __future__ import annotations

import math
from typing import Any

from csms.domain.energy import MAX_READING, normalise
from csms.domain.model import ENERGY_REGISTER, Authorization, BootInfo, MeterSample
from csms.domain.transactions import StartTransaction, StopTransaction
from csms.gateway.rpc import Err, RpcError
from csms.gateway.timefmt import format_time, parse_time


def boot_info(p: dict[str, Any]) -> BootInfo:
    extra = {k: v for k, v in p.items() if k not in ("chargePointVendor", "chargePointModel")}
    return BootInfo(
        vendor=p["chargePointVendor"],
        model=p["chargePointModel"],
        serial_number=p.get("chargePointSerialNumber") or p.get("chargeBoxSerialNumber"),
        firmware_version=p.get("firmwareVersion"),
        extra=extra,
    )


def samples(meter_values: list[dict[str, Any]]) -> list[MeterSample]:
    out = []
    for mv in meter_values:
        ts = parse_time(mv["timestamp"])
        for sv in mv["sampledValue"]:
            signed = sv.get("format") == "SignedData"
            measurand = sv.get("measurand", ENERGY_REGISTER)
            if signed:
                value, unit = 0.0, sv.get("unit", "Wh")
            else:
                raw = _number(sv["value"])
                value, unit = normalise(
                    raw, sv.get("unit", "Wh" if "Energy" in measurand else None)
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
                    signed=signed,
                )
            )
    return out


def _number(text: str) -> float:
    """A sampledValue's value: a decimal number ("nan", "inf" and "1e999" are not readings)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not abs(value) <= MAX_READING / 1000:  # "kWh" is multiplied by 1000
        raise RpcError(Err.PROPERTY, f"sampledValue.value {text[:40]!r} is not a number in range")
    return value


def start(charger_id: str, p: dict[str, Any]) -> StartTransaction:
    return StartTransaction(
        charger_id=charger_id,
        connector_id=p["connectorId"],
        id_tag=p["idTag"],
        meter_start=p["meterStart"],
        timestamp=parse_time(p["timestamp"]),
        reservation_id=p.get("reservationId"),
    )


def stop(charger_id: str, p: dict[str, Any]) -> StopTransaction:
    return StopTransaction(
        charger_id=charger_id,
        transaction_id=p["transactionId"],
        meter_stop=p["meterStop"],
        timestamp=parse_time(p["timestamp"]),
        reason=p.get("reason"),
        id_tag=p.get("idTag"),
        samples=samples(p.get("transactionData", [])),
    )


def id_tag_info(auth: Authorization) -> dict[str, Any]:
    info: dict[str, Any] = {
        "status": auth.status.value if auth.status.value in _V16_STATUSES else "Invalid"
    }
    if auth.expires_at is not None:
        info["expiryDate"] = format_time(auth.expires_at)
    if auth.group_id is not None:
        info["parentIdTag"] = auth.group_id[:20]
    return info


_V16_STATUSES = frozenset({"Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"})
