"""Limits against the real server: CALLs per second per charger, frame size, HTTP body size."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from csms.bootstrap import Csms
from tests.conftest import MakeCsms, add_charger, http_url, ws_url
from tests.e2e.conftest import BOOT16, BOOT201, api_key, exchange

BOOT = {"1.6": BOOT16, "2.0.1": BOOT201}


async def _booted(csms: Csms, charger_id: str, version: str = "1.6") -> Any:
    await add_charger(csms, charger_id)
    ws = await websockets.connect(ws_url(csms, charger_id), subprotocols=[f"ocpp{version}"])  # type: ignore[list-item]
    assert (await exchange(ws, BOOT[version]))[2]["status"] == "Accepted"
    return ws


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_calls_over_the_rate_get_generic_error_and_others_are_unaffected(
    make_csms: MakeCsms, version: str, caplog: pytest.LogCaptureFixture
) -> None:
    """[ocpp] max_messages_per_second: a charger flooding 40 Heartbeats past its burst gets
    GenericError for the excess on a socket that stays open, logged once; another charger
    sending at the same time is served."""
    caplog.set_level(logging.WARNING, logger="csms.gateway")
    csms = await make_csms(ocpp={"max_messages_per_second": 1.0, "message_burst": 5})
    flooder, calm = await _booted(csms, "FLOOD", version), await _booted(csms, "CALM", version)
    try:
        for i in range(40):  # pipelined: not waiting for answers
            await flooder.send(f'[2,"h{i}","Heartbeat",{{}}]')
        calm_answer = await exchange(calm, '[2,"c1","Heartbeat",{}]')
        answers = [json.loads(await asyncio.wait_for(flooder.recv(), 5)) for _ in range(40)]
    finally:
        await flooder.close()
        await calm.close()
    assert calm_answer[:2] == [3, "c1"]
    assert [a[:2] for a in answers[:4]] == [[3, f"h{i}"] for i in range(4)]  # boot took one
    refused = [a for a in answers if a[0] == 4]
    assert len(refused) >= 30, answers
    assert {(a[2], a[3]) for a in refused} == {
        ("GenericError", "rate limit: at most 1 messages per second")
    }
    lines = [r for r in caplog.records if "CALLs/s" in r.getMessage()]
    assert len(lines) == 1 and "charger FLOOD" in lines[0].getMessage()


async def test_oversized_frame_closes_that_socket_only(csms: Csms) -> None:
    """A frame over [ocpp] max_frame_bytes closes its socket with 1009; a charger already
    connected keeps being served and new chargers still connect."""
    big_sender, bystander = await _booted(csms, "BIG"), await _booted(csms, "OTHER")
    try:
        big = '[2,"big","DataTransfer",{"vendorId":"x","data":"' + "a" * 70_000 + '"}]'
        await big_sender.send(big)
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            await asyncio.wait_for(big_sender.recv(), 5)
        assert big_sender.close_code == 1009
        assert (await exchange(bystander, '[2,"hb","Heartbeat",{}]'))[:2] == [3, "hb"]
        newcomer = await _booted(csms, "NEW")
        await newcomer.close()
    finally:
        await bystander.close()


@pytest.fixture
async def small_api(make_csms: MakeCsms) -> AsyncIterator[tuple[Csms, httpx.AsyncClient]]:
    """A CSMS accepting request bodies up to 1 KiB, and an operator client."""
    csms = await make_csms(api={"max_body_bytes": 1024})
    headers = {"Authorization": f"Bearer {await api_key(csms)}"}
    async with httpx.AsyncClient(base_url=http_url(csms), headers=headers, timeout=10) as c:
        yield csms, c


async def test_oversized_bodies_get_413_in_each_facades_envelope(
    small_api: tuple[Csms, httpx.AsyncClient],
) -> None:
    """[api] max_body_bytes: REST, OIOI and OCPI each answer 413 in their own envelope, with or
    without a Content-Length; a body within the limit is served as before."""
    _, client = small_api
    big = json.dumps({"id": "CP1", "padding": "x" * 2000}).encode()
    rest = await client.post("/v1/chargers", content=big)
    assert rest.status_code == 413, rest.text
    assert rest.json()["ok"] is False and rest.json()["result"]["code"] == "payload_too_large"
    assert "1024 bytes" in rest.json()["message"]

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(8):
            yield b" " * 200

    streamed = await client.post("/v1/chargers", content=chunked())
    assert streamed.status_code == 413 and streamed.json()["result"]["code"] == "payload_too_large"
    oioi = await client.post("/oioi/v4/request", content=big)
    assert oioi.status_code == 413 and oioi.json()["result"]["code"] == 230
    assert "1024 bytes" in oioi.json()["error"]["request"]
    ocpi = await client.post("/ocpi/2.2.1/credentials", content=big)
    assert ocpi.status_code == 413 and ocpi.json()["status_code"] == 2000
    ok = await client.post("/v1/chargers", json={"id": "CP1", "no_password": True})
    assert ok.status_code == 201, ok.text
    small_stream = await client.post("/v1/tokens", content=_parts(b'{"id_token"', b': "T1"}'))
    assert small_stream.status_code == 201, small_stream.text


async def _parts(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
