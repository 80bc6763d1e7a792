"""OCPP 2.0.1: the charger side of boot, status, authorize and TransactionEvent."""

from __future__ import annotations

import uuid

from charger_sim import calls, calls201
from charger_sim.adapter import (
    Base,
    BootAnswer,
    ConnectorState,
    StartAnswer,
    StopReason,
    info_status,
)
from charger_sim.model import Evse, RemoteStart, Station, Transaction, running
from charger_sim.rpc import Payload, Reply
from charger_sim.sampling import Reading

ENERGY = "Energy.Active.Import.Register"
# The Ended event's stoppedReason (ReasonEnumType) and triggerReason (TriggerReasonEnumType) for
# each StopReason. 2.0.1 resets only Immediate(ly) and has no unlock reason: Other, triggered by
# the UnlockCommand.
REASONS: dict[StopReason, str] = {
    "Local": "Local",
    "Remote": "Remote",
    "EVDisconnected": "EVDisconnected",
    "SoftReset": "ImmediateReset",
    "HardReset": "ImmediateReset",
    "ImmediateReset": "ImmediateReset",
    "UnlockCommand": "Other",
    "PowerLoss": "PowerLoss",
}
TRIGGERS: dict[StopReason, str] = {
    "Local": "StopAuthorized",
    "Remote": "RemoteStop",
    "EVDisconnected": "EVDeparted",
    "SoftReset": "ResetCommand",
    "HardReset": "ResetCommand",
    "ImmediateReset": "ResetCommand",
    "UnlockCommand": "UnlockCommand",
    "PowerLoss": "AbnormalCondition",
}


class Adapter(Base):
    subprotocol = "ocpp2.0.1"

    def __init__(self, station: Station) -> None:
        super().__init__(station)
        self._sent: dict[int, str] = {}

    def reconnected(self) -> None:
        self._sent.clear()

    async def boot(self, reason: str = "PowerUp") -> BootAnswer:
        ident = self._station.identity
        station = {
            "vendorName": ident.vendor,
            "model": ident.model,
            "serialNumber": ident.serial_number,
            "firmwareVersion": ident.firmware_version,
        }
        answer = await self._call(
            "BootNotification", {"reason": reason, "chargingStation": station}
        )
        return self._boot_answer(answer)

    async def heartbeat(self) -> None:
        await self._call("Heartbeat", {})

    async def status(self, evse: Evse, state: ConnectorState) -> None:
        evse.state = state
        status = "Available" if state == "Available" else "Occupied"
        if not evse.available:
            status = "Unavailable"  # after ChangeAvailability Inoperative
        if self._sent.get(evse.id) == status or not self.online:
            return  # Preparing, Charging and Finishing are all Occupied in 2.0.1
        self._sent[evse.id] = status
        payload = {"evseId": evse.id, "connectorId": 1, "connectorStatus": status}
        await self._call("StatusNotification", {**payload, "timestamp": self._now()})

    async def authorize(self, id_tag: str) -> str | None:
        answer = await self._call("Authorize", {"idToken": _token(id_tag, "ISO14443")})
        return info_status(answer, "idTokenInfo")

    async def start(self, evse: Evse, id_tag: str, remote: RemoteStart | None) -> StartAnswer:
        kind = remote.id_token_type if remote else "ISO14443"
        tx = Transaction(uuid.uuid4().hex, id_tag, evse.meter.wh, id_token_type=kind)
        info: Payload = {"transactionId": tx.id, "chargingState": "EVConnected"}
        if remote is not None and remote.remote_start_id is not None:
            tx.remote_start_id = info["remoteStartId"] = remote.remote_start_id
        evse.transaction = tx
        trigger = "RemoteStart" if remote else "Authorized"
        extra = {"idToken": _token(id_tag, kind), "evse": {"id": evse.id, "connectorId": 1}}
        answer = await self._event(evse, "Started", trigger, info, "Transaction.Begin", extra)
        return StartAnswer(info_status(answer, "idTokenInfo"), tx.id)

    async def charging(self, evse: Evse) -> None:
        info = {"transactionId": running(evse).id, "chargingState": "Charging"}
        await self._event(evse, "Updated", "ChargingStateChanged", info, "Sample.Periodic")

    async def sample(self, evse: Evse) -> None:
        tx = running(evse)
        info = {"transactionId": tx.id, "chargingState": _charging_state(tx)}
        trigger = "MeterValuePeriodic"
        await self._event(evse, "Updated", trigger, info, "Sample.Periodic", every=True)

    async def suspended(self, evse: Evse, by: str) -> None:
        info = {"transactionId": running(evse).id, "chargingState": f"Suspended{by}"}
        await self._event(evse, "Updated", "ChargingStateChanged", info, "Sample.Periodic")

    async def clock_sample(self, evse: Evse) -> None:
        """Sample.Clock: TransactionEvent Updated (MeterValueClock) during a transaction, else
        MeterValuesRequest with the EVSE's register (sent only online)."""
        tx = evse.transaction
        if tx is not None:
            info = {"transactionId": tx.id, "chargingState": _charging_state(tx)}
            await self._event(evse, "Updated", "MeterValueClock", info, "Sample.Clock", every=True)
        elif self.online:
            meter_value = self._meter_value(evse, "Sample.Clock", self._now(), every=True)
            await self._call("MeterValues", {"evseId": evse.id, "meterValue": [meter_value]})

    async def stop(self, evse: Evse, reason: StopReason, id_tag: str | None) -> str | None:
        tx = running(evse)
        info = {"transactionId": tx.id, "chargingState": "EVConnected"}
        info["stoppedReason"] = REASONS[reason]
        if reason == "EVDisconnected":
            info["chargingState"] = "Idle"
        extra = {"idToken": _token(id_tag, tx.id_token_type)} if id_tag else {}
        trigger = TRIGGERS[reason]
        answer = await self._event(evse, "Ended", trigger, info, "Transaction.End", extra)
        evse.transaction = None
        return info_status(answer, "idTokenInfo")

    async def handle(self, action: str, payload: Payload) -> Payload | Reply:
        return await calls.handle(calls201.ROUTES, self, action, payload)  # one on_<action> each

    async def _event(
        self,
        evse: Evse,
        event_type: str,
        trigger: str,
        info: Payload,
        context: str,
        extra: Payload | None = None,
        *,
        every: bool = False,
    ) -> Payload:
        stamp = self._now()
        payload: Payload = {
            "eventType": event_type,
            "timestamp": stamp,
            "triggerReason": trigger,
            "seqNo": running(evse).next_seq_no(),
            "transactionInfo": info,
            "meterValue": [self._meter_value(evse, context, stamp, every=every)],
            **(extra or {}),
        }
        if not self.online:
            payload["offline"] = True  # queued now, delivered after the outage
        if event_type == "Ended":
            evse.transaction = None
        return await self._tx("TransactionEvent", payload) or {}

    def _meter_value(self, evse: Evse, context: str, stamp: str, *, every: bool) -> Payload:
        """The register alone, or ``every`` configured measurand (periodic and clock samples)."""
        values = self._readings(evse, every)
        return {"timestamp": stamp, "sampledValue": [_sampled(v, context) for v in values]}


def _charging_state(tx: Transaction) -> str:
    if tx.suspended is not None:
        return f"Suspended{tx.suspended}"  # SuspendedEV or SuspendedEVSE
    return "Charging" if tx.charging else "EVConnected"


def _sampled(reading: Reading, context: str) -> Payload:
    """A 2.0.1 SampledValue: the value as a number, the unit in ``unitOfMeasure``."""
    unit = {"unit": reading.unit}
    return {
        "value": reading.number(),
        "context": context,
        **reading.labels(),
        "unitOfMeasure": unit,
    }


def _token(id_tag: str, kind: str) -> Payload:
    return {"idToken": id_tag, "type": kind}
