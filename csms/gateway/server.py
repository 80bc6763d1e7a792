"""The OCPP WebSocket server: admission in the handshake, subprotocol choice, keepalive.

Unknown chargers get HTTP 404, bad credentials 401 and a transport weaker than the charger's
security profile 403 from ``process_request``; a charger that offers no subprotocol we speak
gets 400 from ``select_subprotocol`` -- all before the upgrade. It listens on a plain ``ws://``
port and, when configured, on a TLS port for security profiles 2 and 3 (ADR 0007, ``tls.py``).

Sized for many idle chargers in one process (19,000 at <= 24 KiB each, <= 40 KiB with
permessage-deflate): a connection keeps its socket, websockets' own objects, a lean
:class:`ChargerConnection` and, with compression, the last KiB of text each way -- not the
handshake's request and response, not the domain ``Charger``, not a route table of its own and
not a zlib stream (see :class:`WindowDeflate`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import http
import logging
import ssl
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import NegotiationError
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import CONT, CTRL_OPCODES, Frame
from websockets.http11 import Request, Response
from websockets.typing import ExtensionParameter, Subprotocol

from csms.domain.model import Charger, Protocol
from csms.domain.security import HandshakeCredentials
from csms.gateway.connections import ChargerConnection, ConnectionRegistry
from csms.gateway.handlers import Handler
from csms.gateway.limits import message_rate
from csms.gateway.redaction import WEBSOCKETS_LOG
from csms.gateway.services import GatewayServices
from csms.gateway.socket import GatewaySocket
from csms.gateway.tls import handshake_transport
from csms.gateway.v16.charge_point import ChargePoint16
from csms.gateway.v201.charge_point import ChargePoint201

log = logging.getLogger("csms.gateway")

SUBPROTOCOLS = {"ocpp2.0.1": Protocol.V201, "ocpp1.6": Protocol.V16}
MAX_ID_LENGTH = 48
# listen(2) backlog: a reconnect storm opens thousands of sockets at once; asyncio's default
# of 100 makes the kernel drop the rest and the chargers retransmit their SYN after 1, 3, 7 s.
# Linux caps it at net.core.somaxconn (4096 by default since 5.4).
LISTEN_BACKLOG = 4096
# permessage-deflate: a 1 KiB LZ77 window each way (window bits 10) and zlib memLevel 1. On a
# 1.6/2.0.1 message mix that compresses to 17.1 % of the text, against 16.8 % with websockets'
# defaults (12 bits, memLevel 5); 9 bits is smaller than one TransactionEvent and gets ~60 %.
DEFLATE_WINDOW_BITS = 10
DEFLATE_MEM_LEVEL = 1
CLOSE_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    host: str = "0.0.0.0"
    port: int = 9000
    max_frame_bytes: int = 65536
    ping_interval: float = 30.0
    ping_timeout: float = 30.0
    compression: bool = True
    open_timeout: float = 30.0
    tls: ssl.SSLContext | None = None  # None: no TLS listener
    tls_port: int = 9443
    max_messages_per_second: float = 0.0
    message_burst: int = 0

    @property
    def close_timeout(self) -> float:
        """How long a closing socket waits for the charger's close (websockets' default 10 s).

        No longer than the ping timeout: a charger that let a ping go unanswered that long is
        gone (a half-open socket), and it is offline only once its socket is closed.
        """
        return min(CLOSE_TIMEOUT, self.ping_timeout or CLOSE_TIMEOUT)


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


class WindowDeflate(PerMessageDeflate):
    """permessage-deflate that keeps no zlib stream between messages.

    websockets' :class:`PerMessageDeflate` opens a compressor and a decompressor per connection
    at the handshake and keeps both for the connection's life when context takeover is on: with
    12 window bits and memLevel 5, 38 KiB + 11 KiB of zlib state per idle charger. The only
    context a message may refer to is the last ``2**window_bits`` bytes of text sent before it
    in that direction (the LZ77 sliding window of RFC 7692), so that text is all this keeps:
    each message gets a fresh compressor or decompressor primed with it as preset dictionary,
    freed at the end of the message. Messages compress as well as with a kept stream; each costs
    a few microseconds more CPU. Without context takeover websockets already works per message.
    """

    def __init__(
        self,
        remote_no_context_takeover: bool,
        local_no_context_takeover: bool,
        remote_max_window_bits: int,
        local_max_window_bits: int,
        compress_settings: dict[Any, Any] | None = None,
    ) -> None:
        # Both "no context takeover" for the base class, which then opens no zlib stream now.
        super().__init__(
            True, True, remote_max_window_bits, local_max_window_bits, compress_settings
        )
        self.remote_no_context_takeover = remote_no_context_takeover
        self.local_no_context_takeover = local_no_context_takeover
        self._received = b""  # the last text received (decompressed), up to the remote window
        self._sent = b""  # the last text sent, up to the local window

    @classmethod
    def like(cls, extension: PerMessageDeflate) -> WindowDeflate:
        """The same negotiated parameters, held the lean way."""
        return cls(
            extension.remote_no_context_takeover,
            extension.local_no_context_takeover,
            extension.remote_max_window_bits,
            extension.local_max_window_bits,
            extension.compress_settings,
        )

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        if self.remote_no_context_takeover or frame.opcode in CTRL_OPCODES:
            return super().decode(frame, max_size=max_size)
        if frame.opcode is CONT:
            compressed = self.decode_cont_data
        else:
            compressed = frame.rsv1
            if compressed:  # the first frame of a compressed message
                bits = -self.remote_max_window_bits
                self.decoder = (
                    zlib.decompressobj(wbits=bits, zdict=self._received)
                    if self._received
                    else zlib.decompressobj(wbits=bits)
                )
        decoded = super().decode(frame, max_size=max_size)
        if compressed:
            self._received = _tail(self._received, decoded.data, self.remote_max_window_bits)
            if frame.fin:
                del self.decoder
        return decoded

    def encode(self, frame: Frame) -> Frame:
        if self.local_no_context_takeover or frame.opcode in CTRL_OPCODES:
            return super().encode(frame)
        if frame.opcode is not CONT:  # the first frame of a message: every message is compressed
            bits = -self.local_max_window_bits
            self.encoder = (
                zlib.compressobj(wbits=bits, zdict=self._sent, **self.compress_settings)
                if self._sent
                else zlib.compressobj(wbits=bits, **self.compress_settings)
            )
        encoded = super().encode(frame)
        self._sent = _tail(self._sent, frame.data, self.local_max_window_bits)
        if frame.fin:
            del self.encoder
        return encoded


def _tail(history: bytes, data: Any, window_bits: int) -> bytes:
    """The last ``2**window_bits`` bytes of ``history`` followed by ``data``."""
    window = 1 << window_bits
    if len(data) >= window:
        return bytes(data[-window:])
    joined = history + bytes(data)
    return joined[-window:] if len(joined) > window else joined


class WindowDeflateFactory(ServerPerMessageDeflateFactory):
    """websockets' negotiation, unchanged; the extension it yields is a :class:`WindowDeflate`.

    A client that offers no ``client_max_window_bits`` may compress with a 32 KiB window; it
    keeps context takeover (a response parameter it did not ask for could break a strict
    client), so its connection holds up to 32 KiB of what it sent instead of 1 KiB.
    """

    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted_extensions: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        response, extension = super().process_request_params(params, accepted_extensions)
        return response, WindowDeflate.like(extension)


def deflate_factory() -> WindowDeflateFactory:
    """permessage-deflate as the server offers it: negotiable, 2.0.1 requires it."""
    return WindowDeflateFactory(
        server_max_window_bits=DEFLATE_WINDOW_BITS,
        client_max_window_bits=DEFLATE_WINDOW_BITS,
        compress_settings={"memLevel": DEFLATE_MEM_LEVEL},
    )


class OcppServer:
    def __init__(
        self, settings: GatewaySettings, services: GatewayServices, registry: ConnectionRegistry
    ) -> None:
        self._settings = settings
        self._services = services
        self._registry = registry
        self._server: Server | None = None
        self._tls_server: Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # One route table per version, shared by all its connections.
        self._routes: dict[Protocol, dict[str, Handler]] = {
            Protocol.V16: ChargePoint16(services).routes(),
            Protocol.V201: ChargePoint201(services).routes(),
        }

    @property
    def port(self) -> int:
        """The plain ``ws://`` listener's port."""
        return _bound_port(self._server)

    @property
    def tls_port(self) -> int | None:
        """The TLS listener's port, None without one."""
        return None if self._tls_server is None else _bound_port(self._tls_server)

    async def start(self) -> None:
        settings = self._settings
        self._server = await self._listen(settings.port, None)
        if settings.tls is not None:
            self._tls_server = await self._listen(settings.tls_port, settings.tls)

    async def _listen(self, port: int, tls: ssl.SSLContext | None) -> Server:
        """One listener; both run the same admission, which tells them apart by the socket."""
        extensions = [deflate_factory()] if self._settings.compression else None
        return await serve(
            self._handle,
            self._settings.host,
            port,
            ssl=tls,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            subprotocols=[Subprotocol(s) for s in SUBPROTOCOLS],
            compression=None,
            extensions=extensions,
            max_size=self._settings.max_frame_bytes,
            ping_interval=self._settings.ping_interval or None,
            ping_timeout=self._settings.ping_timeout or None,
            close_timeout=self._settings.close_timeout,
            # TCP accept to the 101 answer, admission included (and, on the TLS port, the TLS
            # handshake: websockets makes it asyncio's ssl_handshake_timeout). Longer than
            # websockets' 10 s and no shorter than a charger's own wait (charger-sim's is 30 s):
            # in a reconnect storm a handshake waits its turn, and one cut off is worse than one
            # that is slow -- its work is lost and the charger comes back later for more.
            open_timeout=self._settings.open_timeout or None,
            backlog=LISTEN_BACKLOG,
            logger=WEBSOCKETS_LOG,  # its DEBUG lines without Basic auth or password frames
            create_connection=GatewaySocket,
        )

    async def close(self) -> None:
        for server in (self._server, self._tls_server):
            if server is not None:
                server.close()
                await server.wait_closed()

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        charger_id = charger_id_from_path(request.path)
        if charger_id is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "No charger id in the path\n")
        well_formed, password = basic_password(request.headers, charger_id)
        if not well_formed:
            return _unauthorized(connection)
        transport, client_cn = handshake_transport(connection)
        credentials = HandshakeCredentials(transport, password, client_cn)
        admission = await self._services.chargers.admit(charger_id, credentials)
        if not admission.admitted:
            log.info(
                "refused charger %s over %s: %s", charger_id, transport.label, admission.reason
            )
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
        assert isinstance(ws, GatewaySocket)  # create_connection=GatewaySocket
        charger_id, accepted = _take_admission(ws)
        protocol = SUBPROTOCOLS.get(ws.subprotocol or "ocpp1.6", Protocol.V16)
        s = self._settings
        conn = ChargerConnection(
            ws,
            charger_id,
            protocol.value,
            self._routes[protocol],
            accepted=accepted,
            limit=message_rate(s.max_messages_per_second, s.message_burst),
        )
        old = self._registry.register(conn)
        if old is not None:
            log.info("charger %s reconnected; closing its previous socket", charger_id)
            self._spawn(old.close("replaced by a newer connection"))
        log.info("charger %s connected with OCPP %s", charger_id, protocol.value)
        try:
            await self._services.chargers.connected(charger_id, protocol)
            await conn.run()
        finally:
            if self._registry.unregister(conn):
                log.info("charger %s disconnected", charger_id)
                await self._services.chargers.disconnected(charger_id)

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _take_admission(ws: ServerConnection) -> tuple[str, bool]:
    """(charger id, boot accepted) of an opened socket, dropping what only the handshake needed.

    The admitted ``Charger`` and the handshake's request and response headers (~5 KiB) would
    otherwise stay referenced by the socket for its whole life. The request and response stay
    (websockets tells the handshake from frames by ``request is None``), without headers.
    """
    charger: Charger = ws.charger  # type: ignore[attr-defined]
    del ws.charger  # type: ignore[attr-defined]
    for message in (ws.request, ws.response):
        if message is not None:
            message.headers.clear()
    return charger.id, charger.boot_accepted


def _bound_port(server: Server | None) -> int:
    assert server is not None
    sock = next(iter(server.sockets))
    return int(sock.getsockname()[1])


def _unauthorized(connection: ServerConnection) -> Response:
    response = connection.respond(http.HTTPStatus.UNAUTHORIZED, "Invalid credentials\n")
    response.headers["WWW-Authenticate"] = 'Basic realm="ocpp", charset="UTF-8"'
    return response
