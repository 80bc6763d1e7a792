"""Plugsurfing OIOI v4 end to end: real HTTP, real chargers, exact result codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from csms.bootstrap import Csms
from csms.domain import events as ev
from csms.domain.model import ApiScope, TokenStatus
from csms.domain.operators import ConnectorSpec
from tests.chargers import Charger201, connected
from tests.conftest import MakeCsms, add_token, http_url, wait_event, ws_url
from tests.e2e.conftest import api_key
from tests.receiver import Received, receiver

EVSE = "DE*ABC*E0001*1"
EVCO = "DE-ABC-C12345678-X"


def user(identifier: str = EVCO) -> dict[str, str]:
    return {"identifier-type": "evco-id", "identifier": identifier}


@pytest.fixture
async def oioi(csms: Csms) -> AsyncIterator[httpx.AsyncClient]:
    """A client with an OIOI key (sessions scope) against the running CSMS."""
    key = await api_key(csms, ApiScope.SESSIONS)
    headers = {"Authorization": f"key={key}"}
    async with httpx.AsyncClient(base_url=http_url(csms), headers=headers, timeout=10) as c:
        yield c


async def _call(c: httpx.AsyncClient, name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await c.post("/oioi/v4/request", json={name: body})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _station(csms: Csms, charger_id: str = "CP1") -> None:
    await csms.services.operators.add_charger(
        charger_id, generate_password=False, connectors=[ConnectorSpec(1, 1, EVSE)]
    )
    await add_token(csms, EVCO, type="eMAID")


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_session_started_stopped_and_listed(
    csms: Csms, oioi: httpx.AsyncClient, version: str
) -> None:
    """session-start remote-starts the EVSE, session-stop stops it; the user's recent sessions
    show exact kWh and cost."""
    await _station(csms)
    events = csms.services.events.queue()
    async with connected(ws_url(csms, "CP1"), "CP1", version=version) as cp:
        start = await _call(oioi, "session-start", {"user": user(), "connector-id": EVSE})
        assert start["result"]["code"] == 0, start
        session_id = start["session-start"]["session-id"]
        assert start["session-start"]["is-stoppable"] is True
        if isinstance(cp, Charger201):
            request = await cp.next_request("RequestStartTransaction")
            rsid = request["remote_start_id"]
            await cp.tx_event(
                "Started",
                "T1",
                trigger="RemoteStart",
                wh=1_000,
                context="Transaction.Begin",
                remote_start_id=rsid,
            )
        else:
            await cp.next_request("RemoteStartTransaction")
            tx = (await cp.start_tx(EVCO, 1_000)).transaction_id
        await wait_event(events, ev.SESSION_STARTED)
        stop = await _call(
            oioi, "session-stop", {"user": user(), "connector-id": EVSE, "session-id": session_id}
        )
        assert stop["result"]["code"] == 0, stop
        if isinstance(cp, Charger201):
            await cp.next_request("RequestStopTransaction")
            await cp.tx_event(
                "Ended",
                "T1",
                trigger="RemoteStop",
                wh=13_340,
                context="Transaction.End",
                stopped_reason="Remote",
            )
        else:
            await cp.next_request("RemoteStopTransaction")
            await cp.stop_tx(tx, 13_340, reason="Remote")
    recent = await _call(oioi, "user-get-recent-sessions", {"user": user()})
    (item,) = recent["user"]["sessions"]
    assert item["external-session-id"] == session_id and item["connector-id"] == EVSE
    assert item["energy-consumed"] == 12.34 and item["cost"] == "3.70"
    assert item["currency"] == "EUR" and item["status"] == "ended"


async def test_session_start_result_codes(csms: Csms, oioi: httpx.AsyncClient) -> None:
    """181 unknown EVSE, 310 offline or rejected, 140 unknown user, 145 blocked, 320 in use."""
    await _station(csms)
    await add_token(csms, "BLOCKED", TokenStatus.BLOCKED)

    async def code(evse: str = EVSE, who: str = EVCO) -> int:
        answer = await _call(oioi, "session-start", {"user": user(who), "connector-id": evse})
        assert "session-start" not in answer or answer["result"]["code"] == 0
        return int(answer["result"]["code"])

    assert await code("DE*ABC*E9999*1") == 181
    assert await code() == 310  # offline
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        assert await code(who="NOBODY") == 140
        assert await code(who="BLOCKED") == 145
        cp.remote_start_answer = "Rejected"
        assert await code() == 310
        cp.remote_start_answer = "Accepted"
        await cp.start_tx(EVCO, 0, connector=1)
        assert await code() == 320


async def test_session_stop_unknown_session_is_182(csms: Csms, oioi: httpx.AsyncClient) -> None:
    """Stopping a session that does not exist (or is not running here) answers 182."""
    await _station(csms)
    missing = await _call(
        oioi, "session-stop", {"user": user(), "connector-id": EVSE, "session-id": "nope"}
    )
    assert missing["result"]["code"] == 182
    nothing = await _call(oioi, "session-stop", {"user": user(), "connector-id": EVSE})
    assert nothing["result"]["code"] == 182


async def test_rfid_post_whitelists_tokens(csms: Csms, oioi: httpx.AsyncClient) -> None:
    """rfid-post adds new UIDs as Accepted id tokens and reports how many were new."""
    first = await _call(
        oioi, "rfid-post", {"rfids": ["0a1b2c3d", "11223344"], "partner-identifier": "p" * 16}
    )
    assert first["rfid"] == {"success": True, "processed": 2}
    again = await _call(
        oioi, "rfid-post", {"rfids": ["0A1B2C3D", "55667788"], "partner-identifier": "p" * 16}
    )
    assert again["rfid"]["processed"] == 1
    token = await csms.services.operators.token("0A1B2C3D")
    assert token.status is TokenStatus.ACCEPTED


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{nope", "not valid JSON"),
        ('{"session-start": {}, "session-stop": {}}', "exactly one key"),
        ('{"session-start": {"user": {"identifier-type": "evco-id"}}}', "session-start.user"),
        ('{"session-start": {"user": "x", "connector-id": "E"}}', "session-start.user"),
    ],
    ids=["bad-json", "two-calls", "missing-field", "wrong-type"],
)
async def test_malformed_requests_are_400_code_230(
    oioi: httpx.AsyncClient, content: str, fragment: str
) -> None:
    """Malformed requests get HTTP 400, {"error": ...} and result code 230 naming the field."""
    response = await oioi.post("/oioi/v4/request", content=content)
    assert response.status_code == 400
    body = response.json()
    assert body["result"]["code"] == 230 and fragment in body["error"]["request"]


async def test_unknown_call_and_bad_key(csms: Csms, oioi: httpx.AsyncClient) -> None:
    """An unknown call is 400 with code 230; a missing or wrong key is 401 with code 210."""
    unknown = await oioi.post("/oioi/v4/request", json={"station-post": {}})
    assert unknown.status_code == 400 and unknown.json()["result"]["code"] == 230
    async with httpx.AsyncClient(base_url=http_url(csms)) as anonymous:
        for headers in ({}, {"Authorization": "key=csk_wrong_wrong"}):
            denied = await anonymous.post(
                "/oioi/v4/request", json={"rfid-post": {}}, headers=headers
            )
            assert denied.status_code == 401 and denied.json()["result"]["code"] == 210


async def test_unknown_fields_are_ignored(csms: Csms, oioi: httpx.AsyncClient) -> None:
    """Extra fields anywhere in the call are ignored, as OIOI requires."""
    answer = await _call(
        oioi, "rfid-post", {"rfids": ["AA"], "partner-identifier": "x" * 16, "future-field": 1}
    )
    assert answer["result"]["code"] == 0


PARTNER_ID = "plugsurfing-partner-0001"
PARTNER_KEY = "partner-issued-key"


async def _next_call(rec: Any, name: str) -> dict[str, Any]:
    """The next call named ``name`` the partner received (others are skipped)."""
    while True:
        got: Received = await rec.next_ok()
        assert got.path == "/oioi/v4/request"
        assert got.headers["authorization"] == f"key={PARTNER_KEY}"
        if name in got.json:
            body: dict[str, Any] = got.json[name]
            return body


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_session_post_reaches_the_partner(make_csms: MakeCsms, version: str) -> None:
    """When an OIOI-started session ends, the partner receives session-post with the CDR
    (intervals, exact kWh and cost) and connector-post-status follows the connector."""
    async with receiver() as partner:
        csms = await make_csms(
            oioi={
                "partner_url": f"{partner.url}/oioi/v4/request",
                "partner_identifier": PARTNER_ID,
                "api_key": PARTNER_KEY,
            }
        )
        await _station(csms)
        key = await api_key(csms, ApiScope.SESSIONS)
        client = httpx.AsyncClient(
            base_url=http_url(csms), headers={"Authorization": f"key={key}"}, timeout=10
        )
        async with client as oioi, connected(ws_url(csms, "CP1"), "CP1", version=version) as cp:
            if isinstance(cp, Charger201):
                await cp.status("Occupied")
            else:
                await cp.status(1, "Preparing")
            status = await _next_call(partner, "connector-post-status")
            while status["status"] == "Available":  # what the charger said on connecting
                status = await _next_call(partner, "connector-post-status")
            assert status == {
                "connector-id": EVSE,
                "status": "Occupied",
                "partner-identifier": PARTNER_ID,
            }
            start = await _call(oioi, "session-start", {"user": user(), "connector-id": EVSE})
            session_id = start["session-start"]["session-id"]
            if isinstance(cp, Charger201):
                request = await cp.next_request("RequestStartTransaction")
                await cp.tx_event(
                    "Started",
                    "T1",
                    trigger="RemoteStart",
                    wh=2_000,
                    context="Transaction.Begin",
                    remote_start_id=request["remote_start_id"],
                )
                await cp.tx_event("Ended", "T1", trigger="EVDeparted", wh=9_505)
            else:
                await cp.next_request("RemoteStartTransaction")
                tx = (await cp.start_tx(EVCO, 2_000)).transaction_id
                await cp.stop_tx(tx, 9_505)
            post = await _next_call(partner, "session-post")
    assert post["session-id"] == session_id
    assert post["connector-id"] == EVSE
    assert post["user"] == {"identifier-type": "evco-id", "identifier": EVCO}
    assert post["partner-identifier"] == PARTNER_ID
    assert post["energy-consumed"] == 7.505
    assert post["calculated-cost"] == {"amount": 2.25, "currency": "EUR"}
    assert post["session-interval"]["start"] and post["session-interval"]["stop"]


async def test_session_post_is_retried_until_the_partner_answers(make_csms: MakeCsms) -> None:
    """A partner answering 503 gets the same session-post again until it takes it."""
    async with receiver(status=503) as partner:
        csms = await make_csms(
            oioi={"partner_url": partner.url + "/oioi/v4/request", "api_key": PARTNER_KEY},
            webhooks={"retry_base": 0.05, "retry_max": 0.1},
        )
        await _station(csms)
        async with connected(ws_url(csms, "CP1"), "CP1", version="1.6") as cp:
            await add_token(csms, "0A1B2C3D", group_id="oioi")
            tx = (await cp.start_tx("0A1B2C3D", 0)).transaction_id
            await cp.stop_tx(tx, 1_000)
            first = await partner.next()
            assert first.answered == 503 and "session-post" in first.json
            partner.status = 200
            again = await partner.next_ok()
    assert again.body == first.body
    assert again.json["session-post"]["user"] == {
        "identifier-type": "rfid",
        "identifier": "0A1B2C3D",
    }
