"""OCPI 2.2.1 (CPO role) end to end: the credentials handshake with a real local eMSP, commands
on real chargers of both OCPP versions, Session and CDR pushes, and the exact status codes."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from csms.bootstrap import Csms
from csms.domain.errors import NotFound
from csms.domain.model import TokenStatus
from csms.domain.operators import ConnectorSpec
from csms.domain.roaming import Invitation
from tests.chargers import Charger201, connected
from tests.conftest import add_token, http_url, ws_url
from tests.emsp import TOKEN_B, Emsp, emsp

EVSE = "NL*CSM*E0001*1"
V = "/ocpi/2.2.1"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def rfid(uid: str = "04A1B2C3", party: str = "ABC", **extra: Any) -> dict[str, Any]:
    token = {
        "country_code": "NL",
        "party_id": party,
        "uid": uid,
        "type": "RFID",
        "contract_id": f"NL-{party}-C{uid}",
        "issuer": "Test eMSP",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2026-11-21T10:00:00Z",
    }
    return {**token, **extra}


@dataclass
class Partner:
    client: httpx.AsyncClient  # authenticated with token C
    emsp: Emsp
    id: str
    token_c: str


async def _register(csms: Csms, remote: Emsp, invited: Invitation | None = None) -> Partner:
    invited = invited or await csms.services.roaming.invite("NL", "ABC", "Test eMSP")
    creds = {
        "token": TOKEN_B,
        "url": remote.versions_url,
        "roles": [
            {
                "role": "EMSP",
                "business_details": {"name": "Test eMSP"},
                "party_id": "ABC",
                "country_code": "NL",
            }
        ],
    }
    async with httpx.AsyncClient(base_url=http_url(csms), timeout=10) as c:
        answer = await c.post(f"{V}/credentials", json=creds, headers=auth(invited.token_a))
    assert answer.status_code == 200, answer.text
    token_c = answer.json()["data"]["token"]
    client = httpx.AsyncClient(base_url=http_url(csms), headers=auth(token_c), timeout=10)
    return Partner(client, remote, invited.partner.id, token_c)


@pytest.fixture
async def partner(csms: Csms) -> AsyncIterator[Partner]:
    """A registered eMSP (NL/ABC) with a real local server for pushes and command results."""
    async with emsp() as remote:
        registered = await _register(csms, remote)
        async with registered.client:
            yield registered


async def _station(csms: Csms, charger_id: str = "CP1") -> None:
    await csms.services.operators.add_charger(
        charger_id, generate_password=False, connectors=[ConnectorSpec(1, 1, EVSE)]
    )


def _start_body(remote: Emsp, token: dict[str, Any], location: str = "CP1") -> dict[str, Any]:
    return {
        "response_url": f"{remote.url}/commands/START_SESSION/42",
        "token": token,
        "location_id": location,
        "evse_uid": f"{location}:1",
        "connector_id": "1",
        "authorization_reference": "AUTH-REF-1",
    }


# -- credentials ----------------------------------------------------------------------------------


async def test_credentials_handshake_swaps_token_a_for_token_c(csms: Csms) -> None:
    """Token A opens only versions and credentials; registering calls the eMSP's versions with
    token B and answers token C and our CPO role; token A is then dead, and a second POST 405."""
    async with emsp() as remote, httpx.AsyncClient(base_url=http_url(csms), timeout=10) as c:
        invited = await csms.services.roaming.invite("NL", "ABC")
        token_a = auth(invited.token_a)
        versions = await c.get("/ocpi/versions", headers=token_a)
        assert versions.status_code == 200
        assert versions.json()["data"] == [
            {"version": "2.2.1", "url": f"{http_url(csms)}/ocpi/2.2.1"}
        ]
        details = (await c.get(V, headers=token_a)).json()["data"]
        modules = {(e["identifier"], e["role"]) for e in details["endpoints"]}
        assert ("commands", "RECEIVER") in modules and ("sessions", "SENDER") in modules
        assert (await c.get(f"{V}/sessions", headers=token_a)).status_code == 401
        assert (await c.put(f"{V}/credentials", json={}, headers=token_a)).status_code == 405

        partner = await _register(csms, remote, invited)
        async with partner.client:
            assert remote.versions_calls == 1
            assert (await c.get("/ocpi/versions", headers=token_a)).status_code == 401
            raw = {"Authorization": f"Token {partner.token_c}"}  # pre-2.2.1 peers send it raw
            mine = await c.get(f"{V}/credentials", headers=raw)
            assert mine.status_code == 200
            data = mine.json()["data"]
            assert data["token"] == partner.token_c
            assert data["roles"][0]["role"] == "CPO" and data["url"].endswith("/ocpi/versions")
            again = await partner.client.post(f"{V}/credentials", json=data)
            assert again.status_code == 405 and again.json()["status_code"] == 2000
            gone = await partner.client.delete(f"{V}/credentials")
            assert gone.status_code == 200 and gone.json()["status_code"] == 1000
            assert (await partner.client.get(f"{V}/sessions")).status_code == 401


async def test_register_fails_with_3001_when_the_emsp_cannot_be_called(csms: Csms) -> None:
    """A versions URL nobody answers gives status_code 3001, and token A stays usable."""
    invited = await csms.services.roaming.invite("NL", "ABC")
    creds = {
        "token": TOKEN_B,
        "url": "http://127.0.0.1:9/versions",
        "roles": [
            {
                "role": "EMSP",
                "business_details": {"name": "x"},
                "party_id": "ABC",
                "country_code": "NL",
            }
        ],
    }
    async with httpx.AsyncClient(base_url=http_url(csms), timeout=10) as c:
        answer = await c.post(f"{V}/credentials", json=creds, headers=auth(invited.token_a))
        assert answer.json()["status_code"] == 3001
        assert (await c.get("/ocpi/versions", headers=auth(invited.token_a))).status_code == 200


async def test_missing_or_unknown_token_is_401_in_the_envelope(csms: Csms) -> None:
    """No Authorization, a wrong scheme or an unknown token: HTTP 401 with the OCPI envelope;
    request ids are echoed; an unknown OCPI path is 404 in the envelope."""
    async with httpx.AsyncClient(base_url=http_url(csms), timeout=10) as c:
        for headers in ({}, {"Authorization": "Bearer x"}, auth("nobody")):
            answer = await c.get("/ocpi/versions", headers={**headers, "X-Request-ID": "r-1"})
            assert answer.status_code == 401
            body = answer.json()
            assert body["status_code"] == 2000 and "timestamp" in body
            assert answer.headers["X-Request-ID"] == "r-1"
        missing = await c.get(f"{V}/nothing-here")
        assert missing.status_code == 404 and missing.json()["status_code"] == 2000


# -- commands and sessions ------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_start_session_charges_and_pushes_session_and_cdr(
    csms: Csms, partner: Partner, version: str
) -> None:
    """START_SESSION with a token we do not know: ACCEPTED with a timeout, the charger is asked
    with the token uid, CommandResult ACCEPTED reaches response_url, the charger's Authorize is
    accepted, Session pushes go PENDING -> ACTIVE -> COMPLETED and the CDR carries exact kWh and
    cost; GET sessions and cdrs show the same; the token is not added to our tokens."""
    await _station(csms)
    remote = partner.emsp
    async with connected(ws_url(csms, "CP1"), "CP1", version=version) as cp:
        answer = await partner.client.post(
            f"{V}/commands/START_SESSION", json=_start_body(remote, rfid())
        )
        assert answer.status_code == 200
        body = answer.json()
        assert body["status_code"] == 1000
        assert body["data"]["result"] == "ACCEPTED" and body["data"]["timeout"] > 0
        if isinstance(cp, Charger201):
            request = await cp.next_request("RequestStartTransaction")
            assert request["id_token"] == {"id_token": "04A1B2C3", "type": "ISO14443"}
            auth_answer = await cp.authorize({"id_token": "04A1B2C3", "type": "ISO14443"})
            assert auth_answer.id_token_info["status"] == "Accepted"
        else:
            request = await cp.next_request("RemoteStartTransaction")
            assert request["id_tag"] == "04A1B2C3"
            assert (await cp.authorize("04A1B2C3")).id_tag_info["status"] == "Accepted"
        result = await remote.next("commands")
        assert result.method == "POST" and result.path == "/emsp/commands/START_SESSION/42"
        assert result.body == {"result": "ACCEPTED"}
        pending = await remote.session_until("PENDING")
        if isinstance(cp, Charger201):
            await cp.tx_event(
                "Started",
                "T1",
                trigger="RemoteStart",
                wh=1_000,
                context="Transaction.Begin",
                remote_start_id=request["remote_start_id"],
                id_token={"id_token": "04A1B2C3", "type": "ISO14443"},
            )
            await cp.tx_event("Updated", "T1", wh=5_000)
            # One Session PUT per relay round carries the newest state (ADR 0005): wait for
            # ACTIVE before ending, or both may go out as one COMPLETED.
            active = await remote.session_until("ACTIVE")
            await cp.tx_event("Ended", "T1", trigger="EVDeparted", wh=11_000)
        else:
            tx = (await cp.start_tx("04A1B2C3", 1_000)).transaction_id
            await cp.meter(tx, 5_000)
            active = await remote.session_until("ACTIVE")
            await cp.stop_tx(tx, 11_000)
        completed = await remote.session_until("COMPLETED")
        cdr = await remote.next("cdrs")
    session_id = pending.body["id"]
    assert pending.method == "PUT"
    assert pending.path == f"/emsp/2.2.1/sessions/NL/CSM/{session_id}"
    assert pending.headers["ocpi-to-party-id"] == "ABC"
    assert pending.body["auth_method"] == "COMMAND"
    assert pending.body["authorization_reference"] == "AUTH-REF-1"
    assert pending.body["cdr_token"] == {
        "country_code": "NL",
        "party_id": "ABC",
        "uid": "04A1B2C3",
        "type": "RFID",
        "contract_id": "NL-ABC-C04A1B2C3",
    }
    assert active.body["location_id"] == "CP1" and active.body["evse_uid"] == "CP1:1"
    assert completed.body["kwh"] == 10.0 and completed.body["total_cost"] == {"excl_vat": 3.0}
    assert cdr.method == "POST" and cdr.path == "/emsp/2.2.1/cdrs"
    assert cdr.body["id"] == session_id and cdr.body["total_energy"] == 10.0
    assert cdr.body["total_cost"] == {"excl_vat": 3.0} and cdr.body["currency"] == "EUR"
    assert cdr.body["cdr_location"]["evse_id"] == EVSE
    assert cdr.body["charging_periods"][0]["dimensions"][0] == {"type": "ENERGY", "volume": 10.0}

    listed = await partner.client.get(f"{V}/sessions")
    (item,) = listed.json()["data"]
    assert item["id"] == session_id and item["status"] == "COMPLETED" and item["kwh"] == 10.0
    cdrs = (await partner.client.get(f"{V}/cdrs")).json()["data"]
    assert [c["id"] for c in cdrs] == [session_id]
    with pytest.raises(NotFound):
        await csms.services.operators.token("04A1B2C3")


async def test_stop_session_stops_and_reports_the_result(csms: Csms, partner: Partner) -> None:
    """STOP_SESSION of the eMSP's running session sends RemoteStop; CommandResult ACCEPTED."""
    await _station(csms)
    remote = partner.emsp
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        await partner.client.post(f"{V}/commands/START_SESSION", json=_start_body(remote, rfid()))
        await cp.next_request("RemoteStartTransaction")
        assert (await remote.next("commands")).body["result"] == "ACCEPTED"
        await cp.start_tx("04A1B2C3", 0)
        session_id = (await remote.session_until("ACTIVE")).body["id"]
        stop = {"response_url": f"{remote.url}/commands/STOP_SESSION/7", "session_id": session_id}
        answer = await partner.client.post(f"{V}/commands/STOP_SESSION", json=stop)
        assert answer.json()["data"]["result"] == "ACCEPTED"
        await cp.next_request("RemoteStopTransaction")
        result = await remote.next("commands")
    assert result.path.endswith("/STOP_SESSION/7") and result.body == {"result": "ACCEPTED"}


async def test_command_outcomes_and_errors(csms: Csms, partner: Partner) -> None:
    """Unknown location 2003/REJECTED; another party's token, an offline charger or an unknown
    EVSE REJECTED; unknown session UNKNOWN_SESSION; reservations NOT_SUPPORTED; a charger that
    rejects gives CommandResult REJECTED, an occupied EVSE EVSE_OCCUPIED; UNLOCK_CONNECTOR
    reaches the charger; bad bodies are 2001 (HTTP 400 when not JSON)."""
    await _station(csms)
    remote, c = partner.emsp, partner.client

    async def command(name: str, body: Any) -> dict[str, Any]:
        answer = await c.post(f"{V}/commands/{name}", json=body)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    unknown = await command("START_SESSION", _start_body(remote, rfid(), location="NOPE"))
    assert unknown["status_code"] == 2003 and unknown["data"]["result"] == "REJECTED"
    foreign = await command("START_SESSION", _start_body(remote, rfid(party="XYZ")))
    assert foreign["data"]["result"] == "REJECTED"
    offline = await command("START_SESSION", _start_body(remote, rfid()))
    assert offline["data"]["result"] == "REJECTED"
    stop = {"response_url": f"{remote.url}/x", "session_id": "nope"}
    assert (await command("STOP_SESSION", stop))["data"]["result"] == "UNKNOWN_SESSION"
    reserve = {"response_url": f"{remote.url}/x", "token": rfid(), "expiry_date": "x"}
    assert (await command("RESERVE_NOW", reserve))["data"]["result"] == "NOT_SUPPORTED"
    missing = await command("START_SESSION", {"response_url": f"{remote.url}/x"})
    assert missing["status_code"] == 2001 and "token" in missing["status_message"]
    wrong_type = await command("START_SESSION", _start_body(remote, rfid(valid="maybe")))
    assert wrong_type["status_code"] == 2001 and "token.valid" in wrong_type["status_message"]
    not_json = await c.post(f"{V}/commands/START_SESSION", content=b"{nope")
    assert not_json.status_code == 400 and not_json.json()["status_code"] == 2001

    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        wrong_evse = {**_start_body(remote, rfid()), "evse_uid": "CP1:9"}
        assert (await command("START_SESSION", wrong_evse))["data"]["result"] == "REJECTED"
        cp.remote_start_answer = "Rejected"
        accepted = await command("START_SESSION", _start_body(remote, rfid()))
        assert accepted["data"]["result"] == "ACCEPTED"
        assert (await remote.next("commands")).body["result"] == "REJECTED"
        cp.remote_start_answer = "Accepted"
        await cp.start_tx("LOCAL-TAG", 0)
        await command("START_SESSION", _start_body(remote, rfid()))
        assert (await remote.next("commands")).body["result"] == "EVSE_OCCUPIED"
        unlock = {
            "response_url": f"{remote.url}/commands/UNLOCK_CONNECTOR/1",
            "location_id": "CP1",
            "evse_uid": "CP1:1",
            "connector_id": "1",
        }
        assert (await command("UNLOCK_CONNECTOR", unlock))["data"]["result"] == "ACCEPTED"
        assert (await cp.next_request("UnlockConnector"))["connector_id"] == 1
        assert (await remote.next("commands")).body == {"result": "ACCEPTED"}


# -- tokens, locations, pagination ----------------------------------------------------------------


async def test_tokens_receiver_feeds_authorization(csms: Csms, partner: Partner) -> None:
    """PUT a token (201, then 200), GET it back; the charger's Authorize follows it, and a PATCH
    to valid=false blocks it; mismatched ids or another party's token are 2001; unknown 404/2004."""
    await _station(csms)
    c = partner.client
    path = f"{V}/tokens/NL/ABC/04A1B2C3"
    created = await c.put(path, json=rfid())
    assert created.status_code == 201 and created.json()["status_code"] == 1000
    assert (await c.put(path, json=rfid())).status_code == 200
    got = (await c.get(path, params={"type": "RFID"})).json()
    assert got["data"]["contract_id"] == "NL-ABC-C04A1B2C3"
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        assert (await cp.authorize("04A1B2C3")).id_tag_info["status"] == "Accepted"
        patched = await c.patch(path, json={"valid": False, "last_updated": "2026-11-21T11:00:00Z"})
        assert patched.status_code == 200 and patched.json()["status_code"] == 1000
        assert (await cp.authorize("04A1B2C3")).id_tag_info["status"] == "Invalid"
    mismatch = await c.put(f"{V}/tokens/NL/ABC/OTHER", json=rfid())
    assert mismatch.json()["status_code"] == 2001
    foreign = await c.put(f"{V}/tokens/NL/XYZ/04A1B2C3", json=rfid(party="XYZ"))
    assert foreign.json()["status_code"] == 2001
    no_date = await c.patch(path, json={"valid": True})
    assert no_date.json()["status_code"] == 2001 and "last_updated" in no_date.text
    wrong_type = await c.patch(path, json={"whitelist": 3, "last_updated": "2026-11-21T12:00Z"})
    assert wrong_type.status_code == 200 and wrong_type.json()["status_code"] == 2001
    unknown = await c.get(f"{V}/tokens/NL/ABC/NOPE")
    assert unknown.status_code == 404 and unknown.json()["status_code"] == 2004


async def test_pushed_token_does_not_change_a_local_token(csms: Csms, partner: Partner) -> None:
    """An operator's id token with the same uid keeps its own status when an eMSP pushes one."""
    await add_token(csms, "04A1B2C3", TokenStatus.BLOCKED)
    put = await partner.client.put(f"{V}/tokens/NL/ABC/04A1B2C3", json=rfid())
    assert put.status_code == 201
    assert (await csms.services.operators.token("04A1B2C3")).status is TokenStatus.BLOCKED


async def test_a_party_cannot_be_registered_by_two_partners(csms: Csms, partner: Partner) -> None:
    """A second eMSP claiming NL/ABC in its roles is refused with 2001 and stays unregistered."""
    other = await csms.services.roaming.invite("NL", "XYZ")
    creds = {
        "token": TOKEN_B,
        "url": partner.emsp.versions_url,
        "roles": [
            {
                "role": "EMSP",
                "business_details": {"name": "Impostor"},
                "party_id": "ABC",
                "country_code": "NL",
            }
        ],
    }
    async with httpx.AsyncClient(base_url=http_url(csms), timeout=10) as c:
        answer = await c.post(f"{V}/credentials", json=creds, headers=auth(other.token_a))
    assert answer.json()["status_code"] == 2001 and "NL/ABC" in answer.json()["status_message"]
    still = await csms.services.roaming.partner(other.partner.id)
    assert still.status.value == "invited"


async def test_sessions_are_paginated_with_link_headers(csms: Csms, partner: Partner) -> None:
    """Sessions of the eMSP's whitelisted token: X-Total-Count, X-Limit and a Link to the next
    page until the last; date_to excludes everything before it."""
    await _station(csms)
    c = partner.client
    await c.put(f"{V}/tokens/NL/ABC/04A1B2C3", json=rfid())
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        for n in range(3):
            begin = 10_000 * n  # distinct starts: a repeated StartTransaction is a replay
            tx = (await cp.start_tx("04A1B2C3", begin)).transaction_id
            await cp.stop_tx(tx, begin + 1_000 * (n + 1))
            await partner.emsp.next("cdrs")
    first = await c.get(f"{V}/sessions", params={"limit": 2})
    assert first.headers["X-Total-Count"] == "3" and first.headers["X-Limit"] == "2"
    assert len(first.json()["data"]) == 2
    assert all(s["auth_method"] == "WHITELIST" for s in first.json()["data"])
    link = first.headers["Link"]
    assert link.endswith('rel="next"') and "offset=2" in link
    second = await c.get(link[1 : link.index(">")])
    assert len(second.json()["data"]) == 1 and "Link" not in second.headers
    kwh = [s["kwh"] for s in first.json()["data"] + second.json()["data"]]
    assert kwh == [1.0, 2.0, 3.0]
    none = await c.get(f"{V}/sessions", params={"date_to": "2000-01-01T00:00:00Z"})
    assert none.json()["data"] == [] and none.headers["X-Total-Count"] == "0"
    bad = await c.get(f"{V}/sessions", params={"date_from": "yesterday"})
    assert bad.status_code == 400 and bad.json()["status_code"] == 2001
    for offset in ("\u00b2", "9" * 30):  # a digit to str.isdigit; past 64 bits (were 500s)
        bad = await c.get(f"{V}/sessions", params={"offset": offset})
        assert bad.status_code == 400 and bad.json()["status_code"] == 2001


async def test_locations_show_chargers_and_their_evses(csms: Csms, partner: Partner) -> None:
    """A charger is a Location; its EVSE has our uid, the operator's EVSE ID and a live status;
    an unknown location is 404 with 2003."""
    await _station(csms)
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        await cp.status(1, "Charging")
        found = (await partner.client.get(f"{V}/locations")).json()["data"]
        (loc,) = found
        assert loc["id"] == "CP1" and loc["country_code"] == "NL" and loc["party_id"] == "CSM"
        (evse,) = loc["evses"]
        assert evse["uid"] == "CP1:1" and evse["evse_id"] == EVSE and evse["status"] == "CHARGING"
        one = (await partner.client.get(f"{V}/locations/CP1/CP1:1/1")).json()
        assert one["status_code"] == 1000 and one["data"]["id"] == "1"
    missing = await partner.client.get(f"{V}/locations/NOPE")
    assert missing.status_code == 404 and missing.json()["status_code"] == 2003
