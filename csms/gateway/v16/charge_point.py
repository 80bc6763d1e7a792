"""OCPP 1.6J handlers: one thin ``on_<action>`` per charger-initiated message.

Each maps the payload, calls one use case and returns the response payload. Transaction
messages return only after the use case committed (durable before acknowledged).
"""

from __future__ import annotations

from typing import Any

from csms.domain.model import ConnectorState
from csms.gateway.handlers import Handler, record_only
from csms.gateway.services import GatewayServices
from csms.gateway.timefmt import format_time, parse_time
from csms.gateway.v16 import mapping

Payload = dict[str, Any]


class ChargePoint16:
    """The 1.6 handlers of every connection: one instance per server, the charger id per call."""

    def __init__(self, services: GatewayServices) -> None:
        self._s = services

    def routes(self) -> dict[str, Handler]:
        """Action -> handler; built once and shared by all 1.6 connections."""
        chargers = self._s.chargers
        return {
            "BootNotification": self.on_boot_notification,
            "Heartbeat": self.on_heartbeat,
            "StatusNotification": self.on_status_notification,
            "Authorize": self.on_authorize,
            "StartTransaction": self.on_start_transaction,
            "MeterValues": self.on_meter_values,
            "StopTransaction": self.on_stop_transaction,
            "DataTransfer": self.on_data_transfer,
            "SignCertificate": self.on_sign_certificate,
            "FirmwareStatusNotification": record_only(chargers, "firmware_status"),
            "DiagnosticsStatusNotification": record_only(chargers, "diagnostics_status"),
            "SecurityEventNotification": record_only(chargers, "security_event"),
            "LogStatusNotification": record_only(chargers, "log_status"),
            "SignedFirmwareStatusNotification": record_only(chargers, "firmware_status"),
        }

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
        connector = p["connectorId"]
        await self._s.chargers.connector_status(
            ConnectorState(
                charger_id=charger_id,
                evse_id=connector,
                connector_id=connector,
                status=p["status"],
                error_code=p.get("errorCode"),
                info=p.get("info") or p.get("vendorErrorCode"),
                timestamp=parse_time(p["timestamp"]) if "timestamp" in p else None,
            )
        )
        return {}

    async def on_authorize(self, charger_id: str, p: Payload) -> Payload:
        auth = await self._s.chargers.authorize(charger_id, p["idTag"], None)
        return {"idTagInfo": mapping.id_tag_info(auth)}

    async def on_start_transaction(self, charger_id: str, p: Payload) -> Payload:
        answer = await self._s.transactions.start_v16(mapping.start(charger_id, p))
        return {
            "transactionId": answer.transaction_id,
            "idTagInfo": mapping.id_tag_info(answer.authorization),
        }

    async def on_meter_values(self, charger_id: str, p: Payload) -> Payload:
        tx = p.get("transactionId")
        await self._s.transactions.meter_values(
            charger_id,
            p["connectorId"],
            str(tx) if tx is not None and tx > 0 else None,
            mapping.samples(p["meterValue"]),
        )
        return {}

    async def on_stop_transaction(self, charger_id: str, p: Payload) -> Payload:
        auth = await self._s.transactions.stop_v16(mapping.stop(charger_id, p))
        return {"idTagInfo": mapping.id_tag_info(auth)} if auth is not None else {}

    async def on_data_transfer(self, charger_id: str, p: Payload) -> Payload:
        await self._s.chargers.record_event(charger_id, "data_transfer", p)
        return {"status": "UnknownVendorId"}

    async def on_sign_certificate(self, charger_id: str, p: Payload) -> Payload:
        await self._s.chargers.record_event(
            charger_id, "sign_certificate", {"csr_length": len(p["csr"])}
        )
        return {"status": "Rejected"}  # no certificate authority configured yet
