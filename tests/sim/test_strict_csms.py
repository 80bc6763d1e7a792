"""The simulator against a strict CSMS: every frame schema-valid, every timestamp conformant.

Each shipped scenario plays on both OCPP versions against :mod:`tests.sim.strict_csms`. A
scenario whose steps wait for the CSMS (``scenario.CSMS_WAITS``) needs a driver in ``DRIVERS`` that plays
the CSMS part; add one there when you add such a scenario (one without fails at once, naming
the fix). A simulator defect the strict CSMS finds goes in ``KNOWN_DEFECTS`` (a strict xfail)
until fixed. A scenario that breaks rules on purpose (``send_raw``, ``call`` with
``expect_error``) will show its frames as violations and needs an allowance here. The last tests
prove the checker itself fails on bad frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from decimal import Decimal
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from charger_sim.runner import ProtocolVersion, RunResult, run
from charger_sim.scenario import CSMS_WAITS, SCENARIO_DIR, Scenario, load, parse
from tests.sim.conftest import in_background
from tests.sim.strict_csms import (
    SCHEMA_DIRS,
    SUBPROTOCOLS,
    ChargerCallError,
    Received,
    StrictCsms,
    check_timestamp,
    running_strict_csms,
)

Driver = Callable[[StrictCsms, str, ProtocolVersion], Coroutine[Any, Any, None]]
PROTOCOLS: tuple[ProtocolVersion, ...] = ("1.6", "2.0.1")
CHARGER = "SIM1"
PLAY_TIMEOUT = 60.0  # above the shipped scenarios' own step timeouts (30 s)
ENERGY = "Energy.Active.Import.Register"
# Scenario and protocol pairs that send something the strict CSMS refuses, with the defect.
KNOWN_DEFECTS: dict[tuple[str, ProtocolVersion], str] = {}


# -- drivers: the CSMS part of a scenario ------------------------------------------------------


async def remote_start_then_stop(
    csms: StrictCsms, charger_id: str, protocol: ProtocolVersion
) -> None:
    """Start remotely once booted; stop remotely once the transaction has sent a meter sample."""
    await csms.wait_for(charger_id, "BootNotification")
    if protocol == "1.6":
        start = await csms.call(
            charger_id, "RemoteStartTransaction", {"idTag": "APP", "connectorId": 1}
        )
        sample = await csms.wait_for(charger_id, "MeterValues", lambda p: "transactionId" in p)
        stop = ("RemoteStopTransaction", {"transactionId": sample.payload["transactionId"]})
    else:
        token = {"idToken": "APP", "type": "Central"}
        request = {"idToken": token, "remoteStartId": 1, "evseId": 1}
        start = await csms.call(charger_id, "RequestStartTransaction", request)
        sample = await csms.wait_for(charger_id, "TransactionEvent", _is_periodic_sample)
        tx_id = sample.payload["transactionInfo"]["transactionId"]
        stop = ("RequestStopTransaction", {"transactionId": tx_id})
    assert start["status"] == "Accepted"
    assert (await csms.call(charger_id, *stop))["status"] == "Accepted"


DRIVERS: dict[str, Driver] = {
    "remote_start": remote_start_then_stop,
    "remote_start_first": remote_start_then_stop,  # the start arrives before the EV: same CSMS part
}


def _is_periodic_sample(payload: dict[str, Any]) -> bool:
    return (
        payload.get("eventType") == "Updated"
        and payload.get("triggerReason") == "MeterValuePeriodic"
    )


def driver_for(scenario: Scenario) -> Driver | None:
    """The scenario's driver; fails the test at once if it waits for the CSMS and has none."""
    waits = sorted({step.action for step in scenario.steps} & CSMS_WAITS)
    if scenario.name in DRIVERS:
        return DRIVERS[scenario.name]
    if waits:
        pytest.fail(
            f"scenario {scenario.name!r} waits for the CSMS ({', '.join(waits)}) but has no "
            "driver: add one to DRIVERS in tests/sim/test_strict_csms.py"
        )
    return None


async def play(csms: StrictCsms, scenario: Scenario, protocol: ProtocolVersion) -> RunResult:
    """Run ``scenario`` as SIM1 with its driver, all within ``PLAY_TIMEOUT``."""
    driver = driver_for(scenario)
    url = f"ws://127.0.0.1:{csms.port}/ocpp"
    try:
        async with asyncio.timeout(PLAY_TIMEOUT), asyncio.TaskGroup() as group:
            sim = group.create_task(run(scenario, url=url, charger_id=CHARGER, protocol=protocol))
            if driver is not None:
                group.create_task(driver(csms, CHARGER, protocol))
    except TimeoutError:
        pytest.fail(f"scenario {scenario.name!r} ({protocol}) did not finish in {PLAY_TIMEOUT} s")
    return sim.result()


# -- what the strict CSMS saw ------------------------------------------------------------------


def seen_energy(
    received: list[Received], protocol: ProtocolVersion
) -> dict[str, tuple[int | None, int]]:
    """Transaction id -> (start Wh or None if unseen, stop Wh) of the transactions that ended."""
    starts: dict[str, int] = {}
    seen: dict[str, tuple[int | None, int]] = {}
    for call in received:
        payload = call.payload
        if protocol == "1.6" and call.action == "StartTransaction" and call.answer:
            starts[str(call.answer["transactionId"])] = payload["meterStart"]
        elif protocol == "1.6" and call.action == "StopTransaction":
            tx_id = str(payload["transactionId"])
            seen[tx_id] = (starts.get(tx_id), payload["meterStop"])
        elif protocol == "2.0.1" and call.action == "TransactionEvent":
            tx_id = payload["transactionInfo"]["transactionId"]
            if payload["eventType"] == "Started":
                starts[tx_id] = _register_wh(payload)
            elif payload["eventType"] == "Ended":
                seen[tx_id] = (starts.get(tx_id), _register_wh(payload))
    return seen


def _register_wh(event: dict[str, Any]) -> int:
    """The one energy register reading of a 2.0.1 TransactionEvent, in Wh."""
    (wh,) = [
        _wh(sample)
        for meter_value in event["meterValue"]
        for sample in meter_value["sampledValue"]
        if sample.get("measurand", ENERGY) == ENERGY and "phase" not in sample
    ]
    return wh


def _wh(sample: dict[str, Any]) -> int:
    unit = sample.get("unitOfMeasure", {})
    scale = Decimal(1000 if unit.get("unit", "Wh") == "kWh" else 1).scaleb(
        unit.get("multiplier", 0)
    )
    return int(Decimal(str(sample["value"])) * scale)


def _scenario_params() -> list[Any]:
    return [
        pytest.param(
            path.stem,
            protocol,
            marks=[pytest.mark.xfail(strict=True, reason=reason)]
            if (reason := KNOWN_DEFECTS.get((path.stem, protocol)))
            else [],
        )
        for path in sorted(SCENARIO_DIR.glob("*.toml"))
        for protocol in PROTOCOLS
    ]


@pytest.fixture
async def strict() -> AsyncIterator[StrictCsms]:
    async with running_strict_csms() as csms:
        yield csms


# -- the simulator against it ------------------------------------------------------------------


@pytest.mark.parametrize(("name", "protocol"), _scenario_params())
async def test_shipped_scenario_sends_valid_frames_and_the_energy_it_delivered(
    strict: StrictCsms, name: str, protocol: ProtocolVersion
) -> None:
    """A shipped scenario breaks no schema, framing or time rule; its meter readings add up."""
    result = await play(strict, load(name), protocol)
    assert strict.violations == []
    expected = {d.transaction_id: (d.meter_start_wh, d.meter_stop_wh) for d in result.delivered}
    assert seen_energy(strict.received(CHARGER), protocol) == expected


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_lost_answers_sends_the_start_a_sample_and_the_stop_twice(
    strict: StrictCsms, protocol: ProtocolVersion
) -> None:
    """Each answer lost_answers loses makes the charger send that very message again: the start,
    one periodic sample and the stop, in 1.6 and in 2.0.1 alike; nothing else twice."""
    result = await play(strict, load("lost_answers"), protocol)
    frames = Counter(json.dumps([c.action, c.payload]) for c in strict.received(CHARGER))
    assert max(frames.values()) == 2
    twice = [_label(*json.loads(frame)) for frame, sent in frames.items() if sent == 2]
    expected = {
        "1.6": ["StartTransaction", "MeterValues Sample.Periodic", "StopTransaction"],
        "2.0.1": ["Started Authorized", "Updated MeterValuePeriodic", "Ended StopAuthorized"],
    }
    assert twice == expected[protocol]
    assert result.retried == 3 and strict.violations == []


def _label(action: str, payload: dict[str, Any]) -> str:
    if action == "TransactionEvent":
        return f"{payload['eventType']} {payload['triggerReason']}"
    if action == "MeterValues":
        (meter_value,) = payload["meterValue"]
        return f"{action} {meter_value['sampledValue'][0]['context']}"
    return action


@contextlib.asynccontextmanager
async def idle_sim(csms: StrictCsms, protocol: ProtocolVersion) -> AsyncIterator[None]:
    """The simulator booted as SIM1 and waiting for a remote start, for the block."""
    idle = parse({"steps": [{"action": "boot"}, {"action": "wait_remote_start"}]})
    url = f"ws://127.0.0.1:{csms.port}/ocpp"
    async with in_background(run(idle, url=url, charger_id=CHARGER, protocol=protocol)):
        await csms.wait_for(CHARGER, "BootNotification")
        yield


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_heartbeat_is_valid(protocol: ProtocolVersion) -> None:
    """With a 1 s boot interval the simulator's Heartbeat reaches the CSMS and is valid."""
    async with running_strict_csms(boot_interval=1) as csms, idle_sim(csms, protocol):
        await csms.wait_for(CHARGER, "Heartbeat")
    assert csms.violations == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_unknown_action_gets_a_well_formed_callerror(
    strict: StrictCsms, protocol: ProtocolVersion
) -> None:
    """The simulator refuses an action it does not know with a valid NotImplemented CALLERROR."""
    async with idle_sim(strict, protocol):
        with pytest.raises(ChargerCallError) as refused:
            await strict.call(CHARGER, "GetLocalListVersion", {})
    assert refused.value.code == "NotImplemented"
    assert strict.violations == []


def test_a_scenario_waiting_for_the_csms_without_a_driver_fails_clearly() -> None:
    """A scenario with a CSMS-dependent step and no driver fails at once, naming the fix."""
    orphan = parse({"steps": [{"action": "boot"}, {"action": "wait_remote_stop"}]}, name="orphan")
    with pytest.raises(
        pytest.fail.Exception, match=r"'orphan' waits for the CSMS \(wait_remote_stop\)"
    ):
        driver_for(orphan)


_TIME_LIKE = re.compile(r"(?i)time|(?<!up)date|stamp|expir|^valid(from|to)$|at$")


def test_every_time_like_schema_property_is_a_date_time() -> None:
    """The official schemas mark every time-like string date-time, so format checking sees them."""
    loose, date_times = [], 0
    for folder in SCHEMA_DIRS.values():
        for path in sorted(folder.glob("*.json")):
            for name, prop in _string_properties(json.loads(path.read_text(encoding="utf-8-sig"))):
                date_times += prop.get("format") == "date-time"
                if (
                    _TIME_LIKE.search(name)
                    and "enum" not in prop
                    and prop.get("format") != "date-time"
                ):
                    loose.append(f"{path.name}: {name}")
    assert loose == []
    assert date_times > 40  # the walk does reach the schemas' date-times


def _string_properties(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            if isinstance(prop, dict) and prop.get("type") == "string":
                yield name, prop
        for value in node.values():
            yield from _string_properties(value)
    elif isinstance(node, list):
        for value in node:
            yield from _string_properties(value)


# -- the checker fails on bad frames -----------------------------------------------------------


@contextlib.asynccontextmanager
async def raw_charger(
    csms: StrictCsms, protocol: ProtocolVersion
) -> AsyncIterator[ClientConnection]:
    """A bare WebSocket client connected as charger RAW1, for frames the simulator never sends."""
    url = f"ws://127.0.0.1:{csms.port}/ocpp/RAW1"
    subprotocol = next(name for name, version in SUBPROTOCOLS.items() if version == protocol)
    async with connect(url, subprotocols=[Subprotocol(subprotocol)]) as ws:
        yield ws


async def exchange(ws: ClientConnection, frame: str) -> list[Any]:
    """Send one text frame; the CSMS's answer, within 5 s."""
    await ws.send(frame)
    async with asyncio.timeout(5):
        answer: list[Any] = json.loads(await ws.recv())
    return answer


BOOTS = {
    "1.6": {"chargePointVendor": "Raw", "chargePointModel": "R1"},
    "2.0.1": {"reason": "PowerUp", "chargingStation": {"vendorName": "Raw", "model": "R1"}},
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_valid_call_is_answered_and_not_recorded(
    strict: StrictCsms, protocol: ProtocolVersion
) -> None:
    """A schema-valid BootNotification gets an Accepted CALLRESULT and no violation (the control)."""
    async with raw_charger(strict, protocol) as ws:
        answer = await exchange(ws, json.dumps([2, "b1", "BootNotification", BOOTS[protocol]]))
    assert answer[:2] == [3, "b1"] and answer[2]["status"] == "Accepted"
    assert strict.violations == []


async def test_a_boot_without_vendor_is_an_occurrence_violation(strict: StrictCsms) -> None:
    """A 1.6 BootNotification missing chargePointVendor is recorded and refused."""
    async with raw_charger(strict, "1.6") as ws:
        answer = await exchange(
            ws, json.dumps([2, "b1", "BootNotification", {"chargePointModel": "R1"}])
        )
    assert answer[:3] == [4, "b1", "OccurenceConstraintViolation"]
    (violation,) = strict.violations
    assert (
        "RAW1" in violation
        and "BootNotification" in violation
        and "'chargePointVendor'" in violation
    )


async def test_six_fractional_digits_break_the_201_time_rule(strict: StrictCsms) -> None:
    """A 2.0.1 StatusNotification timestamp with microseconds is recorded and refused."""
    status = {
        "timestamp": "2024-05-01T12:00:00.123456Z",
        "connectorStatus": "Available",
        "evseId": 1,
        "connectorId": 1,
    }
    async with raw_charger(strict, "2.0.1") as ws:
        answer = await exchange(ws, json.dumps([2, "s1", "StatusNotification", status]))
    assert answer[:3] == [4, "s1", "PropertyConstraintViolation"]
    (violation,) = strict.violations
    assert "StatusNotification" in violation and "6 fractional digits" in violation


async def test_a_non_utc_offset_breaks_the_16_time_rule(strict: StrictCsms) -> None:
    """A 1.6 StatusNotification timestamp at +02:00 is recorded and refused."""
    status = {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "Available",
        "timestamp": "2024-05-01T14:00:00+02:00",
    }
    async with raw_charger(strict, "1.6") as ws:
        answer = await exchange(ws, json.dumps([2, "s1", "StatusNotification", status]))
    assert answer[:3] == [4, "s1", "PropertyConstraintViolation"]
    (violation,) = strict.violations
    assert "StatusNotification" in violation and "+02:00 is not UTC" in violation


FRAME_CODES = ("FormationViolation", "RpcFrameworkError")  # 1.6, 2.0.1
FRAME_ERRORS = dict(zip(PROTOCOLS, FRAME_CODES, strict=True))


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        pytest.param("this is not json", "not valid JSON", id="not-json"),
        pytest.param('[2, "h1", "Heartbeat", {}', "not valid JSON", id="truncated"),
        pytest.param('{"id": "h1"}', "not a non-empty JSON array", id="object"),
        pytest.param(json.dumps([2, "x" * 37, "Heartbeat", {}]), "1 to 36 char", id="long-id"),
        pytest.param(json.dumps([2, 7, "Heartbeat", {}]), "1 to 36 char", id="number-id"),
    ],
)
async def test_an_unreadable_frame_gets_a_callerror_with_id_minus_one(
    strict: StrictCsms, protocol: ProtocolVersion, frame: str, reason: str
) -> None:
    """A frame whose message id cannot be read is recorded and answered with id "-1" (OCPP-J 4.2.3)."""
    async with raw_charger(strict, protocol) as ws:
        answer = await exchange(ws, frame)
    assert answer[:3] == [4, "-1", FRAME_ERRORS[protocol]]
    (violation,) = strict.violations
    assert reason in violation


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("frame", "codes"),
    [
        pytest.param(
            '[7, "m1", "Heartbeat", {}]', ("NotSupported", "MessageTypeNotSupported"), id="type"
        ),
        pytest.param('["2", "m1", "Heartbeat", {}]', FRAME_CODES, id="type-not-int"),
        pytest.param('[2, "m1", "Heartbeat"]', ("ProtocolError", "RpcFrameworkError"), id="length"),
        pytest.param('[2, "m1", 5, {}]', FRAME_CODES, id="action"),
        pytest.param(
            '[2, "m1", "Heartbeat", []]', ("FormationViolation", "FormatViolation"), id="payload"
        ),
    ],
)
async def test_a_malformed_frame_with_a_readable_id_gets_the_adr_code(
    strict: StrictCsms, protocol: ProtocolVersion, frame: str, codes: tuple[str, str]
) -> None:
    """A malformed frame whose id can be read is recorded and answered with ADR 0003's code."""
    async with raw_charger(strict, protocol) as ws:
        answer = await exchange(ws, frame)
    assert answer[:3] == [4, "m1", dict(zip(PROTOCOLS, codes, strict=True))[protocol]]
    assert len(strict.violations) == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_reused_call_id_is_refused(strict: StrictCsms, protocol: ProtocolVersion) -> None:
    """A second CALL with a message id already used on the connection is recorded and refused."""
    boot = json.dumps([2, "b1", "BootNotification", BOOTS[protocol]])
    async with raw_charger(strict, protocol) as ws:
        first = await exchange(ws, boot)
        second = await exchange(ws, boot)
    assert first[:2] == [3, "b1"] and second[:3] == [4, "b1", FRAME_ERRORS[protocol]]
    (violation,) = strict.violations
    assert "reused" in violation


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_call_before_boot_is_a_security_error(
    strict: StrictCsms, protocol: ProtocolVersion
) -> None:
    """A charger's first CALL must be BootNotification: a Heartbeat first gets SecurityError."""
    async with raw_charger(strict, protocol) as ws:
        early = await exchange(ws, json.dumps([2, "h1", "Heartbeat", {}]))
        await exchange(ws, json.dumps([2, "b1", "BootNotification", BOOTS[protocol]]))
        later = await exchange(ws, json.dumps([2, "h2", "Heartbeat", {}]))
    assert early[:3] == [4, "h1", "SecurityError"] and later[:2] == [3, "h2"]
    (violation,) = strict.violations
    assert "before an accepted BootNotification" in violation


@pytest.mark.parametrize(
    ("protocol", "action", "code"),
    [
        ("1.6", "RemoteStartTransaction", "NotSupported"),
        ("2.0.1", "RequestStartTransaction", "NotSupported"),
        ("1.6", "FlyToTheMoon", "NotImplemented"),
        ("2.0.1", "FlyToTheMoon", "NotImplemented"),
    ],
)
async def test_an_action_not_for_a_charger_is_refused(
    strict: StrictCsms, protocol: ProtocolVersion, action: str, code: str
) -> None:
    """A CSMS-to-charger action is NotSupported, an unknown one NotImplemented; both recorded."""
    async with raw_charger(strict, protocol) as ws:
        answer = await exchange(ws, json.dumps([2, "r1", action, {"idTag": "A"}]))
    assert answer[:3] == [4, "r1", code]
    (violation,) = strict.violations
    assert action in violation


async def test_an_invalid_answer_to_a_csms_call_is_recorded(strict: StrictCsms) -> None:
    """A charger's CALLRESULT that breaks the response schema is recorded (and still returned)."""
    async with raw_charger(strict, "1.6") as ws:
        await strict.wait_connected("RAW1")
        async with in_background(
            strict.call("RAW1", "RemoteStartTransaction", {"idTag": "APP"})
        ) as call:
            async with asyncio.timeout(5):
                request = json.loads(await ws.recv())
            assert request[2:] == ["RemoteStartTransaction", {"idTag": "APP"}]
            await ws.send(json.dumps([3, request[1], {"status": "Maybe"}]))
            assert await call == {"status": "Maybe"}
    (violation,) = strict.violations
    assert (
        "RemoteStartTransaction" in violation
        and "CALLRESULT" in violation
        and "'Maybe'" in violation
    )


@pytest.mark.parametrize(
    ("value", "digits", "problem"),
    [
        ("2024-05-01T12:00:00Z", 3, None),
        ("2024-05-01T12:00:00.123Z", 3, None),
        ("2024-05-01t12:00:00.5+00:00", 3, None),
        ("2024-05-01T12:00:00.123456Z", None, None),
        ("2024-05-01T12:00:00.1234Z", 3, "4 fractional digits"),
        ("2024-05-01T12:00:00-00:00", 3, "not UTC"),
        ("2024-05-01T12:00:00", None, "not an RFC 3339"),
        ("2024-05-01 12:00:00Z", None, "not an RFC 3339"),
        ("2024-02-30T12:00:00Z", None, "day is out of range"),
        ("2024-05-01T24:00:00Z", None, "hour must be"),
    ],
)
def test_check_timestamp_accepts_rfc3339_utc_only(
    value: str, digits: int | None, problem: str | None
) -> None:
    """check_timestamp passes RFC 3339 UTC values and names what is wrong with the others."""
    if problem is None:
        check_timestamp(value, max_fraction_digits=digits)
    else:
        with pytest.raises(ValueError, match=problem):
            check_timestamp(value, max_fraction_digits=digits)


async def test_our_own_invalid_request_is_recorded(strict: StrictCsms) -> None:
    """A CSMS call that breaks the request schema is recorded too, so the fixture cannot drift."""
    async with raw_charger(strict, "1.6") as ws:
        await strict.wait_connected("RAW1")
        async with in_background(strict.call("RAW1", "RemoteStartTransaction", {})) as call:
            async with asyncio.timeout(5):
                request = json.loads(await ws.recv())
            await ws.send(json.dumps([3, request[1], {"status": "Rejected"}]))
            await call
    (violation,) = strict.violations
    assert "our CALL" in violation and "'idTag' is a required property" in violation
