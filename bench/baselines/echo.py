"""Baseline: a raw websockets server that answers every CALL at once, storing nothing.

No validation, no database, no OCPP library: a CALL gets a CALLRESULT with the least a charger
needs to go on (BootNotification Accepted with the time and interval, Authorize and starts
Accepted, a 1.6 transactionId), everything else ``{}``. Its figures are the ceiling of the
machine, websockets and the load generator; our CSMS's are stated as a ratio to them.

``POST /start/<charger>`` sends RemoteStartTransaction (1.6) or RequestStartTransaction (2.0.1)
and answers the charger's status, the shortest path a remote start can take.

    python -m bench.baselines.echo --ws-port 9000 --http-port 8000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import signal
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from bench.baselines.tinyhttp import serve_http

SUBPROTOCOLS = [Subprotocol("ocpp1.6"), Subprotocol("ocpp2.0.1")]
REMOTE_TIMEOUT = 30.0


class Echo:
    def __init__(self, heartbeat_interval: int) -> None:
        self.heartbeat_interval = heartbeat_interval
        self.chargers: dict[str, ServerConnection] = {}
        self.waiting: dict[str, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)

    async def charger(self, ws: ServerConnection) -> None:
        charger_id = ws.request.path.rstrip("/").rsplit("/", 1)[-1] if ws.request else "?"
        self.chargers[charger_id] = ws
        try:
            async for raw in ws:
                message = json.loads(raw)
                if message[0] == 2:
                    answer = self._answer(message[2], ws.subprotocol == "ocpp1.6")
                    await ws.send(json.dumps([3, message[1], answer]))
                elif (future := self.waiting.pop(message[1], None)) and not future.done():
                    future.set_result(message)
        except ConnectionClosed:
            pass
        finally:
            if self.chargers.get(charger_id) is ws:
                del self.chargers[charger_id]

    def _answer(self, action: str, v16: bool) -> dict[str, Any]:
        accepted = {"status": "Accepted"}
        if action == "BootNotification":
            now = _now()
            return {"status": "Accepted", "currentTime": now, "interval": self.heartbeat_interval}
        if action == "Heartbeat":
            return {"currentTime": _now()}
        if action == "Authorize":
            return {"idTagInfo": accepted} if v16 else {"idTokenInfo": accepted}
        if action == "StartTransaction":
            return {"transactionId": next(self._ids), "idTagInfo": accepted}
        if action == "StopTransaction":
            return {"idTagInfo": accepted}
        return {}

    async def http(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if path == "/health":
            return 200, {"ok": True}
        ws = self.chargers.get(path.rsplit("/", 1)[-1])
        if method != "POST" or not path.startswith("/start/") or ws is None:
            return 404, {"error": "unknown charger"}
        unique_id = str(next(self._ids))
        if ws.subprotocol == "ocpp1.6":
            call = [2, unique_id, "RemoteStartTransaction", {"connectorId": 1, "idTag": "SIMTAG01"}]
        else:
            token = {"idToken": "SIMTAG01", "type": "Central"}
            payload = {"idToken": token, "remoteStartId": int(unique_id), "evseId": 1}
            call = [2, unique_id, "RequestStartTransaction", payload]
        future = self.waiting[unique_id] = asyncio.get_running_loop().create_future()
        try:
            await ws.send(json.dumps(call))
            async with asyncio.timeout(REMOTE_TIMEOUT):
                answer = await future
        except (TimeoutError, ConnectionClosed):
            self.waiting.pop(unique_id, None)
            return 504, {"error": "no answer"}
        if answer[0] != 3:
            return 502, {"error": "CALLERROR"}
        return 200, {"status": answer[2].get("status")}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def main(args: argparse.Namespace) -> None:
    echo = Echo(args.heartbeat_interval)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    http = await serve_http(args.host, args.http_port, echo.http)
    async with serve(
        echo.charger, args.host, args.ws_port, subprotocols=SUBPROTOCOLS, ping_interval=30
    ):
        await stop.wait()
    http.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            await http.wait_closed()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--ws-port", type=int, required=True)
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--heartbeat-interval", type=int, default=300)
    return p


if __name__ == "__main__":
    asyncio.run(main(parser().parse_args()))
