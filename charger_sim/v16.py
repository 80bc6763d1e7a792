"""OCPP 1.6J: the charger side of boot, status, authorize and transactions."""

from __future__ import annotations

from charger_sim import calls, calls16
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
# StopTransaction's reason (the 1.6 Reason enum) for each StopReason. 1.6 has no immediate
# reset: a 2.0.1-style Immediate reset is its hard one.
REASONS: dict[StopReason, str] = {
    "Local": "Local",
    "Remote": "Remote",
    "EVDisconnected": "EVDisconnected",
    "SoftReset": "SoftReset",
    "HardReset": "HardReset",
    "ImmediateReset": "HardReset",
    "UnlockCommand": "UnlockCommand",
    "PowerLoss": "PowerLoss",
}


class Adapter(Base):
    subprotocol = "ocpp1.6"

    def __init__(self, station: Station) -> None:
        super().__init__(station)

    async def boot(self, reason: str = "PowerUp") -> BootAnswer:  # 1.6 sends no reason
        ident = self._station.identity
        answer = await self._call(
            "BootNotification",
            {
                "chargePointVendor": ident.vendor,
                "chargePointModel": ident.model,
                "chargePointSerialNumber": ident.serial_number,
                "firmwareVersion": ident.firmware_version,
            },
        )
        return self._boot_answer(answer)

    async def heartbeat(self) -> None:
        await self._call("Heartbeat", {})

    async def status(self, evse: Evse, state: ConnectorState) -> None:
        evse.state = state
        if not self.online:
            return  # reported again on reconnect
        shown = state if evse.available else "Unavailable"  # after ChangeAvailability
        payload = {"connectorId": evse.id, "errorCode": "NoError", "status": shown}
        await self._call("StatusNotification", {**payload, "timestamp": self._now()})

    async def authorize(self, id_tag: str) -> str | None:
        answer = await self._call("Authorize", {"idTag": id_tag})
        return info_status(answer, "idTagInfo")

    async def start(self, evse: Evse, id_tag: str, remote: RemoteStart | None) -> StartAnswer:
        meter_start = evse.meter.wh
        placeholder = self._queue.placeholder() if self._queue is not None else None
        tx = Transaction(str(placeholder), id_tag, meter_start)
        evse.transaction = tx

        def answered(answer: Payload) -> None:
            tx.id = str(answer["transactionId"])

        payload = {
            "connectorId": evse.id,
            "idTag": id_tag,
            "meterStart": meter_start,
            "timestamp": self._now(),
        }
        answer = await self._tx("StartTransaction", payload, placeholder=placeholder, late=answered)
        if answer is None:
            return StartAnswer(None, None)  # offline: runs under the placeholder id for now
        answered(answer)
        return StartAnswer(info_status(answer, "idTagInfo"), tx.id)

    async def charging(self, evse: Evse) -> None:
        await self.status(evse, "Charging")

    async def sample(self, evse: Evse) -> None:
        tx = running(evse)
        await self._tx(
            "MeterValues",
            {
                "connectorId": evse.id,
                "transactionId": int(tx.id),
                "meterValue": [self._meter_value(evse, "Sample.Periodic", every=True)],
            },
        )

    async def suspended(self, evse: Evse, by: str) -> None:
        await self.status(evse, "SuspendedEV" if by == "EV" else "SuspendedEVSE")

    async def clock_sample(self, evse: Evse) -> None:
        """Sample.Clock: with the transactionId (queued like any transaction message) or
        without one, as the main meter's reading (sent only online)."""
        tx = evse.transaction
        payload: Payload = {"connectorId": evse.id}
        if tx is not None:
            payload["transactionId"] = int(tx.id)
        payload["meterValue"] = [self._meter_value(evse, "Sample.Clock", every=True)]
        if tx is not None:
            await self._tx("MeterValues", payload)
        elif self.online:
            await self._call("MeterValues", payload)

    async def stop(self, evse: Evse, reason: StopReason, id_tag: str | None) -> str | None:
        tx = running(evse)
        payload: Payload = {
            "transactionId": int(tx.id),
            "meterStop": evse.meter.wh,
            "timestamp": self._now(),
            "reason": REASONS[reason],
            "transactionData": [self._meter_value(evse, "Transaction.End")],
        }
        if id_tag is not None:
            payload["idTag"] = id_tag
        evse.transaction = None
        answer = await self._tx("StopTransaction", payload)
        return None if answer is None else info_status(answer, "idTagInfo")

    async def handle(self, action: str, payload: Payload) -> Payload | Reply:
        return await calls.handle(calls16.ROUTES, self, action, payload)  # one on_<action> each

    def _meter_value(self, evse: Evse, context: str, *, every: bool = False) -> Payload:
        """The register alone, or ``every`` configured measurand (periodic and clock samples)."""
        values = self._readings(evse, every)
        return {"timestamp": self._now(), "sampledValue": [_sampled(v, context) for v in values]}


def _sampled(reading: Reading, context: str) -> Payload:
    """A 1.6 SampledValue: the value as text, the unit as a plain field."""
    return {"value": reading.text, "context": context, **reading.labels(), "unit": reading.unit}
