"""Resets, power cycles and device-model settings that change how the simulated charger behaves,
played against our real CSMS: sessions end with exact energy, the charger boots again."""

from __future__ import annotations

import asyncio
import binascii
from datetime import datetime

import pytest

from charger_sim.runner import ProtocolVersion
from csms.bootstrap import Csms
from csms.domain import commands as c
from csms.domain import events as ev
from csms.domain.credentials import hash_password
from csms.domain.events import DomainEvent
from csms.domain.model import SessionStatus
from tests.conftest import MakeCsms, add_charger, add_token, wait_event
from tests.sim.conftest import in_background
from tests.sim.csms_driver import (
    ask,
    charge,
    command,
    play,
    set_password_hash,
    status_of,
    steps,
    wait_call,
)

PROTOCOLS = pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
RUNNING = ("boot", "plug", "start")


@PROTOCOLS
async def test_reset_mid_transaction_ends_the_session_exactly_and_boots_again(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """A reset while charging (1.6 Soft, 2.0.1 Immediate) stops the transaction with the reset
    reason and exact energy, then the charger reconnects and boots (2.0.1 reason RemoteReset)."""
    kind, reason = ("Soft", "SoftReset") if protocol == "1.6" else ("Immediate", "ImmediateReset")
    events = sim1.services.events.queue()
    # 10 MWh would take the charger 45 wall minutes: the reset lands mid-charge, however slow.
    script = steps(*RUNNING, charge(10_000.0), wait_call("Reset"), "unplug")
    async with in_background(play(sim1, protocol, script)) as sim, asyncio.timeout(20):
        started = await wait_event(events, ev.SESSION_STARTED)
        while (await sim1.services.sessions.get(started.subject)).energy_wh < 300:
            await wait_event(events, ev.SESSION_UPDATED)  # charging: samples arrive
        assert (await ask(sim1, protocol, "Reset", {"type": kind}))["status"] == "Accepted"
        await wait_event(events, ev.CHARGER_OFFLINE)
        rebooted = await wait_event(events, ev.CHARGER_BOOTED)
        result = await sim
    assert rebooted.data["reason"] == (None if protocol == "1.6" else "RemoteReset")
    (delivered,) = result.delivered
    assert 300 <= delivered.energy_wh < 10_000_000, "the reset ended the charge early"
    session = await sim1.services.sessions.get(started.subject)
    assert session.status is SessionStatus.ENDED and session.stop_reason == reason
    assert session.energy_wh == delivered.energy_wh
    assert result.connects == 2 and result.queued == 0


async def test_reset_on_idle_is_scheduled_until_the_transaction_ends(sim1: Csms) -> None:
    """2.0.1 Reset OnIdle during a transaction is Scheduled; the station reboots once it ended."""
    events = sim1.services.events.queue()
    script = steps(*RUNNING, wait_call("Reset"), "unplug")
    async with in_background(play(sim1, "2.0.1", script)) as sim, asyncio.timeout(20):
        started = await wait_event(events, ev.SESSION_STARTED)
        assert (await command(sim1, "2.0.1", c.Reset(hard=False)))["status"] == "Scheduled"
        assert (await sim1.services.sessions.stop_session(started.subject)).accepted
        await wait_event(events, ev.SESSION_ENDED)
        rebooted = await wait_event(events, ev.CHARGER_BOOTED)
        result = await sim
    assert rebooted.data["reason"] == "RemoteReset" and result.connects == 2
    session = await sim1.services.sessions.get(started.subject)
    assert session.stop_reason == "Remote" and session.energy_wh == result.delivered[0].energy_wh


@pytest.mark.parametrize(
    ("protocol", "payload", "told"),
    [
        ("1.6", {"type": "Hard"}, True),
        ("2.0.1", {"type": "Immediate"}, True),
        ("2.0.1", {"type": "Immediate", "evseId": 1}, False),
    ],
    ids=["1.6-told", "2.0.1-told", "2.0.1-one-evse"],
)
async def test_reset_is_rejected_when_told_or_for_one_evse(
    sim1: Csms, protocol: ProtocolVersion, payload: dict[str, object], told: bool
) -> None:
    """reject_reset makes Reset Rejected; 2.0.1 cannot reset a single EVSE (Rejected too)."""
    events = sim1.services.events.queue()
    play_ = play(sim1, protocol, steps("boot", wait_call("Reset")), reject_reset=told)
    async with in_background(play_) as sim, asyncio.timeout(20):
        await wait_event(events, ev.CHARGER_BOOTED)
        assert (await ask(sim1, protocol, "Reset", payload))["status"] == "Rejected"
        result = await sim
    assert result.connects == 1


@PROTOCOLS
async def test_power_loss_reboot_ends_the_session_with_reason_power_loss(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """A power cycle mid-transaction: the charger boots, then stops it with PowerLoss, exactly."""
    events = sim1.services.events.queue()
    script = steps(*RUNNING, charge(1.0), "reboot", "unplug")
    async with asyncio.timeout(20):
        result = await play(sim1, protocol, script)
    (delivered,) = result.delivered
    (session,) = await sim1.services.sessions.list(charger_id="SIM1")
    assert session.status is SessionStatus.ENDED and session.stop_reason == "PowerLoss"
    assert session.energy_wh == delivered.energy_wh == 1_000
    seen = [e.name for e in drain(events) if e.name.startswith("chargestation.")]
    assert seen.count(ev.CHARGER_BOOTED) == 2 and ev.CHARGER_OFFLINE in seen
    assert result.connects == 2 and result.queued == 0


@PROTOCOLS
async def test_changed_heartbeat_interval_changes_the_heartbeat_period(
    make_csms: MakeCsms, protocol: ProtocolVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The boot's hour is the charger's HeartbeatInterval; after ChangeConfiguration
    HeartbeatInterval=1 (2.0.1 SetVariables OCPPCommCtrlr.HeartbeatInterval) it reads back 1 and
    heartbeats keep arriving, where the hour would have sent none during the test."""
    csms = await make_csms(ocpp={"heartbeat_interval": 3600})
    await add_charger(csms, "SIM1")
    beats: asyncio.Queue[datetime] = asyncio.Queue()
    heartbeat = csms.services.chargers.heartbeat

    def spy(charger_id: str) -> datetime:
        beats.put_nowait(now := heartbeat(charger_id))
        return now

    monkeypatch.setattr(csms.services.chargers, "heartbeat", spy)
    key = "HeartbeatInterval" if protocol == "1.6" else "OCPPCommCtrlr.HeartbeatInterval"
    events = csms.services.events.queue()
    play_ = play(csms, protocol, steps("boot", wait_call("ClearCache")))
    async with in_background(play_) as sim, asyncio.timeout(20):
        await wait_event(events, ev.CHARGER_BOOTED)
        assert await heartbeat_interval(csms, protocol) == "3600"  # the boot's interval took
        answer = await command(csms, protocol, c.ChangeConfiguration(key, "1"))
        assert status_of(answer) == "Accepted"
        assert await heartbeat_interval(csms, protocol) == "1"
        for _ in range(2):  # a restarted heartbeat: beat after beat, not a single one
            await beats.get()
        await ask(csms, protocol, "ClearCache", {})
        await sim


@PROTOCOLS
async def test_remote_start_without_ev_is_dropped_after_the_connection_timeout(
    make_csms: MakeCsms, protocol: ProtocolVersion
) -> None:
    """A remote start nobody plugs in for is dropped after the ConnectionTimeOut the CSMS set
    (2.0.1 TxCtrlr.EVConnectionTimeOut); the EV plugged later starts nothing; the CSMS cancels."""
    csms = await make_csms(sessions={"plugin_timeout": 1.0})
    await add_charger(csms, "SIM1")
    await add_token(csms, "APP")
    key = "ConnectionTimeOut" if protocol == "1.6" else "TxCtrlr.EVConnectionTimeOut"
    waits = [wait_call("ChangeConfiguration" if protocol == "1.6" else "SetVariables")]
    dropped = {"action": "wait_remote_start_timeout", "timeout": 5}
    script = steps("boot", *waits, "wait_remote_start", dropped, "plug", "unplug")
    events = csms.services.events.queue()
    # 10 simulated hours (a minute of wall time) unless the CSMS shortens it to one minute.
    play_ = play(csms, protocol, script, ev_connection_timeout=36_000.0)
    async with in_background(play_) as sim, asyncio.timeout(20):
        await wait_event(events, ev.CHARGER_BOOTED)
        answer = await command(csms, protocol, c.ChangeConfiguration(key, "60"))
        assert status_of(answer) == "Accepted"
        outcome = await csms.services.sessions.start_session("SIM1", "APP", connector_id=1)
        assert outcome.result.accepted
        result = await sim
        cancelled = await wait_event(events, ev.SESSION_CANCELLED)
    assert result.delivered == ()
    assert cancelled.subject == outcome.session.id
    assert (await csms.services.sessions.get(outcome.session.id)).status is SessionStatus.CANCELLED


@PROTOCOLS
async def test_rotated_password_is_used_on_the_next_reconnect(
    csms: Csms, protocol: ProtocolVersion
) -> None:
    """The CSMS sets a new Basic auth password (1.6 AuthorizationKey hex-encoded, 2.0.1
    SecurityCtrlr.BasicAuthPassword): the charger reconnects with it; a short one is Rejected."""
    old, new = "first-password-0001", "second-password-002"
    await add_charger(csms, "SIM1", password=old)
    if protocol == "1.6":
        key, value, bad = "AuthorizationKey", _hex(new), _hex("too-short")
    else:
        key, value, bad = "SecurityCtrlr.BasicAuthPassword", new, "too-short"
    events = csms.services.events.queue()
    waits = [wait_call("ChangeConfiguration" if protocol == "1.6" else "SetVariables")] * 2
    play_ = play(csms, protocol, steps("boot", *waits, wait_call("ClearCache")), password=old)
    async with in_background(play_) as sim, asyncio.timeout(20):
        await wait_event(events, ev.CHARGER_BOOTED)
        refused = await command(csms, protocol, c.ChangeConfiguration(key, bad))
        assert status_of(refused) == "Rejected"
        await set_password_hash(csms, hash_password(new))  # only the new one gets in from now
        answer = await command(csms, protocol, c.ChangeConfiguration(key, value))
        assert status_of(answer) == "Accepted"
        await wait_event(events, ev.CHARGER_OFFLINE)
        await wait_event(events, ev.CHARGER_ONLINE)
        await ask(csms, protocol, "ClearCache", {})  # over the new connection
        result = await sim
    assert result.connects == 2


async def heartbeat_interval(csms: Csms, protocol: ProtocolVersion) -> str:
    """The charger's HeartbeatInterval as it reports it (GetConfiguration / GetVariables)."""
    if protocol == "1.6":
        answer = await ask(csms, protocol, "GetConfiguration", {"key": ["HeartbeatInterval"]})
        (entry,) = answer["configurationKey"]
        return str(entry["value"])
    item = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    answer = await ask(csms, protocol, "GetVariables", {"getVariableData": [item]})
    (result,) = answer["getVariableResult"]
    return str(result["attributeValue"])


def _hex(password: str) -> str:
    return binascii.hexlify(password.encode()).decode()


def drain(events: asyncio.Queue[DomainEvent]) -> list[DomainEvent]:
    seen = []
    while not events.empty():
        seen.append(events.get_nowait())
    return seen
