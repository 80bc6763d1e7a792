"""The simulator's power model and samples: AC as before, DC taper and SoC, units, validation."""

from __future__ import annotations

from typing import Any

import pytest

from charger_sim.ev import KNEE_SOC, Ev, PowerSpec, ac_energy_wh, dc_power_kw
from charger_sim.sampling import (
    CURRENT,
    ENERGY,
    POWER,
    SOC,
    VOLTAGE,
    MeterSpec,
    Reading,
    readings,
    register,
)
from charger_sim.scenario import ScenarioError, parse

DC = PowerSpec(kind="DC", max_power_kw=50.0, battery_kwh=20.0, soc_start=60.0, soc_target=100.0)
ALL = (ENERGY, POWER, CURRENT, VOLTAGE, SOC)


def _charge_dc(ev: Ev, interval: float = 60.0) -> list[tuple[int, float]]:
    """(Wh, SoC after) of every sample period until the battery is full."""
    periods = []
    while not ev.full:
        wh, _ = ev.period(interval, ev.room_wh or 0)
        ev.take(wh)
        periods.append((wh, ev.soc or 0.0))
    return periods


def test_ac_periods_are_the_constant_power_whole_wh_as_before() -> None:
    """22 kW for 60 s adds 367 Wh; a period cut by the target is shortened in proportion."""
    ev = Ev(PowerSpec(power_kw=22.0))
    assert ev.period(60.0, 10_000) == (367, 60.0)
    assert ev.period(60.0, 133) == (133, pytest.approx(60.0 * 133 / 367))
    assert ev.period(60.0, 10_000, 11.0) == (ac_energy_wh(11.0, 60.0), 60.0)
    assert ev.soc is None and ev.room_wh is None and not ev.full


def test_dc_power_is_flat_to_the_knee_then_tapers_to_the_floor() -> None:
    """Full power up to 80 % SoC, then strictly less, down to 10 % of it at 100 %."""
    assert dc_power_kw(20.0, 100.0) == dc_power_kw(KNEE_SOC, 100.0) == 100.0
    above = [dc_power_kw(soc, 100.0) for soc in (81.0, 85.0, 90.0, 95.0, 100.0)]
    assert above == sorted(above, reverse=True) and len(set(above)) == len(above)
    assert above[0] < 100.0 and above[-1] == pytest.approx(10.0)


def test_dc_taper_lowers_the_energy_of_each_period_above_the_knee() -> None:
    """Each minute above the knee delivers less than the one before; below it, the same."""
    periods = _charge_dc(Ev(DC))
    flat = [wh for wh, soc in periods if soc <= KNEE_SOC]
    tapered = [wh for wh, soc in periods[len(flat) + 1 : -1]]
    assert set(flat) == {round(50.0 * 60 / 3.6)}
    assert tapered == sorted(tapered, reverse=True) and tapered[0] < flat[0]


def test_dc_stops_exactly_at_the_target_soc() -> None:
    """The battery takes exactly (target - start) of its capacity, then the EV is full."""
    ev = Ev(PowerSpec(kind="DC", battery_kwh=40.0, soc_start=20.0, soc_target=80.0))
    periods = _charge_dc(ev)
    assert sum(wh for wh, _ in periods) == ev.taken_wh == 24_000
    assert ev.soc == 80.0 and ev.full and ev.power_kw() == 0.0


def test_soc_follows_whole_wh_over_battery_size() -> None:
    """SoC is soc_start plus the Wh taken over the battery size, at every period."""
    ev = Ev(DC)
    taken = 0
    for wh, soc in _charge_dc(ev):
        taken += wh
        assert soc == pytest.approx(60.0 + taken * 100 / 20_000)


def test_a_dc_period_cut_by_the_cap_takes_part_of_the_interval() -> None:
    """Reaching a Wh cap mid-period delivers exactly the cap in less time."""
    wh, seconds = Ev(DC).period(60.0, 100)
    assert wh == 100 and 0 < seconds < 60.0
    assert seconds == pytest.approx(100 * 3.6 / 50.0)


def test_power_kw_caps_dc_and_replaces_ac() -> None:
    """A step's power_kw caps the DC curve and is the AC power."""
    assert Ev(DC).power_kw(20.0) == 20.0
    assert Ev(PowerSpec(power_kw=11.0)).power_kw(7.4) == 7.4


@pytest.mark.parametrize(
    ("wh", "text"), [(5_367, "5.367"), (1_001, "1.001"), (5, "0.005"), (250_000, "250.000")]
)
def test_kwh_register_is_exact_decimal_text(wh: int, text: str) -> None:
    """The register in kWh has exactly 3 decimals, with no float rounding."""
    assert register(wh, "kWh") == Reading(ENERGY, text, "kWh")
    assert register(wh, "Wh").text == str(wh)


def test_ac_readings_carry_units_and_phases() -> None:
    """AC: power in W, current per phase L1..L3 = P / (3 * 230), voltage 230 V per phase."""
    ev = Ev(PowerSpec(power_kw=22.0))
    ev.draw()
    got = readings(5_000, ev, MeterSpec(measurands=(ENERGY, POWER, CURRENT, VOLTAGE)))
    by = {(r.measurand, r.phase): (r.text, r.unit) for r in got}
    assert by[(ENERGY, None)] == ("5000", "Wh")
    assert by[(POWER, None)] == ("22000", "W")
    assert {by[(CURRENT, f"L{n}")] for n in (1, 2, 3)} == {("31.9", "A")}
    assert {by[(VOLTAGE, f"L{n}-N")] for n in (1, 2, 3)} == {("230.0", "V")}


def test_dc_readings_carry_soc_at_the_ev() -> None:
    """DC: one current and voltage (no phase), SoC in Percent located at the EV."""
    ev = Ev(DC)
    ev.draw()
    got = {r.measurand: r for r in readings(5_000, ev, MeterSpec(measurands=ALL))}
    assert got[SOC].text == "60" and got[SOC].unit == "Percent" and got[SOC].location == "EV"
    assert got[VOLTAGE].phase is None and got[VOLTAGE].text == "410.0"
    assert got[CURRENT].text == f"{50_000 / 410:.1f}"


def test_without_an_ev_only_the_register_is_read() -> None:
    """Outside a transaction a sample holds the register alone."""
    assert [r.measurand for r in readings(7, None, MeterSpec(measurands=ALL))] == [ENERGY]


BOOT = {"action": "boot"}


@pytest.mark.parametrize(
    ("charger", "message"),
    [
        ({"kind": "HVDC"}, "'kind' must be AC or DC"),
        ({"measurands": ["SoC"]}, "'SoC' needs kind"),
        ({"measurands": ["Frequency"]}, "unknown measurand 'Frequency'"),
        ({"measurands": "SoC"}, "'measurands' must be list"),
        ({"meter_unit": "MWh"}, "meter_unit must be one of Wh, kWh"),
        ({"kind": "DC", "soc_start": 90.0, "soc_target": 80.0}, "soc_start < soc_target"),
        ({"clock_aligned_interval": -1}, "clock_aligned_interval must be 0"),
    ],
)
def test_bad_meter_keys_are_named(charger: dict[str, Any], message: str) -> None:
    """A wrong power or sampling key fails naming what is wrong."""
    with pytest.raises(ScenarioError, match=message):
        parse({"charger": charger, "steps": [BOOT]})


def test_new_steps_are_validated() -> None:
    """suspend takes EV or EVSE; idle needs seconds; resume takes only evse."""
    with pytest.raises(ScenarioError, match="'by' must be EV or EVSE"):
        parse({"steps": [BOOT, {"action": "suspend", "by": "grid"}]})
    with pytest.raises(ScenarioError, match="'idle' needs 'seconds'"):
        parse({"steps": [BOOT, {"action": "idle"}]})
    with pytest.raises(ScenarioError, match="unknown key 'seconds' for 'resume'"):
        parse({"steps": [BOOT, {"action": "resume", "seconds": 5}]})
    steps = parse({"steps": [BOOT, {"action": "suspend", "by": "EVSE", "seconds": 30}]}).steps
    assert (steps[1].by, steps[1].seconds) == ("EVSE", 30)
