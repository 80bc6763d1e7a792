"""Malformed frames get the CALLERROR of the negotiated version and the socket stays usable."""

from __future__ import annotations

import asyncio

import pytest
import websockets

from csms.bootstrap import Csms
from tests.conftest import add_charger, ws_url
from tests.e2e.conftest import BOOT16, BOOT201, exchange, open_booted

TX201 = '[2,"{id}","TransactionEvent",{{"eventType":"Updated","timestamp":"2024-05-01T10:00:00Z","triggerReason":"MeterValuePeriodic","seqNo":1,"transactionInfo":{{"transactionId":"t1"}},"meterValue":[{{"timestamp":"2024-05-01T10:00:00Z","sampledValue":[{sv}]}}]}}]'
STATUS16 = '[2,"{id}","StatusNotification",{{"connectorId":{c},"errorCode":"NoError","status":"Available","timestamp":"{ts}"}}]'


CASES_16 = [
    ("not json", "{oops", "-1", "FormationViolation"),
    ("not an array", '{"a":1}', "-1", "FormationViolation"),
    ("empty array", "[]", "-1", "FormationViolation"),
    ("id not a string", '[2,5,"Heartbeat",{}]', "-1", "FormationViolation"),
    ("id too long", '[2,"' + "x" * 37 + '","Heartbeat",{}]', "-1", "FormationViolation"),
    ("wrong length", '[2,"a1","Heartbeat"]', "a1", "ProtocolError"),
    ("unknown message type", '[7,"a2","Heartbeat",{}]', "a2", "NotSupported"),
    ("payload not an object", '[2,"a3","Heartbeat",[]]', "a3", "FormationViolation"),
    ("unknown action", '[2,"a4","FlyToMoon",{}]', "a4", "NotImplemented"),
    ("CSMS-only action", '[2,"a5","RemoteStartTransaction",{"idTag":"x"}]', "a5", "NotSupported"),
    ("missing field", '[2,"a6","Authorize",{}]', "a6", "OccurenceConstraintViolation"),
    ("wrong type", '[2,"a7","Authorize",{"idTag":5}]', "a7", "TypeConstraintViolation"),
    (
        "too long",
        '[2,"a8","Authorize",{"idTag":"' + "x" * 21 + '"}]',
        "a8",
        "PropertyConstraintViolation",
    ),
    ("extra field", '[2,"a9","Heartbeat",{"x":1}]', "a9", "FormationViolation"),
    (
        "bad enum",
        '[2,"b1","StatusNotification",{"connectorId":1,"errorCode":"Error","status":"Available"}]',
        "b1",
        "PropertyConstraintViolation",
    ),
    # found by tests/fuzz: each of these was an InternalError or a closed socket
    ("nested too deeply", "[" * 30000, "-1", "FormationViolation"),
    (
        "NaN is not JSON",
        '[2,"c1","DataTransfer",{"vendorId":"x","data":NaN}]',
        "-1",
        "FormationViolation",
    ),
    ("binary not UTF-8", b"\xff[2]", "-1", "FormationViolation"),
    ("lone surrogate", '[2,"c2","Authorize",{"idTag":"\\ud800"}]', "c2", "FormationViolation"),
    ("NUL action", '[2,"c3","\\u0000",{}]', "c3", "NotImplemented"),
    (
        "integer past 32 bits",
        STATUS16.format(id="c4", c=2**31, ts="2024-05-01T10:00:00Z"),
        "c4",
        "PropertyConstraintViolation",
    ),
    (
        "offset out of range",
        STATUS16.format(id="c5", c=1, ts="0001-01-01T00:00:00+14:00"),
        "c5",
        "PropertyConstraintViolation",
    ),
    (
        "sampled value infinite",
        '[2,"c6","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2024-05-01T10:00:00Z","sampledValue":[{"value":"1e999"}]}]}]',
        "c6",
        "PropertyConstraintViolation",
    ),
]

CASES_201 = [
    ("not json", "{oops", "-1", "RpcFrameworkError"),
    ("not an array", '"text"', "-1", "RpcFrameworkError"),
    ("id not a string", '[2,5,"Heartbeat",{}]', "-1", "RpcFrameworkError"),
    ("wrong length", '[2,"a1","Heartbeat"]', "a1", "RpcFrameworkError"),
    ("unknown message type", '[9,"a2","Heartbeat",{}]', "a2", "MessageTypeNotSupported"),
    ("payload not an object", '[2,"a3","Heartbeat",5]', "a3", "FormatViolation"),
    ("unknown action", '[2,"a4","FlyToMoon",{}]', "a4", "NotImplemented"),
    ("CSMS-only action", '[2,"a5","ClearCache",{}]', "a5", "NotSupported"),
    ("missing field", '[2,"a6","Authorize",{}]', "a6", "OccurrenceConstraintViolation"),
    (
        "wrong type",
        '[2,"a7","Authorize",{"idToken":{"idToken":1,"type":"ISO14443"}}]',
        "a7",
        "TypeConstraintViolation",
    ),
    (
        "bad enum",
        '[2,"a8","Authorize",{"idToken":{"idToken":"x","type":"Bogus"}}]',
        "a8",
        "PropertyConstraintViolation",
    ),
    ("extra field", '[2,"a9","Heartbeat",{"x":1}]', "a9", "FormatViolation"),
    # found by tests/fuzz: each of these was an InternalError or a closed socket
    ("nested too deeply", '{"a":' * 12000, "-1", "RpcFrameworkError"),
    ("binary not UTF-8", b"\x80[2]", "-1", "RpcFrameworkError"),
    (
        "number past float",
        TX201.format(id="c1", sv='{"value":1e999}'),
        "c1",
        "PropertyConstraintViolation",
    ),
    (
        "multiplier overflow",
        TX201.format(id="c2", sv='{"value":1,"unitOfMeasure":{"multiplier":2147483647}}'),
        "c2",
        "PropertyConstraintViolation",
    ),
    (
        "integer past 32 bits",
        '[2,"c3","StatusNotification",{"timestamp":"2024-05-01T10:00:00Z","connectorStatus":"Available","evseId":2147483648,"connectorId":1}]',
        "c3",
        "PropertyConstraintViolation",
    ),
]


@pytest.mark.parametrize(
    ("case", "frame", "expected_id", "code"), CASES_16, ids=[c[0] for c in CASES_16]
)
async def test_v16_malformed_frame_gets_callerror_and_socket_survives(
    csms: Csms, case: str, frame: str | bytes, expected_id: str, code: str
) -> None:
    """OCPP-J 1.6 §4.2.3: each malformed frame gets its 1.6 error code; Heartbeat still works."""
    ws = await open_booted(csms, "1.6")
    try:
        answer = await exchange(ws, frame)
        assert answer[:3] == [4, expected_id, code]
        assert isinstance(answer[3], str) and len(answer[3]) <= 255 and answer[4] == {}
        assert isinstance(frame, bytes) or frame not in answer[3]
        follow = await exchange(ws, '[2,"hb","Heartbeat",{}]')
        assert follow[0] == 3 and follow[1] == "hb"
    finally:
        await ws.close()


@pytest.mark.parametrize(
    ("case", "frame", "expected_id", "code"), CASES_201, ids=[c[0] for c in CASES_201]
)
async def test_v201_malformed_frame_gets_callerror_and_socket_survives(
    csms: Csms, case: str, frame: str | bytes, expected_id: str, code: str
) -> None:
    """OCPP 2.0.1 Part 4 §4.2.3/4.4: each malformed frame gets its 2.0.1 error code."""
    ws = await open_booted(csms, "2.0.1")
    try:
        answer = await exchange(ws, frame)
        assert answer[:3] == [4, expected_id, code]
        follow = await exchange(ws, '[2,"hb","Heartbeat",{}]')
        assert follow[0] == 3 and follow[1] == "hb"
    finally:
        await ws.close()


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_messages_before_accepted_boot_get_security_error(csms: Csms, version: str) -> None:
    """TC_B_30 / B01.FR.10: before an Accepted boot, any other CALL gets SecurityError."""
    await add_charger(csms, "FRESH")
    async with websockets.connect(ws_url(csms, "FRESH"), subprotocols=[f"ocpp{version}"]) as ws:  # type: ignore[list-item]
        answer = await exchange(ws, '[2,"hb","Heartbeat",{}]')
        assert answer[:3] == [4, "hb", "SecurityError"]
        boot = await exchange(ws, BOOT16 if version == "1.6" else BOOT201)
        assert boot[2]["status"] == "Accepted"
        assert (await exchange(ws, '[2,"hb2","Heartbeat",{}]'))[0] == 3


async def test_oversized_frame_is_refused(csms: Csms) -> None:
    """A frame over [ocpp] max_frame_bytes closes the socket with 1009 (message too big)."""
    ws = await open_booted(csms, "1.6")
    big = '[2,"big","DataTransfer",{"vendorId":"x","data":"' + "a" * 70000 + '"}]'
    await ws.send(big)
    with pytest.raises(websockets.exceptions.ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 1009


async def test_unknown_answer_id_is_dropped_without_reply(csms: Csms) -> None:
    """A CALLRESULT for a call we never made is logged and dropped; the socket stays usable."""
    ws = await open_booted(csms, "1.6")
    try:
        await ws.send('[3,"never-sent",{}]')
        follow = await exchange(ws, '[2,"hb","Heartbeat",{}]')
        assert follow[:2] == [3, "hb"]
    finally:
        await ws.close()


async def test_lower_case_t_and_z_timestamps_are_accepted(csms: Csms) -> None:
    """RFC 3339 §5.6 allows "t" and "z" in lower case; Python's fromisoformat alone does not."""
    ws = await open_booted(csms, "1.6")
    try:
        answer = await exchange(ws, STATUS16.format(id="lc", c=1, ts="2024-05-01t10:00:00z"))
        assert answer == [3, "lc", {}]
    finally:
        await ws.close()
