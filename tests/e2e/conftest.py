"""HTTP clients for the API tests: real requests to the CSMS's own HTTP port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from csms.bootstrap import Csms
from csms.domain.model import ApiScope
from tests.conftest import add_charger, http_url, ws_url

BOOT16 = '[2,"boot","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
BOOT201 = '[2,"boot","BootNotification",{"chargingStation":{"vendorName":"V","model":"M"},"reason":"PowerUp"}]'


async def exchange(ws: Any, frame: str | bytes) -> list[Any]:
    """Send ``frame`` on a raw socket and return the answer (5 s at most)."""
    await ws.send(frame)
    answer = await asyncio.wait_for(ws.recv(), 5)
    return list(json.loads(answer))


async def open_booted(csms: Csms, version: str) -> Any:
    """A raw websockets client for charger RAW, registered and booted (Accepted)."""
    await add_charger(csms, "RAW")
    ws = await websockets.connect(ws_url(csms, "RAW"), subprotocols=[f"ocpp{version}"])  # type: ignore[list-item]
    boot = await exchange(ws, BOOT16 if version == "1.6" else BOOT201)
    assert boot[0] == 3 and boot[2]["status"] == "Accepted"
    return ws


async def api_key(csms: Csms, *scopes: ApiScope) -> str:
    """A fresh API key (operator scope unless told otherwise)."""
    created = await csms.services.operators.create_api_key(
        "test", list(scopes) or [ApiScope.OPERATOR]
    )
    return created.secret


@pytest.fixture
async def client(csms: Csms) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client with an operator key against the running CSMS."""
    key = await api_key(csms)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=http_url(csms), headers=headers, timeout=10) as c:
        yield c
