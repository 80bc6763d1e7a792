"""Version-neutral commands -> OCPP 1.6 actions, and answers -> CommandResult."""

from __future__ import annotations

from typing import Any

from csms.domain import commands as c
from csms.domain.commands import CommandResult
from csms.domain.credentials import authorization_key
from csms.gateway.commands import UnsupportedCommand, decode_status


def encode(command: c.Command) -> tuple[str, dict[str, Any]]:
    match command:
        case c.RemoteStart():
            payload: dict[str, Any] = {"idTag": command.id_token[:20]}
            connector = command.connector_id or command.evse_id
            if connector is not None:
                payload["connectorId"] = connector
            return "RemoteStartTransaction", payload
        case c.RemoteStop():
            return "RemoteStopTransaction", {"transactionId": int(command.transaction_id)}
        case c.Reset():
            return "Reset", {"type": "Hard" if command.hard else "Soft"}
        case c.UnlockConnector():
            return "UnlockConnector", {"connectorId": command.connector_id or command.evse_id}
        case c.ChangeAvailability():
            connector = command.connector_id or command.evse_id or 0
            kind = "Operative" if command.operative else "Inoperative"
            return "ChangeAvailability", {"connectorId": connector, "type": kind}
        case c.TriggerMessage():
            payload = {"requestedMessage": command.message}
            if command.connector_id or command.evse_id:
                payload["connectorId"] = command.connector_id or command.evse_id
            return "TriggerMessage", payload
        case c.GetConfiguration():
            return "GetConfiguration", {"key": list(command.keys)} if command.keys else {}
        case c.ChangeConfiguration():
            return "ChangeConfiguration", {"key": command.key, "value": command.value}
        case c.ClearCache():
            return "ClearCache", {}
        case c.SetChargerPassword():
            value = authorization_key(command.password)
            return "ChangeConfiguration", {"key": "AuthorizationKey", "value": value}
        case c.RawCall():
            return command.action, command.payload
    raise UnsupportedCommand(type(command).__name__)


def decode(command: c.Command, payload: dict[str, Any]) -> CommandResult:
    return decode_status(payload)
