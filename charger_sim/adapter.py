"""The port the scenario runner drives: one protocol-neutral ``Adapter`` per OCPP version.

``v16.Adapter`` and ``v201.Adapter`` implement it with the same method names, so a diff of the
two modules shows only the real protocol differences.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from charger_sim.model import Evse, RemoteStart, Station
from charger_sim.rpc import Payload, Reply
from charger_sim.timefmt import format_time
from charger_sim.txqueue import TxQueue

# Connector states named as in 1.6; 2.0.1 folds the middle three into Occupied.
ConnectorState = Literal["Available", "Preparing", "Charging", "Finishing"]
StopReason = Literal["Local", "Remote", "EVDisconnected"]


@dataclass(frozen=True, slots=True)
class BootAnswer:
    status: str
    interval: int


@dataclass(frozen=True, slots=True)
class StartAnswer:
    id_tag_status: str | None
    transaction_id: str | None


class Caller(Protocol):
    """Something that sends a CALL and returns the answer: a Connection or a Link."""

    async def call(self, action: str, payload: Payload) -> Payload: ...


class Adapter(Protocol):
    subprotocol: str

    def attach(self, caller: Caller) -> None: ...

    def use_queue(self, queue: TxQueue, online: asyncio.Event, offline: asyncio.Event) -> None: ...

    def reconnected(self) -> None: ...

    async def boot(self) -> BootAnswer: ...

    async def heartbeat(self) -> None: ...

    async def status(self, evse: Evse, state: ConnectorState) -> None: ...

    async def authorize(self, id_tag: str) -> str | None: ...

    async def start(self, evse: Evse, id_tag: str, remote: RemoteStart | None) -> StartAnswer:
        """Start a transaction on ``evse`` (sets ``evse.transaction``); offline, it is queued."""
        ...

    async def charging(self, evse: Evse) -> None:
        """The EV starts drawing power."""
        ...

    async def sample(self, evse: Evse) -> None:
        """Send one periodic energy register sample of the running transaction."""
        ...

    async def stop(self, evse: Evse, reason: StopReason, id_tag: str | None) -> str | None:
        """Stop the running transaction (clears ``evse.transaction``); the idTag status."""
        ...

    async def handle(self, action: str, payload: Payload) -> Payload | Reply:
        """Answer a CSMS-initiated call; unknown actions raise ``CallError('NotImplemented')``."""
        ...


class Base:
    """What both versions share: the link, the transaction queue and the charger's clock.

    Without a queue (:meth:`attach` alone, as fleet mode does) every message is a plain call.
    With one (:meth:`use_queue`), transaction messages go through it: while online the caller
    gets the CSMS's answer, while offline ``None`` and the message waits in the queue.
    """

    def __init__(self, station: Station) -> None:
        self._station = station
        self._caller: Caller | None = None
        self._queue: TxQueue | None = None
        self._online: asyncio.Event | None = None
        self._offline: asyncio.Event | None = None

    def attach(self, caller: Caller) -> None:
        self._caller = caller

    def use_queue(self, queue: TxQueue, online: asyncio.Event, offline: asyncio.Event) -> None:
        self._queue, self._online, self._offline = queue, online, offline

    def reconnected(self) -> None:
        """A new connection: forget what was reported on the old one."""

    @property
    def online(self) -> bool:
        return self._online is None or self._online.is_set()

    def _now(self) -> str:
        skew = timedelta(seconds=self._station.clock_skew_s)
        return format_time(datetime.now(UTC) + skew)

    async def _call(self, action: str, payload: Payload) -> Payload:
        if self._caller is None:
            raise RuntimeError("the adapter is not attached to a connection")
        return await self._caller.call(action, payload)

    async def _tx(
        self,
        action: str,
        payload: Payload,
        *,
        placeholder: int | None = None,
        late: Callable[[Payload], None] | None = None,
    ) -> Payload | None:
        """Send a transaction message in order; its answer, or ``None`` if not answered online.

        ``late`` gets an answer that arrives after this returned ``None`` (after an outage).
        """
        if self._queue is None:
            return await self._call(action, payload)
        answer = self._queue.submit(action, payload, placeholder=placeholder)
        if self.online and self._offline is not None:
            went_offline: asyncio.Future[Any] = asyncio.ensure_future(self._offline.wait())
            waits: set[asyncio.Future[Any]] = {answer, went_offline}
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            went_offline.cancel()
        if answer.done():
            return answer.result()
        if late is not None:
            answer.add_done_callback(lambda done: _late(done, late))
        return None


def _late(done: asyncio.Future[Payload], late: Callable[[Payload], None]) -> None:
    if not done.cancelled() and done.exception() is None:
        late(done.result())
