"""OCPP 1.6J: how the simulated charger answers CSMS-initiated calls, one ``on_<action>`` each.

``v16.Adapter.handle`` answers through :data:`ROUTES` (with ``calls.handle``; ClearCache and
DataTransfer are answered alike in both versions, in ``calls``). Answers follow OCPP 1.6
edition 2 and the OCTT cases for a charge point's counterpart (TC_013/014 reset, TC_017/030/031
unlock, TC_019/021/040 configuration, TC_054 trigger, TC_061 clear cache, TC_064 data transfer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from charger_sim import calls
from charger_sim.adapter import StopReason
from charger_sim.device import PASSWORD, Setting
from charger_sim.model import Evse, RemoteStart
from charger_sim.rpc import Payload, Reply

if TYPE_CHECKING:
    from charger_sim.v16 import Adapter

Answer = calls.Answer
OnCall = Callable[["Adapter", Payload], Awaitable[Answer]]


async def on_remote_start_transaction(a: Adapter, p: Payload) -> Answer:
    request = RemoteStart(p["idTag"], p.get("connectorId") or 0)
    return calls.remote_start(a, request, p.get("connectorId"))


async def on_remote_stop_transaction(a: Adapter, p: Payload) -> Answer:
    return calls.remote_stop(a, str(p["transactionId"]))


async def on_reset(a: Adapter, p: Payload) -> Answer:
    """Accepted, then: stop transactions (SoftReset/HardReset), reconnect, boot again."""
    control = a.control
    if control is None or calls.refuses(a.station, calls.RESET):
        return calls.status(False)
    reason: StopReason = "HardReset" if p["type"] == "Hard" else "SoftReset"
    return Reply(calls.status(True), then=calls.later(lambda: control.reset(reason, "RemoteReset")))


async def on_unlock_connector(a: Adapter, p: Payload) -> Answer:
    """Unlocked (UnlockFailed when told); a running transaction is then stopped (reason
    UnlockCommand): after the answer, so its StopTransaction round trip never holds the answer
    past the CSMS's call timeout. An unknown connector is NotSupported (TC_031)."""
    evse = a.station.evses.get(p["connectorId"])
    if evse is None:
        return {"status": "NotSupported"}
    answer = {"status": "UnlockFailed" if calls.refuses(a.station, calls.UNLOCK) else "Unlocked"}
    if evse.transaction is None:
        return answer
    if a.control is None:
        return {"status": "UnlockFailed"}  # fleet mode: no one to stop the transaction
    return Reply(answer, then=partial(a.control.stop_transaction, evse, "UnlockCommand"))


async def on_change_availability(a: Adapter, p: Payload) -> Answer:
    """connectorId 0 is the whole charger; Scheduled while a transaction runs."""
    evses = _connectors(a, p["connectorId"])
    if evses is None:
        return calls.status(False)
    status, changed = calls.change_availability(evses, p["type"] == "Operative")
    return Reply({"status": status}, then=partial(calls.report, a, changed))


async def on_trigger_message(a: Adapter, p: Payload) -> Answer:
    """Accepted, then the message; an unknown connector is Rejected."""
    evses = _connectors(a, p.get("connectorId") or 0)
    if evses is None:
        return calls.status(False)
    requested = p["requestedMessage"]
    if requested == "BootNotification":
        return calls.then_if(True, partial(calls.boot, a))
    if requested == "Heartbeat":
        return calls.then_if(True, a.heartbeat)
    if requested == "StatusNotification":
        return calls.then_if(True, partial(calls.report, a, evses))
    if requested == "MeterValues":
        return calls.then_if(True, partial(_meter_values, a, evses))
    if requested in ("DiagnosticsStatusNotification", "FirmwareStatusNotification"):
        return calls.then_if(True, partial(calls.notify, a, requested, {"status": "Idle"}))
    return {"status": "NotImplemented"}


async def on_get_configuration(a: Adapter, p: Payload) -> Answer:
    """Every readable key, or those asked for; the rest (and AuthorizationKey) are unknown."""
    keys = p.get("key") or []
    found, unknown = ([], []) if keys else (a.device.keys16(), [])
    for key in keys:
        setting = a.device.find16(key)
        if setting is None or setting.mutability == "WriteOnly":
            unknown.append(key)
        else:
            found.append(setting)
    answer: Payload = {}
    if found:
        answer["configurationKey"] = [_entry(s) for s in found]
    if unknown:
        answer["unknownKey"] = unknown
    return answer


async def on_change_configuration(a: Adapter, p: Payload) -> Answer:
    """NotSupported for an unknown key; Rejected if read-only or invalid; a new
    AuthorizationKey makes the charger reconnect with it (TC_073)."""
    setting = a.device.find16(p["key"])
    if setting is None:
        return {"status": "NotSupported"}
    outcome = a.device.write(setting, p["value"], "1.6")
    control = a.control
    if outcome.status == "Accepted" and setting.name == PASSWORD and control is not None:
        return Reply({"status": outcome.status}, then=calls.later(control.reconnect))
    return {"status": outcome.status}


async def _meter_values(a: Adapter, evses: list[Evse]) -> None:
    for evse in evses:
        async with evse.lock:
            payload: Payload = {"connectorId": evse.id}
            tx = evse.transaction
            if tx is not None and int(tx.id) > 0:  # not while it runs under a placeholder id
                payload["transactionId"] = int(tx.id)
            payload["meterValue"] = [a._meter_value(evse, "Trigger", every=True)]
        await a.notify("MeterValues", payload)


def _connectors(a: Adapter, connector_id: int) -> list[Evse] | None:
    """Connector 0 means all of them; None for a connector the charger does not have."""
    if connector_id == 0:
        return list(a.station.evses.values())
    evse = a.station.evses.get(connector_id)
    return None if evse is None else [evse]


def _entry(setting: Setting) -> Payload:
    readonly = setting.mutability == "ReadOnly"
    return {"key": setting.name, "readonly": readonly, "value": setting.current}


ROUTES: dict[str, OnCall] = {
    "RemoteStartTransaction": on_remote_start_transaction,
    "RemoteStopTransaction": on_remote_stop_transaction,
    "Reset": on_reset,
    "UnlockConnector": on_unlock_connector,
    "ChangeAvailability": on_change_availability,
    "TriggerMessage": on_trigger_message,
    "GetConfiguration": on_get_configuration,
    "ChangeConfiguration": on_change_configuration,
    "ClearCache": calls.on_clear_cache,
    "DataTransfer": calls.on_data_transfer,
}
