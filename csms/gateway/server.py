"""The OCPP WebSocket server: admission in the handshake, subprotocol choice, keepalive.

Unknown chargers get HTTP 404 and bad credentials 401 from ``process_request``; a charger that
offers no subprotocol we speak gets 400 from ``select_subprotocol`` -- all before the upgrade.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import http
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import NegotiationError
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from csms.domain.model import Charger, Protocol
from csms.gateway.connections import ChargerConnection, ConnectionRegistry
from csms.gateway.services import GatewayServices
from csms.gateway.v16.charge_point import ChargePoint16
from csms.gateway.v201.charge_point import ChargePoint201

log = logging.getLogger("csms.gateway")

SUBPROTOCOLS = {"ocpp2.0.1": Protocol.V201, "ocpp1.6": Protocol.V16}
MAX_ID_LENGTH = 48


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    host: str = "0.0.0.0"
    port: int = 9000
    max_frame_bytes: int = 65536
    ping_interval: float = 30.0
    ping_timeout: float = 30.0
    compression: bool = True


def charger_id_from_path(path: str) -> str | None:
    """``/ocpp/<id>`` or ``/<id>``; the id is percent-decoded, max 48 chars, no ':'."""
    route = path.split("?", 1)[0].rstrip("/")
    parts = [p for p in route.split("/") if p]
    if len(parts) == 2 and parts[0] == "ocpp":
        raw = parts[1]
    elif len(parts) == 1 and parts[0] != "ocpp":
        raw = parts[0]
    else:
        return None
    charger_id = unquote(raw)
    if not charger_id or len(charger_id) > MAX_ID_LENGTH or ":" in charger_id:
        return None
    return charger_id


def basic_password(headers: Headers, charger_id: str) -> tuple[bool, str | None]:
    """(well_formed, password) from an Authorization header whose user must be the charger id."""
    header = headers.get("Authorization")
    if header is None:
        return True, None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False, None
    try:
        user, sep, password = base64.b64decode(encoded.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False, None
    if not sep or user != charger_id:
        return False, None
    return True, password


class OcppServer:
    def __init__(
        self, settings: GatewaySettings, services: GatewayServices, registry: ConnectionRegistry
    ) -> None:
        self._settings = settings
        self._services = services
        self._registry = registry
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        sock = next(iter(self._server.sockets))
        return int(sock.getsockname()[1])

    async def start(self) -> None:
        extensions = None
        if self._settings.compression:
            # Smaller windows keep idle per-connection memory down; 2.0.1 requires deflate.
            extensions = [
                ServerPerMessageDeflateFactory(
                    server_max_window_bits=12,
                    client_max_window_bits=12,
                    compress_settings={"memLevel": 5},
                )
            ]
        self._server = await serve(
            self._handle,
            self._settings.host,
            self._settings.port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            subprotocols=[Subprotocol(s) for s in SUBPROTOCOLS],
            compression=None,
            extensions=extensions,
            max_size=self._settings.max_frame_bytes,
            ping_interval=self._settings.ping_interval or None,
            ping_timeout=self._settings.ping_timeout or None,
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        charger_id = charger_id_from_path(request.path)
        if charger_id is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "No charger id in the path\n")
        well_formed, password = basic_password(request.headers, charger_id)
        if not well_formed:
            return _unauthorized(connection)
        admission = await self._services.chargers.admit(charger_id, password)
        if not admission.admitted:
            log.info("refused charger %s: %s", charger_id, admission.reason)
            if admission.http_status == 401:
                return _unauthorized(connection)
            return connection.respond(
                http.HTTPStatus(admission.http_status), admission.reason + "\n"
            )
        connection.charger = admission.charger  # type: ignore[attr-defined]
        return None

    def _select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        for name in SUBPROTOCOLS:
            if name in offered:
                return Subprotocol(name)
        charger: Charger = connection.charger  # type: ignore[attr-defined]
        if not offered and charger.allow_missing_subprotocol:
            return None  # tolerated: treated as OCPP 1.6
        raise NegotiationError(
            f"no supported subprotocol among {list(offered)}; use ocpp1.6 or ocpp2.0.1"
        )

    async def _handle(self, ws: ServerConnection) -> None:
        charger: Charger = ws.charger  # type: ignore[attr-defined]
        protocol = SUBPROTOCOLS.get(ws.subprotocol or "ocpp1.6", Protocol.V16)
        handlers = (
            ChargePoint16(charger.id, self._services)
            if protocol is Protocol.V16
            else ChargePoint201(charger.id, self._services)
        )
        conn = ChargerConnection(
            ws, charger.id, protocol.value, handlers.routes(), accepted=charger.boot_accepted
        )
        old = self._registry.register(conn)
        if old is not None:
            log.info("charger %s reconnected; closing its previous socket", charger.id)
            self._spawn(old.close("replaced by a newer connection"))
        log.info("charger %s connected with OCPP %s", charger.id, protocol.value)
        try:
            await self._services.chargers.connected(charger.id, protocol)
            await conn.run()
        finally:
            if self._registry.unregister(conn):
                log.info("charger %s disconnected", charger.id)
                await self._services.chargers.disconnected(charger.id)

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _unauthorized(connection: ServerConnection) -> Response:
    response = connection.respond(http.HTTPStatus.UNAUTHORIZED, "Invalid credentials\n")
    response.headers["WWW-Authenticate"] = 'Basic realm="ocpp", charset="UTF-8"'
    return response
