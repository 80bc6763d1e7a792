"""A fleet charger's socket: the handshake with fleet options, and calls that count themselves.

The handshake is the one ``link.Link._connect`` makes for ``charger-sim run`` (subprotocol,
Basic auth and TLS from ``charger_sim.auth``) but takes the fleet's own transport options:
compression, open timeout, ``max_size``, pings.
"""

from __future__ import annotations

import inspect
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.typing import Subprotocol

from charger_sim.auth import basic_auth, client_tls
from charger_sim.fleet.options import FleetOptions
from charger_sim.fleet.stats import Stats
from charger_sim.rpc import CallError, Connection, Handler, Payload

CLOSE_TIMEOUT = 5.0  # seconds to wait for the CSMS's close frame when we hang up
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


class MeteredConnection(Connection):
    """:class:`~charger_sim.rpc.Connection` that counts every call and times its answer.

    ``on_close`` runs when the socket is gone, however it went, so an idle charger hears of a
    drop at once without a task of its own watching the socket.
    """

    def __init__(
        self,
        ws: ClientConnection,
        handler: Handler,
        *,
        timeout: float,
        stats: Stats,
        on_close: Callable[[], None],
    ) -> None:
        super().__init__(ws, handler, timeout=timeout, on_close=on_close)
        self._stats = stats

    async def call(self, action: str, payload: Payload) -> Payload:
        stats = self._stats
        stats.calls_sent += 1
        started = time.perf_counter()
        try:
            answer = await super().call(action, payload)
        except CallError as exc:
            stats.call_errors += 1
            stats.error(f"{action}: CALLERROR {exc.code}")
            raise
        except TimeoutError:
            stats.call_timeouts += 1
            stats.error(f"{action}: no answer within the call timeout")
            raise
        except Lost:
            stats.calls_lost += 1
            stats.error(f"{action}: connection closed before the answer")
            raise
        stats.acked(time.perf_counter() - started)
        return answer


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
