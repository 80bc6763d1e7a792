"""Provisioning conformance: BootNotification Accepted / Pending / Rejected, Heartbeat."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets

from csms.bootstrap import Csms
from csms.domain.commands import ClearCache, CommandStatus, GetConfiguration, RemoteStart
from csms.domain.model import RegistrationStatus
from tests.chargers import connected
from tests.conftest import add_charger, ws_url

BOOT = {
    "1.6": '[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M","firmwareVersion":"1.2"}]',
    "2.0.1": '[2,"b","BootNotification",{"chargingStation":{"vendorName":"V","model":"M","firmwareVersion":"1.2"},"reason":"PowerUp"}]',
}


async def _ask(ws: Any, frame: str) -> list[Any]:
    await ws.send(frame)
    return list(json.loads(await asyncio.wait_for(ws.recv(), 5)))


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_b01_cold_boot_accepted_stores_boot_info(csms: Csms, version: str) -> None:
    """TC_B_01 / TC_001: Accepted with currentTime (UTC, Z) and the heartbeat interval; info stored."""
    await add_charger(csms, "CP1")
    async with websockets.connect(ws_url(csms, "CP1"), subprotocols=[f"ocpp{version}"]) as ws:  # type: ignore[list-item]
        answer = await _ask(ws, BOOT[version])
    body = answer[2]
    assert body["status"] == "Accepted" and body["interval"] == 300
    assert body["currentTime"].endswith("Z")
    assert (
        abs((datetime.fromisoformat(body["currentTime"]) - datetime.now(UTC)).total_seconds()) < 60
    )
    charger = await csms.services.chargers.get("CP1")
    assert charger is not None and (charger.vendor, charger.firmware_version) == ("V", "1.2")
    assert charger.boot_accepted


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_b02_pending_boot_allows_config_but_not_remote_start(
    csms: Csms, version: str
) -> None:
    """TC_B_02 / TC_B_30: Pending -> other CALLs get SecurityError; we send no RemoteStart."""
    await add_charger(csms, "CP1", status=RegistrationStatus.PENDING)
    async with websockets.connect(ws_url(csms, "CP1"), subprotocols=[f"ocpp{version}"]) as ws:  # type: ignore[list-item]
        answer = await _ask(ws, BOOT[version])
        assert answer[2]["status"] == "Pending" and answer[2]["interval"] > 0
        assert (await _ask(ws, '[2,"h","Heartbeat",{}]'))[2] == "SecurityError"
        result = await csms.services.bus.send("CP1", RemoteStart(id_token="T", connector_id=1))
        assert result.status is CommandStatus.FAILED and result.error_code == "NotAccepted"
        pending_call = asyncio.create_task(csms.services.bus.send("CP1", ClearCache()))
        call = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert call[:3] == [2, call[1], "ClearCache"]
        await ws.send(json.dumps([3, call[1], {"status": "Accepted"}]))
        assert (await pending_call).status is CommandStatus.ACCEPTED


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_b03_rejected_boot_gets_nothing_from_csms(csms: Csms, version: str) -> None:
    """TC_B_03: Rejected -> SecurityError for other CALLs, and the CSMS initiates nothing."""
    await add_charger(csms, "CP1", status=RegistrationStatus.REJECTED)
    async with websockets.connect(ws_url(csms, "CP1"), subprotocols=[f"ocpp{version}"]) as ws:  # type: ignore[list-item]
        answer = await _ask(ws, BOOT[version])
        assert answer[2]["status"] == "Rejected"
        assert (await _ask(ws, '[2,"h","Heartbeat",{}]'))[2] == "SecurityError"
        result = await csms.services.bus.send("CP1", GetConfiguration())
        assert result.status is CommandStatus.FAILED


async def test_command_bus_reports_offline_and_timeout(csms: Csms) -> None:
    """CommandBus.send gives offline for an unconnected charger, timeout for a silent one."""
    await add_charger(csms, "CP1")
    assert (await csms.services.bus.send("CP1", ClearCache())).status is CommandStatus.OFFLINE
    csms.services.bus._timeout = 0.2  # a silent charger: keep the test short
    async with websockets.connect(ws_url(csms, "CP1"), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await _ask(ws, BOOT["1.6"])
        result = await csms.services.bus.send("CP1", ClearCache())
    assert result.status is CommandStatus.TIMEOUT


async def test_generic_call_is_schema_checked_and_callerror_is_reported(csms: Csms) -> None:
    """A raw action with an invalid payload is refused before sending; a CALLERROR comes back as failed."""
    from csms.domain.commands import RawCall

    await add_charger(csms, "CP1")
    async with websockets.connect(ws_url(csms, "CP1"), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await _ask(ws, BOOT["1.6"])
        bad = await csms.services.bus.send("CP1", RawCall("ChangeAvailability", {"connectorId": 1}))
        assert (
            bad.status is CommandStatus.FAILED and bad.error_code == "OccurenceConstraintViolation"
        )
        task = asyncio.create_task(
            csms.services.bus.send("CP1", RawCall("GetLocalListVersion", {}))
        )
        call = json.loads(await asyncio.wait_for(ws.recv(), 5))
        await ws.send(json.dumps([4, call[1], "NotSupported", "no local list", {}]))
        result = await task
    assert result.status is CommandStatus.FAILED and result.error_code == "NotSupported"


async def test_heartbeat_updates_last_seen(csms: Csms) -> None:
    """TC_F_20-style: Heartbeat answers currentTime; the charger is online with a last-seen time."""
    from ocpp.v201 import call

    from csms.domain import events as ev

    await add_charger(csms, "CS1")
    events = csms.services.events.queue()
    async with connected(ws_url(csms, "CS1"), "CS1", version="2.0.1") as cp:
        answer = await cp.call(call.Heartbeat())
        assert answer.current_time.endswith("Z")
        charger = await csms.services.chargers.get("CS1")
        assert charger is not None and charger.online and charger.last_seen is not None
    async with asyncio.timeout(5):
        while (await events.get()).name != ev.CHARGER_OFFLINE:
            pass
    charger = await csms.services.chargers.get("CS1")
    assert charger is not None and not charger.online
