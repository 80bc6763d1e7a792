"""Outages, retries and faults played by the simulator against our CSMS: nothing lost, no doubles."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from charger_sim.runner import ProtocolVersion, SimError
from csms.bootstrap import Csms
from csms.domain import events as ev
from csms.domain.model import Session, SessionStatus
from tests.conftest import MakeCsms, add_charger, add_token, wait_event
from tests.faults import acknowledged_register_samples, register_samples
from tests.sim.conftest import in_background
from tests.sim.csms_driver import CHARGER, charge, play, steps

ENERGY = "Energy.Active.Import.Register"
PROTOCOLS = pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])


async def only_session(csms: Csms) -> Session:
    sessions = await csms.services.sessions.list(charger_id=CHARGER)
    assert len(sessions) == 1, f"expected one session, got {len(sessions)}"
    return sessions[0]


@PROTOCOLS
async def test_messages_of_an_outage_are_replayed_in_order_with_exact_energy(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """Meter values and the stop made offline reach the CSMS after the outage; energy is exact."""
    result = await play(
        sim1,
        protocol,
        steps(
            "boot", "plug", "authorize", "start", charge(0.5),
            "go_offline", charge(1.0), "stop", "unplug", "come_back",
        ),
    )  # fmt: skip
    assert result.queued == 0 and result.given_up == 0
    (delivered,) = result.delivered
    session = await only_session(sim1)
    assert session.status is SessionStatus.ENDED
    assert session.energy_wh == delivered.energy_wh == 1_500
    assert session.transaction_id == delivered.transaction_id
    assert session.offline is (protocol == "2.0.1")  # 2.0.1 flags replayed events offline
    # Every periodic register sample arrived, the offline ones in order with their own times.
    samples = await sim1.services.sessions.samples(session.id)
    periodic = [s for s in samples if s.context == "Sample.Periodic" and s.measurand == ENERGY]
    assert [s.value for s in periodic][-5:] == [5_367, 5_500, 5_867, 6_234, 6_500]
    stamps = [s.timestamp for s in periodic[-5:]]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5


@PROTOCOLS
async def test_a_transaction_started_offline_is_recorded_once_with_exact_energy(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """A whole transaction made offline (1.6 under a placeholder id) is stored once, exactly."""
    result = await play(
        sim1,
        protocol,
        steps("boot", "go_offline", "plug", "start", charge(1.2), "stop", "unplug", "come_back"),
    )
    (delivered,) = result.delivered
    assert not delivered.transaction_id.startswith("-"), "the placeholder id was not resolved"
    session = await only_session(sim1)
    assert session.status is SessionStatus.ENDED
    assert session.energy_wh == delivered.energy_wh == 1_200
    assert session.transaction_id == delivered.transaction_id


@PROTOCOLS
@pytest.mark.parametrize("lost", ["start", "meter", "stop"])
@pytest.mark.parametrize("link", ["kept", "dropped"])
async def test_a_lost_answer_is_retried_without_a_duplicate(
    sim1: Csms, protocol: ProtocolVersion, lost: str, link: str
) -> None:
    """The CSMS sees a retried Start/MeterValues/Stop twice yet stores one session, exact energy.

    Field lesson 3 (SteVe #81, #955): the answer is lost after the CSMS stored and sent it, on
    a link that stays up (the retry follows the call timeout) or that dies with the answer (the
    retry follows the reconnect); a repeated 1.6 StartTransaction gets the same transactionId.
    """
    action = {
        ("1.6", "start"): "StartTransaction",
        ("1.6", "meter"): "MeterValues",
        ("1.6", "stop"): "StopTransaction",
    }.get((protocol, lost), "TransactionEvent")
    fault = {"action": "lose_answer", "message": action, "drop_link": link == "dropped"}
    before: dict[str, list[str | dict[str, Any]]] = {
        "start": ["boot", "plug", fault, "start"],
        "meter": ["boot", "plug", "start", fault],
    }
    head: list[str | dict[str, Any]] = before.get(lost, ["boot", "plug", "start"])
    tail = [fault, "stop"] if lost == "stop" else ["stop"]
    result = await play(sim1, protocol, steps(*head, charge(0.8), *tail, "wait_queue", "unplug"))
    assert result.given_up == 0
    # kept: one attempt timed out and was retried; dropped: resent after the reconnect
    assert (result.retried, result.connects) == ((1, 1) if link == "kept" else (0, 2))
    (delivered,) = result.delivered
    session = await only_session(sim1)
    assert session.status is SessionStatus.ENDED
    assert session.energy_wh == delivered.energy_wh == 800
    # The transactionId the retry got (1.6: the CSMS's) is that of the one stored session.
    assert session.transaction_id == delivered.transaction_id
    stored = register_samples(await sim1.services.sessions.samples(session.id))
    assert stored == acknowledged_register_samples(result)


@PROTOCOLS
async def test_a_connection_dropped_mid_transaction_reconnects_and_loses_nothing(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """After a drop without close, the simulator reconnects by itself and the energy is exact."""
    result = await play(
        sim1,
        protocol,
        steps(
            "boot", "plug", "start", charge(0.3), "drop", charge(0.6),
            "wait_queue", "stop", "unplug",
        ),
    )  # fmt: skip
    assert result.connects == 2
    (delivered,) = result.delivered
    session = await only_session(sim1)
    assert session.energy_wh == delivered.energy_wh == 900
    assert session.status is SessionStatus.ENDED


@PROTOCOLS
async def test_the_queue_survives_a_restart_of_the_simulator(
    sim1: Csms, protocol: ProtocolVersion, tmp_path: Path
) -> None:
    """Messages queued when a run ends offline are delivered by the next run from the file."""
    queue_file = tmp_path / "sim1-queue.json"
    first = await play(
        sim1,
        protocol,
        steps("boot", "plug", "start", "go_offline", charge(0.7), "stop", "unplug"),
        queue_file=queue_file,
    )
    assert first.queued > 0
    session = await only_session(sim1)
    assert session.status is not SessionStatus.ENDED
    second = await play(sim1, protocol, steps("boot", "wait_queue"), queue_file=queue_file)
    assert second.queued == 0
    session = await only_session(sim1)
    assert session.status is SessionStatus.ENDED
    assert session.energy_wh == first.delivered[0].energy_wh == 700


@PROTOCOLS
async def test_a_malformed_frame_gets_a_callerror_and_the_connection_stays_up(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """send_raw with broken JSON expects the CSMS's CALLERROR; the charger then goes on."""
    code = "FormationViolation" if protocol == "1.6" else "RpcFrameworkError"
    result = await play(
        sim1,
        protocol,
        steps(
            "boot",
            {"action": "send_raw", "frame": '[2, "m1", "Heartbeat", {', "expect_error": code},
            {"action": "call", "message": "Heartbeat", "payload": {}},
        ),
    )
    assert result.connects == 1


@PROTOCOLS
async def test_a_wrong_callerror_expectation_fails_the_step(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """A call answered with another CALLERROR than expected fails naming the step and codes."""
    bad_call = {
        "action": "call",
        "message": "StatusNotification",
        "payload": {"nonsense": True},
        "expect_error": "NotImplemented",
    }
    with pytest.raises(
        SimError, match=r"steps\[1\] \(call\): expected CALLERROR code 'NotImplemented'"
    ):
        await play(sim1, protocol, steps("boot", bad_call))


@PROTOCOLS
async def test_a_skewed_clock_shows_in_the_stored_start_time(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """clock_skew_s moves every timestamp the charger sends; the CSMS stores the charger's time."""
    skew = timedelta(days=-1)
    before = datetime.now(UTC)
    await play(
        sim1,
        protocol,
        steps("boot", "plug", "start", charge(0.1), "stop"),
        clock_skew_s=skew.total_seconds(),
    )
    after = datetime.now(UTC)
    session = await only_session(sim1)
    assert session.session_start is not None
    # Stamped during the run, a day early (to the millisecond the charger sends): however slow
    # the run, never outside it.
    assert before + skew - timedelta(milliseconds=1) <= session.session_start <= after + skew


@PROTOCOLS
async def test_a_charger_without_subprotocol_is_refused_unless_allowed(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """send_subprotocol=false is refused in the handshake; allowed for that charger, it charges."""
    with pytest.raises(SimError, match="connect to"):
        await play(sim1, protocol, steps("boot"), send_subprotocol=False)
    await add_charger(sim1, "SIM1", allow_missing_subprotocol=True)
    # The CSMS then speaks its default version; a 1.6 charger is the one that can talk to it.
    if protocol == "1.6":
        result = await play(
            sim1,
            protocol,
            steps("boot", "plug", "start", charge(0.2), "stop"),
            send_subprotocol=False,
        )
        assert [d.energy_wh for d in result.delivered] == [200]


async def test_slow_answers_past_the_csms_timeout_fail_the_remote_start(
    make_csms: MakeCsms,
) -> None:
    """A charger answering later than the CSMS's call timeout makes the remote start time out."""
    csms = await make_csms(ocpp={"call_timeout": 0.3})
    await add_charger(csms, "SIM1")
    await add_token(csms, "APP")
    events = csms.services.events.queue()
    script = steps("boot", {"action": "wait_remote_start", "timeout": 10})
    async with in_background(play(csms, "1.6", script, answer_delay=1.0)), asyncio.timeout(10):
        await wait_event(events, ev.CHARGER_BOOTED)
        outcome = await csms.services.sessions.start_session("SIM1", "APP", connector_id=1)
    assert not outcome.result.accepted
