"""OCPP 1.6J: the charger side of boot, status, authorize and transactions."""

from __future__ import annotations

from charger_sim.adapter import Base, BootAnswer, ConnectorState, StartAnswer, StopReason
from charger_sim.model import Evse, RemoteStart, Station, Transaction
from charger_sim.rpc import CallError, Payload

ENERGY = "Energy.Active.Import.Register"


class Adapter(Base):
    subprotocol = "ocpp1.6"

    def __init__(self, station: Station) -> None:
        super().__init__(station)

    async def boot(self) -> BootAnswer:
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
        return BootAnswer(answer["status"], int(answer["interval"]))

    async def heartbeat(self) -> None:
        await self._call("Heartbeat", {})

    async def status(self, evse: Evse, state: ConnectorState) -> None:
        evse.state = state
        if not self.online:
            return  # reported again on reconnect
        payload = {"connectorId": evse.id, "errorCode": "NoError", "status": state}
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
                "meterValue": [_meter_value(evse, "Sample.Periodic", self._now())],
            },
        )

    async def stop(self, evse: Evse, reason: StopReason, id_tag: str | None) -> str | None:
        tx = _running(evse)
        payload: Payload = {
            "transactionId": int(tx.id),
            "meterStop": evse.meter.wh,
            "timestamp": self._now(),
            "reason": reason,
            "transactionData": [_meter_value(evse, "Transaction.End", self._now())],
        }
        if id_tag is not None:
            payload["idTag"] = id_tag
        evse.transaction = None
        answer = await self._tx("StopTransaction", payload)
        return None if answer is None else _status(answer)

    async def handle(self, action: str, payload: Payload) -> Payload:
        if action == "RemoteStartTransaction":
            request = RemoteStart(payload["idTag"], payload.get("connectorId") or 0)
            accepted = self._station.accept_remote_start(request, payload.get("connectorId"))
            return {"status": "Accepted" if accepted else "Rejected"}
        if action == "RemoteStopTransaction":
            accepted = self._station.accept_remote_stop(str(payload["transactionId"]))
            return {"status": "Accepted" if accepted else "Rejected"}
        raise CallError("NotImplemented", f"{action} is not supported by this charger")


def _status(answer: Payload) -> str | None:
    info = answer.get("idTagInfo")
    return info.get("status") if isinstance(info, dict) else None


def _running(evse: Evse) -> Transaction:
    if evse.transaction is None:
        raise ValueError(f"no transaction is running on EVSE {evse.id}")
    return evse.transaction


def _meter_value(evse: Evse, context: str, stamp: str) -> Payload:
    sample = {"value": str(evse.meter.wh), "context": context, "measurand": ENERGY, "unit": "Wh"}
    return {"timestamp": stamp, "sampledValue": [sample]}
