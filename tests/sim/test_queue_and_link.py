"""The transaction queue and the link at their edges, against the strict test CSMS."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from charger_sim.runner import ProtocolVersion, RunResult, run
from charger_sim.scenario import parse
from tests.sim.strict_csms import StrictCsms, running_strict_csms

PROTOCOLS = pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
QUICK: dict[str, Any] = {
    "time_scale": 600.0,
    "call_timeout": 0.5,
    "message_retry_interval": 0.05,
    "reconnect_min": 0.05,
    "reconnect_max": 0.1,
    "reconnect_random": 0.0,
}
STOPS = {"1.6": "StopTransaction", "2.0.1": "TransactionEvent"}


async def play(
    csms: StrictCsms, protocol: ProtocolVersion, *actions: str | dict[str, Any], **kw: Any
) -> RunResult:
    steps = [{"action": a} if isinstance(a, str) else a for a in actions]
    scenario = parse({"charger": QUICK, "steps": steps})
    async with asyncio.timeout(30):
        return await run(
            scenario,
            url=f"ws://127.0.0.1:{csms.port}/ocpp",
            charger_id="SIM1",
            protocol=protocol,
            **kw,
        )


@PROTOCOLS
async def test_queued_messages_wait_for_an_accepted_boot(
    tmp_path: Path, protocol: ProtocolVersion
) -> None:
    """Messages left in the queue file go out only after the next BootNotification is accepted."""
    queue_file = tmp_path / "queue.json"
    async with running_strict_csms() as csms:
        first = await play(
            csms, protocol, "boot", "plug", "start", "go_offline", "stop", queue_file=queue_file
        )
    assert first.queued > 0
    async with running_strict_csms(boot_statuses=["Pending", "Pending"]) as csms:
        second = await play(csms, protocol, "boot", "wait_queue", queue_file=queue_file)
        log = [(r.action, (r.answer or {}).get("status")) for r in csms.received("SIM1")]
    assert second.queued == 0 and second.given_up == 0
    assert csms.violations == []  # nothing was sent before the boot was accepted
    accepted = log.index(("BootNotification", "Accepted"))
    assert [action for action, _ in log[:accepted]] == ["BootNotification"] * 2  # Pending, Pending
    assert STOPS[protocol] in [action for action, _ in log[accepted:]]


async def test_going_offline_during_the_reconnect_back_off_stays_offline() -> None:
    """go_offline right after a drop holds the link down until come_back, back-off or not."""
    async with running_strict_csms() as csms:
        await play(
            csms,
            "2.0.1",
            "boot",
            "plug",
            "drop",
            "go_offline",
            {"action": "idle", "seconds": 300},  # half a second: the back-off is 0.05 s
            "start",
            "stop",
            "come_back",
        )
        events = [r.payload for r in csms.received("SIM1") if r.action == "TransactionEvent"]
    # Made while held offline: a link that came back by itself would have sent them online.
    assert [e["eventType"] for e in events] == ["Started", "Ended"]
    assert all(e.get("offline") is True for e in events)


async def test_a_1_6_start_that_is_given_up_takes_its_transaction_with_it() -> None:
    """When an offline start's StartTransaction is given up, its meter values and stop are too."""
    async with running_strict_csms(silent_on=frozenset({"StartTransaction"})) as csms:
        result = await play(
            csms,
            "1.6",
            "boot",
            "go_offline",
            "plug",
            "start",
            {"action": "charge", "kwh": 0.1},  # one sample at 11 kW
            "stop",
            "come_back",
        )
        sent = [r.action for r in csms.received("SIM1")]
    assert sent.count("StartTransaction") == 3  # message_attempts
    assert "MeterValues" not in sent and "StopTransaction" not in sent
    assert result.given_up == 1 + 1 + 1  # the start, its one meter value and its stop
    assert csms.violations == []
