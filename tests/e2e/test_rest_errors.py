"""Every bad request to the REST API gets its exact status and code in the {ok, message, result}
envelope, and the message names the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from csms.bootstrap import Csms
from csms.domain.model import ApiScope, TokenStatus
from tests.chargers import connected
from tests.conftest import add_charger, add_token, http_url, ws_url
from tests.e2e.conftest import api_key


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["ok"] is False and body["result"]["code"] == code, body
    return body


async def test_missing_wrong_and_revoked_keys_get_401(csms: Csms) -> None:
    """No key, a wrong key, a malformed key and a revoked key are all 401 in the envelope."""
    key = await api_key(csms)
    key_id = key.split("_")[1]
    async with httpx.AsyncClient(base_url=http_url(csms)) as c:
        _error(await c.get("/v1/sessions"), 401, "unauthorized")
        for wrong in (key[:-1] + "x", "csk_nope_nope", "Basic abc"):
            headers = {"Authorization": f"Bearer {wrong}"}
            _error(await c.get("/v1/sessions", headers=headers), 401, "unauthorized")
        assert (
            await c.get("/v1/sessions", headers={"Authorization": f"Bearer {key}"})
        ).status_code == 200
        await csms.services.operators.revoke_api_key(key_id)
        revoked = await c.get("/v1/sessions", headers={"Authorization": f"Bearer {key}"})
        _error(revoked, 401, "unauthorized")


async def test_session_scope_key_cannot_manage_chargers(csms: Csms) -> None:
    """A key with only the sessions scope reads sessions but gets 403 on operator endpoints."""
    key = await api_key(csms, ApiScope.SESSIONS)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=http_url(csms), headers=headers) as c:
        assert (await c.get("/v1/sessions")).status_code == 200
        _error(await c.get("/v1/chargers"), 403, "forbidden")
        _error(await c.post("/v1/tokens", json={"id_token": "X"}), 403, "forbidden")


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("{not json", "body"),
        ("[1, 2]", "body"),
        ('{"user": "APP"}', "connector"),
        ('{"connector": "CP1:1"}', "user"),
        ('{"connector": {"id": 1}, "user": "APP"}', "connector"),
        ('{"connector": "CP1:1", "user": ""}', "user"),
    ],
    ids=["bad-json", "not-object", "missing-connector", "missing-user", "wrong-type", "empty"],
)
async def test_bad_session_body_is_400_naming_the_field(
    client: httpx.AsyncClient, content: str, field: str
) -> None:
    """Bad JSON, a missing field or a wrong type get 400 invalid_input naming the field."""
    response = await client.post(
        "/v1/sessions", content=content, headers={"Content-Type": "application/json"}
    )
    body = _error(response, 400, "invalid_input")
    assert body["message"].startswith(f"{field}:"), body["message"]


async def test_unknown_fields_are_ignored(csms: Csms, client: httpx.AsyncClient) -> None:
    """A body with extra fields is accepted; only the known ones count."""
    await add_charger(csms, "CP1")
    await add_token(csms, "APP")
    async with connected(ws_url(csms, "CP1"), "CP1"):
        response = await client.post(
            "/v1/sessions",
            json={"connector": "CP1:1", "user": "APP", "target": {"energy": 5}, "x": 1},
        )
    assert response.status_code == 201, response.text


async def test_session_start_errors_have_exact_codes(csms: Csms, client: httpx.AsyncClient) -> None:
    """Unknown EVSE, unknown charger, offline charger, blocked user, occupied connector."""
    await add_charger(csms, "CP1")
    await add_token(csms, "APP")
    await add_token(csms, "BAD", TokenStatus.BLOCKED)

    async def start(connector: str, user: str = "APP") -> httpx.Response:
        return await client.post("/v1/sessions", json={"connector": connector, "user": user})

    _error(await start("DE*NOPE*E1"), 404, "connector_not_found")
    _error(await start("NOPE:1"), 404, "connector_not_found")
    _error(await start("CP1:1"), 409, "charger_offline")
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        _error(await start("CP1:1", "BAD"), 403, "not_authorized")
        _error(await start("CP1:1", "WHO"), 403, "not_authorized")
        await cp.start_tx("APP", 0, connector=1)
        _error(await start("CP1:1"), 409, "connector_occupied")


async def test_unknown_or_inactive_session(csms: Csms, client: httpx.AsyncClient) -> None:
    """Reading or stopping an unknown session is 404; stopping an ended one is 409."""
    _error(await client.get("/v1/sessions/nope"), 404, "session_not_found")
    _error(await client.post("/v1/sessions/nope/stop"), 404, "session_not_found")
    await add_charger(csms, "CP1")
    await add_token(csms, "APP")
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        tx = (await cp.start_tx("APP", 0)).transaction_id
        await cp.stop_tx(tx, 10)
    (session,) = await csms.services.sessions.list(charger_id="CP1")
    _error(await client.post(f"/v1/sessions/{session.id}/stop"), 409, "session_not_active")


async def test_stop_rejected_by_charger_is_409(csms: Csms, client: httpx.AsyncClient) -> None:
    """A charger rejecting the remote stop gives 409 stop_rejected."""
    await add_charger(csms, "CP1")
    await add_token(csms, "APP")
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        await cp.start_tx("APP", 0)
        (session,) = await csms.services.sessions.list(charger_id="CP1")
        cp.remote_stop_answer = "Rejected"
        _error(await client.post(f"/v1/sessions/{session.id}/stop"), 409, "stop_rejected")


async def test_unknown_route_and_method_use_the_envelope(client: httpx.AsyncClient) -> None:
    """404 and 405 from the router come in the same envelope."""
    _error(await client.get("/v1/nothing-here"), 404, "not_found")
    _error(await client.delete("/v1/sessions"), 405, "method_not_allowed")


async def test_405_lists_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    """RFC 9110 §15.5.6: Allow names all methods the path has, not only its first route's."""
    answer = await client.delete("/v1/sessions")
    assert answer.headers["Allow"] == "GET, HEAD, POST"
    ocpi = await client.request("TRACE", "/ocpi/2.2.1/credentials")
    assert ocpi.status_code == 405
    assert ocpi.headers["Allow"] == "DELETE, GET, HEAD, POST, PUT"


async def test_patch_with_null_leaves_the_setting_unchanged(
    csms: Csms, client: httpx.AsyncClient
) -> None:
    """null for a setting that cannot be cleared means unchanged (it was a 500)."""
    assert (await client.post("/v1/chargers", json={"id": "CP1"})).status_code == 201
    nulls = {"registration_status": None, "security_profile": None, "password": None}
    patched = await client.patch("/v1/chargers/CP1", json=nulls)
    assert patched.status_code == 200, patched.text
    assert patched.json()["result"]["registration_status"] == "Accepted"
    assert (await client.post("/v1/tokens", json={"id_token": "T"})).status_code == 201
    token = await client.patch("/v1/tokens/T", json={"status": None, "type": None})
    assert token.status_code == 200, token.text
    assert token.json()["result"]["status"] == "Accepted"
    assert token.json()["result"]["type"] == "ISO14443"


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/v1/chargers", {"id": "CP9", "allow_missing_subprotocol": 0}, "allow_missing"),
        ("POST", "/v1/chargers", {"id": "CP9", "security_profile": "1"}, "security_profile"),
        ("POST", "/v1/chargers", {"id": "CP9", "connectors": [{"evse_id": True}]}, "connectors"),
        ("POST", "/v1/chargers", {"id": "CP9", "connectors": [{"evse_id": 2**31}]}, "connectors"),
        ("POST", "/v1/tokens", {"id_token": "T9", "expires_at": 0}, "expires_at"),
        ("GET", "/v1/sessions?created_at_lte=0.5", None, "created_at_lte"),
        ("GET", "/v1/sessions?paginate_page=237686944994147808", None, "paginate_page"),
        ("GET", "/v1/sessions?status=", None, "status"),
        ("GET", "/v1/sessions?stauts=ended", None, "'stauts'"),
    ],
)
async def test_values_of_another_json_type_are_400(
    client: httpx.AsyncClient, method: str, path: str, body: Any, field: str
) -> None:
    """0 is no boolean, "1" no integer, 0 no date-time; a page past 10^6 is 400 (it was a 500)."""
    answer = await client.request(method, path, json=body)
    assert _error(answer, 400, "invalid_input")["message"].startswith(field)


async def test_whole_floats_are_integers(client: httpx.AsyncClient) -> None:
    """JSON Schema counts 2.0 as an integer, and so do we."""
    body = {"id": "CP8", "security_profile": 2.0, "connectors": [{"evse_id": 1.0}]}
    created = await client.post("/v1/chargers", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["result"]["security_profile"] == 2


async def test_operator_bad_input(csms: Csms, client: httpx.AsyncClient) -> None:
    """Duplicate charger or token, a short password, a naive expiry and a taken EVSE ID."""
    good = {"id": "CP1", "connectors": [{"evse_id": 1, "evse_ref": "DE*X*E1"}]}
    assert (await client.post("/v1/chargers", json=good)).status_code == 201
    _error(await client.post("/v1/chargers", json=good), 409, "already_exists")
    short = await client.post("/v1/chargers", json={"id": "CP2", "password": "short"})
    assert _error(short, 400, "invalid_input")["message"].startswith("password:")
    taken = await client.post(
        "/v1/chargers", json={"id": "CP3", "connectors": [{"evse_id": 1, "evse_ref": "DE*X*E1"}]}
    )
    _error(taken, 409, "already_exists")
    _error(await client.patch("/v1/chargers/NOPE", json={}), 404, "charger_not_found")
    assert (await client.post("/v1/tokens", json={"id_token": "T"})).status_code == 201
    _error(await client.post("/v1/tokens", json={"id_token": "T"}), 409, "already_exists")
    naive = await client.patch("/v1/tokens/T", json={"expires_at": "2030-01-01T00:00:00"})
    assert _error(naive, 400, "invalid_input")["message"].startswith("expires_at:")
    bad_status = await client.patch("/v1/tokens/T", json={"status": "Maybe"})
    assert _error(bad_status, 400, "invalid_input")["message"].startswith("status:")
    _error(await client.get("/v1/tokens/NOPE"), 404, "token_not_found")
