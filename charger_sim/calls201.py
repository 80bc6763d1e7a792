"""OCPP 2.0.1: how the simulated charger answers CSMS-initiated calls, one ``on_<action>`` each.

``v201.Adapter.handle`` answers through :data:`ROUTES` (with ``calls.handle``); variables
(Get/SetVariables, GetBaseReport) are read and written through ``variables.py`` over the device
model in ``device.py``. Answers follow
the 2.0.1 requirements the OCTT CSMS cases lean on: B06-B13 (variables, reports, reset), E14
(GetTransactionStatus), F01-F06 (remote control, unlock, trigger; an unsupported trigger is
NotImplemented, TC_F_27), G03/G04 (availability).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from charger_sim import calls
from charger_sim.device import PASSWORD, Setting
from charger_sim.model import Evse, RemoteStart
from charger_sim.rpc import Payload, Reply
from charger_sim.variables import get_variable, in_base, report_data, set_variable

if TYPE_CHECKING:
    from charger_sim.v201 import Adapter

Answer = calls.Answer
OnCall = Callable[["Adapter", Payload], Awaitable[Answer]]


async def on_request_start_transaction(a: Adapter, p: Payload) -> Answer:
    token = p["idToken"]
    kind = token.get("type", "Central")
    request = RemoteStart(token["idToken"], 0, p.get("remoteStartId"), kind)
    return calls.remote_start(a, request, p.get("evseId"))


async def on_request_stop_transaction(a: Adapter, p: Payload) -> Answer:
    return calls.remote_stop(a, str(p["transactionId"]))


async def on_reset(a: Adapter, p: Payload) -> Answer:
    """Immediate: stop transactions (ImmediateReset) and reboot; OnIdle: Scheduled while a
    transaction runs, then reboot. Resetting one EVSE is not supported: Rejected."""
    control = a.control
    if control is None or p.get("evseId") is not None or calls.refuses(a.station, calls.RESET):
        return calls.status(False)
    busy = any(evse.transaction is not None for evse in a.station.evses.values())
    if p["type"] == "OnIdle" and busy:
        control.reset("ImmediateReset", "RemoteReset", when_idle=True)
        return {"status": "Scheduled"}
    return Reply(
        calls.status(True), then=calls.later(lambda: control.reset("ImmediateReset", "RemoteReset"))
    )


async def on_unlock_connector(a: Adapter, p: Payload) -> Answer:
    evse = a.station.evses.get(p["evseId"])
    if evse is None or p["connectorId"] != 1:
        return {"status": "UnknownConnector"}
    if evse.transaction is not None:
        return {"status": "OngoingAuthorizedTransaction"}  # F05.FR.02: no stop for an unlock
    return {"status": "UnlockFailed" if calls.refuses(a.station, calls.UNLOCK) else "Unlocked"}


async def on_change_availability(a: Adapter, p: Payload) -> Answer:
    """No evse (or id 0) is the whole station; Scheduled while a transaction runs."""
    evses = _evses(a, p.get("evse"))
    if evses is None:
        return calls.status(False)
    status, changed = calls.change_availability(evses, p["operationalStatus"] == "Operative")
    return Reply({"status": status}, then=partial(calls.report, a, changed))


async def on_trigger_message(a: Adapter, p: Payload) -> Answer:
    evses = _evses(a, p.get("evse"))
    if evses is None:
        return calls.status(False)
    requested = p["requestedMessage"]
    if requested == "BootNotification":
        # F06.FR.17: a station already accepted refuses to boot again on request.
        return calls.then_if(a.registration != "Accepted", partial(calls.boot, a))
    if requested == "Heartbeat":
        return calls.then_if(True, a.heartbeat)
    if requested == "StatusNotification":
        return calls.then_if(True, partial(_statuses, a, evses))
    if requested == "MeterValues":
        return calls.then_if(True, partial(_meter_values, a, evses))
    if requested == "TransactionEvent":
        running = [evse for evse in evses if evse.transaction is not None]
        return calls.then_if(bool(running), partial(_transaction_events, a, running))
    if requested in ("LogStatusNotification", "FirmwareStatusNotification"):
        return calls.then_if(True, partial(calls.notify, a, requested, {"status": "Idle"}))
    return {"status": "NotImplemented"}


async def on_get_variables(a: Adapter, p: Payload) -> Answer:
    return {"getVariableResult": [get_variable(a.device, item) for item in p["getVariableData"]]}


async def on_set_variables(a: Adapter, p: Payload) -> Answer:
    """Each item on its own; a new BasicAuthPassword makes the station reconnect with it."""
    results, rotated = [], False
    for item in p["setVariableData"]:
        result, setting = set_variable(a.device, item)
        results.append(result)
        rotated |= setting is not None and setting.name == PASSWORD
    answer = {"setVariableResult": results}
    control = a.control
    if rotated and control is not None:
        return Reply(answer, then=calls.later(control.reconnect))
    return answer


async def on_get_base_report(a: Adapter, p: Payload) -> Answer:
    """Accepted, then one NotifyReport with every variable of the requested base."""
    base = p["reportBase"]
    settings = [s for s in a.device.variables() if in_base(s, base)]
    if not settings:
        return {"status": "EmptyResultSet"}
    return Reply(calls.status(True), then=partial(_notify_report, a, p["requestId"], settings))


async def on_get_report(a: Adapter, p: Payload) -> Answer:
    return {"status": "NotSupported"}  # criteria-based reports are not simulated


async def on_get_transaction_status(a: Adapter, p: Payload) -> Answer:
    """E14: whether the transaction still runs, and whether its messages wait in the queue."""
    tx_id = p.get("transactionId")
    answer: Payload = {"messagesInQueue": a.pending(tx_id) > 0}
    if tx_id is not None:
        running = [e.transaction.id for e in a.station.evses.values() if e.transaction]
        answer["ongoingIndicator"] = tx_id in running
    return answer


# -- what a trigger sends ---------------------------------------------------------------------


async def _statuses(a: Adapter, evses: list[Evse]) -> None:
    for evse in evses:
        a._sent.pop(evse.id, None)  # a triggered status is sent even if unchanged
    await calls.report(a, evses)


async def _meter_values(a: Adapter, evses: list[Evse]) -> None:
    for evse in evses:
        async with evse.lock:
            meter_value = a._meter_value(evse, "Trigger", a._now(), every=True)
        await a.notify("MeterValues", {"evseId": evse.id, "meterValue": [meter_value]})


async def _transaction_events(a: Adapter, evses: list[Evse]) -> None:
    for evse in evses:
        async with evse.lock:
            if evse.transaction is not None:
                info = {"transactionId": evse.transaction.id}
                await a._event(evse, "Updated", "Trigger", info, "Trigger", every=True)


async def _notify_report(a: Adapter, request_id: int, settings: list[Setting]) -> None:
    report = {
        "requestId": request_id,
        "generatedAt": a._now(),
        "seqNo": 0,
        "tbc": False,
        "reportData": [report_data(s) for s in settings],
    }
    await a.notify("NotifyReport", report)


def _evses(a: Adapter, target: Payload | None) -> list[Evse] | None:
    """No EVSE (or id 0) means all of them; None for one the station does not have."""
    if target is None or target["id"] == 0:
        return list(a.station.evses.values())
    evse = a.station.evses.get(target["id"])
    return None if evse is None or target.get("connectorId", 1) != 1 else [evse]


ROUTES: dict[str, OnCall] = {
    "RequestStartTransaction": on_request_start_transaction,
    "RequestStopTransaction": on_request_stop_transaction,
    "Reset": on_reset,
    "UnlockConnector": on_unlock_connector,
    "ChangeAvailability": on_change_availability,
    "TriggerMessage": on_trigger_message,
    "GetVariables": on_get_variables,
    "SetVariables": on_set_variables,
    "GetBaseReport": on_get_base_report,
    "GetReport": on_get_report,
    "GetTransactionStatus": on_get_transaction_status,
    "ClearCache": calls.on_clear_cache,
    "DataTransfer": calls.on_data_transfer,
}
