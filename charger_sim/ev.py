"""The power model: how much energy an EV draws over simulated time. Pure arithmetic, no I/O.

AC is constant power, exactly as before this model existed: a sample period of ``t`` simulated
seconds delivers ``round(P * t / 3.6)`` whole Wh (at least 1), and a period cut short by the
energy target is shortened in proportion. Three phases at 230 V carry it: ``I = P / (3 * 230)``.

DC charges a battery of ``battery_kwh`` from ``soc_start`` to ``soc_target`` (percent). The
power is ``max_power_kw`` up to :data:`KNEE_SOC`, then falls linearly to
``FLOOR_FRACTION * max_power_kw`` at 100 %. A period's energy is integrated in steps of at most
:data:`STEP_S` seconds along that curve and then rounded to whole Wh; the state of charge is
derived from the whole Wh delivered, so SoC, register and reported values always agree. The
battery voltage rises with SoC (:func:`dc_voltage`) and ``I = P / V``.
"""

from __future__ import annotations

from dataclasses import dataclass

AC_VOLTAGE = 230.0  # V, phase to neutral
AC_PHASES = 3
KNEE_SOC = 80.0  # % at which DC power starts to taper
FLOOR_FRACTION = 0.1  # DC power near 100 %, as a share of the maximum
DC_VOLTAGE_EMPTY = 350.0  # V at 0 % SoC
DC_VOLTAGE_FULL = 450.0  # V at 100 % SoC
STEP_S = 1.0  # integration step for the DC curve, simulated seconds


@dataclass(frozen=True, slots=True)
class PowerSpec:
    """What ``[charger]`` says about power: the kind of charger and, for DC, the battery."""

    kind: str = "AC"  # "AC" or "DC"
    power_kw: float = 11.0  # AC: constant power
    max_power_kw: float = 50.0  # DC: power up to the knee
    battery_kwh: float = 60.0  # DC: usable battery capacity
    soc_start: float = 20.0  # DC: state of charge at plug-in, percent
    soc_target: float = 100.0  # DC: the EV stops drawing here (SuspendedEV)

    @property
    def dc(self) -> bool:
        return self.kind == "DC"


def ac_energy_wh(power_kw: float, seconds: float) -> int:
    """Constant-power AC model: the Wh a ``power_kw`` charge delivers in ``seconds``."""
    return round(power_kw * seconds / 3.6)


def dc_power_kw(soc: float, max_power_kw: float) -> float:
    """The DC curve: flat up to the knee, then linearly down to the floor at 100 %."""
    if soc <= KNEE_SOC:
        return max_power_kw
    floor = max_power_kw * FLOOR_FRACTION
    share = max(0.0, 100.0 - soc) / (100.0 - KNEE_SOC)
    return floor + (max_power_kw - floor) * share


def dc_voltage(soc: float) -> float:
    """The battery voltage at ``soc`` percent: linear from empty to full."""
    return DC_VOLTAGE_EMPTY + (DC_VOLTAGE_FULL - DC_VOLTAGE_EMPTY) * min(soc, 100.0) / 100.0


class Ev:
    """The EV plugged into one EVSE: what it has taken since plug-in and what it draws now.

    ``power_w`` is the present draw (what a power sample reports); the charging loop sets it
    with :meth:`draw` while energy flows and :meth:`halt` when it stops.
    """

    def __init__(self, spec: PowerSpec) -> None:
        self.spec = spec
        self.taken_wh = 0
        self.power_w = 0.0

    @property
    def soc(self) -> float | None:
        """DC: the state of charge in percent, from the whole Wh taken; AC: unknown (None)."""
        if not self.spec.dc:
            return None
        return min(100.0, self.spec.soc_start + self.taken_wh * 100.0 / self._capacity_wh)

    @property
    def room_wh(self) -> int | None:
        """DC: whole Wh until ``soc_target``; AC: no limit (None)."""
        if not self.spec.dc:
            return None
        span = (self.spec.soc_target - self.spec.soc_start) / 100.0
        return max(0, round(span * self._capacity_wh) - self.taken_wh)

    @property
    def full(self) -> bool:
        """DC: the battery reached ``soc_target``, the EV draws no more."""
        return self.room_wh == 0

    def power_kw(self, cap_kw: float | None = None) -> float:
        """What the EV would draw now; on AC ``cap_kw`` replaces the power, on DC caps it."""
        if not self.spec.dc:
            return cap_kw or self.spec.power_kw
        if self.full:
            return 0.0
        soc = self.soc or 0.0
        return min(dc_power_kw(soc, self.spec.max_power_kw), cap_kw or float("inf"))

    def period(self, seconds: float, cap_wh: int, cap_kw: float | None = None) -> tuple[int, float]:
        """Whole Wh the next ``seconds`` deliver (at most ``cap_wh``) and how long that takes."""
        if cap_wh <= 0:
            raise ValueError("a charge period needs room for at least 1 Wh")
        if not self.spec.dc:
            whole = max(1, ac_energy_wh(self.power_kw(cap_kw), seconds))
            return (whole, seconds) if whole <= cap_wh else (cap_wh, seconds * cap_wh / whole)
        return self._dc_period(seconds, cap_wh, cap_kw)

    def take(self, wh: int) -> None:
        """The meter added ``wh``: the battery holds that much more."""
        if wh < 0:
            raise ValueError("an EV cannot give energy back here")
        self.taken_wh += wh

    def draw(self, cap_kw: float | None = None) -> None:
        """Energy flows: the present power is the curve's at the present SoC."""
        self.power_w = self.power_kw(cap_kw) * 1000.0

    def halt(self) -> None:
        """No energy flows (suspended, step ended, battery full)."""
        self.power_w = 0.0

    def _dc_period(self, seconds: float, cap_wh: int, cap_kw: float | None) -> tuple[int, float]:
        capacity = self._capacity_wh
        soc0 = self.soc or 0.0
        energy, elapsed = 0.0, 0.0
        while elapsed < seconds:
            dt = min(STEP_S, seconds - elapsed)
            soc = soc0 + energy * 100.0 / capacity
            power = min(dc_power_kw(soc, self.spec.max_power_kw), cap_kw or float("inf"))
            gained = power * dt / 3.6
            if energy + gained >= cap_wh:
                return cap_wh, elapsed + dt * (cap_wh - energy) / gained
            energy, elapsed = energy + gained, elapsed + dt
        return max(1, round(energy)), seconds

    @property
    def _capacity_wh(self) -> float:
        return self.spec.battery_kwh * 1000.0
