"""The REST API end to end: real HTTP server, real chargers on both OCPP versions."""

from __future__ import annotations

import httpx

from csms.bootstrap import Csms
from csms.domain import events as ev
from tests.chargers import Charger201, connected
from tests.conftest import add_charger, add_token, wait_event, ws_url


async def test_v16_session_started_charged_stopped_and_read_back(
    csms: Csms, client: httpx.AsyncClient
) -> None:
    """POST /v1/sessions remote-starts a 1.6 charger; the session reads back with exact kWh."""
    created = await client.post(
        "/v1/chargers",
        json={"id": "CP1", "password": "a-long-password-123", "connectors": [{"evse_id": 1}]},
    )
    assert created.status_code == 201, created.text
    await add_token(csms, "APP")
    async with connected(ws_url(csms, "CP1"), "CP1", password="a-long-password-123") as cp:
        response = await client.post("/v1/sessions", json={"connector": "CP1:1", "user": "APP"})
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["ok"] is True and body["result"]["status"] == "created"
        session_id = body["result"]["_id"]
        assert await cp.next_request("RemoteStartTransaction") == {
            "id_tag": "APP",
            "connector_id": 1,
        }
        tx = (await cp.start_tx("APP", 10_000)).transaction_id
        await cp.meter(tx, 13_000)
        stop = await client.post(f"/v1/sessions/{session_id}/stop")
        assert stop.status_code == 200, stop.text
        assert (await cp.next_request("RemoteStopTransaction")) == {"transaction_id": tx}
        await cp.stop_tx(tx, 17_250, reason="Remote")
    read = (await client.get(f"/v1/sessions/{session_id}")).json()["result"]
    assert read["status"] == "ended" and read["energy_kwh"] == 7.25
    assert read["metrics"]["energyConsumed"] == 7250.0
    assert read["cost"] == {"amount": 2.18, "currency": "EUR"}  # 2.175 rounded half-up
    assert read["transaction_id"] == str(tx) and read["connector"] == "CP1:1:1"
    assert [v["value"] for v in read["meter_values"]] == [13_000.0]


async def test_v201_session_by_evse_id_and_user_id(csms: Csms, client: httpx.AsyncClient) -> None:
    """An EVSE ID and a user id start a 2.0.1 session with that user's token and remoteStartId."""
    await add_charger(csms, "CS1")
    await client.patch(
        "/v1/chargers/CS1", json={"connectors": [{"evse_id": 1, "evse_ref": "DE*ABC*E0001*1"}]}
    )
    made = await client.post("/v1/tokens", json={"id_token": "RF-9", "user_id": "user-42"})
    assert made.status_code == 201, made.text
    events = csms.services.events.queue()
    async with connected(ws_url(csms, "CS1"), "CS1", version="2.0.1") as cp:
        assert isinstance(cp, Charger201)
        response = await client.post(
            "/v1/sessions", json={"connector": "DE*ABC*E0001*1", "user": "user-42"}
        )
        assert response.status_code == 201, response.text
        session_id = response.json()["result"]["_id"]
        request = await cp.next_request("RequestStartTransaction")
        assert request["id_token"]["id_token"] == "RF-9" and request["evse_id"] == 1
        tx = {"remote_start_id": request["remote_start_id"]}
        await cp.tx_event(
            "Started", "T-1", trigger="RemoteStart", wh=1_000, context="Transaction.Begin", **tx
        )
        await wait_event(events, ev.SESSION_STARTED)
        assert (await client.get(f"/v1/sessions/{session_id}/stop")).status_code == 200
        assert (await cp.next_request("RequestStopTransaction")) == {"transaction_id": "T-1"}
        await cp.tx_event(
            "Ended",
            "T-1",
            trigger="RemoteStop",
            wh=3_500,
            context="Transaction.End",
            stopped_reason="Remote",
        )
    read = (await client.get(f"/v1/sessions/{session_id}")).json()["result"]
    assert (read["status"], read["energy_kwh"], read["user"]) == ("ended", 2.5, "RF-9")
    assert read["cost"]["amount"] == 0.75 and read["stop_reason"] == "Remote"


async def test_rejected_remote_start_is_start_failed(csms: Csms, client: httpx.AsyncClient) -> None:
    """A charger rejecting the remote start gives the session back as start_failed."""
    await add_charger(csms, "CP1")
    await add_token(csms, "APP")
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        cp.remote_start_answer = "Rejected"
        response = await client.post("/v1/sessions", json={"connector": "CP1:1", "user": "APP"})
    result = response.json()["result"]
    assert response.status_code == 201 and result["status"] == "start_failed"
    assert "rejected" in response.json()["message"]


async def test_list_sessions_filters_and_paginates(csms: Csms, client: httpx.AsyncClient) -> None:
    """GET /v1/sessions filters by status, charger and user, newest first, page by page."""
    await add_charger(csms, "CP1")
    await add_token(csms, "A")
    await add_token(csms, "B")
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        first = (await cp.start_tx("A", 0, connector=1)).transaction_id
        await cp.stop_tx(first, 100)
        await cp.start_tx("B", 0, connector=2)
    ended = (await client.get("/v1/sessions", params={"status": "Ended"})).json()["result"]
    assert [s["user"] for s in ended] == ["A"]
    by_user = (await client.get("/v1/sessions", params={"user": "B"})).json()["result"]
    assert [s["status"] for s in by_user] == ["started"]
    page2 = await client.get("/v1/sessions", params={"paginate_limit": 1, "paginate_page": 2})
    assert [s["user"] for s in page2.json()["result"]] == ["A"]
    bad = await client.get("/v1/sessions", params={"status": "bogus"})
    assert bad.status_code == 400 and bad.json()["message"].startswith("status:")
