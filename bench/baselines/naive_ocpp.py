"""Baseline: a central system built the naive way on the ``ocpp`` package.

What a first version usually looks like: one ``ocpp.v16.ChargePoint`` / ``ocpp.v201.ChargePoint``
subclass per version with an ``@on`` handler per action, the library's schema validation on
(its default), and every message written and committed on its own before it is answered (no
group commit). It accepts any charger id and any id tag, as our CSMS does in the benchmarks.

Storage: a SQLite file through the standard ``sqlite3`` module (WAL, ``synchronous=NORMAL``:
the same pragmas as our CSMS, so the ratio compares code, not settings), or PostgreSQL through
``asyncpg`` (``--db postgresql://...``). Only the transaction path needs to be right: the
benchmark counts the stored meter samples and the energy of the stored transactions.

``POST /start/<charger>`` records the request, then sends RemoteStartTransaction (1.6) or
RequestStartTransaction (2.0.1) with the library's ``call`` and answers the charger's status.

    python -m bench.baselines.naive_ocpp --ws-port 9000 --http-port 8000 --db sqlite:naive.db
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import signal
from collections.abc import Callable
from typing import Any, TypeVar, cast

from ocpp.routing import on as ocpp_on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from bench.baselines.naive_store import Store, open_store, register_wh, samples
from bench.baselines.tinyhttp import serve_http

ACCEPTED = {"status": "Accepted"}
F = TypeVar("F", bound=Callable[..., Any])


def on(action: str) -> Callable[[F], F]:
    """``ocpp.routing.on`` (validation on, its default), typed for mypy."""
    return cast(Callable[[F], F], ocpp_on(action))


_remote_ids = itertools.count(1)


class V16(ChargePoint16):  # type: ignore[misc]
    def __init__(self, charger_id: str, ws: ServerConnection, store: Store, interval: int):
        super().__init__(charger_id, ws)
        self.store, self.interval = store, interval

    @on("BootNotification")
    async def on_boot(self, charge_point_vendor: str, charge_point_model: str, **_: Any) -> Any:
        await self.store.boot(self.id, "1.6", charge_point_vendor, charge_point_model)
        now = self.store.now()
        return result16.BootNotification(now, self.interval, "Accepted")

    @on("Heartbeat")
    async def on_heartbeat(self) -> Any:
        await self.store.seen(self.id)
        return result16.Heartbeat(current_time=self.store.now())

    @on("StatusNotification")
    async def on_status(self, connector_id: int, status: str, **kw: Any) -> Any:
        await self.store.status(self.id, connector_id, status, kw.get("timestamp"))
        return result16.StatusNotification()

    @on("Authorize")
    async def on_authorize(self, id_tag: str) -> Any:
        await self.store.token(id_tag)  # unknown tags are accepted, as in the benchmark CSMS
        return result16.Authorize(id_tag_info=ACCEPTED)

    @on("StartTransaction")
    async def on_start(self, connector_id: int, id_tag: str, meter_start: int, **kw: Any) -> Any:
        tx = await self.store.start(self.id, None, id_tag, meter_start, kw["timestamp"], [])
        return result16.StartTransaction(transaction_id=tx, id_tag_info=ACCEPTED)

    @on("MeterValues")
    async def on_meter_values(self, connector_id: int, meter_value: list[Any], **kw: Any) -> Any:
        tx = kw.get("transaction_id")
        await self.store.samples(self.id, None if tx is None else str(tx), samples(meter_value))
        return result16.MeterValues()

    @on("StopTransaction")
    async def on_stop(self, transaction_id: int, meter_stop: int, **kw: Any) -> Any:
        values = samples(kw.get("transaction_data") or [])
        await self.store.stop(self.id, transaction_id, meter_stop, kw["timestamp"], values)
        return result16.StopTransaction(id_tag_info=ACCEPTED if kw.get("id_tag") else None)

    async def remote_start(self) -> str:
        answer = await self.call(
            call16.RemoteStartTransaction(id_tag="SIMTAG01", connector_id=1), suppress=False
        )
        return str(answer.status)


class V201(ChargePoint201):  # type: ignore[misc]
    def __init__(self, charger_id: str, ws: ServerConnection, store: Store, interval: int):
        super().__init__(charger_id, ws)
        self.store, self.interval = store, interval

    @on("BootNotification")
    async def on_boot(self, charging_station: dict[str, Any], reason: str, **_: Any) -> Any:
        vendor, model = charging_station.get("vendor_name"), charging_station.get("model")
        await self.store.boot(self.id, "2.0.1", vendor, model)
        now = self.store.now()
        return result201.BootNotification(now, self.interval, "Accepted")

    @on("Heartbeat")
    async def on_heartbeat(self) -> Any:
        await self.store.seen(self.id)
        return result201.Heartbeat(current_time=self.store.now())

    @on("StatusNotification")
    async def on_status(self, evse_id: int, connector_status: str, timestamp: str, **_: Any) -> Any:
        await self.store.status(self.id, evse_id, connector_status, timestamp)
        return result201.StatusNotification()

    @on("Authorize")
    async def on_authorize(self, id_token: dict[str, Any], **_: Any) -> Any:
        await self.store.token(id_token["id_token"])
        return result201.Authorize(id_token_info=ACCEPTED)

    @on("TransactionEvent")
    async def on_transaction_event(
        self, event_type: str, timestamp: str, transaction_info: dict[str, Any], **kw: Any
    ) -> Any:
        tx, values = transaction_info["transaction_id"], samples(kw.get("meter_value") or [])
        if event_type == "Started":
            token = (kw.get("id_token") or {}).get("id_token")
            await self.store.start(self.id, tx, token, register_wh(values), timestamp, values)
        elif event_type == "Ended":
            await self.store.stop(self.id, tx, register_wh(values), timestamp, values)
        else:
            await self.store.samples(self.id, tx, values)
        return result201.TransactionEvent(id_token_info=ACCEPTED if kw.get("id_token") else None)

    async def remote_start(self) -> str:
        token = {"id_token": "SIMTAG01", "type": "Central"}
        request = call201.RequestStartTransaction(
            id_token=token, remote_start_id=next(_remote_ids), evse_id=1
        )
        return str((await self.call(request, suppress=False)).status)


class Naive:
    def __init__(self, store: Store, interval: int) -> None:
        self.store, self.interval = store, interval
        self.chargers: dict[str, V16 | V201] = {}

    async def charger(self, ws: ServerConnection) -> None:
        charger_id = ws.request.path.rstrip("/").rsplit("/", 1)[-1] if ws.request else "?"
        kind = V16 if ws.subprotocol == "ocpp1.6" else V201
        cp = self.chargers[charger_id] = kind(charger_id, ws, self.store, self.interval)
        try:
            await cp.start()
        except ConnectionClosed:
            pass
        finally:
            if self.chargers.get(charger_id) is cp:
                del self.chargers[charger_id]

    async def http(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if path == "/health":
            return 200, {"ok": True}
        charger_id = path.rsplit("/", 1)[-1]
        cp = self.chargers.get(charger_id)
        if method != "POST" or not path.startswith("/start/") or cp is None:
            return 404, {"error": "unknown charger"}
        await self.store.remote_start(charger_id)
        try:
            return 200, {"status": await cp.remote_start()}
        except TimeoutError:
            return 504, {"error": "no answer"}
        except Exception as exc:  # a CALLERROR from the charger
            return 502, {"error": str(exc)}


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    store = await open_store(args.db)
    naive = Naive(store, args.heartbeat_interval)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    http = await serve_http(args.host, args.http_port, naive.http)
    protocols = [Subprotocol("ocpp1.6"), Subprotocol("ocpp2.0.1")]
    async with serve(
        naive.charger, args.host, args.ws_port, subprotocols=protocols, ping_interval=30
    ):
        await stop.wait()
    http.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            await http.wait_closed()
    await store.close()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="naive OCPP central system (benchmark baseline)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--ws-port", type=int, required=True)
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--heartbeat-interval", type=int, default=300)
    p.add_argument("--db", required=True, help="sqlite:PATH or postgresql://...")
    return p


if __name__ == "__main__":
    asyncio.run(main(parser().parse_args()))
