"""Version-neutral commands -> OCPP 2.0.1 actions, and answers -> CommandResult."""

from __future__ import annotations

from typing import Any

from csms.domain import commands as c
from csms.domain.commands import CommandResult, CommandStatus
from csms.gateway.commands import UnsupportedCommand, decode_status


def _evse(evse_id: int | None, connector_id: int | None) -> dict[str, Any]:
    evse: dict[str, Any] = {"id": evse_id or 0}
    if connector_id is not None:
        evse["connectorId"] = connector_id
    return evse


def _component_variable(key: str) -> dict[str, Any]:
    component, _, variable = key.partition(".")
    if not variable:
        raise UnsupportedCommand(f"2.0.1 keys are Component.Variable, got {key!r}")
    return {"component": {"name": component}, "variable": {"name": variable}}


def encode(command: c.Command) -> tuple[str, dict[str, Any]]:
    match command:
        case c.RemoteStart():
            token = {"idToken": command.id_token[:36], "type": command.id_token_type}
            payload: dict[str, Any] = {
                "idToken": token,
                "remoteStartId": command.remote_start_id or 0,
            }
            if command.evse_id is not None or command.connector_id is not None:
                payload["evseId"] = command.evse_id or command.connector_id
            return "RequestStartTransaction", payload
        case c.RemoteStop():
            return "RequestStopTransaction", {"transactionId": command.transaction_id}
        case c.Reset():
            payload = {"type": "Immediate" if command.hard else "OnIdle"}
            if command.evse_id is not None:
                payload["evseId"] = command.evse_id
            return "Reset", payload
        case c.UnlockConnector():
            return "UnlockConnector", {
                "evseId": command.evse_id,
                "connectorId": command.connector_id,
            }
        case c.ChangeAvailability():
            payload = {"operationalStatus": "Operative" if command.operative else "Inoperative"}
            if command.evse_id:
                payload["evse"] = _evse(command.evse_id, command.connector_id)
            return "ChangeAvailability", payload
        case c.TriggerMessage():
            payload = {"requestedMessage": command.message}
            if command.evse_id:
                payload["evse"] = _evse(command.evse_id, command.connector_id)
            return "TriggerMessage", payload
        case c.GetConfiguration():
            if not command.keys:
                return "GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"}
            data = [_component_variable(k) for k in command.keys]
            return "GetVariables", {"getVariableData": data}
        case c.ChangeConfiguration():
            item = {**_component_variable(command.key), "attributeValue": command.value}
            return "SetVariables", {"setVariableData": [item]}
        case c.ClearCache():
            return "ClearCache", {}
        case c.SetChargerPassword():
            item = {
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
                "attributeValue": command.password,
            }
            return "SetVariables", {"setVariableData": [item]}
        case c.RawCall():
            return command.action, command.payload
    raise UnsupportedCommand(type(command).__name__)


def decode(command: c.Command, payload: dict[str, Any]) -> CommandResult:
    if isinstance(command, (c.ChangeConfiguration, c.SetChargerPassword)):
        results = payload.get("setVariableResult") or [{}]
        ok = results[0].get("attributeStatus") in ("Accepted", "RebootRequired")
        status = CommandStatus.ACCEPTED if ok else CommandStatus.REJECTED
        return CommandResult(status, payload)
    return decode_status(payload)
