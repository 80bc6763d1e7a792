"""Answer first, then act: what a CSMS call sets off reaches the CSMS after the call's answer.

The strict test CSMS handles frames in the order they arrive and places each answer among the
charger's own CALLs (``StrictCsms.answered``), so these tests read the order on the wire, not
the clock. The charger holds every answer back (``answer_delay``): a charger acting before it
answers would send its StartTransaction or StopTransaction in that time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from charger_sim.runner import ProtocolVersion, RunResult, run
from charger_sim.scenario import parse
from tests.sim.conftest import in_background
from tests.sim.strict_csms import Received, StrictCsms, running_strict_csms

PROTOCOLS = pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
CHARGER = "SIM1"
SLOW = {"time_scale": 600.0, "answer_delay": 0.3, "call_timeout": 5.0}
TIMEOUT = 30


@pytest.fixture
async def strict() -> AsyncIterator[StrictCsms]:
    async with running_strict_csms() as csms:
        yield csms


def play(csms: StrictCsms, protocol: ProtocolVersion, *actions: Any) -> Any:
    """The run of ``actions`` (names or step tables) as SIM1 with slow answers, not started."""
    steps = [{"action": a} if isinstance(a, str) else a for a in actions]
    scenario = parse({"charger": SLOW, "steps": steps})
    url = f"ws://127.0.0.1:{csms.port}/ocpp"
    return run(scenario, url=url, charger_id=CHARGER, protocol=protocol)


def where(csms: StrictCsms, action: str, event_type: str | None = None) -> int:
    """The place of the charger's first ``action`` CALL (of ``event_type``) among its CALLs."""
    for index, call in enumerate(csms.received(CHARGER)):
        if call.action == action and call.payload.get("eventType", event_type) == event_type:
            return index
    raise AssertionError(f"no {action} {event_type or ''} reached the CSMS")


def answered_after(csms: StrictCsms, action: str) -> int:
    """How many of the charger's CALLs had arrived when its answer to our ``action`` came."""
    (answer,) = [a for a in csms.answered(CHARGER) if a.action == action]
    return answer.after


def _plugged(payload: dict[str, Any]) -> bool:
    return payload.get("status") == "Preparing" or payload.get("connectorStatus") == "Occupied"


def _sample(payload: dict[str, Any]) -> bool:
    """A periodic sample of the transaction: by then the charger knows its 1.6 id."""
    return "transactionId" in payload or payload.get("triggerReason") == "MeterValuePeriodic"


def _transaction_id(sample: Received) -> Any:
    return sample.payload.get("transactionId") or sample.payload["transactionInfo"]["transactionId"]


@PROTOCOLS
async def test_a_remote_start_is_answered_before_the_transaction_starts(
    strict: StrictCsms, protocol: ProtocolVersion
) -> None:
    """With the EV plugged and slow answers, RemoteStart/RequestStartTransaction's Accepted
    reaches the CSMS before the StartTransaction (2.0.1 TransactionEvent Started)."""
    if protocol == "1.6":
        start = ("RemoteStartTransaction", {"idTag": "APP", "connectorId": 1})
        began: tuple[str, ...] = ("StartTransaction",)
    else:
        token = {"idToken": "APP", "type": "Central"}
        start = ("RequestStartTransaction", {"idToken": token, "remoteStartId": 1, "evseId": 1})
        began = ("TransactionEvent", "Started")
    waiting = [{"action": "wait_remote_start", "timeout": 10}, {"action": "idle", "seconds": 6000}]
    async with (
        in_background(play(strict, protocol, "boot", "plug", *waiting)),
        asyncio.timeout(TIMEOUT),
    ):
        await strict.wait_for(CHARGER, "StatusNotification", _plugged)
        assert (await strict.call(CHARGER, *start))["status"] == "Accepted"
        await strict.wait_for(CHARGER, began[0])  # while the charger idles
    assert answered_after(strict, start[0]) <= where(strict, *began)
    assert strict.violations == []


@PROTOCOLS
async def test_a_remote_stop_is_answered_before_the_transaction_ends(
    strict: StrictCsms, protocol: ProtocolVersion
) -> None:
    """With slow answers, RemoteStop/RequestStopTransaction's Accepted reaches the CSMS before
    the StopTransaction (2.0.1 TransactionEvent Ended)."""
    if protocol == "1.6":
        ended: tuple[str, ...] = ("StopTransaction",)
        stop, sampled = "RemoteStopTransaction", "MeterValues"
    else:
        stop, sampled = "RequestStopTransaction", "TransactionEvent"
        ended = ("TransactionEvent", "Ended")
    charge = {"action": "charge", "kwh": 0.1}
    waiting = {"action": "wait_remote_stop", "timeout": 10}
    sim: asyncio.Task[RunResult]
    async with (
        in_background(play(strict, protocol, "boot", "plug", "start", charge, waiting)) as sim,
        asyncio.timeout(TIMEOUT),
    ):
        sample = await strict.wait_for(CHARGER, sampled, _sample)
        stopping = {"transactionId": _transaction_id(sample)}
        assert (await strict.call(CHARGER, stop, stopping))["status"] == "Accepted"
        result = await sim
    assert len(result.delivered) == 1
    assert answered_after(strict, stop) <= where(strict, *ended)
    assert strict.violations == []


async def test_unlock_is_answered_before_the_transaction_it_ends_is_stopped(
    strict: StrictCsms,
) -> None:
    """1.6 UnlockConnector on a charging connector answers Unlocked first, then the
    StopTransaction (reason UnlockCommand) follows: its round trip never delays the answer."""
    wait = {"action": "wait_call", "message": "UnlockConnector", "timeout": 10}
    sim: asyncio.Task[RunResult]
    async with (
        in_background(play(strict, "1.6", "boot", "plug", "start", wait, "unplug")) as sim,
        asyncio.timeout(TIMEOUT),
    ):
        await strict.wait_for(CHARGER, "StartTransaction")
        answer = await strict.call(CHARGER, "UnlockConnector", {"connectorId": 1})
        assert answer == {"status": "Unlocked"}
        await sim
    stop = await strict.wait_for(CHARGER, "StopTransaction")
    assert stop.payload["reason"] == "UnlockCommand"
    assert answered_after(strict, "UnlockConnector") <= where(strict, "StopTransaction")
    assert strict.violations == []
