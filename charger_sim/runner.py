"""Run a scenario: connect as the charger, then play its steps in order.

Each step is one ``_<action>`` method. A step fails with :class:`StepFailed` naming the step
and what went wrong (an expectation, a CALLERROR, a timeout); the run stops there.

Besides the steps, the charger lives on its own: it beats at the CSMS's heartbeat interval,
delivers queued transaction messages whenever it is online, reconnects after a drop, and reacts
to the CSMS at once (a remote start begins when the EV is plugged, a remote stop ends the
transaction right away, even in the middle of a ``charge`` step).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from charger_sim import v16, v201
from charger_sim.adapter import Adapter, StopReason
from charger_sim.charging import Timeline, configure
from charger_sim.ev import Ev
from charger_sim.lifecycle import Lifecycle, build_device, refusals
from charger_sim.link import Backoff, ConnectFailed, Endpoint, Link
from charger_sim.model import Delivered, Evse, Identity, RemoteStart, Station
from charger_sim.rpc import CallError, Payload
from charger_sim.scenario import ChargerSpec, Scenario, Step
from charger_sim.txqueue import GaveUp, TxQueue

log = logging.getLogger("charger_sim")

ProtocolVersion = Literal["1.6", "2.0.1"]
DRAIN_TIMEOUT = 60.0

__all__ = ["ConnectFailed", "ProtocolVersion", "RunResult", "SimError", "StepFailed", "run"]


class SimError(Exception):
    """The run failed; the message says where."""


class StepFailed(SimError):
    """A step's call failed or one of its expectations did not hold."""

    def __init__(self, step: Step, what: str) -> None:
        super().__init__(f"{step.name}: {what}")
        self.step = step


@dataclass(frozen=True, slots=True)
class RunResult:
    charger_id: str
    delivered: tuple[Delivered, ...]
    queued: int = 0  # transaction messages still waiting (the scenario ended offline)
    given_up: int = 0  # transaction messages dropped after every attempt
    retried: int = 0  # transaction message attempts that got a CALLERROR or no answer
    connects: int = 1
    # the transaction messages the CSMS acknowledged, in order: (action, payload)
    acknowledged: tuple[tuple[str, Payload], ...] = ()


@dataclass(frozen=True, slots=True)
class Security:
    """How the charger proves itself: profile 1 password, profile 2/3 TLS files."""

    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


async def run(
    scenario: Scenario,
    *,
    url: str,
    charger_id: str,
    protocol: ProtocolVersion,
    password: str | None = None,
    security: Security | None = None,
    queue_file: Path | None = None,
) -> RunResult:
    """Play ``scenario`` as charger ``charger_id`` against the CSMS at ``url``/``charger_id``.

    ``queue_file`` keeps the transaction-message queue across runs: a run that ends offline
    leaves its messages there, and the next run with the same file delivers them once its
    BootNotification is accepted.
    """
    spec = scenario.charger
    security = security or Security(password=password)
    identity = Identity(spec.vendor, spec.model, spec.serial_number, spec.firmware_version)
    station = Station.build(charger_id, identity, spec.evses, spec.meter_start_wh)
    station.clock_skew_s = spec.clock_skew_s
    station.refuse = refusals(spec)  # reject_remote_start, unlock_fails...
    configure(station, spec)  # power model (AC/DC) and what a meter sample holds
    adapter: Adapter = v16.Adapter(station) if protocol == "1.6" else v201.Adapter(station)
    queue = TxQueue(
        queue_file, attempts=spec.message_attempts, retry_interval=spec.message_retry_interval
    )
    endpoint = Endpoint(
        url,
        charger_id,
        adapter.subprotocol,
        password=security.password,
        ca_file=security.ca_file,
        cert_file=security.cert_file,
        key_file=security.key_file,
        send_subprotocol=spec.send_subprotocol,
        open_timeout=spec.call_timeout,
    )
    charger = Charger(station, adapter, spec, endpoint, queue)
    try:
        await charger.open()
    except ConnectFailed as exc:
        raise SimError(str(exc)) from exc
    try:
        for step in scenario.steps:
            await charger.play(step)
        if charger.ready and len(queue):  # not yet accepted: the messages stay queued
            try:
                async with asyncio.timeout(DRAIN_TIMEOUT):
                    await queue.drained()
            except TimeoutError:
                raise SimError(
                    f"{len(queue)} transaction messages still queued {DRAIN_TIMEOUT:.0f} s "
                    "after the last step"
                ) from None
    finally:
        await charger.close()
    delivered = tuple(
        Delivered(d.evse_id, queue.resolve(d.transaction_id), d.meter_start_wh, d.meter_stop_wh)
        for d in station.delivered
    )
    return RunResult(
        charger_id,
        delivered,
        queued=len(queue),
        given_up=len(queue.given_up),
        retried=queue.retried,
        connects=charger.link.connects,
        acknowledged=tuple(queue.acknowledged),
    )


class Charger(Lifecycle):
    """One simulated charger: its link, queue, heartbeat and reactions, driven by steps.

    :class:`Lifecycle` adds what CSMS calls and power cuts do to the whole charger (reset,
    reboot, reconnect, the device model) and the ``wait_call``/``reboot`` steps.
    """

    def __init__(
        self,
        station: Station,
        adapter: Adapter,
        spec: ChargerSpec,
        endpoint: Endpoint,
        queue: TxQueue,
    ) -> None:
        self._station = station
        self._adapter = adapter
        self._spec = spec
        self._queue = queue
        self.link = Link(
            endpoint,
            self._handle,  # adapter.handle, logged for wait_call
            call_timeout=spec.call_timeout,
            answer_delay=spec.answer_delay,
            backoff=Backoff(spec.reconnect_min, spec.reconnect_max, spec.reconnect_random),
            on_connect=self._connected,
            on_down=self._ready_changed,
        )
        adapter.attach(self.link)
        adapter.use_queue(queue, self.link.online, self.link.offline)
        self._init_lifecycle(build_device(station, spec, endpoint))
        adapter.use_device(self._device, self)
        # Queued transaction messages go out only while connected *and* accepted.
        self._accepted = asyncio.Event()
        self._ready = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._remote_started: asyncio.Queue[RemoteStart] = asyncio.Queue()
        self._remote_stopped: asyncio.Queue[int] = asyncio.Queue()
        self._time = Timeline(station, adapter, spec.time_scale, lambda: self._booted)

    @property
    def ready(self) -> bool:
        """Connected and accepted: queued transaction messages go out."""
        return self._ready.is_set()

    @property
    def _booted(self) -> bool:
        """The CSMS accepted our BootNotification (since the last reboot or reset)."""
        return self._accepted.is_set()

    @_booted.setter
    def _booted(self, value: bool) -> None:
        if value:
            self._accepted.set()
        else:
            self._accepted.clear()
        self._ready_changed()

    def _ready_changed(self) -> None:
        if self._accepted.is_set() and self.link.online.is_set():
            self._ready.set()
        else:
            self._ready.clear()

    async def open(self) -> None:
        await self.link.open()
        self._spawn(self._queue.run(self.link.call, self._ready))
        self._spawn(self._react_to_remote_starts())
        self._spawn(self._react_to_remote_stops())

    async def close(self) -> None:
        for task in [*self._tasks]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.link.close()

    async def play(self, step: Step) -> None:
        action: Callable[[Step], Awaitable[None]] = getattr(self, f"_{step.action}")
        log.info("%s", step.name)
        try:
            await action(step)
        except CallError as exc:
            raise StepFailed(step, f"the CSMS answered CALLERROR {exc}") from exc
        except TimeoutError as exc:
            raise StepFailed(step, "timed out waiting for the CSMS") from exc
        except (ConnectionError, ValueError, GaveUp) as exc:
            raise StepFailed(step, str(exc)) from exc

    # -- steps ------------------------------------------------------------------------------

    async def _boot(self, step: Step) -> None:
        wanted = step.expect_status or "Accepted"
        async with asyncio.timeout(step.timeout):
            while True:
                answer = await self._adapter.boot()
                if answer.status in ("Accepted", wanted):
                    break
                await asyncio.sleep(answer.interval or 1)  # Pending/Rejected: retry per interval
        _expect(step, "BootNotification status", wanted, answer.status)
        if answer.status == "Accepted":
            self._booted = True
            self.booted(answer)  # the interval becomes HeartbeatInterval: the heartbeat starts
            for evse in self._station.evses.values():
                await self._adapter.status(evse, "Available")

    async def _plug(self, step: Step) -> None:
        evse = self._station.evse(step.evse)
        async with evse.lock:
            evse.plugged = True
            evse.ev = Ev(self._station.power)  # a fresh EV (DC: at soc_start)
            await self._adapter.status(evse, "Preparing")
            if evse.remote_start is not None and evse.transaction is None:
                await self._start_remote(evse)

    async def _unplug(self, step: Step) -> None:
        evse = self._station.evse(step.evse)
        async with evse.lock:
            if evse.transaction is not None:
                await self._stop_transaction(evse, "EVDisconnected", None)
            evse.plugged = False
            evse.ev = None
            await self._adapter.status(evse, "Available")

    async def _authorize(self, step: Step) -> None:
        status = await self._adapter.authorize(step.id_tag or self._spec.id_tag)
        _expect(step, "idTagInfo status", step.expect_id_tag_status, status)

    async def _start(self, step: Step) -> None:
        evse = self._station.evse(step.evse)
        async with evse.lock:
            if not evse.plugged or evse.transaction is not None:
                raise StepFailed(step, f"EVSE {evse.id} needs a plugged EV and no transaction")
            answer = await self._adapter.start(evse, step.id_tag or self._spec.id_tag, None)
        self._expect_answer(step, answer.id_tag_status)
        _expect(step, "idTagInfo status", step.expect_id_tag_status, answer.id_tag_status)
        if step.expect_transaction_id and not answer.transaction_id:
            raise StepFailed(step, "expected a transaction id, got none")

    async def _charge(self, step: Step) -> None:
        evse = self._station.evse(step.evse)
        if evse.transaction is None:
            raise StepFailed(step, f"no transaction is running on EVSE {evse.id}")
        await self._time.charge(
            evse,
            kwh=step.kwh,
            seconds=step.seconds,
            sample_interval=step.sample_interval,
            power_kw=step.power_kw,
        )

    async def _suspend(self, step: Step) -> None:
        evse = self._station.evse(step.evse)
        await self._time.suspend(evse, step.by, step.seconds or 0.0, step.sample_interval)

    async def _resume(self, step: Step) -> None:
        await self._time.resume(self._station.evse(step.evse))

    async def _idle(self, step: Step) -> None:
        await self._time.idle(step.seconds or 0.0)

    async def _stop(self, step: Step) -> None:
        evse = self._station.evse(step.evse)
        async with evse.lock:
            tx = evse.transaction
            if tx is None:
                raise StepFailed(step, f"no transaction is running on EVSE {evse.id}")
            reason = cast(StopReason, step.reason)  # Local, Remote or EVDisconnected (validated)
            status = await self._stop_transaction(evse, reason, step.id_tag or tx.id_tag)
        self._expect_answer(step, status)
        _expect(step, "idTagInfo status", step.expect_id_tag_status, status)

    async def _wait_remote_start(self, step: Step) -> None:
        async with asyncio.timeout(step.timeout):
            await self._remote_started.get()

    async def _wait_remote_stop(self, step: Step) -> None:
        async with asyncio.timeout(step.timeout):
            await self._remote_stopped.get()

    async def _go_offline(self, step: Step) -> None:
        await self.link.go_offline()

    async def _come_back(self, step: Step) -> None:
        async with asyncio.timeout(step.timeout):
            await self.link.come_back()
            await self._queue.drained()

    async def _drop(self, step: Step) -> None:
        self.link.drop()
        async with asyncio.timeout(step.timeout):
            await self.link.offline.wait()

    async def _wait_queue(self, step: Step) -> None:
        async with asyncio.timeout(step.timeout):
            await self.link.online.wait()
            await self._queue.drained()

    async def _lose_answer(self, step: Step) -> None:
        assert step.message is not None
        self.link.lose_answers(step.message, step.count, drop_link=step.drop_link)

    async def _send_raw(self, step: Step) -> None:
        connection = self.link.connection
        if connection is None or connection.closed:
            raise ConnectionError("offline: not connected to the CSMS")
        assert step.frame is not None
        await connection.send_raw(step.frame)
        if step.expect_error is not None:
            async with asyncio.timeout(step.timeout):
                error = await connection.stray_errors.get()
            _expect(step, "CALLERROR code", step.expect_error, error.code)

    async def _call(self, step: Step) -> None:
        assert step.message is not None
        try:
            async with asyncio.timeout(step.timeout):
                answer = await self.link.call(step.message, step.payload or {})
        except CallError as exc:
            if step.expect_error is None:
                raise
            _expect(step, "CALLERROR code", step.expect_error, exc.code)
            return
        if step.expect_error is not None:
            raise StepFailed(step, f"expected CALLERROR {step.expect_error!r}, got a CALLRESULT")
        _expect(step, "status", step.expect_status, answer.get("status"))

    # -- reactions --------------------------------------------------------------------------

    async def _react_to_remote_starts(self) -> None:
        while True:
            request = await self._station.remote_starts.get()
            evse = self._station.evse(request.evse_id)
            self._spawn(self._remote_start(evse, request))

    async def _remote_start(self, evse: Evse, request: RemoteStart) -> None:
        """Start at once if the EV is plugged; else give the driver the connection timeout.

        ``wait_remote_start`` hears of the request only after that, so a ``charge`` step right
        after it finds the transaction running.
        """
        try:
            async with evse.lock:
                if evse.plugged and evse.remote_start is request and evse.transaction is None:
                    await self._start_remote(evse)
                    return
        finally:
            self._remote_started.put_nowait(request)
        await asyncio.sleep(self._connection_timeout())  # the device model's ConnectionTimeOut
        async with evse.lock:
            if evse.remote_start is request:
                log.info("remote start on EVSE %d timed out: no EV plugged in", evse.id)
                evse.remote_start = None
                self._remote_start_dropped(request)

    async def _react_to_remote_stops(self) -> None:
        while True:
            evse = self._station.evse(await self._station.remote_stops.get())
            self._spawn(self._remote_stop(evse))  # one failing stop must not end the reactions

    async def _remote_stop(self, evse: Evse) -> None:
        try:
            async with evse.lock:
                if evse.transaction is not None and evse.transaction.stop_requested:
                    await self._stop_transaction(evse, "Remote", None)
        finally:
            self._remote_stopped.put_nowait(evse.id)

    # -- helpers ----------------------------------------------------------------------------

    def _expect_answer(self, step: Step, status: str | None) -> None:
        if (
            status is None
            and step.expect_id_tag_status is not None
            and not self.link.online.is_set()
        ):
            raise StepFailed(step, "no answer: the charger is offline (the message is queued)")

    async def _start_remote(self, evse: Evse) -> None:
        request = evse.remote_start
        assert request is not None
        evse.remote_start = None
        await self._adapter.start(evse, request.id_tag, request)

    async def _stop_transaction(
        self, evse: Evse, reason: StopReason, id_tag: str | None
    ) -> str | None:
        tx = evse.transaction
        assert tx is not None
        meter_start = tx.meter_start_wh
        try:
            status = await self._adapter.stop(evse, reason, id_tag)
        finally:  # the stop message exists (sent or queued) even if its answer failed
            self._station.delivered.append(Delivered(evse.id, tx.id, meter_start, evse.meter.wh))
        try:
            await self._adapter.status(evse, "Finishing")
        except (CallError, TimeoutError, ConnectionError) as exc:
            log.warning("StatusNotification Finishing on EVSE %d failed: %s", evse.id, exc)
        await self._after_transaction(evse)  # a scheduled availability change or reset
        return status

    def _connected(self) -> None:
        """Called on every (re)connect: report the connectors' states again after an outage.

        A reconnect without a reboot keeps the registration (no new BootNotification), so the
        queue may send again at once.
        """
        self._adapter.reconnected()
        self._ready_changed()
        if self.link.connects > 1 and self._booted:
            self._spawn(self._report_states())

    async def _report_states(self) -> None:
        for evse in self._station.evses.values():
            with contextlib.suppress(CallError, TimeoutError, ConnectionError):
                await self._adapter.status(evse, evse.state)  # type: ignore[arg-type]

    def _start_heartbeat(self, interval: int) -> None:
        """(Re)start beating every ``interval`` seconds (HeartbeatInterval; 0 = no heartbeat)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        self._heartbeat = self._spawn(self._beat(interval)) if interval > 0 else None

    async def _beat(self, interval: int) -> None:
        while True:
            await asyncio.sleep(interval)  # the interval the CSMS gave in BootNotification
            if not self.link.online.is_set():
                continue
            try:
                await self._adapter.heartbeat()
            except (CallError, TimeoutError, ConnectionError) as exc:
                log.warning("heartbeat failed: %s", exc)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("charger task failed", exc_info=task.exception())


def _expect(step: Step, what: str, wanted: str | None, got: str | None) -> None:
    if wanted is not None and got != wanted:
        raise StepFailed(step, f"expected {what} {wanted!r}, got {got!r}")
