"""Charger id -> live connection. The ONLY owner of charger sockets.

A :class:`ChargerConnection` runs the RPC loop of one socket: inbound CALLs are validated and
handled one at a time (chargers send one at a time anyway), answers to our own CALLs resolve
the single outstanding call. Handlers never await a call to the charger, so the loop cannot
deadlock.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from csms.gateway import rpc
from csms.gateway.handlers import Handler
from csms.gateway.rpc import Err, RpcError
from csms.gateway.schemas import validator
from csms.gateway.socket import GatewaySocket

if TYPE_CHECKING:
    from csms.gateway.limits import MessageRate

log = logging.getLogger("csms.gateway")


class CallFailed(Exception):
    """The charger answered our CALL with a CALLERROR."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


# Requests after which a Pending charger may send what we asked for (B02.FR.09, TC_B_30).
_SOLICITED_BY = {
    "GetBaseReport": "NotifyReport",
    "GetReport": "NotifyReport",
    "GetLog": "LogStatusNotification",
    "GetDiagnostics": "DiagnosticsStatusNotification",
    "UpdateFirmware": "FirmwareStatusNotification",
}
# TriggerMessage requestedMessage values whose message has another action name.
_TRIGGERED_ACTION = {
    "SignChargingStationCertificate": "SignCertificate",
    "SignV2GCertificate": "SignCertificate",
    "SignCombinedCertificate": "SignCertificate",
    "ExtendedTriggerMessage": "TriggerMessage",
}


def solicited(action: str, payload: Mapping[str, Any]) -> str | None:
    """The charger-initiated action a CSMS request asks for, if any."""
    if action in ("TriggerMessage", "ExtendedTriggerMessage"):
        requested = str(payload.get("requestedMessage", ""))
        return _TRIGGERED_ACTION.get(requested, requested) or None
    return _SOLICITED_BY.get(action)


class ChargerConnection:
    """One live charger socket. Kept lean: at 19,000 idle chargers every byte here counts 19,000
    times, so the routes table is the version's shared one and the call lock and the solicited
    set only exist once a CSMS-initiated call needs them."""

    __slots__ = (
        "_call_lock",
        "_pending",
        "_routes",
        "_solicited",
        "accepted",
        "charger_id",
        "limit",
        "registration",
        "version",
        "ws",
    )

    def __init__(
        self,
        ws: GatewaySocket,
        charger_id: str,
        version: str,
        routes: Mapping[str, Handler],
        *,
        accepted: bool,
        limit: MessageRate | None = None,
    ) -> None:
        self.ws = ws
        self.limit = limit  # [ocpp] max_messages_per_second (limits.py); None = no limit
        self.charger_id = charger_id
        self.version = version
        self.accepted = accepted
        self.registration: str | None = "Accepted" if accepted else None
        self._routes = routes
        self._call_lock: asyncio.Lock | None = None  # created by the first call()
        self._pending: tuple[str, asyncio.Future[dict[str, Any]]] | None = None
        # What a Pending charger may send because we asked; None until we ask for something.
        self._solicited: set[str] | None = None

    async def run(self) -> None:
        """Serve frames until the socket closes."""
        next_message = self.ws.next_message
        try:
            while True:
                await self._on_frame(await next_message())
        except ConnectionClosed:
            pass
        finally:
            if self._pending is not None and not self._pending[1].done():
                self._pending[1].set_exception(ConnectionError("connection closed"))

    async def _on_frame(self, frame: str | bytes) -> None:
        try:
            msg = rpc.parse(frame)
        except RpcError as exc:
            log.info("charger %s sent a malformed frame: %s", self.charger_id, exc.description)
            await self._send(rpc.encode_error(self.version, exc))
            return
        if isinstance(msg, rpc.Call):
            await self._send(await self._answer(msg))
        else:
            self._resolve(msg)

    async def _answer(self, call: rpc.Call) -> str:
        try:
            handler = self._route(call)
            rpc.validate(self.version, call.action, call.payload)
            result = await handler(self.charger_id, call.payload)
        except RpcError as exc:
            exc.message_id = call.message_id
            return rpc.encode_error(self.version, exc)
        except Exception:
            log.exception("charger %s: %s failed", self.charger_id, call.action)
            error = RpcError(Err.INTERNAL, f"{call.action} could not be processed", call.message_id)
            return rpc.encode_error(self.version, error)
        if call.action == "BootNotification":
            self.registration = result.get("status")
            self.accepted = self.registration == "Accepted"
        return rpc.encode_result(call.message_id, result)

    def _route(self, call: rpc.Call) -> Handler:
        limit = self.limit
        if limit is not None and not limit.admit():
            raise limit.refusal(self.charger_id)
        handler = self._routes.get(call.action)
        if handler is None:
            known = validator(self.version, call.action) is not None
            err = Err.NOT_SUPPORTED if known else Err.NOT_IMPLEMENTED
            raise RpcError(err, f"{call.action} is not {'supported' if known else 'implemented'}")
        if not self.accepted and call.action != "BootNotification" and not self._asked_for(call):
            raise RpcError(Err.SECURITY, "charger is not accepted yet: send BootNotification first")
        return handler

    def _asked_for(self, call: rpc.Call) -> bool:
        solicited = self._solicited
        return self.registration == "Pending" and solicited is not None and call.action in solicited

    def _resolve(self, msg: rpc.CallResult | rpc.CallError) -> None:
        pending = self._pending
        if pending is None or pending[0] != msg.message_id or pending[1].done():
            log.info("charger %s answered unknown call id %s", self.charger_id, msg.message_id)
            return
        if isinstance(msg, rpc.CallError):
            pending[1].set_exception(CallFailed(msg.code, msg.description))
        elif not isinstance(msg.payload, dict):
            pending[1].set_exception(CallFailed("FormatViolation", "answer is not an object"))
        else:
            pending[1].set_result(msg.payload)

    async def call(self, action: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one CALL and wait for its answer; one outstanding call per charger.

        Raises TimeoutError, CallFailed, or ConnectionError.
        """
        if self._call_lock is None:
            self._call_lock = asyncio.Lock()
        async with self._call_lock:
            wanted = solicited(action, payload)
            if wanted is not None and self.registration == "Pending":
                # Allowed from now on: the answer may be overtaken by the message itself.
                if self._solicited is None:
                    self._solicited = set()
                self._solicited.add(wanted)
            message_id = str(uuid.uuid4())
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._pending = (message_id, future)
            try:
                await self._send(rpc.encode_call(message_id, action, payload), raise_closed=True)
                async with asyncio.timeout(timeout):
                    return await future
            finally:
                self._pending = None

    async def _send(self, text: str, *, raise_closed: bool = False) -> None:
        try:
            await self.ws.send_text(text)
        except ConnectionClosed as exc:
            if raise_closed:
                raise ConnectionError("connection closed") from exc

    async def close(self, reason: str) -> None:
        await self.ws.close(1000, reason)


class ConnectionRegistry:
    """Live connections by charger id. A newer socket replaces an older one."""

    def __init__(self) -> None:
        self._by_id: dict[str, ChargerConnection] = {}

    def register(self, conn: ChargerConnection) -> ChargerConnection | None:
        old = self._by_id.get(conn.charger_id)
        self._by_id[conn.charger_id] = conn
        return old

    def unregister(self, conn: ChargerConnection) -> bool:
        """Forget ``conn`` only if it is still the current one; True if it was."""
        if self._by_id.get(conn.charger_id) is conn:
            del self._by_id[conn.charger_id]
            return True
        return False

    def get(self, charger_id: str) -> ChargerConnection | None:
        return self._by_id.get(charger_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def all(self) -> list[ChargerConnection]:
        return list(self._by_id.values())
