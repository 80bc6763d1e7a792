"""Operator endpoints of the REST API: chargers, tokens, raw OCPP calls, the OpenAPI document."""

from __future__ import annotations

import httpx
import websockets

from csms.bootstrap import Csms
from tests.chargers import basic_auth, connected
from tests.conftest import add_charger, http_url, ws_url


async def test_charger_registered_over_http_can_connect_with_its_password(
    csms: Csms, client: httpx.AsyncClient
) -> None:
    """POST /v1/chargers returns a generated password once; the charger connects with it."""
    response = await client.post("/v1/chargers", json={"id": "CP9"})
    assert response.status_code == 201, response.text
    password = response.json()["result"]["password"]
    assert password and len(password) >= 16
    async with connected(ws_url(csms, "CP9"), "CP9", password=password):
        charger = (await client.get("/v1/chargers/CP9")).json()["result"]
        assert charger["online"] is True and charger["protocol"] == "1.6"
        assert charger["password"] is None and charger["has_password"] is True
        assert charger["bootInfo"]["chargePointVendor"] == "TestVendor"
    listed = (await client.get("/v1/chargers")).json()["result"]
    assert [c["_id"] for c in listed] == ["CP9"]


async def test_patch_password_and_registration(csms: Csms, client: httpx.AsyncClient) -> None:
    """PATCH changes the password (the old one stops working) and the registration status."""
    await client.post("/v1/chargers", json={"id": "CP1", "password": "old-password-0001"})
    patched = await client.patch(
        "/v1/chargers/CP1",
        json={"password": "new-password-0002", "registration_status": "Pending"},
    )
    assert patched.json()["result"]["registration_status"] == "Pending"
    refused = None
    try:
        async with websockets.connect(
            ws_url(csms, "CP1"),
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=basic_auth("CP1", "old-password-0001"),
        ):
            pass
    except websockets.InvalidStatus as exc:
        refused = exc.response.status_code
    assert refused == 401
    async with connected(
        ws_url(csms, "CP1"), "CP1", password="new-password-0002", boot=False
    ) as cp:
        assert (await cp.boot()).status == "Pending"


async def test_connector_evse_ids_survive_status_notifications(
    csms: Csms, client: httpx.AsyncClient
) -> None:
    """An operator-set EVSE ID stays on the connector when the charger reports its status."""
    from ocpp.v16 import call

    await client.post(
        "/v1/chargers",
        json={"id": "CP1", "no_password": True, "connectors": [{"evse_id": 1, "evse_ref": "E1"}]},
    )
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
        )
    (connector,) = (await client.get("/v1/chargers/CP1")).json()["result"]["connectors"]
    assert (connector["_id"], connector["evse_ref"], connector["status"]) == (
        "CP1:1:1",
        "E1",
        "Available",
    )


async def test_tokens_created_read_patched(csms: Csms, client: httpx.AsyncClient) -> None:
    """Tokens made over HTTP feed Authorize: a token blocked by PATCH is answered Blocked."""
    from ocpp.v16 import call

    made = await client.post(
        "/v1/tokens", json={"id_token": "RF1", "group_id": "G1", "expires_at": "2030-01-01T00:00Z"}
    )
    assert made.status_code == 201
    await add_charger(csms, "CP1")
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        assert (await cp.call(call.Authorize(id_tag="RF1"))).id_tag_info["status"] == "Accepted"
        await client.patch("/v1/tokens/RF1", json={"status": "Blocked"})
        assert (await cp.call(call.Authorize(id_tag="RF1"))).id_tag_info["status"] == "Blocked"
    token = (await client.get("/v1/tokens/RF1")).json()["result"]
    assert (token["status"], token["group_id"]) == ("Blocked", "G1")
    assert token["expires_at"].startswith("2030-01-01T00:00:00")
    assert [t["_id"] for t in (await client.get("/v1/tokens")).json()["result"]] == ["RF1"]


async def test_raw_call_answered_rejected_failed_offline(
    csms: Csms, client: httpx.AsyncClient
) -> None:
    """POST .../calls/{Action}: the charger's answer, a CALLERROR (502), bad payload (400), offline."""
    await add_charger(csms, "CP1")
    offline = await client.post("/v1/chargers/CP1/calls/ClearCache", json={})
    assert offline.status_code == 409 and offline.json()["result"]["status"] == "offline"
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        cp.remote_start_answer = "Rejected"
        answered = await client.post(
            "/v1/chargers/CP1/calls/RemoteStartTransaction", json={"idTag": "X"}
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["result"] == {
            "status": "rejected",
            "payload": {"status": "Rejected"},
            "error_code": None,
            "error_description": None,
        }
        not_impl = await client.post("/v1/chargers/CP1/calls/ClearCache", json={})
        assert not_impl.status_code == 502
        assert not_impl.json()["result"]["error_code"] == "NotImplemented"
        invalid = await client.post("/v1/chargers/CP1/calls/Reset", json={"type": "Sideways"})
        assert invalid.status_code == 400 and invalid.json()["result"]["code"] == "invalid_call"
        unknown = await client.post("/v1/chargers/CP1/calls/NoSuchAction", json={})
        assert unknown.status_code == 400
    missing = await client.post("/v1/chargers/NOPE/calls/Reset", json={"type": "Soft"})
    assert missing.status_code == 404


async def test_openapi_document_describes_the_validating_models(csms: Csms) -> None:
    """/openapi.json is OpenAPI 3.1 with the request schema the server validates; /docs renders."""
    async with httpx.AsyncClient(base_url=http_url(csms)) as c:
        doc = (await c.get("/openapi.json")).json()
        page = await c.get("/docs")
    assert doc["openapi"] == "3.1.0"
    start = doc["paths"]["/v1/sessions"]["post"]
    ref = start["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(schema["required"]) == {"connector", "user"}
    assert {"201", "400", "401", "403", "404", "409"} <= set(start["responses"])
    assert start["security"] == [{"bearerApiKey": []}]
    assert page.status_code == 200 and "/v1/sessions/{session_id}/stop" in page.text
    oioi = doc["paths"]["/oioi/v4/request"]["post"]
    oioi_ref = oioi["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    oioi_body = doc["components"]["schemas"][oioi_ref.rsplit("/", 1)[1]]
    assert "session-start" in oioi_body["properties"]
