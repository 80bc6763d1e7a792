"""What one meter sample holds: the configured measurands, read from the meter and the EV.

Protocol-neutral: each :class:`Reading` keeps its value as decimal text, which 1.6 sends as it
is (a string) and 2.0.1 as a JSON number (:meth:`Reading.number`). Units are those OCPP names:
Wh or kWh (``meter_unit``) for the register, W, A, V and Percent. AC current and voltage are per
phase (``L1``..``L3``, ``L1-N``..``L3-N``); DC has no phase; SoC is measured at the ``EV``.
No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass

from charger_sim.ev import AC_PHASES, AC_VOLTAGE, Ev, dc_voltage

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
VOLTAGE = "Voltage"
SOC = "SoC"
MEASURANDS = (ENERGY, POWER, CURRENT, VOLTAGE, SOC)
METER_UNITS = ("Wh", "kWh")


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """What ``[charger]`` says about sampling: measurands, register unit, clock alignment."""

    measurands: tuple[str, ...] = (ENERGY,)
    unit: str = "Wh"  # of the energy register: "Wh" or "kWh"
    clock_aligned_interval: float = 0.0  # simulated seconds; 0 = no clock-aligned samples


@dataclass(frozen=True, slots=True)
class Reading:
    measurand: str
    text: str  # the value as decimal text: "12345", "12.345", "31.9"
    unit: str
    phase: str | None = None
    location: str | None = None

    def number(self) -> int | float:
        """The value as a JSON number (2.0.1)."""
        return float(self.text) if "." in self.text else int(self.text)

    def labels(self) -> dict[str, str]:
        """What the sample is of, named alike in 1.6 and 2.0.1: measurand, phase, location."""
        labels = {"measurand": self.measurand}
        if self.phase is not None:
            labels["phase"] = self.phase
        if self.location is not None:
            labels["location"] = self.location
        return labels


def register(wh: int, unit: str) -> Reading:
    """The energy register: whole Wh, or kWh with 3 decimals (exact, no float rounding)."""
    if unit == "kWh":
        return Reading(ENERGY, f"{wh // 1000}.{wh % 1000:03d}", "kWh")
    return Reading(ENERGY, str(wh), "Wh")


def readings(wh: int, ev: Ev | None, spec: MeterSpec) -> list[Reading]:
    """One sample of every configured measurand, in the order configured.

    Without an EV (nothing plugged, or a sample outside a transaction) only the register is
    read: power, current, voltage and SoC describe a charge.
    """
    out: list[Reading] = []
    for measurand in spec.measurands:
        if measurand == ENERGY:
            out.append(register(wh, spec.unit))
        elif ev is not None:
            out.extend(_electrical(measurand, ev))
    return out


def _electrical(measurand: str, ev: Ev) -> list[Reading]:
    power = ev.power_w
    if measurand == POWER:
        return [Reading(POWER, _fixed(power, 0), "W")]
    soc = ev.soc
    if soc is None:  # AC: three phases
        if measurand == CURRENT:
            amps = _fixed(power / (AC_PHASES * AC_VOLTAGE), 1)
            return [Reading(CURRENT, amps, "A", f"L{n}") for n in range(1, AC_PHASES + 1)]
        if measurand == VOLTAGE:
            text = _fixed(AC_VOLTAGE, 1)
            return [Reading(VOLTAGE, text, "V", f"L{n}-N") for n in range(1, AC_PHASES + 1)]
        return []  # SoC: an AC charger does not know it
    volts = dc_voltage(soc)
    if measurand == CURRENT:
        return [Reading(CURRENT, _fixed(power / volts, 1), "A")]
    if measurand == VOLTAGE:
        return [Reading(VOLTAGE, _fixed(volts, 1), "V")]
    if measurand == SOC:
        return [Reading(SOC, str(int(soc + 1e-9)), "Percent", location="EV")]
    return []


def _fixed(value: float, decimals: int) -> str:
    return str(round(value)) if decimals == 0 else f"{value:.{decimals}f}"


def check(spec: MeterSpec, *, dc: bool) -> str | None:
    """What is wrong with ``spec`` for this kind of charger, or None."""
    unknown = [m for m in spec.measurands if m not in MEASURANDS]
    if unknown:
        return f"unknown measurand {unknown[0]!r} (allowed: {', '.join(MEASURANDS)})"
    if len(set(spec.measurands)) != len(spec.measurands):
        return "a measurand is listed twice"
    if SOC in spec.measurands and not dc:
        return "'SoC' needs kind = \"DC\" (an AC charger does not know the battery)"
    if spec.unit not in METER_UNITS:
        return f"meter_unit must be one of {', '.join(METER_UNITS)}; got {spec.unit!r}"
    if spec.clock_aligned_interval < 0:
        return "clock_aligned_interval must be 0 (off) or positive"
    return None
