"""Meter arithmetic: unit normalisation and how a session's energy is derived.

Rules from the field: use the ``Energy.Active.Import.Register``; normalise Wh/kWh and 2.0.1 unit
multipliers; ignore ``Transaction.Begin = 0`` placeholders and signed data for arithmetic.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from csms.domain.model import ENERGY_REGISTER, MeterSample, Session

# The largest reading (in its canonical unit) arithmetic is done with: 10^18 Wh is a million
# TWh, far past any meter, and sums and differences of such readings stay finite floats.
MAX_READING = 1e18

# unit -> (canonical unit, factor to multiply by)
_UNITS: dict[str, tuple[str, float]] = {
    "Wh": ("Wh", 1.0),
    "kWh": ("Wh", 1000.0),
    "varh": ("varh", 1.0),
    "kvarh": ("varh", 1000.0),
    "VAh": ("VAh", 1.0),
    "kVAh": ("VAh", 1000.0),
    "W": ("W", 1.0),
    "kW": ("W", 1000.0),
    "VA": ("VA", 1.0),
    "kVA": ("VA", 1000.0),
    "var": ("var", 1.0),
    "kvar": ("var", 1000.0),
    "Celcius": ("Celsius", 1.0),
}


def normalise(value: float, unit: str | None, multiplier: int = 0) -> tuple[float, str]:
    """Return ``value`` in the canonical unit, applying a 10^multiplier factor first.

    Scaled in decimal, as the charger wrote it: 1.001 kWh is 1001 Wh, not 1000.9999999999999.
    """
    canonical, factor = _UNITS.get(unit or "", (unit or "", 1.0))
    if factor == 1.0 and not multiplier:
        return value, canonical
    exact = Decimal(repr(value)).scaleb(multiplier) * Decimal(repr(factor))
    return float(exact), canonical


def is_register(sample: MeterSample) -> bool:
    """True for a usable total energy-register reading (no phase, not signed)."""
    return (
        sample.measurand == ENERGY_REGISTER
        and not sample.signed
        and sample.phase is None
        and sample.location in (None, "Outlet", "Inlet")
    )


def apply_samples(
    session: Session, samples: list[MeterSample], *, baseline_from_samples: bool
) -> bool:
    """Fold register readings into the session; returns True when the energy changed.

    ``baseline_from_samples`` is true for 2.0.1, where the start register is the lowest real
    reading (``Transaction.Begin = 0`` placeholders excluded); 1.6 takes it from ``meterStart``.
    """
    before = session.energy_wh
    for sample in samples:
        if not is_register(sample):
            continue
        if sample.context == "Transaction.Begin" and sample.value == 0:
            continue
        _fold_register(session, sample.value, sample.timestamp, baseline_from_samples)
    recompute_energy(session)
    return session.energy_wh != before


def _fold_register(session: Session, value: float, ts: datetime, from_samples: bool) -> None:
    if from_samples and (session.meter_start_wh is None or value < session.meter_start_wh):
        session.meter_start_wh = value
    baseline = session.meter_start_wh
    if session.last_register_wh is None or value > session.last_register_wh:
        session.last_register_wh = value
    if baseline is not None and value > baseline:
        if session.charging_start is None or ts < session.charging_start:
            session.charging_start = ts
        if session.charging_end is None or ts > session.charging_end:
            session.charging_end = ts


def recompute_energy(session: Session) -> None:
    start = session.meter_start_wh
    stop = session.meter_stop_wh if session.meter_stop_wh is not None else session.last_register_wh
    if start is None or stop is None:
        return
    session.energy_wh = max(0.0, stop - start)
