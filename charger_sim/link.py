"""The charger's WebSocket link to the CSMS: connect, notice a loss, reconnect with backoff.

A real charger does not give up on its CSMS: after a drop it reconnects after a randomized,
growing back-off (2.0.1 RetryBackOffWaitMinimum, RetryBackOffRandomRange; 1.6 chargers do
the same in practice). :meth:`Link.go_offline` / :meth:`Link.come_back` take the link down and
up on purpose (a scenario's outage); :meth:`Link.drop` cuts it without a close (a fault), and
the link then comes back by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake
from websockets.typing import Subprotocol

from charger_sim.auth import basic_auth, client_tls
from charger_sim.rpc import Connection, Handler, Payload

log = logging.getLogger("charger_sim.link")


class ConnectFailed(Exception):
    """The WebSocket handshake failed or was refused."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how the charger connects (security profiles 1 to 3)."""

    url: str
    charger_id: str
    subprotocol: str
    password: str | None = None  # profile 1 and 2: HTTP Basic auth
    ca_file: Path | None = None  # profile 2 and 3: trust this CA for wss://
    cert_file: Path | None = None  # profile 3: the charger's client certificate (PEM)
    key_file: Path | None = None
    send_subprotocol: bool = True  # False: the missing-subprotocol fault
    open_timeout: float = 30.0

    @property
    def target(self) -> str:
        return f"{self.url.rstrip('/')}/{self.charger_id}"

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.url.startswith("wss://"):
            return None
        return client_tls(self.ca_file, self.cert_file, self.key_file)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Wait ``minimum * 2**attempt`` (at most ``maximum``) plus up to ``spread`` at random."""

    minimum: float = 1.0
    maximum: float = 30.0
    spread: float = 1.0

    def delay(self, attempt: int) -> float:
        grown: float = self.minimum * 2.0**attempt
        return min(grown, self.maximum) + random.uniform(0, self.spread)


class Link:
    def __init__(
        self,
        endpoint: Endpoint,
        handler: Handler,
        *,
        call_timeout: float = 30.0,
        answer_delay: float = 0.0,
        backoff: Backoff = Backoff(),
        on_connect: Callable[[], None] | None = None,
        on_down: Callable[[], None] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.online = asyncio.Event()
        self.offline = asyncio.Event()
        self.offline.set()
        self.connects = 0
        self._handler = handler
        self._call_timeout = call_timeout
        self._answer_delay = answer_delay
        self._backoff = backoff
        self._on_connect = on_connect
        self._on_down = on_down
        self._connection: Connection | None = None
        self._lose: Counter[str] = Counter()
        self._drop_on_loss: Counter[str] = Counter()
        self._held = False  # offline on purpose until come_back()
        self._resume = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def connection(self) -> Connection | None:
        return self._connection

    async def open(self) -> None:
        """Connect for the first time; raise :class:`ConnectFailed` if the CSMS refuses."""
        await self._connect()
        self._supervisor = asyncio.create_task(self._supervise())

    async def call(self, action: str, payload: Payload) -> Payload:
        connection = self._connection
        if connection is None or connection.closed:
            raise ConnectionError("offline: not connected to the CSMS")
        return await connection.call(action, payload)

    def lose_answers(self, action: str, count: int = 1, *, drop_link: bool = False) -> None:
        """The next ``count`` answers to ``action`` get lost on the way (a fault).

        ``drop_link``: the connection dies with each lost answer (no close), so the message
        goes out again after the reconnect rather than after the call timeout.
        """
        self._lose[action] += count
        if drop_link:
            self._drop_on_loss[action] += count

    async def go_offline(self, *, abort: bool = False) -> None:
        """Close the link and stay offline until :meth:`come_back`.

        ``abort`` cuts it without a closing handshake, as a power loss does.
        """
        self._held = True
        self._resume.clear()
        if self._connection is not None:
            if abort:
                self._connection.abort()
            else:
                await self._connection.close()
        await self.offline.wait()

    async def come_back(self) -> None:
        """End an outage begun with :meth:`go_offline`: reconnect now."""
        self._held = False
        self._resume.set()
        await self.online.wait()

    def drop(self) -> None:
        """Cut the link without a close handshake; it reconnects after the back-off."""
        if self._connection is not None:
            self._connection.abort()

    async def close(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if self._connection is not None:
            await self._connection.close()

    async def _connect(self) -> None:
        ep = self.endpoint
        headers = basic_auth(ep.charger_id, ep.password)
        offered = [Subprotocol(ep.subprotocol)] if ep.send_subprotocol else None
        try:
            ws = await connect(
                ep.target,
                subprotocols=offered,
                additional_headers=headers,
                open_timeout=ep.open_timeout,
                ssl=ep.ssl_context(),
            )
        except (InvalidHandshake, OSError, TimeoutError) as exc:
            raise ConnectFailed(f"connect to {ep.target}: {exc}") from exc
        if ep.send_subprotocol and ws.subprotocol != ep.subprotocol:
            await ws.close()
            raise ConnectFailed(f"connect to {ep.target}: the CSMS did not accept {ep.subprotocol}")
        self._connection = Connection(
            ws,
            self._handler,
            timeout=self._call_timeout,
            answer_delay=self._answer_delay,
            on_close=self._went_down,
            lose=self._lose,
            drop_on_loss=self._drop_on_loss,
        )
        self.connects += 1
        self.offline.clear()
        self.online.set()
        if self._on_connect is not None:
            self._on_connect()

    def _went_down(self) -> None:
        self.online.clear()
        self.offline.set()
        if self._on_down is not None:
            self._on_down()

    async def _supervise(self) -> None:
        while True:
            assert self._connection is not None
            await self._connection.wait_closed()
            log.info("link to %s down", self.endpoint.target)
            attempt = 0
            while True:
                if not self._held:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._backoff.delay(attempt)):
                            await self._resume.wait()  # come_back() cuts the wait short
                while self._held:  # also when go_offline() came during the back-off
                    await self._resume.wait()
                try:
                    await self._connect()
                    self._resume.clear()
                    break
                except ConnectFailed as exc:
                    log.info("reconnect failed: %s", exc)
                    self._resume.clear()  # come_back() asked once; back off from now on
                    attempt += 1
