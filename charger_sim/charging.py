"""Simulated time on the charger: charging, suspended and idle stretches, and the clock.

The simulated clock (``Station.clock_s``) starts at 0 when the run begins and only moves in the
steps that take simulated time: ``charge``, ``suspend`` with ``seconds``, and ``idle``; every
other step takes none. A stretch of ``t`` simulated seconds sleeps ``t / time_scale`` wall
seconds. So a scenario always sends the same samples with the same values in the same order,
however fast the CSMS answers. Timestamps stay the charger's own (wall) clock, so they keep in
order with every other message it sends.

Clock-aligned samples (``clock_aligned_interval`` > 0) fall on every multiple of the interval of
the simulated clock, for every EVSE: during a transaction with its measurands (1.6 MeterValues
with the transactionId, 2.0.1 TransactionEvent Updated MeterValueClock), otherwise the register
alone once the charger is booted (1.6 MeterValues without transactionId, 2.0.1 MeterValues). A
sample period that spans a tick is split there: the meter adds the Wh due by the tick (the
period's whole Wh in proportion to its time), the clock sample goes out, then the rest. The
periodic samples keep their values.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from charger_sim.adapter import Adapter
from charger_sim.ev import Ev, PowerSpec, ac_energy_wh
from charger_sim.model import Evse, Station, Transaction, running
from charger_sim.rpc import CallError
from charger_sim.sampling import MeterSpec
from charger_sim.scenario import ChargerSpec

log = logging.getLogger("charger_sim")

EPS = 1e-9  # simulated seconds: "at the same instant"


def configure(station: Station, spec: ChargerSpec) -> None:
    """Give ``station`` the power model and sampling the scenario's ``[charger]`` asks for."""
    station.power = PowerSpec(
        kind=spec.kind,
        power_kw=spec.power_kw,
        max_power_kw=spec.max_power_kw,
        battery_kwh=spec.battery_kwh,
        soc_start=spec.soc_start,
        soc_target=spec.soc_target,
    )
    station.metering = MeterSpec(
        measurands=tuple(spec.measurands),
        unit=spec.meter_unit,
        clock_aligned_interval=spec.clock_aligned_interval,
    )


class Timeline:
    """Lets simulated time pass on one charger: energy flows, samples and clock ticks go out."""

    def __init__(
        self, station: Station, adapter: Adapter, time_scale: float, booted: Callable[[], bool]
    ) -> None:
        self._station = station
        self._adapter = adapter
        self._time_scale = time_scale
        self._booted = booted

    async def charge(
        self,
        evse: Evse,
        *,
        kwh: float | None,
        seconds: float | None,
        sample_interval: float,
        power_kw: float | None = None,
    ) -> None:
        """Deliver ``kwh`` (or charge ``seconds``) with a periodic sample per interval.

        Ends early when the transaction ends (remote stop) or, on DC, when the battery reaches
        ``soc_target``: the EV then stops drawing and the EVSE reports SuspendedEV.
        """
        tx = running(evse)
        ev = self.ev(evse)
        if tx.suspended is not None and not (tx.suspended == "EV" and ev.full):
            raise ValueError(
                f"EVSE {evse.id} is suspended by the {tx.suspended}: add a 'resume' step first"
            )
        ev.draw(power_kw)
        if not tx.charging:
            tx.charging = True
            await self._adapter.charging(evse)
        try:
            ended = await self._flow(evse, tx, ev, kwh, seconds, sample_interval, power_kw)
        finally:
            ev.halt()  # between charge steps no energy flows
        if ended:
            return  # stopped meanwhile (remote stop, reset): the EV stops drawing
        async with evse.lock:
            if ev.full and evse.transaction is tx and tx.suspended != "EV":
                tx.suspended = "EV"
                await self._adapter.suspended(evse, "EV")

    async def _flow(
        self,
        evse: Evse,
        tx: Transaction,
        ev: Ev,
        kwh: float | None,
        seconds: float | None,
        sample_interval: float,
        power_kw: float | None,
    ) -> bool:
        """The sample periods of one ``charge`` step; True if the transaction ended meanwhile."""
        target, left = _targets(ev, kwh, seconds, power_kw)
        delivered = 0
        while left is None or left > EPS:
            rooms = [ev.room_wh, None if target is None else target - delivered]
            cap = min(room for room in rooms if room is not None)
            if cap <= 0:
                break
            span = sample_interval if left is None else min(sample_interval, left)
            wh, simulated = ev.period(span, cap, power_kw)
            if not await self._stretch(evse, tx, simulated, wh, periodic=True, power_kw=power_kw):
                return True
            delivered += wh
            if left is not None:
                left -= simulated
        return False

    async def suspend(self, evse: Evse, by: str, seconds: float, sample_interval: float) -> None:
        """The EV or EVSE stops the flow; ``seconds`` pass with periodic samples at 0 W."""
        async with evse.lock:
            tx = running(evse)
            self.ev(evse).halt()
            if tx.suspended != by:
                tx.suspended = by
                await self._adapter.suspended(evse, by)
        left = seconds
        while left > EPS:
            span = min(sample_interval, left)
            if not await self._stretch(evse, tx, span, 0, periodic=True, power_kw=None):
                return
            left -= span

    async def resume(self, evse: Evse) -> None:
        """The flow may start again: Charging (the next ``charge`` step draws power)."""
        async with evse.lock:
            tx = running(evse)
            if tx.suspended is None:
                raise ValueError(f"EVSE {evse.id} is not suspended")
            tx.suspended, tx.charging = None, True
            await self._adapter.charging(evse)

    async def idle(self, seconds: float) -> None:
        """``seconds`` pass with no energy flowing: only clock-aligned samples go out."""
        await self._stretch(None, None, seconds, 0, periodic=False, power_kw=None)

    def ev(self, evse: Evse) -> Ev:
        """The EV on ``evse`` (a fresh one at ``soc_start`` if none was plugged in yet)."""
        if evse.ev is None:
            evse.ev = Ev(self._station.power)
        return evse.ev

    # -- one stretch of simulated time ---------------------------------------------------

    async def _stretch(
        self,
        evse: Evse | None,
        tx: Transaction | None,
        seconds: float,
        wh: int,
        *,
        periodic: bool,
        power_kw: float | None,
    ) -> bool:
        """Let ``seconds`` pass while ``evse``'s meter adds ``wh``; False if ``tx`` ended."""
        start = self._station.clock_s
        end = start + seconds
        added, at = 0, start
        for tick in self._ticks_within(start, end):
            part = round(wh * (tick - start) / seconds) - added
            if not await self._piece(evse, tx, at, tick, part, periodic=False, power_kw=power_kw):
                return False
            added, at = added + part, tick
        return await self._piece(
            evse, tx, at, end, wh - added, periodic=periodic, power_kw=power_kw
        )

    async def _piece(
        self,
        evse: Evse | None,
        tx: Transaction | None,
        since: float,
        until: float,
        wh: int,
        *,
        periodic: bool,
        power_kw: float | None,
    ) -> bool:
        await asyncio.sleep((until - since) / self._time_scale)  # the simulated clock
        if evse is None:
            self._station.clock_s = until
            await self._tick(None)
            return True
        async with evse.lock:
            self._station.clock_s = until
            if evse.transaction is not tx:
                await self._tick(evse)
                return False
            if wh:
                evse.meter.add(wh)
                self.ev(evse).take(wh)
                self.ev(evse).draw(power_kw)
            if periodic:
                await self._adapter.sample(evse)
            await self._tick(evse)
        return True

    # -- the clock -------------------------------------------------------------------------

    def _ticks_within(self, start: float, end: float) -> list[float]:
        """Clock-aligned instants strictly inside (start, end)."""
        interval = self._station.metering.clock_aligned_interval
        if interval <= 0:
            return []
        ticks, n = [], self._station.clock_ticks + 1
        while n * interval < end - EPS:
            if n * interval > start + EPS:
                ticks.append(n * interval)
            n += 1
        return ticks

    async def _tick(self, held: Evse | None) -> None:
        """Send the clock-aligned samples due by now; ``held`` is the EVSE whose lock we hold."""
        interval = self._station.metering.clock_aligned_interval
        if interval <= 0:
            return
        while (self._station.clock_ticks + 1) * interval <= self._station.clock_s + EPS:
            self._station.clock_ticks += 1
            for evse in self._station.evses.values():
                if evse is held:
                    await self._clock_sample(evse)
                else:
                    async with evse.lock:
                        await self._clock_sample(evse)

    async def _clock_sample(self, evse: Evse) -> None:
        if evse.transaction is not None:
            await self._adapter.clock_sample(evse)  # a transaction message: errors fail the step
        elif self._booted():
            try:
                await self._adapter.clock_sample(evse)
            except (CallError, TimeoutError, ConnectionError) as exc:
                log.warning("clock-aligned meter value of EVSE %d failed: %s", evse.id, exc)


def _targets(
    ev: Ev, kwh: float | None, seconds: float | None, power_kw: float | None
) -> tuple[int | None, float | None]:
    """The Wh to deliver and the simulated seconds to charge (either may be open).

    AC turns ``seconds`` into Wh at its constant power, exactly as before the DC model; DC
    charges for ``seconds`` along its curve, whatever that delivers.
    """
    if kwh is not None:
        return round(kwh * 1000), None
    if not ev.spec.dc:
        return ac_energy_wh(ev.power_kw(power_kw), seconds or 0), None
    return None, seconds or 0.0
