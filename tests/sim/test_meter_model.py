"""The simulator's meter model played against our CSMS: DC taper, SoC, measurands, kWh, statuses.

Clock-aligned samples and the 2.0.1 chargingState are checked on the wire, with the strict test
CSMS: our CSMS keeps neither MeterValues outside a transaction nor the chargingState.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from charger_sim.runner import ProtocolVersion, RunResult, run
from charger_sim.sampling import CURRENT, ENERGY, POWER, SOC, VOLTAGE
from charger_sim.scenario import Scenario, load, parse
from csms.bootstrap import Csms
from csms.domain import events as ev
from csms.domain.model import MeterSample, Session, SessionStatus
from tests.conftest import add_charger, add_token, wait_event
from tests.sim.conftest import sim_url
from tests.sim.strict_csms import Received, StrictCsms, running_strict_csms

PROTOCOLS = pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
CHARGER = "SIM1"
FAST: dict[str, Any] = {"time_scale": 1200.0, "meter_start_wh": 5_000, "call_timeout": 5.0}
# 20 kWh from 70 % to full at 50 kW: 2 kWh flat, then 4 kWh along the taper.
TAPER: dict[str, Any] = {
    "kind": "DC",
    "battery_kwh": 20.0,
    "max_power_kw": 50.0,
    "soc_start": 70.0,
    "soc_target": 100.0,
    "measurands": [ENERGY, POWER, CURRENT, VOLTAGE, SOC],
}
BEGIN = ["boot", "plug", "authorize", "start"]
END = ["stop", "unplug"]


def scenario(charger: dict[str, Any], *steps: str | dict[str, Any]) -> Scenario:
    actions = [{"action": s} if isinstance(s, str) else s for s in steps]
    return parse({"charger": {**FAST, **charger}, "steps": actions})


def charge(**keys: Any) -> dict[str, Any]:
    return {"action": "charge", "sample_interval": 60, **keys}


async def play(
    url: str, protocol: ProtocolVersion, played: Scenario, charger_id: str = CHARGER
) -> RunResult:
    async with asyncio.timeout(30):
        return await run(played, url=url, charger_id=charger_id, protocol=protocol)


async def only_session(csms: Csms) -> Session:
    (session,) = await csms.services.sessions.list(charger_id=CHARGER)
    assert session.status is SessionStatus.ENDED
    return session


def periodic(samples: list[MeterSample]) -> list[dict[str, MeterSample]]:
    """The full periodic samples in time order, each as measurand -> its (phase-less) value."""
    moments: dict[datetime, dict[str, MeterSample]] = defaultdict(dict)
    for sample in samples:
        if sample.context == "Sample.Periodic" and sample.phase is None:
            moments[sample.timestamp][sample.measurand] = sample
    return [moments[t] for t in sorted(moments) if POWER in moments[t]]


@pytest.fixture
async def sim1(csms: Csms) -> Csms:
    await add_charger(csms, CHARGER)
    await add_token(csms, "SIMTAG01")
    return csms


@pytest.fixture
async def strict() -> AsyncIterator[StrictCsms]:
    async with running_strict_csms() as csms:
        yield csms


def strict_url(csms: StrictCsms) -> str:
    return f"ws://127.0.0.1:{csms.port}/ocpp"


# -- against our CSMS --------------------------------------------------------------------------


@PROTOCOLS
async def test_dc_fast_charge_stores_exact_energy_and_ends_at_80_percent(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """dc_fast_charge delivers exactly 60 % of 40 kWh; the CSMS stores it and SoC ends at 80 %."""
    result = await play(sim_url(sim1), protocol, load("dc_fast_charge"))
    (delivered,) = result.delivered
    assert delivered.energy_wh == 24_000
    session = await only_session(sim1)
    assert session.energy_wh == delivered.energy_wh
    samples = await sim1.services.sessions.samples(session.id)
    socs = [s for s in samples if s.measurand == SOC]
    assert socs[0].value == 24 and socs[-1].value == 80
    assert {(s.unit, s.location) for s in socs} == {("Percent", "EV")}


@PROTOCOLS
async def test_dc_taper_lowers_power_above_the_knee_and_the_register_never_goes_down(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """Power is 50 kW up to 80 % SoC, then falls at every sample; the register only rises."""
    result = await play(sim_url(sim1), protocol, scenario(TAPER, *BEGIN, charge(kwh=10), *END))
    assert [d.energy_wh for d in result.delivered] == [6_000]  # 70 % -> 100 % of 20 kWh
    samples = await sim1.services.sessions.samples((await only_session(sim1)).id)
    moments = periodic(samples)
    flat = [m[POWER].value for m in moments if m[SOC].value < 80]
    tapered = [m[POWER].value for m in moments if m[SOC].value > 80]
    assert flat and set(flat) == {50_000}
    assert tapered == sorted(tapered, reverse=True) and len(set(tapered)) == len(tapered)
    assert tapered[0] < 50_000 and tapered[-1] == 0  # the EV stops drawing when full
    registers = [s.value for s in samples if s.measurand == ENERGY]
    assert registers == sorted(registers)


@PROTOCOLS
async def test_soc_rises_with_the_energy_over_the_battery_size(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """Every SoC sample is soc_start plus the register's rise over the 20 kWh battery."""
    await play(sim_url(sim1), protocol, scenario(TAPER, *BEGIN, charge(kwh=10), *END))
    moments = periodic(await sim1.services.sessions.samples((await only_session(sim1)).id))
    assert len(moments) >= 10
    for moment in moments:
        rise = moment[ENERGY].value - FAST["meter_start_wh"]
        assert moment[SOC].value == math.floor(70 + rise * 100 / 20_000 + 1e-9)


@PROTOCOLS
async def test_ac_measurands_reach_the_csms_with_units_and_phases(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """Each periodic sample holds energy (Wh), power (W), current per phase (A), voltage (V)."""
    measurands = {"measurands": [ENERGY, POWER, CURRENT, VOLTAGE], "power_kw": 22.0}
    await play(sim_url(sim1), protocol, scenario(measurands, *BEGIN, charge(kwh=1), *END))
    samples = await sim1.services.sessions.samples((await only_session(sim1)).id)
    shapes = {
        (s.measurand, s.unit, s.phase, s.value)
        for s in samples
        if s.context == "Sample.Periodic" and s.measurand != ENERGY
    }
    assert shapes == {
        (POWER, "W", None, 22_000),
        *((CURRENT, "A", f"L{n}", 31.9) for n in (1, 2, 3)),
        *((VOLTAGE, "V", f"L{n}-N", 230) for n in (1, 2, 3)),
    }
    assert [(m[ENERGY].value, m[ENERGY].unit) for m in periodic(samples)] == [
        (5_367, "Wh"),
        (5_734, "Wh"),
        (6_000, "Wh"),
    ]


@PROTOCOLS
async def test_a_kwh_reporting_charger_still_gives_exact_energy(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """With the register sent in kWh the CSMS stores Wh readings and the exact energy."""
    kwh = {"meter_unit": "kWh", "power_kw": 22.0}
    result = await play(sim_url(sim1), protocol, scenario(kwh, *BEGIN, charge(kwh=0.5), *END))
    (delivered,) = result.delivered
    session = await only_session(sim1)
    assert session.energy_wh == delivered.energy_wh == 500
    samples = await sim1.services.sessions.samples(session.id)
    registers = [(s.value, s.unit) for s in samples if s.context == "Sample.Periodic"]
    assert registers[-2:] == [(5_367, "Wh"), (5_500, "Wh")]


@PROTOCOLS
async def test_a_kwh_register_with_odd_wh_gives_exact_energy(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """A kWh register starting at 1.001 kWh still gives the session exactly 500 Wh."""
    kwh = {"meter_unit": "kWh", "power_kw": 22.0, "meter_start_wh": 1_001}
    result = await play(sim_url(sim1), protocol, scenario(kwh, *BEGIN, charge(kwh=0.5), *END))
    assert [d.energy_wh for d in result.delivered] == [500]
    assert (await only_session(sim1)).energy_wh == 500


async def test_the_csms_sees_the_1_6_status_sequence_with_suspend_and_resume(sim1: Csms) -> None:
    """Available, Preparing, Charging, SuspendedEVSE, Charging, SuspendedEV, Finishing, Available."""
    events = sim1.services.events.queue()
    played = scenario(
        TAPER,
        *BEGIN,
        charge(kwh=1),
        {"action": "suspend", "by": "EVSE", "seconds": 120},
        "resume",
        charge(kwh=10),  # more than the battery takes: the EV suspends itself when full
        *END,
    )
    await play(sim_url(sim1), "1.6", played)
    seen: list[str] = []
    while seen[-2:] != ["Finishing", "Available"]:
        seen.append((await wait_event(events, ev.CONNECTOR_STATUS)).data["status"])
    assert seen == [
        "Available",
        "Preparing",
        "Charging",
        "SuspendedEVSE",
        "Charging",
        "SuspendedEV",
        "Finishing",
        "Available",
    ]


# -- on the wire (strict CSMS) -----------------------------------------------------------------


def _sampled(call: Received) -> list[dict[str, Any]]:
    meter_values = call.payload.get("meterValue") or call.payload.get("transactionData") or []
    return [sv for mv in meter_values for sv in mv["sampledValue"]]


def _contexts(calls: list[Received], context: str) -> list[Received]:
    return [c for c in calls if any(sv.get("context") == context for sv in _sampled(c))]


async def test_2_0_1_charging_state_follows_suspend_and_resume(strict: StrictCsms) -> None:
    """TransactionEvents report Charging, SuspendedEVSE, Charging, SuspendedEV as they happen."""
    played = scenario(
        TAPER,
        *BEGIN,
        charge(kwh=1),
        {"action": "suspend", "by": "EVSE", "seconds": 60},
        "resume",
        charge(kwh=10),
        *END,
    )
    await play(strict_url(strict), "2.0.1", played)
    assert strict.violations == []
    changes = [
        c.payload["transactionInfo"]["chargingState"]
        for c in strict.received(CHARGER)
        if c.action == "TransactionEvent" and c.payload["triggerReason"] == "ChargingStateChanged"
    ]
    assert changes == ["Charging", "SuspendedEVSE", "Charging", "SuspendedEV"]


@PROTOCOLS
async def test_clock_aligned_samples_fall_on_the_simulated_clock(
    strict: StrictCsms, protocol: ProtocolVersion
) -> None:
    """Every 300 simulated s: the meter alone when idle, the transaction's values while charging."""
    aligned = {"clock_aligned_interval": 300, "measurands": [ENERGY, POWER], "power_kw": 22.0}
    idle = {"action": "idle", "seconds": 600}
    # Clock: idle to 600 (2 ticks), charge 1 kWh in ~164 s, then 20 min charging (4 ticks).
    played = scenario(aligned, "boot", idle, "plug", "authorize", "start",
                      charge(kwh=1), charge(seconds=1200), *END)  # fmt: skip
    await play(strict_url(strict), protocol, played)
    assert strict.violations == []
    clock = _contexts(strict.received(CHARGER), "Sample.Clock")
    in_tx = [c for c in clock if c.action == "TransactionEvent" or "transactionId" in c.payload]
    outside = [c for c in clock if c not in in_tx]
    assert len(outside) == 2 and len(in_tx) == 4
    assert all([sv["measurand"] for sv in _sampled(c)] == [ENERGY] for c in outside)
    assert all([sv["measurand"] for sv in _sampled(c)] == [ENERGY, POWER] for c in in_tx)
    if protocol == "2.0.1":
        assert {c.action for c in outside} == {"MeterValues"}
        assert {c.payload["triggerReason"] for c in in_tx} == {"MeterValueClock"}


@PROTOCOLS
async def test_clock_aligned_samples_leave_the_periodic_values_unchanged(
    strict: StrictCsms, protocol: ProtocolVersion
) -> None:
    """The same charge sends the same periodic registers with or without clock alignment."""

    def registers(charger_id: str) -> list[str]:
        samples = _contexts(strict.received(charger_id), "Sample.Periodic")
        return [
            str(sv["value"])
            for c in samples
            if c.payload.get("triggerReason") != "ChargingStateChanged"
            for sv in _sampled(c)
        ]

    steps = (*BEGIN, charge(kwh=2), *END)
    await play(strict_url(strict), protocol, scenario({"power_kw": 22.0}, *steps))
    aligned = scenario({"power_kw": 22.0, "clock_aligned_interval": 90}, *steps)
    await play(strict_url(strict), protocol, aligned, charger_id="SIM2")
    assert registers(CHARGER) == registers("SIM2")
    assert len(registers(CHARGER)) == 6  # 5 x 367 Wh + 165 Wh
    assert len(_contexts(strict.received("SIM2"), "Sample.Clock")) == 3  # at 90, 180, 270 s
    assert strict.violations == []


@PROTOCOLS
async def test_kwh_registers_go_out_as_decimal_kwh(
    strict: StrictCsms, protocol: ProtocolVersion
) -> None:
    """meter_unit kWh: 1.6 sends '5.367' unit kWh, 2.0.1 5.367 with unitOfMeasure kWh."""
    kwh = {"meter_unit": "kWh", "power_kw": 22.0}
    await play(strict_url(strict), protocol, scenario(kwh, *BEGIN, charge(kwh=0.5), *END))
    assert strict.violations == []
    registers = [
        (sv["value"], sv.get("unit") or sv["unitOfMeasure"]["unit"])
        for c in strict.received(CHARGER)
        for sv in _sampled(c)
        if sv["measurand"] == ENERGY and sv["context"] == "Sample.Periodic"
    ]
    first = "5.367" if protocol == "1.6" else 5.367
    assert (first, "kWh") in registers
    stops = [c for c in strict.received(CHARGER) if c.action == "StopTransaction"]
    assert [c.payload["meterStop"] for c in stops] == ([5_500] if protocol == "1.6" else [])
