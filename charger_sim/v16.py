"""OCPP 1.6J: the charger side of boot, status, authorize and transactions."""

from __future__ import annotations

from charger_sim import calls16
from charger_sim.adapter import Base, BootAnswer, ConnectorState, StartAnswer, StopReason
from charger_sim.model import Evse, RemoteStart, Station, Transaction
from charger_sim.rpc import Payload, Reply
from charger_sim.sampling import Reading, readings, register

ENERGY = "Energy.Active.Import.Register"


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
        return _status(answer)

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
        return StartAnswer(_status(answer), tx.id)

    async def charging(self, evse: Evse) -> None:
        await self.status(evse, "Charging")

    async def sample(self, evse: Evse) -> None:
        tx = _running(evse)
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
        tx = _running(evse)
        payload: Payload = {
            "transactionId": int(tx.id),
            "meterStop": evse.meter.wh,
            "timestamp": self._now(),
            "reason": reason,
            "transactionData": [self._meter_value(evse, "Transaction.End")],
        }
        if id_tag is not None:
            payload["idTag"] = id_tag
        evse.transaction = None
        answer = await self._tx("StopTransaction", payload)
        return None if answer is None else _status(answer)

    async def handle(self, action: str, payload: Payload) -> Payload | Reply:
        return await calls16.handle(self, action, payload)  # one on_<action> per CSMS call

    def _meter_value(self, evse: Evse, context: str, *, every: bool = False) -> Payload:
        """The register alone, or ``every`` configured measurand (periodic and clock samples)."""
        spec = self._station.metering
        if every:
            values = readings(evse.meter.wh, evse.ev if evse.transaction else None, spec)
        else:
            values = [register(evse.meter.wh, spec.unit)]
        return {"timestamp": self._now(), "sampledValue": [_sampled(v, context) for v in values]}


def _status(answer: Payload) -> str | None:
    info = answer.get("idTagInfo")
    return info.get("status") if isinstance(info, dict) else None


def _running(evse: Evse) -> Transaction:
    if evse.transaction is None:
        raise ValueError(f"no transaction is running on EVSE {evse.id}")
    return evse.transaction


def _sampled(reading: Reading, context: str) -> Payload:
    sample: Payload = {"value": reading.text, "context": context, "measurand": reading.measurand}
    if reading.phase is not None:
        sample["phase"] = reading.phase
    if reading.location is not None:
        sample["location"] = reading.location
    sample["unit"] = reading.unit
    return sample
