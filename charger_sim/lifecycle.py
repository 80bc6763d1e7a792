"""The charger's life beyond the steps: boot, heartbeat, reset, power cycle, new password.

:class:`Lifecycle` is a mixin of ``runner.Charger``; it is the ``Control`` the CSMS-call
handlers (``calls16``, ``calls201``) ask to act: it resets (stops running transactions through
the normal stop path, closes the connection, reconnects and boots again), reconnects with a
rotated password, stops a transaction for an unlock, and applies what the device model says
(a changed HeartbeatInterval restarts the heartbeat; TransactionMessageAttempts and the retry
interval reach the queue). It also keeps a log of the CSMS calls answered, for ``wait_call``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import defaultdict
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, cast

from charger_sim import calls
from charger_sim.adapter import Adapter, BootAnswer, ConnectorState, StopReason
from charger_sim.device import (
    CONNECTION_TIMEOUT,
    HEARTBEAT_INTERVAL,
    MESSAGE_ATTEMPTS,
    MESSAGE_RETRY_INTERVAL,
    PASSWORD,
    Device,
    Seeds,
)
from charger_sim.link import Endpoint, Link
from charger_sim.model import Evse, RemoteStart, Station
from charger_sim.rpc import CallError, Payload, Reply
from charger_sim.scenario import ChargerSpec, Step
from charger_sim.txqueue import TxQueue

log = logging.getLogger("charger_sim")

# What a follow-up (a triggered message) may fail with; ``wait_call`` reports it.
_FOLLOW_UP_ERRORS = (CallError, TimeoutError, ConnectionError, ValueError)


def build_device(station: Station, spec: ChargerSpec, endpoint: Endpoint) -> Device:
    """The device model, seeded from ``[charger]`` and how the charger connects."""
    profile = 3 if endpoint.cert_file else 2 if endpoint.url.startswith("wss://") else 1
    seeds = Seeds(
        connection_timeout=spec.ev_connection_timeout,
        message_attempts=spec.message_attempts,
        message_retry_interval=spec.message_retry_interval,
        password=endpoint.password,
        security_profile=profile if endpoint.password or endpoint.cert_file else 0,
    )
    return Device.build(station, seeds)


def refusals(spec: ChargerSpec) -> frozenset[str]:
    """The CSMS calls ``[charger]`` tells the charger to refuse (``Station.refuse``)."""
    told = {
        calls.REMOTE_START: spec.reject_remote_start,
        calls.REMOTE_STOP: spec.reject_remote_stop,
        calls.RESET: spec.reject_reset,
        calls.UNLOCK: spec.unlock_fails,
    }
    return frozenset(call for call, refuse in told.items() if refuse)


class Lifecycle:
    if TYPE_CHECKING:  # provided by runner.Charger
        link: Link
        _station: Station
        _adapter: Adapter
        _spec: ChargerSpec
        _queue: TxQueue
        _booted: bool
        _heartbeat: asyncio.Task[None] | None

        def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...

        def _start_heartbeat(self, interval: int) -> None: ...

        async def _report_states(self) -> None: ...

        async def _stop_transaction(
            self, evse: Evse, reason: StopReason, id_tag: str | None
        ) -> str | None: ...

    def _init_lifecycle(self, device: Device) -> None:
        self._device = device
        self._answered: defaultdict[str, asyncio.Queue[Exception | None]] = defaultdict(
            asyncio.Queue
        )
        self._dropped: asyncio.Queue[RemoteStart] = asyncio.Queue()
        self._idle_reset: tuple[StopReason, str] | None = None
        self._settled = asyncio.Event()  # no reset pending or under way
        self._settled.set()
        self._reset_failed: BaseException | None = None
        self._restarting: asyncio.Task[None] | None = None
        device.watch(self._setting_changed)

    # -- Control: what the CSMS-call handlers ask for ---------------------------------------

    def reset(self, reason: StopReason, boot_reason: str, *, when_idle: bool = False) -> None:
        self._settled.clear()
        if when_idle and self._busy():
            self._idle_reset = (reason, boot_reason)  # done when the last transaction ends
            return
        self._idle_reset = None
        if self._restarting is None or self._restarting.done():  # one reset at a time
            self._restarting = self._spawn(self._restart(reason, boot_reason))

    async def stop_transaction(self, evse: Evse, reason: StopReason) -> None:
        async with evse.lock:
            if evse.transaction is not None:
                await self._stop_transaction(evse, reason, None)

    def reconnect(self) -> None:
        self._spawn(self._reconnect())

    def booted(self, answer: BootAnswer) -> None:
        if answer.status != "Accepted":
            return
        first, self._booted = not self._booted, True
        self._device.set(HEARTBEAT_INTERVAL, str(answer.interval))
        if first:  # accepted at last (it was Pending): report the connectors (B01.FR.05)
            self._spawn(self._report_states())

    # -- the connection's handler: answer, then log the call for wait_call ------------------

    async def _handle(self, action: str, payload: Payload) -> Payload | Reply:
        try:
            reply = await self._adapter.handle(action, payload)
        except CallError:
            self._answered[action].put_nowait(None)
            raise
        answer, then = (reply.payload, reply.then) if isinstance(reply, Reply) else (reply, None)

        async def done() -> None:
            error: Exception | None = None
            if then is not None:
                try:
                    await then()
                except _FOLLOW_UP_ERRORS as exc:
                    log.warning("what %s set off failed: %s", action, exc)
                    error = exc
            self._answered[action].put_nowait(error)

        return Reply(answer, then=done)

    # -- steps ------------------------------------------------------------------------------

    async def _wait_call(self, step: Step) -> None:
        """Wait until the CSMS sent ``message`` and what it set off is done (a reset: booted)."""
        assert step.message is not None
        async with asyncio.timeout(step.timeout):
            error = await self._answered[step.message].get()
            await self._settled.wait()
        if error is not None:
            raise ValueError(f"what {step.message} set off failed: {error!r}")
        if self._reset_failed is not None:
            failed, self._reset_failed = self._reset_failed, None
            raise ValueError(f"the reset failed: {failed!r}")

    async def _wait_remote_start_timeout(self, step: Step) -> None:
        async with asyncio.timeout(step.timeout):
            await self._dropped.get()

    async def _reboot(self, step: Step) -> None:
        """A power cycle: the power goes mid-whatever, comes back, the charger boots (PowerUp)
        and then ends the transactions that were running with reason PowerLoss."""
        async with asyncio.timeout(step.timeout), contextlib.AsyncExitStack() as held:
            evses = list(self._station.evses.values())
            for evse in evses:  # nothing else meters or sends while the power is off
                await held.enter_async_context(evse.lock)
                evse.remote_start = evse.reserved = None
            await self._go_down(abort=True)
            await self.link.come_back()
            await self._boot_until_accepted("PowerUp")
            for evse in evses:
                if evse.transaction is not None:
                    await self._stop_transaction(evse, "PowerLoss", None)
                else:
                    await self._adapter.status(evse, cast(ConnectorState, evse.state))

    # -- helpers ----------------------------------------------------------------------------

    async def _boot_until_accepted(self, reason: str) -> BootAnswer:
        while True:
            answer = await self._adapter.boot(reason)
            if answer.status == "Accepted":
                self._booted = True
                self._device.set(HEARTBEAT_INTERVAL, str(answer.interval))
                return answer
            await asyncio.sleep(answer.interval or 1)  # Pending/Rejected: retry per interval

    async def _restart(self, reason: StopReason, boot_reason: str) -> None:
        try:
            for evse in self._station.evses.values():
                async with evse.lock:
                    evse.remote_start = evse.reserved = None
                    if evse.transaction is not None:
                        await self._stop_transaction(evse, reason, None)
            await self._go_down(abort=False)
            await self.link.come_back()
            await self._boot_until_accepted(boot_reason)
            await self._report_states()
        except Exception as exc:
            self._reset_failed = exc
            raise
        finally:
            if self._idle_reset is None:
                self._settled.set()

    async def _reconnect(self) -> None:
        await self.link.go_offline()
        await self.link.come_back()  # with the new password; states are reported again

    async def _go_down(self, *, abort: bool) -> None:
        self._booted = False
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        await self.link.go_offline(abort=abort)

    async def _after_transaction(self, evse: Evse) -> None:
        """A transaction ended (``evse.lock`` held): apply what waited for it."""
        if evse.scheduled is not None:  # a ChangeAvailability answered Scheduled
            evse.available, evse.scheduled = evse.scheduled, None
            await self._adapter.status(evse, cast(ConnectorState, evse.state))
        if self._idle_reset is not None and not self._busy():
            reason, boot_reason = self._idle_reset
            self.reset(reason, boot_reason)

    def _remote_start_dropped(self, request: RemoteStart) -> None:
        self._dropped.put_nowait(request)

    def _connection_timeout(self) -> float:
        """ConnectionTimeOut / EVConnectionTimeOut in wall seconds (it is simulated time)."""
        return self._device.number(CONNECTION_TIMEOUT) / self._spec.time_scale

    def _busy(self) -> bool:
        return any(evse.transaction is not None for evse in self._station.evses.values())

    def _setting_changed(self, name: str) -> None:
        if name == HEARTBEAT_INTERVAL and self._booted:
            self._start_heartbeat(int(self._device.number(name)))
        elif name in (MESSAGE_ATTEMPTS, MESSAGE_RETRY_INTERVAL):
            attempts = int(self._device.number(MESSAGE_ATTEMPTS))
            self._queue.set_retries(attempts, self._device.number(MESSAGE_RETRY_INTERVAL))
        elif name == PASSWORD:  # used from the next connection on
            password = self._device.get(PASSWORD) or None
            self.link.endpoint = dataclasses.replace(self.link.endpoint, password=password)
