"""One charger of a fleet: connect, boot, heartbeat, then sessions or a meter-value flood.

A charger is one task (plus the reader task of its ``rpc.Connection``). While idle it waits on
a single future with a timer (no polling), woken early by a stop or by its socket closing. The
protocol work is done by the simulator's adapters (``v16.Adapter`` / ``v201.Adapter``, attached
without a transaction queue: every message is a plain call); this module only decides *when*.
The one exception is ``--flood``: after the first sample of the transaction, the adapter's frame
is reused with the new numbers filled in (``flood.py``). Every failure is counted in
:class:`~charger_sim.fleet.stats.Stats`, never raised past the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import ssl
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection

from charger_sim import v16, v201
from charger_sim.adapter import Adapter, StopReason
from charger_sim.fleet.connection import (
    Deadlines,
    Failure,
    Lost,
    MeteredConnection,
    open_socket,
)
from charger_sim.fleet.flood import SampleFrames, WireClock, template
from charger_sim.fleet.options import FleetOptions
from charger_sim.fleet.stats import Stats
from charger_sim.model import Evse, Identity, Station, ac_energy_wh
from charger_sim.runner import ProtocolVersion

METER_START_WH = 1000  # every charger's register at start, as in the scenarios
NO_INTERVAL_RETRY = 10.0  # seconds between BootNotifications when the CSMS gives interval 0

_ADAPTERS: dict[str, type[v16.Adapter] | type[v201.Adapter]] = {
    "1.6": v16.Adapter,
    "2.0.1": v201.Adapter,
}


@dataclass
class FleetContext:
    """What every charger of one worker shares."""

    options: FleetOptions
    stats: Stats
    rng: random.Random
    expected: int  # chargers in this worker
    tls: ssl.SSLContext | None = None  # for wss://, shared (connection.tls_context)
    all_accepted: asyncio.Event = field(default_factory=asyncio.Event)
    clock: WireClock = field(default_factory=WireClock)  # flood sample timestamps
    deadlines: Deadlines = field(init=False)  # timeouts of the flood's calls

    def __post_init__(self) -> None:
        self.deadlines = Deadlines(self.options.call_timeout)


class SimCharger:
    """A simulated charger with one EVSE; :meth:`live` runs it until :meth:`stop`."""

    def __init__(self, ctx: FleetContext, charger_id: str, protocol: ProtocolVersion) -> None:
        self.id = charger_id
        self.protocol = protocol
        self._ctx = ctx
        self._meter_wh = METER_START_WH  # kept across reconnects: a register only goes up
        self._stopping = False
        self._lost = False  # the current socket closed without us closing it
        self._leaving = False  # we are closing the current socket
        self._wake: asyncio.Future[None] | None = None
        self._ever_connected = self._ever_answered = self._ever_accepted = False
        self._adapter: Adapter | None = None
        self._connection: MeteredConnection | None = None
        self._frames_sent = 0  # the message id of the last flood sample sent from a template
        self._beat_every = math.inf
        self._next_beat = math.inf

    def stop(self) -> None:
        """Finish: stop a running transaction, close the socket, return from :meth:`live`."""
        self._stopping = True
        self._wake_up()

    async def live(self, start_delay: float) -> None:
        """Connect after ``start_delay`` s; reconnect after losses until stopped."""
        options = self._ctx.options
        await self._pause(start_delay)
        while not self._stopping:
            ws = await self._open()
            if ws is not None:
                await self._online(ws)
            if self._stopping or not options.reconnect:
                return
            await self._pause(options.reconnect * self._ctx.rng.uniform(0.5, 1.5))

    # -- connection -------------------------------------------------------------------------

    async def _open(self) -> ClientConnection | None:
        subprotocol = _ADAPTERS[self.protocol].subprotocol
        ctx = self._ctx
        ws = await open_socket(ctx.options, self.id, subprotocol, ctx.stats, ctx.tls)
        if ws is not None and not self._ever_connected:
            self._ever_connected = True
            self._ctx.stats.connected += 1
        return ws

    async def _online(self, ws: ClientConnection) -> None:
        stats = self._ctx.stats
        station = Station.build(self.id, Identity(serial_number=self.id), 1, self._meter_wh)
        adapter = _ADAPTERS[self.protocol](station)
        connection = MeteredConnection(
            ws,
            adapter.handle,
            timeout=self._ctx.options.call_timeout,
            stats=stats,
            on_close=self._on_closed,
            deadlines=self._ctx.deadlines,
        )
        adapter.attach(connection)
        self._adapter, self._connection = adapter, connection
        self._lost, self._leaving = False, False
        stats.online += 1
        booted = False
        try:
            booted = await self._boot()
            if booted:
                await self._work(station.evse(1))
        except Lost:
            self._lost = True
        finally:
            stats.online -= 1
            if booted:
                stats.booted -= 1
            if self._lost:
                stats.disconnects += 1
                stats.error("disconnected by the CSMS or the network")
            self._leaving, self._adapter, self._connection = True, None, None
            self._beat_every = self._next_beat = math.inf
            await connection.close()
            self._lost = False  # else the pause before reconnecting would not wait

    def _on_closed(self) -> None:
        if not self._leaving:
            self._lost = True
            self._wake_up()

    # -- what an online charger does --------------------------------------------------------

    async def _boot(self) -> bool:
        """BootNotification until Accepted (retried per the CSMS's interval); False if stopped."""
        stats, adapter = self._ctx.stats, self._current()
        while not self._stopping:
            try:
                answer = await adapter.boot()
            except Failure:
                await self._idle(NO_INTERVAL_RETRY)
                continue
            if not self._ever_answered:
                self._ever_answered = True
                stats.boot_answered += 1
            if answer.status == "Accepted":
                self._accepted(answer.interval)
                return True
            stats.error(f"BootNotification answered {answer.status}")
            await self._idle(answer.interval or NO_INTERVAL_RETRY)
        return False

    def _accepted(self, interval: int) -> None:
        stats = self._ctx.stats
        stats.booted += 1
        if not self._ever_accepted:
            self._ever_accepted = True
            stats.first_acceptance()
            if stats.accepted == self._ctx.expected:
                self._ctx.all_accepted.set()
        self._beat_every = interval if interval > 0 else math.inf
        self._next_beat = asyncio.get_running_loop().time() + self._beat_every

    async def _work(self, evse: Evse) -> None:
        options = self._ctx.options
        with contextlib.suppress(*Failure):
            await self._current().status(evse, "Available")
        if options.flood:
            await self._session(evse, math.inf)
        elif options.sessions_per_hour > 0:
            rate = options.sessions_per_hour / 3600  # per simulated second
            while await self._idle(self._ctx.rng.expovariate(rate) / options.time_scale):
                await self._session(evse, self._session_seconds())
        await self._idle(math.inf)  # heartbeats only, until stopped

    def _session_seconds(self) -> float:
        """A simulated session length: uniform within ±50 % of ``--session-minutes``."""
        return self._ctx.options.session_minutes * 60 * self._ctx.rng.uniform(0.5, 1.5)

    async def _session(self, evse: Evse, seconds: float) -> None:
        """Plug, authorize, start, charge for ``seconds`` simulated s, stop, unplug."""
        stats = self._ctx.stats
        status = await self._begin(evse)
        if evse.transaction is None:
            return
        stats.sessions_started += 1
        stats.sessions_running += 1
        try:
            if status == "Accepted":
                await self._charge(evse, seconds)
            await self._end(evse)  # a start the CSMS did not authorize is stopped at once
        finally:
            stats.sessions_running -= 1

    async def _begin(self, evse: Evse) -> str | None:
        """Plug, authorize, start: the id tag status; unplugged again if nothing started."""
        adapter, tag = self._current(), self._ctx.options.id_tag
        evse.plugged = True
        try:
            await adapter.status(evse, "Preparing")
            status = await adapter.authorize(tag)
            if status == "Accepted":
                status = (await adapter.start(evse, tag, None)).id_tag_status or "Accepted"
        except Failure:
            evse.transaction = None  # 2.0.1 sets it before sending; the CSMS did not take it
            status = None
        else:
            if status != "Accepted":
                self._ctx.stats.error(f"id tag answered {status}")
        if evse.transaction is None:
            await self._unplug(evse)
        return status

    async def _charge(self, evse: Evse, seconds: float) -> None:
        """Meter samples every ``--meter-interval`` simulated s (back-to-back if flooding)."""
        options, stats, adapter = self._ctx.options, self._ctx.stats, self._current()
        with contextlib.suppress(*Failure):
            await adapter.charging(evse)
        if options.flood:
            await self._flood(evse)
            return
        per_sample = options.meter_interval
        wait = per_sample / options.time_scale
        tx = evse.transaction
        while seconds > 0 and tx is not None and not tx.stop_requested:
            step = min(per_sample, seconds)
            if not await self._idle(wait * step / per_sample):
                return
            wh = ac_energy_wh(options.power_kw, step)
            evse.meter.add(wh)
            self._meter_wh = evse.meter.wh
            stats.energy_delivered_wh[self.protocol] += wh
            seconds -= step
            started = time.perf_counter()
            with contextlib.suppress(*Failure):
                await adapter.sample(evse)
                stats.sample_acked(time.perf_counter() - started)

    async def _flood(self, evse: Evse) -> None:
        """Samples back to back, each sent once the previous one is answered, until stopped.

        Each adds one ``--meter-interval`` of energy, as in :meth:`_charge`. The first goes
        through the adapter; the rest reuse its frame (see ``flood.py``), which only works
        because nothing else of the transaction changes meanwhile in fleet mode.
        """
        options, stats, adapter = self._ctx.options, self._ctx.stats, self._current()
        connection, clock = self._connection, self._ctx.clock
        assert connection is not None
        loop = asyncio.get_running_loop()
        tx = evse.transaction
        step_wh = ac_energy_wh(options.power_kw, options.meter_interval)
        delivered = stats.energy_delivered_wh
        frames: SampleFrames | None = None
        action = ""
        while tx is not None and not tx.stop_requested:
            due = self._stopping or self._lost or self._next_beat <= loop.time()
            if due and not await self._idle(0.0):  # stopped, lost, or a heartbeat is due
                return
            evse.meter.add(step_wh)
            wh = self._meter_wh = evse.meter.wh
            delivered[self.protocol] += step_wh
            started = time.perf_counter()
            try:
                if frames is None:
                    connection.last_call = None
                    try:
                        await adapter.sample(evse)
                    finally:
                        if connection.last_call is not None:
                            action, payload = connection.last_call
                            frames = template(action, payload, wh)
                else:
                    self._frames_sent += 1
                    message_id = str(self._frames_sent)
                    seq = tx.next_seq_no()
                    frame = frames.frame(message_id, clock.now(), wh, seq)
                    await connection.call_frame(action, message_id, frame)
            except Failure:
                continue
            stats.sample_acked(time.perf_counter() - started)

    async def _end(self, evse: Evse) -> None:
        """Stop the transaction (Local, or Remote if the CSMS asked), then unplug."""
        stats, adapter, tx = self._ctx.stats, self._current(), evse.transaction
        assert tx is not None
        remote = tx.stop_requested
        reason: StopReason = "Remote" if remote else "Local"
        try:
            await adapter.stop(evse, reason, None if remote else tx.id_tag)
        except Failure:
            evse.transaction = None  # the CSMS did not take the stop; give the session up
        else:
            stats.sessions_completed += 1
            stats.energy_completed_wh[self.protocol] += evse.meter.wh - tx.meter_start_wh
        with contextlib.suppress(*Failure):
            await adapter.status(evse, "Finishing")
        await self._unplug(evse)

    async def _unplug(self, evse: Evse) -> None:
        evse.plugged = False
        with contextlib.suppress(*Failure):
            await self._current().status(evse, "Available")

    # -- waiting ----------------------------------------------------------------------------

    async def _idle(self, seconds: float) -> bool:
        """Wait ``seconds`` sending heartbeats when due; False if stopped, raises if lost."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._stopping:
            if self._lost:
                raise ConnectionError("connection to the CSMS closed")
            now = loop.time()
            if self._next_beat <= now:
                self._next_beat = now + self._beat_every
                with contextlib.suppress(*Failure):
                    await self._current().heartbeat()
                continue
            if deadline <= now:
                return True
            await self._pause(min(deadline, self._next_beat) - now)
        return False

    async def _pause(self, seconds: float) -> None:
        """Sleep until the timer, a stop or a lost socket, whichever comes first."""
        if seconds <= 0 or self._stopping or self._lost:
            return
        loop = asyncio.get_running_loop()
        wake: asyncio.Future[None] = loop.create_future()
        timer = None if math.isinf(seconds) else loop.call_later(seconds, _resolve, wake)
        self._wake = wake
        try:
            await wake
        finally:
            self._wake = None
            if timer is not None:
                timer.cancel()

    def _wake_up(self) -> None:
        if self._wake is not None:
            _resolve(self._wake)

    def _current(self) -> Adapter:
        if self._adapter is None:
            raise ConnectionError("not connected")
        return self._adapter


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
