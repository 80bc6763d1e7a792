"""OCTT CSMS test cases for OCPP 1.6J (``TC_*_CSMS``), played by a test charge point.

Each test follows the steps of the named case: the test charge point sends what the OCTT sends, and
the assertions are the tool validations on the Central System's answers plus what it must have
recorded (session status, energy, stop reason, timestamps, connector status).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets
from ocpp.v16 import call
from websockets.exceptions import InvalidStatus

from csms.bootstrap import Csms
from csms.domain import events as ev
from csms.domain.commands import CommandStatus
from csms.domain.model import Session, SessionStatus, TokenStatus
from tests.chargers import Charger16, connected
from tests.conftest import MakeCsms, add_charger, add_token, wait_event, ws_url

CP = "CP1"
TAG = "VALID01"
# Message times: an hour ago, one minute apart, so stored timestamps are checkable exactly.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def at(minute: int) -> str:
    return (T0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


def when(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


async def _charge_point(csms: Csms) -> None:
    await add_charger(csms, CP)
    await add_token(csms, TAG)


async def _only_session(csms: Csms) -> Session:
    (session,) = await csms.services.sessions.list(charger_id=CP)
    return session


async def _connectors(csms: Csms) -> dict[int, str]:
    states = await csms.services.db.read(lambda uow: uow.chargers.connectors(CP))
    return {s.connector_id: s.status for s in states}


async def _charging(cp: Charger16, meter_start: int = 1_000) -> int:
    """Reusable state Charging: Authorize, Preparing, StartTransaction, Charging; returns the id."""
    assert (await cp.authorize(TAG)).id_tag_info["status"] == "Accepted"
    await cp.status(1, "Preparing", ts=at(0))
    start = await cp.start_tx(TAG, meter_start, ts=at(1))
    assert start.id_tag_info["status"] == "Accepted" and start.transaction_id > 0
    await cp.status(1, "Charging", ts=at(1))
    return int(start.transaction_id)


async def test_cold_boot_is_accepted_and_connector_states_are_stored(csms: Csms) -> None:
    """TC_001_CSMS: BootNotification Accepted; StatusNotification for connector 0 and 1; Heartbeat."""
    await add_charger(csms, CP)
    async with connected(ws_url(csms, CP), CP, boot=False) as cp:
        boot = await cp.boot()
        assert boot.status == "Accepted" and boot.interval > 0
        assert abs(datetime.fromisoformat(boot.current_time) - datetime.now(UTC)) < timedelta(
            minutes=1
        )
        for connector in (0, 1):
            assert await cp.status(connector, "Available", ts=at(0)) is not None
        heartbeat = await cp.call(call.Heartbeat(), suppress=False)
        assert heartbeat.current_time.endswith("Z")
    assert await _connectors(csms) == {0: "Available", 1: "Available"}
    charger = await csms.services.chargers.get(CP)
    assert charger is not None and charger.boot_accepted and charger.vendor == "TestVendor"


@pytest.mark.parametrize(
    "plugin_first", [pytest.param(True, id="TC_003"), pytest.param(False, id="TC_004_1")]
)
async def test_regular_session_start(csms: Csms, plugin_first: bool) -> None:
    """TC_003_CSMS / TC_004_1_CSMS: plug-in or identification first, then StartTransaction Accepted."""
    await _charge_point(csms)
    async with connected(ws_url(csms, CP), CP) as cp:
        if plugin_first:
            await cp.status(1, "Preparing", ts=at(0))
        assert (await cp.authorize(TAG)).id_tag_info["status"] == "Accepted"
        if not plugin_first:
            await cp.status(1, "Preparing", ts=at(0))
        start = await cp.start_tx(TAG, 2_000, ts=at(1))
        assert start.id_tag_info["status"] == "Accepted" and start.transaction_id > 0
        await cp.status(1, "Charging", ts=at(1))
    session = await _only_session(csms)
    assert session.status is SessionStatus.STARTED
    assert session.transaction_id == str(start.transaction_id)
    assert (session.id_token, session.auth_status, session.connector_id) == (TAG, "Accepted", 1)
    assert session.meter_start_wh == 2_000.0 and session.session_start == when(1)
    assert await _connectors(csms) == {1: "Charging"}


async def test_identification_first_connection_timeout_leaves_no_session(csms: Csms) -> None:
    """TC_004_2_CSMS: Authorized, Preparing, then Available after ConnectionTimeOut: no transaction."""
    await _charge_point(csms)
    async with connected(ws_url(csms, CP), CP) as cp:
        assert (await cp.authorize(TAG)).id_tag_info["status"] == "Accepted"
        await cp.status(1, "Preparing", ts=at(0))
        await cp.status(1, "Available", ts=at(2))
    assert await csms.services.sessions.list(charger_id=CP) == []
    assert await _connectors(csms) == {1: "Available"}


async def test_ev_side_disconnect_stops_the_transaction(csms: Csms) -> None:
    """TC_005_1_CSMS: Charging, SuspendedEV, StopTransaction(EVDisconnected), Finishing, Available."""
    await _charge_point(csms)
    async with connected(ws_url(csms, CP), CP) as cp:
        tx = await _charging(cp)
        await cp.status(1, "SuspendedEV", ts=at(20))
        stop = await cp.stop_tx(tx, 4_500, reason="EVDisconnected", ts=at(21))
        assert stop.id_tag_info is None  # no idTag in the request
        await cp.status(1, "Finishing", ts=at(21))
        await cp.status(1, "Available", ts=at(22))
    session = await _only_session(csms)
    assert session.status is SessionStatus.ENDED and session.stop_reason == "EVDisconnected"
    assert session.energy_wh == 3_500.0 and session.session_end == when(21)
    assert await _connectors(csms) == {1: "Available"}


@pytest.mark.parametrize(
    "cable_first", [pytest.param(True, id="TC_010"), pytest.param(False, id="TC_011_1")]
)
async def test_remote_start_is_joined_by_the_start_transaction(
    csms: Csms, cable_first: bool
) -> None:
    """TC_010_CSMS / TC_011_1_CSMS: RemoteStart, Authorize and StartTransaction are Accepted, one session."""
    await _charge_point(csms)
    events = csms.services.events.queue()
    async with connected(ws_url(csms, CP), CP) as cp:
        if cable_first:
            await cp.status(1, "Preparing", ts=at(0))
        outcome = await csms.services.sessions.start_session(CP, TAG, connector_id=1)
        assert outcome.result.status is CommandStatus.ACCEPTED
        assert await cp.next_request("RemoteStartTransaction") == {"id_tag": TAG, "connector_id": 1}
        assert (await cp.authorize(TAG)).id_tag_info["status"] == "Accepted"
        if not cable_first:
            await cp.status(1, "Preparing", ts=at(0))
        start = await cp.start_tx(TAG, 5_000, ts=at(1))
        assert start.id_tag_info["status"] == "Accepted"
        await cp.status(1, "Charging", ts=at(1))
        assert (await wait_event(events, ev.SESSION_STARTED)).subject == outcome.session.id
    session = await _only_session(csms)
    assert session.id == outcome.session.id and session.status is SessionStatus.STARTED
    assert session.transaction_id == str(start.transaction_id) and session.requested_by == "api"
    assert session.session_start == when(1)


async def test_remote_start_connection_timeout_cancels_the_session(make_csms: MakeCsms) -> None:
    """TC_011_2_CSMS: RemoteStart, Authorize Accepted, Preparing, Available: the session is cancelled."""
    csms = await make_csms(sessions={"plugin_timeout": 0.3})
    await _charge_point(csms)
    events = csms.services.events.queue()
    async with connected(ws_url(csms, CP), CP) as cp:
        outcome = await csms.services.sessions.start_session(CP, TAG, connector_id=1)
        assert outcome.result.status is CommandStatus.ACCEPTED
        await cp.next_request("RemoteStartTransaction")
        assert (await cp.authorize(TAG)).id_tag_info["status"] == "Accepted"
        await cp.status(1, "Preparing", ts=at(0))
        await cp.status(1, "Available", ts=at(1))
        assert (await wait_event(events, ev.SESSION_CANCELLED)).subject == outcome.session.id
    session = await csms.services.sessions.get(outcome.session.id)
    assert session.status is SessionStatus.CANCELLED and session.transaction_id is None
    assert await _connectors(csms) == {1: "Available"}


async def test_remote_stop_ends_the_session(csms: Csms) -> None:
    """TC_012_CSMS: RemoteStopTransaction with the running transactionId; StopTransaction(Remote)."""
    await _charge_point(csms)
    async with connected(ws_url(csms, CP), CP) as cp:
        tx = await _charging(cp)
        session = await _only_session(csms)
        result = await csms.services.sessions.stop_session(session.id)
        assert result.status is CommandStatus.ACCEPTED
        assert await cp.next_request("RemoteStopTransaction") == {"transaction_id": tx}
        await cp.stop_tx(tx, 7_000, reason="Remote", ts=at(30))
        await cp.status(1, "Finishing", ts=at(30))
        await cp.status(1, "Available", ts=at(31))
    session = await csms.services.sessions.get(session.id)
    assert session.status is SessionStatus.ENDED and session.stop_reason == "Remote"
    assert session.energy_wh == 6_000.0 and session.session_end == when(30)
    assert await _connectors(csms) == {1: "Available"}


@pytest.mark.parametrize(
    ("tag", "stored", "expected"),
    [
        pytest.param("UNKNOWN01", None, "Invalid", id="TC_023_1"),
        pytest.param(
            "EXPIRED01",
            {"expires_at": datetime.now(UTC) - timedelta(days=1)},
            "Expired",
            id="TC_023_2",
        ),
        pytest.param("BLOCKED01", {"status": TokenStatus.BLOCKED}, "Blocked", id="TC_023_3"),
    ],
)
async def test_authorize_answers_the_exact_status(
    csms: Csms, tag: str, stored: dict[str, Any] | None, expected: str
) -> None:
    """TC_023_1/2/3_CSMS: Authorize.conf idTagInfo.status is Invalid / Expired / Blocked."""
    await add_charger(csms, CP)
    if stored is not None:
        await add_token(csms, tag, **stored)
    async with connected(ws_url(csms, CP), CP) as cp:
        answer = await cp.authorize(tag)
    assert answer.id_tag_info["status"] == expected
    assert await csms.services.sessions.list(charger_id=CP) == []


async def test_remote_start_rejected_by_the_charge_point(csms: Csms) -> None:
    """TC_026_CSMS: RemoteStartTransaction answered Rejected: result rejected, session start_failed."""
    await _charge_point(csms)
    events = csms.services.events.queue()
    async with connected(ws_url(csms, CP), CP) as cp:
        assert isinstance(cp, Charger16)
        cp.remote_start_answer = "Rejected"
        outcome = await csms.services.sessions.start_session(CP, TAG, connector_id=1)
        assert await cp.next_request("RemoteStartTransaction") == {"id_tag": TAG, "connector_id": 1}
        failed = await wait_event(events, ev.SESSION_START_FAILED)
    assert outcome.result.status is CommandStatus.REJECTED and failed.subject == outcome.session.id
    session = await csms.services.sessions.get(outcome.session.id)
    assert session.status is SessionStatus.START_FAILED and session.transaction_id is None


async def test_remote_stop_rejected_leaves_the_session_running(csms: Csms) -> None:
    """TC_028_CSMS: RemoteStopTransaction answered Rejected: stop failure reported, session still started."""
    await _charge_point(csms)
    events = csms.services.events.queue()
    async with connected(ws_url(csms, CP), CP) as cp:
        assert isinstance(cp, Charger16)
        tx = await _charging(cp)
        session = await _only_session(csms)
        cp.remote_stop_answer = "Rejected"
        result = await csms.services.sessions.stop_session(session.id)
        assert result.status is CommandStatus.REJECTED
        assert await cp.next_request("RemoteStopTransaction") == {"transaction_id": tx}
        assert (await wait_event(events, ev.SESSION_STOP_FAILED)).subject == session.id
    session = await csms.services.sessions.get(session.id)
    assert session.status is SessionStatus.STARTED and session.session_end is None


async def test_power_failure_reboot_stops_the_transaction(csms: Csms) -> None:
    """TC_032_1_CSMS: after a power cycle: Boot Accepted, statuses, StopTransaction(PowerLoss)."""
    await _charge_point(csms)
    async with connected(ws_url(csms, CP), CP) as cp:
        tx = await _charging(cp)
    async with connected(ws_url(csms, CP), CP, boot=False) as cp:
        assert (await cp.boot()).status == "Accepted"
        await cp.status(0, "Available", ts=at(25))
        await cp.status(1, "Finishing", ts=at(25))
        stop = await cp.stop_tx(tx, 3_000, reason="PowerLoss", ts=at(20))
        assert stop is not None and stop.id_tag_info is None
    session = await _only_session(csms)
    assert session.status is SessionStatus.ENDED and session.stop_reason == "PowerLoss"
    assert session.energy_wh == 2_000.0 and session.session_end == when(20)
    assert await _connectors(csms) == {0: "Available", 1: "Finishing"}


async def test_offline_start_with_valid_tag_is_accepted_with_its_time(csms: Csms) -> None:
    """TC_037_1_CSMS: a queued StartTransaction (old timestamp) is Accepted; then Charging."""
    await _charge_point(csms)
    async with connected(ws_url(csms, CP), CP) as cp:
        start = await cp.start_tx(TAG, 8_000, ts=at(-30))
        assert start.id_tag_info["status"] == "Accepted" and start.transaction_id > 0
        await cp.status(1, "Charging", ts=at(0))
    session = await _only_session(csms)
    assert session.status is SessionStatus.STARTED and session.session_start == when(-30)
    assert session.auth_status == "Accepted" and session.meter_start_wh == 8_000.0


async def test_offline_start_with_invalid_tag_is_answered_then_deauthorized(csms: Csms) -> None:
    """TC_037_3_CSMS: queued StartTransaction with an invalid tag -> Invalid + transactionId; DeAuthorized stop."""
    await _charge_point(csms)
    async with connected(ws_url(csms, CP), CP) as cp:
        start = await cp.start_tx("UNKNOWN01", 8_000, ts=at(-30))
        assert start.id_tag_info["status"] == "Invalid" and start.transaction_id > 0
        stop = await cp.stop_tx(start.transaction_id, 8_010, reason="DeAuthorized", ts=at(-29))
        assert stop.id_tag_info is None
        await cp.status(1, "Finishing", ts=at(0))
    session = await _only_session(csms)
    assert session.status is SessionStatus.ENDED and session.stop_reason == "DeAuthorized"
    assert session.auth_status == "Invalid" and session.energy_wh == 10.0
    assert (session.session_start, session.session_end) == (when(-30), when(-29))


async def test_offline_transaction_is_recorded_with_its_times(csms: Csms) -> None:
    """TC_039_CSMS: queued StartTransaction and StopTransaction(Local) after reconnect; original times kept."""
    await _charge_point(csms)
    async with connected(ws_url(csms, CP), CP) as cp:
        start = await cp.start_tx(TAG, 20_000, ts=at(-50))
        assert start.id_tag_info["status"] == "Accepted"
        stop = await cp.call(
            call.StopTransaction(
                transaction_id=start.transaction_id,
                meter_stop=21_250,
                timestamp=at(-20),
                reason="Local",
                id_tag=TAG,
            )
        )
        assert stop.id_tag_info["status"] == "Accepted"  # idTag in the request -> idTagInfo
    session = await _only_session(csms)
    assert session.status is SessionStatus.ENDED and session.stop_reason == "Local"
    assert session.energy_wh == 1_250.0 and session.cost == 0.38
    assert (session.session_start, session.session_end) == (when(-50), when(-20))


async def test_subprotocol_negotiation(csms: Csms) -> None:
    """TC_088_CSMS: an unsupported subprotocol is refused before the upgrade; ocpp1.6 is echoed back."""
    await add_charger(csms, CP)
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(ws_url(csms, CP), subprotocols=["ocpp1.5"]):  # type: ignore[list-item]
            pass
    assert 400 <= refused.value.response.status_code < 500
    charger = await csms.services.chargers.get(CP)
    assert charger is not None and not charger.online and charger.last_seen is None
    async with websockets.connect(ws_url(csms, CP), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "ocpp1.6"
    async with connected(ws_url(csms, CP), CP) as cp:
        assert (await cp.call(call.Heartbeat(), suppress=False)).current_time
