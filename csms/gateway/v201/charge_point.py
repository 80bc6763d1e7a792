"""OCPP 2.0.1 handlers: one thin ``on_<action>`` per charging-station-initiated message."""

from __future__ import annotations

from typing import Any

from csms.domain.model import ConnectorState
from csms.gateway.handlers import Handler, record_only
from csms.gateway.services import GatewayServices
from csms.gateway.timefmt import format_time, parse_time
from csms.gateway.v201 import mapping

Payload = dict[str, Any]

# Messages we store for the operator and answer with a fixed payload.
_RECORDED: dict[str, tuple[str, Payload]] = {
    "FirmwareStatusNotification": ("firmware_status", {}),
    "LogStatusNotification": ("log_status", {}),
    "SecurityEventNotification": ("security_event", {}),
    "NotifyReport": ("report", {}),
    "NotifyMonitoringReport": ("monitoring_report", {}),
    "NotifyChargingLimit": ("charging_limit", {}),
    "ClearedChargingLimit": ("charging_limit_cleared", {}),
    "NotifyCustomerInformation": ("customer_information", {}),
    "NotifyDisplayMessages": ("display_messages", {}),
    "PublishFirmwareStatusNotification": ("publish_firmware_status", {}),
    "ReportChargingProfiles": ("charging_profiles", {}),
    "ReservationStatusUpdate": ("reservation_status", {}),
    "NotifyEVChargingNeeds": ("ev_charging_needs", {"status": "Rejected"}),
    "NotifyEVChargingSchedule": ("ev_charging_schedule", {"status": "Accepted"}),
    "DataTransfer": ("data_transfer", {"status": "UnknownVendorId"}),
    "SignCertificate": ("sign_certificate", {"status": "Rejected"}),
    "GetCertificateStatus": ("certificate_status", {"status": "Failed"}),
    "Get15118EVCertificate": ("ev_certificate", {"status": "Failed", "exiResponse": ""}),
}


class ChargePoint201:
    """The 2.0.1 handlers of every connection: one instance per server, the charger id per call."""

    def __init__(self, services: GatewayServices) -> None:
        self._s = services

    def routes(self) -> dict[str, Handler]:
        """Action -> handler; built once and shared by all 2.0.1 connections."""
        routes: dict[str, Handler] = {
            action: record_only(self._s.chargers, kind, answer)
            for action, (kind, answer) in _RECORDED.items()
        }
        routes.update(
            {
                "BootNotification": self.on_boot_notification,
                "Heartbeat": self.on_heartbeat,
                "StatusNotification": self.on_status_notification,
                "Authorize": self.on_authorize,
                "TransactionEvent": self.on_transaction_event,
                "MeterValues": self.on_meter_values,
                "NotifyEvent": self.on_notify_event,
            }
        )
        return routes

    async def on_boot_notification(self, charger_id: str, p: Payload) -> Payload:
        decision = await self._s.chargers.boot(charger_id, mapping.boot_info(p))
        return {
            "status": decision.status.value,
            "currentTime": format_time(decision.current_time),
            "interval": decision.interval,
        }

    async def on_heartbeat(self, charger_id: str, p: Payload) -> Payload:
        return {"currentTime": format_time(self._s.chargers.heartbeat(charger_id))}

    async def on_status_notification(self, charger_id: str, p: Payload) -> Payload:
        await self._s.chargers.connector_status(
            ConnectorState(
                charger_id=charger_id,
                evse_id=p["evseId"],
                connector_id=p["connectorId"],
                status=p["connectorStatus"],
                timestamp=parse_time(p["timestamp"]),
            )
        )
        return {}

    async def on_authorize(self, charger_id: str, p: Payload) -> Payload:
        token = p["idToken"]
        auth = await self._s.chargers.authorize(charger_id, token["idToken"], token["type"])
        return {"idTokenInfo": mapping.id_token_info(auth)}

    async def on_transaction_event(self, charger_id: str, p: Payload) -> Payload:
        answer = await self._s.transactions.event_v201(mapping.transaction_event(charger_id, p))
        response: Payload = {}
        if answer.total_cost is not None and p["eventType"] != "Started":
            response["totalCost"] = answer.total_cost
        if answer.authorization is not None:
            response["idTokenInfo"] = mapping.id_token_info(answer.authorization)
        return response

    async def on_meter_values(self, charger_id: str, p: Payload) -> Payload:
        await self._s.chargers.record_event(charger_id, "meter_values", p)
        return {}

    async def on_notify_event(self, charger_id: str, p: Payload) -> Payload:
        """Store the events; a Connector AvailabilityState is also a connector status (G01)."""
        await self._s.chargers.record_event(charger_id, "notify_event", p)
        for item in p["eventData"]:
            evse = item.get("component", {}).get("evse") or {}
            is_state = item["variable"]["name"] == "AvailabilityState"
            if item["component"]["name"] == "Connector" and is_state and "id" in evse:
                await self._s.chargers.connector_status(
                    ConnectorState(
                        charger_id=charger_id,
                        evse_id=evse["id"],
                        connector_id=evse.get("connectorId", 1),
                        status=item["actualValue"],
                        timestamp=parse_time(item["timestamp"]),
                    )
                )
        return {}
