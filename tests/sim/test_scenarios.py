"""The shipped scenarios, played on both OCPP versions against our real CSMS."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from charger_sim.runner import ProtocolVersion, run
from charger_sim.scenario import SCENARIO_DIR, Scenario, load, parse
from csms.bootstrap import Csms
from csms.domain import events as ev
from csms.domain.commands import RawCall
from csms.domain.model import SessionStatus
from tests.conftest import MakeCsms, add_charger, add_token, wait_event
from tests.sim.conftest import in_background, sim_url

PROTOCOLS = pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
SHIPPED = sorted(path.stem for path in SCENARIO_DIR.glob("*.toml"))
ENERGY = "Energy.Active.Import.Register"

Driver = Callable[[Csms, Scenario], Awaitable[None]]


def charged_wh(scenario: Scenario) -> int:
    """The energy a scenario's ``charge`` steps meter (their ``kwh`` targets)."""
    return sum(round((step.kwh or 0) * 1000) for step in scenario.steps if step.action == "charge")


async def start_then_stop_when_charged(csms: Csms, scenario: Scenario) -> None:
    """The CSMS side of a remote session: start it, stop it once the charging steps are done."""
    events = csms.services.events.queue()
    sessions = csms.services.sessions
    await wait_event(events, ev.CHARGER_BOOTED)
    outcome = await sessions.start_session("SIM1", "SIMTAG01", connector_id=1)
    assert outcome.result.accepted
    while (await sessions.get(outcome.session.id)).energy_wh < charged_wh(scenario):
        await wait_event(events, ev.SESSION_UPDATED)
    assert (await sessions.stop_session(outcome.session.id)).accepted


# The CSMS's part in scenarios that wait for it; the others need none.
DRIVERS: dict[str, Driver] = {
    "remote_start": start_then_stop_when_charged,
    "remote_start_first": start_then_stop_when_charged,
}


@PROTOCOLS
@pytest.mark.parametrize("name", SHIPPED)
async def test_every_shipped_scenario_passes_with_exact_energy(
    csms: Csms, protocol: ProtocolVersion, name: str
) -> None:
    """Each shipped scenario passes on our CSMS, which stores exactly the energy it metered."""
    await add_charger(csms, "SIM1")
    await add_token(csms, "SIMTAG01")
    scenario = load(name)
    driver = DRIVERS.get(name)
    play = run(scenario, url=sim_url(csms), charger_id="SIM1", protocol=protocol)
    async with in_background(play) as sim, asyncio.timeout(60):
        if driver is not None:
            await driver(csms, scenario)
        result = await sim
    assert result.queued == 0 and result.given_up == 0
    stored = {s.transaction_id: s for s in await csms.services.sessions.list(charger_id="SIM1")}
    assert len(stored) == len(result.delivered)
    for done in result.delivered:
        session = stored[done.transaction_id]
        assert session.status is SessionStatus.ENDED
        assert session.energy_wh == done.energy_wh


@PROTOCOLS
async def test_local_charge_records_exactly_the_delivered_energy(
    csms: Csms, protocol: ProtocolVersion
) -> None:
    """local_charge ends one session whose energy is exactly the 2 kWh the simulator metered."""
    await add_charger(csms, "SIM1")
    await add_token(csms, "SIMTAG01")
    async with asyncio.timeout(30):
        result = await run(
            load("local_charge"), url=sim_url(csms), charger_id="SIM1", protocol=protocol
        )
    (delivered,) = result.delivered
    assert delivered.energy_wh == 2_000
    (session,) = await csms.services.sessions.list(charger_id="SIM1")
    assert session.status is SessionStatus.ENDED
    assert session.energy_wh == delivered.energy_wh
    assert session.transaction_id == delivered.transaction_id


@PROTOCOLS
async def test_meter_values_within_the_update_interval_journal_only_start_and_end(
    make_csms: MakeCsms, protocol: ProtocolVersion
) -> None:
    """With [sessions] update_interval longer than the charge, every meter value of local_charge
    is stored and counted, but the session journals only session.started and session.ended,
    and the ended event carries the delivered energy (ADR 0010)."""
    csms = await make_csms(sessions={"update_interval": 3600.0})
    await add_charger(csms, "SIM1")
    await add_token(csms, "SIMTAG01")
    events = csms.services.events.queue()
    async with asyncio.timeout(30):
        result = await run(
            load("local_charge"), url=sim_url(csms), charger_id="SIM1", protocol=protocol
        )
    (delivered,) = result.delivered
    (session,) = await csms.services.sessions.list(charger_id="SIM1")
    journaled = []  # published after their commit, before the charger got its answer
    while not events.empty():
        event = events.get_nowait()
        if event.name.startswith("session."):
            journaled.append(event)
    metered = [
        payload
        for action, payload in result.acknowledged
        if action == "MeterValues" or payload.get("eventType") == "Updated"
    ]
    periodic = [
        s.value
        for s in await csms.services.sessions.samples(session.id)
        if s.measurand == ENERGY and s.context == "Sample.Periodic"
    ]
    assert len(metered) >= 2 and len(periodic) == len(metered)  # every one stored
    assert [e.name for e in journaled] == ["session.started", "session.ended"]
    assert journaled[-1].data["energy_wh"] == session.energy_wh == delivered.energy_wh


@PROTOCOLS
async def test_remote_start_scenario_follows_csms_start_and_stop(
    csms: Csms, protocol: ProtocolVersion
) -> None:
    """remote_start charges after a CSMS start and ends on its stop, with exact energy stored."""
    await add_charger(csms, "SIM1")
    await add_token(csms, "APP")
    events = csms.services.events.queue()
    sessions = csms.services.sessions
    scenario = run(load("remote_start"), url=sim_url(csms), charger_id="SIM1", protocol=protocol)
    async with in_background(scenario) as sim, asyncio.timeout(30):
        await wait_event(events, ev.CHARGER_BOOTED)
        outcome = await sessions.start_session("SIM1", "APP", evse_id=1, connector_id=1)
        assert outcome.result.accepted
        # A remote stop ends the transaction at once: send it once the 1.5 kWh are metered.
        while (await sessions.get(outcome.session.id)).energy_wh < 1_500:
            await wait_event(events, ev.SESSION_UPDATED)  # the simulator's meter samples
        assert (await sessions.stop_session(outcome.session.id)).accepted
        result = await sim
    (delivered,) = result.delivered
    assert delivered.energy_wh == 1_500
    session = await sessions.get(outcome.session.id)
    assert session.status is SessionStatus.ENDED and session.stop_reason == "Remote"
    assert session.energy_wh == delivered.energy_wh


@PROTOCOLS
async def test_basic_auth_password_is_sent(csms: Csms, protocol: ProtocolVersion) -> None:
    """A charger registered with a password connects and charges when given that password."""
    await add_charger(csms, "SIM2", password="s3cret-pass")
    await add_token(csms, "SIMTAG01")
    async with asyncio.timeout(30):
        result = await run(
            load("local_charge"),
            url=sim_url(csms),
            charger_id="SIM2",
            protocol=protocol,
            password="s3cret-pass",
        )
    assert [d.energy_wh for d in result.delivered] == [2_000]


@PROTOCOLS
async def test_unknown_csms_action_gets_not_implemented(
    csms: Csms, protocol: ProtocolVersion
) -> None:
    """An action the simulator does not know is answered with a NotImplemented CALLERROR."""
    await add_charger(csms, "SIM1")
    events = csms.services.events.queue()
    scenario = run(load("remote_start"), url=sim_url(csms), charger_id="SIM1", protocol=protocol)
    async with in_background(scenario), asyncio.timeout(10):
        await wait_event(events, ev.CHARGER_BOOTED)
        result = await csms.services.bus.send("SIM1", RawCall("GetLocalListVersion", {}))
    assert result.error_code == "NotImplemented"


@PROTOCOLS
async def test_remote_start_before_plug_starts_when_the_ev_arrives(
    csms: Csms, protocol: ProtocolVersion
) -> None:
    """A remote start accepted with no EV plugged starts the transaction at the plug step."""
    await add_charger(csms, "SIM1")
    await add_token(csms, "APP")
    steps = ["boot", "wait_remote_start", "plug"]
    scenario = parse(
        {
            "charger": {"time_scale": 600.0, "power_kw": 22.0},
            "steps": [
                *({"action": a} for a in steps),
                {"action": "charge", "kwh": 0.5},
                {"action": "stop"},
                {"action": "unplug"},
            ],
        }
    )
    events = csms.services.events.queue()
    play = run(scenario, url=sim_url(csms), charger_id="SIM1", protocol=protocol)
    async with in_background(play) as sim, asyncio.timeout(30):
        await wait_event(events, ev.CHARGER_BOOTED)
        outcome = await csms.services.sessions.start_session("SIM1", "APP", connector_id=1)
        assert outcome.result.accepted
        result = await sim
    session = await csms.services.sessions.get(outcome.session.id)
    assert session.status is SessionStatus.ENDED
    assert session.energy_wh == result.delivered[0].energy_wh == 500


@PROTOCOLS
async def test_lost_answers_retries_three_messages_on_both_versions(
    csms: Csms, protocol: ProtocolVersion
) -> None:
    """lost_answers loses the answers to the start, one periodic sample and the stop on each
    version: three retries, yet one session with the exact energy."""
    await add_charger(csms, "SIM1")
    await add_token(csms, "SIMTAG01")
    async with asyncio.timeout(60):
        result = await run(
            load("lost_answers"), url=sim_url(csms), charger_id="SIM1", protocol=protocol
        )
    assert result.retried == 3 and result.given_up == 0 and result.queued == 0
    (delivered,) = result.delivered
    (session,) = await csms.services.sessions.list(charger_id="SIM1")
    assert session.status is SessionStatus.ENDED
    assert session.energy_wh == delivered.energy_wh == 900
