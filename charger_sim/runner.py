"""Run a scenario: connect as the charger, then play its steps in order.

Each step is one ``_<action>`` method. A step fails with :class:`StepFailed` naming the step
and what went wrong (an expectation, a CALLERROR, a timeout); the run stops there.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake
from websockets.typing import Subprotocol

from charger_sim import v16, v201
from charger_sim.adapter import Adapter, StopReason
from charger_sim.model import Delivered, Evse, Identity, Station, ac_energy_wh
from charger_sim.rpc import CallError, Connection
from charger_sim.scenario import ChargerSpec, Scenario, Step

log = logging.getLogger("charger_sim")

ProtocolVersion = Literal["1.6", "2.0.1"]


class SimError(Exception):
    """The run failed; the message says where."""


class ConnectFailed(SimError):
    """The WebSocket handshake failed or was refused."""


class StepFailed(SimError):
    """A step's call failed or one of its expectations did not hold."""

    def __init__(self, step: Step, what: str) -> None:
        super().__init__(f"{step.name}: {what}")
        self.step = step


@dataclass(frozen=True, slots=True)
class RunResult:
    charger_id: str
    delivered: tuple[Delivered, ...]


async def run(
    scenario: Scenario,
    *,
    url: str,
    charger_id: str,
    protocol: ProtocolVersion,
    password: str | None = None,
) -> RunResult:
    """Play ``scenario`` as charger ``charger_id`` against the CSMS at ``url``/``charger_id``."""
    spec = scenario.charger
    identity = Identity(spec.vendor, spec.model, spec.serial_number, spec.firmware_version)
    station = Station.build(charger_id, identity, spec.evses, spec.meter_start_wh)
    adapter: Adapter = v16.Adapter(station) if protocol == "1.6" else v201.Adapter(station)
    async with _connected(url, station, adapter, spec, password):
        runner = Runner(station, adapter, spec)
        try:
            for step in scenario.steps:
                await runner.play(step)
        finally:
            await runner.close()
    return RunResult(charger_id, tuple(station.delivered))


@contextlib.asynccontextmanager
async def _connected(
    url: str, station: Station, adapter: Adapter, spec: ChargerSpec, password: str | None
) -> AsyncIterator[Connection]:
    target = f"{url.rstrip('/')}/{station.id}"
    headers = {}
    if password is not None:
        secret = base64.b64encode(f"{station.id}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {secret}"
    try:
        ws = await connect(
            target,
            subprotocols=[Subprotocol(adapter.subprotocol)],
            additional_headers=headers,
            open_timeout=spec.call_timeout,
        )
    except (InvalidHandshake, OSError, TimeoutError) as exc:
        raise ConnectFailed(f"connect to {target}: {exc}") from exc
    if ws.subprotocol != adapter.subprotocol:
        await ws.close()
        raise ConnectFailed(f"connect to {target}: the CSMS did not accept {adapter.subprotocol}")
    connection = Connection(ws, adapter.handle, timeout=spec.call_timeout)
    adapter.attach(connection)
    try:
        yield connection
    finally:
        await connection.close()


class Runner:
    def __init__(self, station: Station, adapter: Adapter, spec: ChargerSpec) -> None:
        self._station = station
        self._adapter = adapter
        self._spec = spec
        self._heartbeat: asyncio.Task[None] | None = None

    async def play(self, step: Step) -> None:
        action: Callable[[Step], Awaitable[None]] = getattr(self, f"_{step.action}")
        log.info("%s", step.name)
        try:
            await action(step)
        except CallError as exc:
            raise StepFailed(step, f"the CSMS answered CALLERROR {exc}") from exc
        except TimeoutError as exc:
            raise StepFailed(step, "timed out waiting for the CSMS") from exc
        except (ConnectionError, ValueError) as exc:
            raise StepFailed(step, str(exc)) from exc

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat

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
            self._start_heartbeat(answer.interval)
            for evse in self._station.evses.values():
                await self._adapter.status(evse, "Available")

    async def _plug(self, step: Step) -> None:
        evse = self._station.evse(step.evse)
        evse.plugged = True
        await self._adapter.status(evse, "Preparing")
        if evse.remote_start is not None and evse.transaction is None:
            await self._start_remote(evse)

    async def _unplug(self, step: Step) -> None:
        evse = self._station.evse(step.evse)
        if evse.transaction is not None:
            await self._stop_transaction(evse, "EVDisconnected", None)
        evse.plugged = False
        await self._adapter.status(evse, "Available")

    async def _authorize(self, step: Step) -> None:
        status = await self._adapter.authorize(step.id_tag or self._spec.id_tag)
        _expect(step, "idTagInfo status", step.expect_id_tag_status, status)

    async def _start(self, step: Step) -> None:
        evse = self._station.evse(step.evse)
        if not evse.plugged or evse.transaction is not None:
            raise StepFailed(step, f"EVSE {evse.id} needs a plugged EV and no transaction")
        answer = await self._adapter.start(evse, step.id_tag or self._spec.id_tag, None)
        _expect(step, "idTagInfo status", step.expect_id_tag_status, answer.id_tag_status)
        if step.expect_transaction_id and not answer.transaction_id:
            raise StepFailed(step, "expected a transaction id, got none")

    async def _charge(self, step: Step) -> None:
        evse = self._station.evse(step.evse)
        tx = evse.transaction
        if tx is None:
            raise StepFailed(step, f"no transaction is running on EVSE {evse.id}")
        if not tx.charging:
            tx.charging = True
            await self._adapter.charging(evse)
        power = step.power_kw or self._spec.power_kw
        per_sample = max(1, ac_energy_wh(power, step.sample_interval))
        if step.kwh is not None:
            target = round(step.kwh * 1000)
        else:
            target = ac_energy_wh(power, step.seconds or 0)
        delivered = 0
        while delivered < target:
            wh = min(per_sample, target - delivered)
            simulated = step.sample_interval * wh / per_sample
            await asyncio.sleep(simulated / self._spec.time_scale)  # the simulated clock
            evse.meter.add(wh)
            delivered += wh
            await self._adapter.sample(evse)

    async def _stop(self, step: Step) -> None:
        evse = self._station.evse(step.evse)
        tx = evse.transaction
        if tx is None:
            raise StepFailed(step, f"no transaction is running on EVSE {evse.id}")
        reason = _REASONS[step.reason]
        status = await self._stop_transaction(evse, reason, step.id_tag or tx.id_tag)
        _expect(step, "idTagInfo status", step.expect_id_tag_status, status)

    async def _wait_remote_start(self, step: Step) -> None:
        async with asyncio.timeout(step.timeout):
            request = await self._station.remote_starts.get()
        evse = self._station.evse(request.evse_id)
        if evse.plugged and evse.remote_start is request and evse.transaction is None:
            await self._start_remote(evse)
        # Not plugged yet: the `plug` step starts it.

    async def _wait_remote_stop(self, step: Step) -> None:
        async with asyncio.timeout(step.timeout):
            evse_id = await self._station.remote_stops.get()
        evse = self._station.evse(evse_id)
        if evse.transaction is not None:
            await self._stop_transaction(evse, "Remote", None)

    # -- helpers ----------------------------------------------------------------------------

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
        status = await self._adapter.stop(evse, reason, id_tag)
        self._station.delivered.append(Delivered(evse.id, tx.id, tx.meter_start_wh, evse.meter.wh))
        await self._adapter.status(evse, "Finishing")
        return status

    def _start_heartbeat(self, interval: int) -> None:
        if interval > 0 and self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._beat(interval))

    async def _beat(self, interval: int) -> None:
        while True:
            await asyncio.sleep(interval)  # the interval the CSMS gave in BootNotification
            try:
                await self._adapter.heartbeat()
            except (CallError, TimeoutError, ConnectionError) as exc:
                log.warning("heartbeat failed: %s", exc)


_REASONS: dict[str, StopReason] = {
    "Local": "Local",
    "Remote": "Remote",
    "EVDisconnected": "EVDisconnected",
}


def _expect(step: Step, what: str, wanted: str | None, got: str | None) -> None:
    if wanted is not None and got != wanted:
        raise StepFailed(step, f"expected {what} {wanted!r}, got {got!r}")
