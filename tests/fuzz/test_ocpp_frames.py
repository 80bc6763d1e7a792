"""Random and mutated OCPP frames never break a connection and always get the right answer.

One real CSMS (SQLite file, WebSocket server on port 0) and one socket per version serve every
example of a test. Each example sends one fuzzed frame and then a Heartbeat: the frame's answer
(if one is due) must come first and be what :func:`tests.fuzz.ocpp_model.expect` says, and the
Heartbeat's answer must follow on the same socket.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection

from csms.bootstrap import Csms
from csms.gateway.schemas import validator
from tests.conftest import add_charger, add_token, ws_url
from tests.fuzz import ocpp_model as model
from tests.fuzz.conftest import OCPP_EXAMPLES, SENT

BOOT = {
    "1.6": ["BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}],
    "2.0.1": [
        "BootNotification",
        {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"},
    ],
}


class Link:
    """One charger socket; reopened (and booted) if a frame ever got it closed."""

    def __init__(self, csms: Csms, version: str) -> None:
        self.csms = csms
        self.version = version
        self.ws: ClientConnection | None = None
        self.probes = 0

    async def ensure_open(self) -> ClientConnection:
        if self.ws is None or self.ws.close_code is not None:
            self.ws = await websockets.connect(
                ws_url(self.csms, "FUZZ"),
                subprotocols=[f"ocpp{self.version}"],  # type: ignore[list-item]
                max_size=None,
            )
            await self.ws.send(json.dumps([2, "boot", *BOOT[self.version]]))
            boot = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
            assert boot[0] == 3 and boot[2]["status"] == "Accepted", boot
        return self.ws

    async def send_then_heartbeat(self, frame: str | bytes) -> list[Any]:
        """Send ``frame`` and a Heartbeat; every answer before the Heartbeat's, parsed."""
        ws = await self.ensure_open()
        self.probes += 1
        probe = f"probe-{self.probes}-{uuid.uuid4().hex[:8]}"
        await ws.send(frame)
        await ws.send(json.dumps([2, probe, "Heartbeat", {}]))
        SENT["OCPP frames"] += 1
        answers = []
        try:
            async with asyncio.timeout(10):
                while True:
                    answer = model.strict_json(await ws.recv())
                    if answer[:2] == [3, probe]:
                        assert set(answer[2]) == {"currentTime"}, answer
                        return answers
                    answers.append(answer)
        except websockets.ConnectionClosed as exc:
            raise AssertionError(f"the server closed the socket: {exc}") from None


@pytest.fixture
async def links(csms: Csms) -> AsyncIterator[dict[str, Link]]:
    """A booted socket per OCPP version to the same running CSMS."""
    await add_charger(csms, "FUZZ")
    await add_token(csms, "TAG1")
    opened = {v: Link(csms, v) for v in ("1.6", "2.0.1")}
    yield opened
    for link in opened.values():
        if link.ws is not None:
            await link.ws.close()


def check_answers(version: str, frame: str | bytes, answers: list[Any]) -> None:
    """The answers to one frame are exactly what the oracle expects."""
    want = model.expect(version, frame)
    if not want.answered:
        assert answers == [], f"no answer is due, got {answers}"
        return
    assert len(answers) == 1, f"one answer is due, got {answers}"
    answer = answers[0]
    assert answer[1] == want.message_id, answer
    if answer[0] == 3:
        assert want.result, f"a CALLERROR in {sorted(want.codes)} is due, got {answer}"
        assert want.action is not None
        check = validator(version, want.action, response=True)
        assert check is not None
        check(answer[2])
        return
    assert answer[0] == 4 and len(answer) == 5, answer
    assert answer[2] in want.codes, f"expected one of {sorted(want.codes)}, got {answer}"
    assert isinstance(answer[3], str) and len(answer[3]) <= 255 and answer[4] == {}, answer


VERSIONS = pytest.mark.parametrize("version", ["1.6", "2.0.1"])


@VERSIONS
@settings(max_examples=OCPP_EXAMPLES)
@given(data=st.data())
async def test_garbage_and_misshapen_frames_get_the_adr_0003_answer(
    links: dict[str, Link], version: str, data: st.DataObject
) -> None:
    """Text, bytes, deep nesting and JSON of the wrong shape get their CALLERROR or nothing."""
    frame = data.draw(st.one_of(model.garbage(), model.wrong_shape(version)), label="frame")
    assume(model.fits(frame))
    answers = await links[version].send_then_heartbeat(frame)
    check_answers(version, frame, answers)


@VERSIONS
@settings(max_examples=OCPP_EXAMPLES)
@given(data=st.data())
async def test_mutated_calls_get_a_valid_result_or_the_right_error(
    links: dict[str, Link], version: str, data: st.DataObject
) -> None:
    """A real action's valid payload, mutated: a schema-valid CALLRESULT or the right CALLERROR."""
    frame = data.draw(model.mutated_call(version), label="frame")
    assume(model.fits(frame))
    answers = await links[version].send_then_heartbeat(frame)
    check_answers(version, frame, answers)
