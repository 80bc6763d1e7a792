"""The simulated charger's state: identity, EVSEs, meters and transactions. No I/O here."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from charger_sim.ev import Ev, PowerSpec
from charger_sim.ev import ac_energy_wh as ac_energy_wh  # the AC model lives in ev.py
from charger_sim.sampling import MeterSpec


@dataclass(frozen=True, slots=True)
class Identity:
    """What the charger says about itself in BootNotification."""

    vendor: str = "ChargerSim"
    model: str = "SimAC22"
    serial_number: str = "SIM-0001"
    firmware_version: str = "0.1.0"


class Meter:
    """An energy register in whole Wh that only goes up."""

    def __init__(self, start_wh: int) -> None:
        self._wh = start_wh

    @property
    def wh(self) -> int:
        return self._wh

    def add(self, wh: int) -> None:
        if wh < 0:
            raise ValueError("an energy register only goes up")
        self._wh += wh


@dataclass(slots=True)
class RemoteStart:
    """An accepted RemoteStart/RequestStartTransaction: booked on an EVSE while its answer is
    on the way (``Evse.reserved``), then waiting for the EV (``Evse.remote_start``)."""

    id_tag: str
    evse_id: int
    remote_start_id: int | None = None
    id_token_type: str = "Central"


@dataclass(slots=True)
class Transaction:
    """A running transaction on one EVSE."""

    id: str
    id_tag: str
    meter_start_wh: int
    remote_start_id: int | None = None
    id_token_type: str = "ISO14443"
    seq_no: int = 0
    charging: bool = False
    stop_requested: bool = False
    suspended: str | None = None  # "EV" or "EVSE" while suspended (no energy flows)

    def next_seq_no(self) -> int:
        seq, self.seq_no = self.seq_no, self.seq_no + 1
        return seq


@dataclass(frozen=True, slots=True)
class Delivered:
    """What one finished transaction delivered, for callers to check against the CSMS."""

    evse_id: int
    transaction_id: str
    meter_start_wh: int
    meter_stop_wh: int

    @property
    def energy_wh(self) -> int:
        return self.meter_stop_wh - self.meter_start_wh


@dataclass(slots=True)
class Evse:
    """One EVSE with one connector (id 1) and its own meter."""

    id: int
    meter: Meter
    plugged: bool = False
    transaction: Transaction | None = None
    remote_start: RemoteStart | None = None  # answered Accepted: starts when the EV is plugged
    reserved: RemoteStart | None = None  # accepted, the answer not sent yet: nothing starts
    state: str = "Available"  # the connector state last reported (1.6 names)
    ev: Ev | None = None  # the plugged-in EV (its battery for DC), from plug to unplug
    available: bool = True  # False after ChangeAvailability Inoperative: reported Unavailable
    scheduled: bool | None = None  # an availability to apply once the transaction ends
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)


@dataclass
class Station:
    """The whole charger; the protocol adapters and the scenario runner share it."""

    id: str
    identity: Identity
    evses: dict[int, Evse]
    remote_starts: asyncio.Queue[RemoteStart] = field(default_factory=asyncio.Queue)
    remote_stops: asyncio.Queue[int] = field(default_factory=asyncio.Queue)
    delivered: list[Delivered] = field(default_factory=list)
    clock_skew_s: float = 0.0  # the skewed-clock fault: timestamps are off by this much
    power: PowerSpec = field(default_factory=PowerSpec)  # AC/DC power model
    metering: MeterSpec = field(default_factory=MeterSpec)  # what a sample holds
    clock_s: float = 0.0  # the simulated clock: seconds since the run began (see charging.py)
    clock_ticks: int = 0  # clock-aligned intervals that have passed
    refuse: frozenset[str] = frozenset()  # CSMS calls rejected as told: "RemoteStart", "Reset"...

    @classmethod
    def build(cls, charger_id: str, identity: Identity, evses: int, meter_start_wh: int) -> Station:
        meters = {n: Evse(n, Meter(meter_start_wh)) for n in range(1, evses + 1)}
        return cls(charger_id, identity, meters)

    def evse(self, evse_id: int) -> Evse:
        try:
            return self.evses[evse_id]
        except KeyError:
            raise ValueError(f"no EVSE {evse_id} (the charger has {len(self.evses)})") from None

    def free_evse(self, wanted: int | None) -> Evse | None:
        """The EVSE a remote start may use: ``wanted`` if free, else the first free one."""
        candidates = [self.evses.get(wanted)] if wanted else list(self.evses.values())
        for evse in candidates:
            if evse is None or not evse.available:
                continue
            if evse.transaction is None and evse.remote_start is None and evse.reserved is None:
                return evse
        return None

    def reserve_remote_start(self, request: RemoteStart, wanted: int | None) -> bool:
        """Book a free EVSE for a remote start about to be answered Accepted.

        A second request finds the EVSE taken at once, but nothing starts before the answer is
        sent: :meth:`confirm_remote_start` then hands the request to the runner.
        """
        evse = self.free_evse(wanted)
        if evse is None:
            return False
        request.evse_id = evse.id
        evse.reserved = request
        return True

    def confirm_remote_start(self, request: RemoteStart) -> None:
        """The Accepted answer is sent: the runner starts the request once the EV is plugged."""
        evse = self.evses[request.evse_id]
        if evse.reserved is not request:
            return  # a reset or power cut dropped it while the answer was on its way
        evse.reserved, evse.remote_start = None, request
        self.remote_starts.put_nowait(request)

    def evse_of(self, transaction_id: str) -> Evse | None:
        """The EVSE on which transaction ``transaction_id`` runs, if any."""
        for evse in self.evses.values():
            if evse.transaction is not None and evse.transaction.id == transaction_id:
                return evse
        return None

    def confirm_remote_stop(self, evse: Evse, tx: Transaction, *, react: bool) -> None:
        """The Accepted answer is sent: mark ``tx`` for stopping, if it still runs.

        With ``react`` the runner is told (``remote_stops``) and stops it at once, reason Remote;
        a fleet charger reads ``stop_requested`` itself, so nothing is queued for it.
        """
        if evse.transaction is not tx:
            return  # it ended while the answer was on its way
        tx.stop_requested = True
        if react:
            self.remote_stops.put_nowait(evse.id)


def running(evse: Evse) -> Transaction:
    """``evse``'s transaction; ValueError naming the EVSE if none runs."""
    if evse.transaction is None:
        raise ValueError(f"no transaction is running on EVSE {evse.id}")
    return evse.transaction
