"""Rotating a charger's Basic auth password through the REST API, against real chargers: the
simulator for the accepted path, raw WebSocket chargers for every other answer."""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from charger_sim.runner import ProtocolVersion
from csms.bootstrap import Csms
from csms.domain import events as ev
from csms.domain.model import ApiScope
from tests.chargers import basic_auth
from tests.conftest import MakeCsms, add_charger, add_token, http_url, wait_event, ws_url
from tests.e2e.conftest import api_key
from tests.sim.conftest import in_background
from tests.sim.csms_driver import ask, play, steps, wait_call

OLD = "old-password-00001"
PROTOCOLS = pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
BOOT = {
    "1.6": {"chargePointVendor": "V", "chargePointModel": "M"},
    "2.0.1": {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"},
}
SETTER = {"1.6": "ChangeConfiguration", "2.0.1": "SetVariables"}


async def handshake(csms: Csms, charger_id: str, password: str | None) -> int:
    """The HTTP status of a WebSocket handshake with these credentials (101 when it opens)."""
    try:
        async with websockets.connect(
            ws_url(csms, charger_id),
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=basic_auth(charger_id, password),
        ):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


@contextlib.asynccontextmanager
async def raw_charger(csms: Csms, charger_id: str, version: str) -> AsyncIterator[ClientConnection]:
    """A booted charger on a bare WebSocket, authenticated with :data:`OLD`."""
    async with websockets.connect(
        ws_url(csms, charger_id),
        subprotocols=[f"ocpp{version}"],  # type: ignore[list-item]
        additional_headers=basic_auth(charger_id, OLD),
    ) as ws:
        await ws.send(json.dumps([2, "boot", "BootNotification", BOOT[version]]))
        answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert answer[2]["status"] == "Accepted"
        yield ws


async def next_call(ws: ClientConnection) -> list[Any]:
    """The next CALL the CSMS sends (StatusNotification-free: raw chargers send nothing else)."""
    frame: list[Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert frame[0] == 2, frame
    return frame


async def booted(csms: Csms, protocol: str, events: asyncio.Queue[ev.DomainEvent]) -> None:
    """Wait until the simulator's boot step is over: its StatusNotification is stored, and one
    round trip later it has read the answer (a reconnect before that fails its boot step)."""
    await wait_event(events, ev.CONNECTOR_STATUS)
    if protocol == "1.6":
        await ask(csms, protocol, "GetConfiguration", {"key": ["HeartbeatInterval"]})
    else:
        item = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        await ask(csms, protocol, "GetVariables", {"getVariableData": [item]})


def sent_password(version: str, call: list[Any]) -> str:
    """The password inside a ChangeConfiguration / SetVariables CALL, as the charger reads it."""
    if version == "1.6":
        assert call[3]["key"] == "AuthorizationKey"
        return binascii.unhexlify(call[3]["value"]).decode()
    (item,) = call[3]["setVariableData"]
    assert (item["component"]["name"], item["variable"]["name"]) == (
        "SecurityCtrlr",
        "BasicAuthPassword",
    )
    return str(item["attributeValue"])


def answer_with(version: str, status: str) -> dict[str, Any]:
    if version == "1.6":
        return {"status": status}
    item = {
        "attributeStatus": status,
        "component": {"name": "SecurityCtrlr"},
        "variable": {"name": "BasicAuthPassword"},
    }
    return {"setVariableResult": [item]}


@PROTOCOLS
async def test_accepted_rotation_lets_only_the_new_password_in(
    csms: Csms, client: httpx.AsyncClient, protocol: ProtocolVersion, caplog: Any
) -> None:
    """TC_A_09 / TC_073: the simulator accepts the generated password and reconnects with it at
    once; from then on the old password is refused (401) and the new one gets in."""
    await add_charger(csms, "SIM1", password=OLD)
    await add_token(csms, "SIMTAG01")
    events = csms.services.events.queue()
    play_ = play(
        csms,
        protocol,
        steps("boot", wait_call(SETTER[protocol]), wait_call("ClearCache")),
        password=OLD,
    )
    caplog.set_level(logging.INFO, logger="csms.gateway")
    async with in_background(play_) as sim, asyncio.timeout(20):
        await booted(csms, protocol, events)
        response = await client.post("/v1/chargers/SIM1/password", json={})
        assert response.status_code == 200, response.text
        body = response.json()
        new = body["result"]["password"]
        assert body["ok"] and body["result"]["_id"] == "SIM1" and len(new) == 20
        assert body["result"]["protocol"] == protocol
        await wait_event(events, ev.CHARGER_OFFLINE)
        await wait_event(events, ev.CHARGER_ONLINE)
        # CHARGER_ONLINE may be a handshake the simulator gave up on (its open timeout ran out
        # with the 101 on its way: the CSMS registers a socket that closes at once and the
        # simulator retries). The connectors it reports again come over the connection it uses.
        await wait_event(events, ev.CONNECTOR_STATUS)
        await ask(csms, protocol, "ClearCache", {})  # over the connection opened with `new`
        result = await sim
    assert result.connects == 2
    assert not [r for r in caplog.records if "refused charger SIM1" in r.getMessage()]
    assert await handshake(csms, "SIM1", OLD) == 401
    assert await handshake(csms, "SIM1", new) == 101
    listed = (await client.get("/v1/chargers/SIM1")).text
    assert new not in listed and OLD not in listed


@pytest.mark.parametrize(
    ("version", "answer", "status", "code"),
    [
        ("1.6", "Rejected", 409, "password_rejected"),
        ("2.0.1", "Rejected", 409, "password_rejected"),
        ("1.6", "NotSupported", 409, "password_rejected"),
        ("2.0.1", "CALLERROR", 502, "charger_error"),
        ("1.6", "CALLERROR", 502, "charger_error"),
    ],
)
async def test_unaccepted_rotation_keeps_the_old_password(
    csms: Csms, client: httpx.AsyncClient, version: str, answer: str, status: int, code: str
) -> None:
    """TC_A_10: a charger that rejects (or answers a CALLERROR) keeps its old password; the API
    says why in its envelope and the password it proposed never gets in."""
    await add_charger(csms, "RAW", password=OLD)
    async with raw_charger(csms, "RAW", version) as ws:
        request = asyncio.create_task(client.post("/v1/chargers/RAW/password", json={}))
        call = await next_call(ws)
        assert call[2] == SETTER[version]
        proposed = sent_password(version, call)
        if answer == "CALLERROR":
            await ws.send(json.dumps([4, call[1], "InternalError", "storage full", {}]))
        else:
            await ws.send(json.dumps([3, call[1], answer_with(version, answer)]))
        response = await asyncio.wait_for(request, 5)
    body = response.json()
    assert response.status_code == status and body["ok"] is False, body
    assert body["result"]["code"] == code and "old password stays valid" in body["message"]
    assert "password" not in body["result"] and proposed not in response.text
    assert await handshake(csms, "RAW", OLD) == 101
    assert await handshake(csms, "RAW", proposed) == 401


async def test_unanswered_rotation_keeps_the_old_password_and_shows_the_new_once(
    make_csms: MakeCsms,
) -> None:
    """No answer within [ocpp] call_timeout: 504 charger_timeout, the old password stays, and
    the answer carries the password the charger may have taken (to set it by hand)."""
    csms = await make_csms(ocpp={"call_timeout": 0.5})
    await add_charger(csms, "RAW", password=OLD)
    headers = {"Authorization": f"Bearer {await api_key(csms)}"}
    async with (
        raw_charger(csms, "RAW", "2.0.1") as ws,
        httpx.AsyncClient(base_url=http_url(csms), headers=headers) as client,
    ):
        request = asyncio.create_task(client.post("/v1/chargers/RAW/password", json={}))
        proposed = sent_password("2.0.1", await next_call(ws))
        response = await asyncio.wait_for(request, 5)
    body = response.json()
    assert response.status_code == 504 and body["result"]["code"] == "charger_timeout", body
    assert body["result"]["password"] == proposed
    assert await handshake(csms, "RAW", OLD) == 101
    assert await handshake(csms, "RAW", proposed) == 401


async def test_given_password_is_checked_and_only_one_change_runs_at_a_time(
    csms: Csms, client: httpx.AsyncClient
) -> None:
    """A given password must fit the charger's version (1.6: 16-20 characters); a second change
    while one waits for the charger is 409; the given password is the one sent and stored."""
    await add_charger(csms, "RAW", password=OLD)
    async with raw_charger(csms, "RAW", "1.6") as ws:
        too_long = await client.post("/v1/chargers/RAW/password", json={"password": "p" * 30})
        assert too_long.status_code == 400, too_long.text
        assert too_long.json()["message"].startswith("password: must be 16 to 20 characters")
        assert "p" * 30 not in too_long.text
        chosen = "Chosen:pass-word.1"
        first = asyncio.create_task(
            client.post("/v1/chargers/RAW/password", json={"password": chosen})
        )
        call = await next_call(ws)
        assert sent_password("1.6", call) == chosen
        second = await client.post("/v1/chargers/RAW/password", json={})
        assert second.status_code == 409 and second.json()["result"]["code"] == (
            "password_change_under_way"
        )
        await ws.send(json.dumps([3, call[1], {"status": "Accepted"}]))
        response = await asyncio.wait_for(first, 5)
    assert response.status_code == 200 and response.json()["result"]["password"] == chosen
    assert await handshake(csms, "RAW", chosen) == 101
    assert await handshake(csms, "RAW", OLD) == 401


async def test_rotation_needs_an_operator_key_and_a_connected_charger(
    csms: Csms, client: httpx.AsyncClient
) -> None:
    """A sessions-scope key gets 403; an unknown charger 404; an offline one 409."""
    await add_charger(csms, "OFF", password=OLD)
    headers = {"Authorization": f"Bearer {await api_key(csms, ApiScope.SESSIONS)}"}
    forbidden = await client.post("/v1/chargers/OFF/password", json={}, headers=headers)
    assert forbidden.status_code == 403 and forbidden.json()["result"]["code"] == "forbidden"
    unknown = await client.post("/v1/chargers/NOPE/password", json={})
    assert unknown.status_code == 404 and unknown.json()["result"]["code"] == "charger_not_found"
    offline = await client.post("/v1/chargers/OFF/password", json={})
    assert offline.status_code == 409 and offline.json()["result"]["code"] == "charger_offline"
    assert await handshake(csms, "OFF", OLD) == 101
