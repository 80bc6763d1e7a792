"""Test chargers built on the ``ocpp`` package: real clients that schema-check our answers.

They connect over a real WebSocket, send typed calls, and answer CSMS-initiated calls as told
(``remote_start_answer``), recording every request they get in ``received``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from websockets.asyncio.client import ClientConnection


def now_iso(dt: datetime | None = None) -> str:
    return (dt or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Recorder:
    def _init_recorder(self) -> None:
        self.received: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.remote_start_answer = "Accepted"
        self.remote_stop_answer = "Accepted"

    async def next_request(self, action: str, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                name, payload = await self.received.get()
                if name == action:
                    return payload


class Charger16(Cp16, _Recorder):  # type: ignore[misc]
    def __init__(self, charger_id: str, ws: ClientConnection) -> None:
        super().__init__(charger_id, ws, response_timeout=5)
        self._init_recorder()

    @on("RemoteStartTransaction")
    async def _remote_start(self, id_tag: str, **kw: Any) -> Any:
        self.received.put_nowait(("RemoteStartTransaction", {"id_tag": id_tag, **kw}))
        return result16.RemoteStartTransaction(status=self.remote_start_answer)

    @on("RemoteStopTransaction")
    async def _remote_stop(self, transaction_id: int, **kw: Any) -> Any:
        self.received.put_nowait(("RemoteStopTransaction", {"transaction_id": transaction_id}))
        return result16.RemoteStopTransaction(status=self.remote_stop_answer)

    @on("UnlockConnector")
    async def _unlock(self, connector_id: int, **kw: Any) -> Any:
        self.received.put_nowait(("UnlockConnector", {"connector_id": connector_id}))
        return result16.UnlockConnector(status="Unlocked")

    async def boot(self) -> Any:
        return await self.call(
            call16.BootNotification(
                charge_point_model="TestModel", charge_point_vendor="TestVendor"
            )
        )

    async def authorize(self, id_tag: str) -> Any:
        return await self.call(call16.Authorize(id_tag=id_tag))

    async def status(self, connector: int, status: str, ts: str | None = None) -> Any:
        return await self.call(
            call16.StatusNotification(
                connector_id=connector,
                error_code="NoError",
                status=status,
                timestamp=ts or now_iso(),
            )
        )

    async def start_tx(
        self, id_tag: str, meter_start: int, connector: int = 1, ts: str | None = None
    ) -> Any:
        return await self.call(
            call16.StartTransaction(
                connector_id=connector,
                id_tag=id_tag,
                meter_start=meter_start,
                timestamp=ts or now_iso(),
            )
        )

    async def meter(
        self, tx: int, wh: float, connector: int = 1, unit: str = "Wh", ts: str | None = None
    ) -> Any:
        value = {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": unit}
        return await self.call(
            call16.MeterValues(
                connector_id=connector,
                transaction_id=tx,
                meter_value=[{"timestamp": ts or now_iso(), "sampled_value": [value]}],
            )
        )

    async def stop_tx(
        self, tx: int, meter_stop: int, reason: str | None = None, ts: str | None = None
    ) -> Any:
        return await self.call(
            call16.StopTransaction(
                transaction_id=tx, meter_stop=meter_stop, timestamp=ts or now_iso(), reason=reason
            )
        )


class Charger201(Cp201, _Recorder):  # type: ignore[misc]
    def __init__(self, charger_id: str, ws: ClientConnection) -> None:
        super().__init__(charger_id, ws, response_timeout=5)
        self._init_recorder()
        self.seq = 0
        # transactionId to put in the RequestStartTransaction answer (F01: cable plugged in first)
        self.remote_start_transaction_id: str | None = None

    @on("RequestStartTransaction")
    async def _remote_start(self, id_token: dict[str, Any], remote_start_id: int, **kw: Any) -> Any:
        payload = {"id_token": id_token, "remote_start_id": remote_start_id, **kw}
        self.received.put_nowait(("RequestStartTransaction", payload))
        return result201.RequestStartTransaction(
            status=self.remote_start_answer, transaction_id=self.remote_start_transaction_id
        )

    @on("RequestStopTransaction")
    async def _remote_stop(self, transaction_id: str, **kw: Any) -> Any:
        self.received.put_nowait(("RequestStopTransaction", {"transaction_id": transaction_id}))
        return result201.RequestStopTransaction(status=self.remote_stop_answer)

    @on("UnlockConnector")
    async def _unlock(self, evse_id: int, connector_id: int, **kw: Any) -> Any:
        payload = {"evse_id": evse_id, "connector_id": connector_id}
        self.received.put_nowait(("UnlockConnector", payload))
        return result201.UnlockConnector(status="Unlocked")

    @on("GetBaseReport")
    async def _get_base_report(self, request_id: int, report_base: str, **kw: Any) -> Any:
        payload = {"request_id": request_id, "report_base": report_base}
        self.received.put_nowait(("GetBaseReport", payload))
        return result201.GetBaseReport(status="Accepted")

    @on("TriggerMessage")
    async def _trigger_message(self, requested_message: str, **kw: Any) -> Any:
        self.received.put_nowait(("TriggerMessage", {"requested_message": requested_message, **kw}))
        return result201.TriggerMessage(status="Accepted")

    async def boot(self) -> Any:
        return await self.call(
            call201.BootNotification(
                charging_station={"model": "TestModel", "vendor_name": "TestVendor"},
                reason="PowerUp",
            )
        )

    async def authorize(self, id_token: dict[str, Any]) -> Any:
        return await self.call(call201.Authorize(id_token=id_token))

    async def status(
        self, status: str, evse: int = 1, connector: int = 1, ts: str | None = None
    ) -> Any:
        return await self.call(
            call201.StatusNotification(
                timestamp=ts or now_iso(),
                connector_status=status,
                evse_id=evse,
                connector_id=connector,
            )
        )

    async def availability_event(
        self, state: str, evse: int = 1, connector: int = 1, ts: str | None = None
    ) -> Any:
        """NotifyEvent form of a connector status (Connector.AvailabilityState, trigger Delta)."""
        ts = ts or now_iso()
        item = {
            "event_id": 1,
            "timestamp": ts,
            "trigger": "Delta",
            "actual_value": state,
            "event_notification_type": "HardWiredNotification",
            "component": {"name": "Connector", "evse": {"id": evse, "connector_id": connector}},
            "variable": {"name": "AvailabilityState"},
        }
        return await self.call(call201.NotifyEvent(generated_at=ts, seq_no=0, event_data=[item]))

    async def tx_event(
        self,
        event_type: str,
        tx_id: str,
        *,
        trigger: str = "MeterValuePeriodic",
        wh: float | None = None,
        context: str = "Sample.Periodic",
        seq_no: int | None = None,
        ts: str | None = None,
        id_token: dict[str, Any] | None = None,
        remote_start_id: int | None = None,
        stopped_reason: str | None = None,
        charging_state: str | None = None,
        offline: bool | None = None,
        evse: dict[str, Any] | None = None,
        meter_value: list[dict[str, Any]] | None = None,
    ) -> Any:
        if seq_no is None:
            seq_no = self.seq
            self.seq += 1
        info: dict[str, Any] = {"transaction_id": tx_id}
        if remote_start_id is not None:
            info["remote_start_id"] = remote_start_id
        if stopped_reason is not None:
            info["stopped_reason"] = stopped_reason
        if charging_state is not None:
            info["charging_state"] = charging_state
        meter = None
        if wh is not None:
            sample = {"value": wh, "context": context, "measurand": "Energy.Active.Import.Register"}
            meter = [{"timestamp": ts or now_iso(), "sampled_value": [sample]}]
        if meter_value is not None:
            meter = meter_value
        return await self.call(
            call201.TransactionEvent(
                event_type=event_type,
                timestamp=ts or now_iso(),
                trigger_reason=trigger,
                seq_no=seq_no,
                transaction_info=info,
                meter_value=meter,
                id_token=id_token,
                offline=offline,
                evse=evse,
            )
        )


def basic_auth(charger_id: str, password: str | None) -> dict[str, str]:
    if password is None:
        return {}
    import base64

    token = base64.b64encode(f"{charger_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@contextlib.asynccontextmanager
async def connected(
    url: str,
    charger_id: str,
    version: str = "1.6",
    password: str | None = None,
    boot: bool = True,
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[Any]:
    """Open a socket, start the charger's receive loop, optionally boot; close at the end.

    A ``wss://`` url needs ``tls``, the client context (trusted CA, client certificate).
    """
    subprotocol = "ocpp1.6" if version == "1.6" else "ocpp2.0.1"
    async with websockets.connect(
        url,
        subprotocols=[subprotocol],
        additional_headers=basic_auth(charger_id, password),  # type: ignore[list-item]
        ssl=tls,
    ) as ws:
        cp = Charger16(charger_id, ws) if version == "1.6" else Charger201(charger_id, ws)
        task = asyncio.create_task(cp.start())
        try:
            if boot:
                result = await cp.boot()
                assert result.status == "Accepted"
            yield cp
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
