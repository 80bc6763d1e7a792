"""A fleet charger's socket: the handshake with fleet options, and calls that count themselves.

The handshake is the one ``link.Link._connect`` makes for ``charger-sim run`` (subprotocol,
Basic auth and TLS from ``charger_sim.auth``) but takes the fleet's own transport options:
compression, open timeout, ``max_size``, pings.

The socket is a :class:`FleetSocket`, websockets' client connection with shortcuts that
matter in ``--flood``, where every message costs the load generator CPU that the CSMS should
get: smaller socket reads (:data:`READ_SIZE`), each message handed to ``rpc.Connection``'s
dispatch straight from the protocol callback (not through websockets' message queue and a
reader task waking up), and ready-made frames written at once
(:meth:`MeteredConnection.call_frame`, timed out by :class:`Deadlines`).
"""

from __future__ import annotations

import asyncio
import inspect
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN, Event
from websockets.typing import Subprotocol

from charger_sim.auth import basic_auth, client_tls
from charger_sim.fleet.options import FleetOptions
from charger_sim.fleet.stats import Stats
from charger_sim.rpc import CallError, Connection, Handler, Payload

CLOSE_TIMEOUT = 5.0  # seconds to wait for the CSMS's close frame when we hang up
# Bytes asked for per read from a socket. asyncio asks for 256 KiB, which glibc allocates with
# mmap and shrinks and unmaps again on every read: three system calls per message received.
# Below glibc's mmap threshold (128 KiB) the buffer comes from the heap.
READ_SIZE = 64 * 1024
# websockets >= 15 looks a proxy up in the environment on every connect (about 1 ms of CPU,
# a fifth of a connect); a load generator talks to the CSMS directly.
_NO_PROXY: dict[str, Any] = (
    {"proxy": None} if "proxy" in inspect.signature(connect.__init__).parameters else {}
)

Failure = (CallError, TimeoutError)  # a call the CSMS refused or did not answer: counted, go on
Lost = (ConnectionError, ConnectionClosed)  # the socket is gone


async def open_socket(
    options: FleetOptions,
    charger_id: str,
    subprotocol: str,
    stats: Stats,
    tls: ssl.SSLContext | None = None,
) -> ClientConnection | None:
    """Connect ``charger_id``; None (and counted) if the handshake fails or is refused."""
    headers = basic_auth(charger_id, options.password)
    stats.connect_attempt()
    started = time.perf_counter()
    try:
        ws = await connect(
            f"{options.url.rstrip('/')}/{charger_id}",
            subprotocols=[Subprotocol(subprotocol)],
            additional_headers=headers,
            open_timeout=options.open_timeout,
            compression="deflate" if options.compression == "deflate" else None,
            max_size=options.max_size,
            ping_interval=options.ping_interval or None,
            ping_timeout=options.call_timeout if options.ping_interval else None,
            close_timeout=CLOSE_TIMEOUT,
            ssl=tls,
            create_connection=FleetSocket,
            **_NO_PROXY,
        )
    except (WebSocketException, OSError, TimeoutError) as exc:
        stats.connect_failures += 1
        stats.error(f"connect: {_describe(exc)}")
        return None
    if ws.subprotocol != subprotocol:
        await ws.close()
        stats.connect_failures += 1
        stats.error(f"connect: the CSMS did not accept subprotocol {subprotocol}")
        return None
    stats.connect_latency.record(time.perf_counter() - started)
    return ws


class FleetSocket(ClientConnection):
    """A client connection that can hand messages to a callback and write without waiting.

    With :attr:`on_message` set, each complete message goes to it from the protocol callback,
    in order (a text message as ``str``, a binary one or text that is not UTF-8 as ``bytes``); a
    fragmented message takes websockets' usual path (its message queue, read by ``recv``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_message: Callable[[str | bytes], None] | None = None
        self._fragmented = False  # a fragmented message is being received

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if isinstance(getattr(transport, "max_size", None), int):  # asyncio's socket transport
            transport.max_size = READ_SIZE  # type: ignore[attr-defined]

    def process_event(self, event: Event) -> None:
        handler = self.on_message
        if handler is not None and isinstance(event, Frame):
            if self._fragmented:
                self._fragmented = not (event.opcode is Opcode.CONT and event.fin)
            elif event.opcode is Opcode.TEXT or event.opcode is Opcode.BINARY:
                if event.fin:
                    data = bytes(event.data)
                    handler(_text(data) if event.opcode is Opcode.TEXT else data)
                    return
                self._fragmented = True
        super().process_event(event)

    def send_now(self, data: bytes) -> bool:
        """Write ``data`` (UTF-8) as a text message without a coroutine; False (nothing sent)
        when the connection is not open, so that ``send()`` raises as it should. Not for use
        while ``send()`` sends a fragmented message (the fleet sends none)."""
        if self.protocol.state is not OPEN:
            return False
        self.protocol.send_text(data)
        self.send_data()
        return True

    @property
    def backlogged(self) -> bool:
        """The write buffer is over its limit: ``drain()`` before writing more."""
        return self.paused


class Deadlines:
    """Times out the calls of :meth:`MeteredConnection.call_frame`: one timer per worker, not one
    per call (asyncio's timers are heap entries that outlive the call and keep the garbage
    collector busy). All calls have the same timeout, so the oldest is always due first; a
    sweep every tenth of the timeout (at most every second) fails those past it, so a call
    times out up to that much late."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._every = min(1.0, timeout / 10)
        self._due: dict[asyncio.Future[Payload], float] = {}  # oldest first
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, future: asyncio.Future[Payload], now: float) -> None:
        """Fail ``future`` with TimeoutError if not done ``timeout`` s after ``now`` (loop time)."""
        self._due[future] = now + self.timeout
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_at(now + self._every, self._sweep)

    def forget(self, future: asyncio.Future[Payload]) -> None:
        self._due.pop(future, None)

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = self._due
        while due:
            future, deadline = next(iter(due.items()))
            if deadline > now:
                break
            del due[future]
            if not future.done():
                future.set_exception(TimeoutError())
        self._timer = loop.call_at(now + self._every, self._sweep) if due else None


class MeteredConnection(Connection):
    """:class:`~charger_sim.rpc.Connection` that counts every call and times its answer.

    ``on_close`` runs when the socket is gone, however it went, so an idle charger hears of a
    drop at once without a task of its own watching the socket. :attr:`last_call` is the last
    CALL sent through :meth:`call` (the flood takes its sample frames from it).
    """

    def __init__(
        self,
        ws: ClientConnection,
        handler: Handler,
        *,
        timeout: float,
        stats: Stats,
        on_close: Callable[[], None],
        deadlines: Deadlines | None = None,
    ) -> None:
        super().__init__(ws, handler, timeout=timeout, on_close=on_close)
        self._stats = stats
        self._loop = asyncio.get_running_loop()
        self._deadlines = deadlines or Deadlines(timeout)
        self.last_call: tuple[str, Payload] | None = None
        if isinstance(ws, FleetSocket):
            ws.on_message = self._dispatch

    async def call(self, action: str, payload: Payload) -> Payload:
        stats = self._stats
        stats.calls_sent += 1
        self.last_call = (action, payload)
        started = time.perf_counter()
        try:
            answer = await super().call(action, payload)
        except (*Failure, *Lost) as exc:
            self._failed(action, exc)
            raise
        stats.acked(time.perf_counter() - started)
        return answer

    async def call_frame(self, action: str, message_id: str, frame: bytes) -> Payload:
        """:meth:`call` for a CALL already encoded: ``frame`` is ``[2, message_id, action, ...]``
        as UTF-8 JSON. Counted, timed and answered alike, with less work per call."""
        stats = self._stats
        stats.calls_sent += 1
        loop = self._loop
        future: asyncio.Future[Payload] = loop.create_future()
        self._pending[message_id] = (action, future)
        deadlines = self._deadlines
        deadlines.watch(future, loop.time())
        started = time.perf_counter()
        try:
            if self.closed:
                raise ConnectionError("not connected to the CSMS")
            ws = self._ws
            if not isinstance(ws, FleetSocket) or not ws.send_now(frame):
                await self.send_raw(frame.decode())  # raises ConnectionError when closed
            elif ws.backlogged:
                try:
                    await ws.drain()
                except OSError as exc:  # what ended the connection, as send() would tell
                    raise ConnectionError("connection to the CSMS closed") from exc
            answer = await future
        except (*Failure, *Lost) as exc:
            if isinstance(exc, TimeoutError):
                self._timed_out.append(message_id)  # a late answer is not a stray error
            self._failed(action, exc)
            raise
        finally:
            deadlines.forget(future)
            self._pending.pop(message_id, None)
        stats.acked(time.perf_counter() - started)
        return answer

    async def close(self) -> None:
        if isinstance(self._ws, FleetSocket):
            self._ws.on_message = None  # what comes during the closing handshake is ignored
        await super().close()

    def _failed(self, action: str, exc: BaseException) -> None:
        stats = self._stats
        if isinstance(exc, CallError):
            stats.call_errors += 1
            stats.error(f"{action}: CALLERROR {exc.code}")
        elif isinstance(exc, TimeoutError):
            stats.call_timeouts += 1
            stats.error(f"{action}: no answer within the call timeout")
        else:
            stats.calls_lost += 1
            stats.error(f"{action}: connection closed before the answer")


def _text(data: bytes) -> str | bytes:
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data  # not JSON either: rpc.Connection ignores it as a malformed frame


def tls_context(options: FleetOptions) -> ssl.SSLContext | None:
    """The TLS context a worker's chargers share for ``wss://`` (one per connect would cost CPU),
    trusting ``--ca-file`` or else the system's CAs; None for ``ws://``."""
    if not options.url.startswith("wss://"):
        return None
    return client_tls(Path(options.ca_file) if options.ca_file else None)


def _describe(exc: BaseException) -> str:
    """An error message without the charger id, so that equal failures count together."""
    if isinstance(exc, InvalidStatus):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, TimeoutError):
        return "timed out during the opening handshake"
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")[:200]
