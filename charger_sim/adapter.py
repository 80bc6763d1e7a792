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

from charger_sim.device import Device
from charger_sim.model import Evse, RemoteStart, Station
from charger_sim.rpc import Payload, Reply
from charger_sim.sampling import Reading, readings, register
from charger_sim.timefmt import format_time
from charger_sim.txqueue import TxQueue

# Connector states named as in 1.6; 2.0.1 folds all but Available into Occupied.
ConnectorState = Literal[
    "Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing"
]
# Why the charger ends a transaction, in neither version's words: each adapter maps a reason to
# values of its own schema (``v16.REASONS``: 1.6 Reason; ``v201.REASONS`` and ``v201.TRIGGERS``:
# ReasonEnumType and TriggerReasonEnumType), so neither ever sends the other's value. The first
# three come from steps; the resets from a CSMS Reset (1.6 Soft/Hard, 2.0.1 Immediate), the
# unlock from a 1.6 UnlockConnector, PowerLoss from a ``reboot`` step.
StopReason = Literal[
    "Local",
    "Remote",
    "EVDisconnected",
    "SoftReset",
    "HardReset",
    "ImmediateReset",
    "UnlockCommand",
    "PowerLoss",
]


@dataclass(frozen=True, slots=True)
class BootAnswer:
    status: str
    interval: int


@dataclass(frozen=True, slots=True)
class StartAnswer:
    id_tag_status: str | None
    transaction_id: str | None


class Control(Protocol):
    """What the charger does beyond answering a CSMS call; the runner's ``Charger`` does it.

    The handlers (``calls16``, ``calls201``) decide the answer; anything that closes the
    connection (a reset, a reconnect with a new password) is spawned as its own task here.
    """

    def reset(self, reason: StopReason, boot_reason: str, *, when_idle: bool = False) -> None:
        """Stop running transactions with ``reason`` (or, ``when_idle``, wait for them to end),
        close the connection, reconnect and boot again with ``boot_reason``."""
        ...

    async def stop_transaction(self, evse: Evse, reason: StopReason) -> None:
        """Stop ``evse``'s transaction through the normal stop path (exact energy)."""
        ...

    def reconnect(self) -> None:
        """Close the connection and open a new one (with the device model's password)."""
        ...

    def booted(self, answer: BootAnswer) -> None:
        """A BootNotification sent outside the boot step (triggered) was answered."""
        ...


class Caller(Protocol):
    """Something that sends a CALL and returns the answer: a Connection or a Link."""

    async def call(self, action: str, payload: Payload) -> Payload: ...


class Adapter(Protocol):
    subprotocol: str
    control: Control | None  # None (fleet mode): no resets, no reconnects, no remote starts

    @property
    def station(self) -> Station: ...

    def attach(self, caller: Caller) -> None: ...

    def use_queue(self, queue: TxQueue, online: asyncio.Event, offline: asyncio.Event) -> None: ...

    def use_device(self, device: Device, control: Control) -> None: ...

    def reconnected(self) -> None: ...

    async def boot(self, reason: str = "PowerUp") -> BootAnswer:
        """BootNotification; ``reason`` is 2.0.1's (PowerUp, RemoteReset, Triggered)."""
        ...

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
        """Send one periodic sample (the configured measurands) of the running transaction."""
        ...

    async def suspended(self, evse: Evse, by: str) -> None:
        """The EV (``by = "EV"``) or the EVSE (``"EVSE"``) stopped the energy flow."""
        ...

    async def clock_sample(self, evse: Evse) -> None:
        """Send one clock-aligned sample: of the transaction if one runs, else of the meter."""
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
        self._device: Device | None = None  # built when first asked for (``device``)
        self.control: Control | None = None  # None (fleet mode): no resets, no reconnects
        self.registration: str | None = None  # the status of the last BootNotification

    @property
    def device(self) -> Device:
        """The charger's configuration. Built on first use: a fleet charger is only asked
        for it by a CSMS that reads or writes settings, and building it for each of 10,000
        chargers in a reconnect storm was a tenth of the fleet's work."""
        if self._device is None:
            self._device = Device.build(self._station)
        return self._device

    def use_device(self, device: Device, control: Control) -> None:
        """The charger's configuration, and who acts on what a CSMS call asks for."""
        self._device, self.control = device, control

    @property
    def station(self) -> Station:
        return self._station

    def pending(self, transaction_id: str | None = None) -> int:
        """Transaction messages still queued: all, or those of one transaction."""
        return 0 if self._queue is None else self._queue.pending(transaction_id)

    async def notify(self, action: str, payload: Payload) -> Payload:
        """Send a plain (not queued) message, such as one the CSMS triggered."""
        return await self._call(action, payload)

    def _boot_answer(self, answer: Payload) -> BootAnswer:
        self.registration = str(answer["status"])
        return BootAnswer(self.registration, int(answer["interval"]))

    def attach(self, caller: Caller) -> None:
        self._caller = caller

    def use_queue(self, queue: TxQueue, online: asyncio.Event, offline: asyncio.Event) -> None:
        self._queue, self._online, self._offline = queue, online, offline

    def reconnected(self) -> None:
        """A new connection: forget what was reported on the old one."""

    @property
    def online(self) -> bool:
        return self._online is None or self._online.is_set()

    def _readings(self, evse: Evse, every: bool) -> list[Reading]:
        """The register alone, or ``every`` configured measurand (periodic and clock samples)."""
        spec = self._station.metering
        if every:
            return readings(evse.meter.wh, evse.ev if evse.transaction else None, spec)
        return [register(evse.meter.wh, spec.unit)]

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


def info_status(answer: Payload, key: str) -> str | None:
    """The ``status`` in an answer's ``key`` (1.6 ``idTagInfo``, 2.0.1 ``idTokenInfo``)."""
    info = answer.get(key)
    return info.get("status") if isinstance(info, dict) else None


def _late(done: asyncio.Future[Payload], late: Callable[[Payload], None]) -> None:
    if not done.cancelled() and done.exception() is None:
        late(done.result())
