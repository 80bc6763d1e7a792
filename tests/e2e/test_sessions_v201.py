"""OCPP 2.0.1 sessions end to end: TransactionEvent flows, remoteStartId, seqNo, offline."""

from __future__ import annotations

from ocpp.v201 import call

from csms.bootstrap import Csms
from csms.domain import events as ev
from csms.domain.commands import CommandStatus
from csms.domain.model import SessionStatus
from tests.chargers import Charger201, connected
from tests.conftest import MakeCsms, add_charger, add_token, wait_event, ws_url

RFID = {"id_token": "RF1", "type": "ISO14443"}


async def _charger(csms: Csms, charger_id: str = "CS1") -> None:
    await add_charger(csms, charger_id)
    await add_token(csms, "RF1")


async def test_local_session_recorded_with_exact_kwh(csms: Csms) -> None:
    """TC_E_01/E_07/E_15: Started, Updated, Ended give one ended session with exact kWh and cost."""
    await _charger(csms)
    async with connected(ws_url(csms, "CS1"), "CS1", version="2.0.1") as cp:
        started = await cp.tx_event(
            "Started",
            "tx-1",
            trigger="Authorized",
            wh=5_000,
            context="Transaction.Begin",
            id_token=RFID,
            evse={"id": 1, "connector_id": 1},
            charging_state="Charging",
        )
        assert started.id_token_info["status"] == "Accepted"
        updated = await cp.tx_event("Updated", "tx-1", wh=7_500)
        assert updated.total_cost == 0.75
        ended = await cp.tx_event(
            "Ended",
            "tx-1",
            trigger="EVDeparted",
            wh=9_250,
            context="Transaction.End",
            stopped_reason="EVDisconnected",
        )
        assert ended.total_cost == 1.28  # 4.25 kWh x 0.30, rounded half-up
    (session,) = await csms.services.sessions.list(charger_id="CS1")
    assert session.status is SessionStatus.ENDED and session.energy_kwh == 4.25
    assert (session.evse_id, session.connector_id, session.id_token) == (1, 1, "RF1")
    assert session.stop_reason == "EVDisconnected"


async def test_transaction_begin_zero_placeholder_is_ignored(csms: Csms) -> None:
    """Field lesson: a Transaction.Begin value of 0 is not taken as the start register."""
    await _charger(csms)
    async with connected(ws_url(csms, "CS1"), "CS1", version="2.0.1") as cp:
        await cp.tx_event(
            "Started", "t0", trigger="CablePluggedIn", wh=0, context="Transaction.Begin"
        )
        await cp.tx_event("Updated", "t0", wh=910_000)
        await cp.tx_event(
            "Ended", "t0", trigger="EVDeparted", wh=910_083, context="Transaction.End"
        )
    (session,) = await csms.services.sessions.list(charger_id="CS1")
    assert session.energy_wh == 83.0


async def test_replayed_events_change_nothing(csms: Csms) -> None:
    """A retried TransactionEvent (same seqNo, same content) is answered but not applied twice."""
    await _charger(csms)
    async with connected(ws_url(csms, "CS1"), "CS1", version="2.0.1") as cp:
        ts = "2026-02-01T10:00:00Z"
        await cp.tx_event(
            "Started",
            "tx-r",
            trigger="Authorized",
            wh=100,
            context="Transaction.Begin",
            seq_no=0,
            ts=ts,
            id_token=RFID,
        )
        again = await cp.tx_event(
            "Started",
            "tx-r",
            trigger="Authorized",
            wh=100,
            context="Transaction.Begin",
            seq_no=0,
            ts=ts,
            id_token=RFID,
        )
        assert again.id_token_info["status"] == "Accepted"
        end = {
            "trigger": "EVDeparted",
            "wh": 1_100,
            "context": "Transaction.End",
            "seq_no": 1,
            "ts": "2026-02-01T11:00:00Z",
        }
        await cp.tx_event("Ended", "tx-r", **end)
        await cp.tx_event("Ended", "tx-r", **end)
    sessions = await csms.services.sessions.list(charger_id="CS1")
    assert len(sessions) == 1 and sessions[0].energy_wh == 1_000.0
    samples = await csms.services.sessions.samples(sessions[0].id)
    assert len(samples) == 2


async def test_nothing_after_ended_reopens_the_session(csms: Csms) -> None:
    """Field lesson: an Updated (or offline replay) after Ended does not reopen or re-count."""
    await _charger(csms)
    async with connected(ws_url(csms, "CS1"), "CS1", version="2.0.1") as cp:
        await cp.tx_event(
            "Started",
            "tx-e",
            trigger="Authorized",
            wh=0.5,
            context="Transaction.Begin",
            id_token=RFID,
        )
        await cp.tx_event(
            "Ended", "tx-e", trigger="StopAuthorized", wh=2_000, context="Transaction.End"
        )
        late = await cp.tx_event("Updated", "tx-e", wh=50_000, offline=True)
        assert late is not None  # answered: a TransactionEvent cannot be refused (J02.FR.19)
    (session,) = await csms.services.sessions.list(charger_id="CS1")
    assert session.status is SessionStatus.ENDED and session.energy_wh == 1_999.5
    samples = await csms.services.sessions.samples(session.id)
    assert 50_000.0 in [s.value for s in samples]  # kept, not counted


async def test_seqno_reset_and_gaps_are_accepted(csms: Csms) -> None:
    """TC_E_53: seqNo restarting at 0 for a new transaction, and gaps, are accepted."""
    await _charger(csms)
    async with connected(ws_url(csms, "CS1"), "CS1", version="2.0.1") as cp:
        for tx in ("a", "b"):
            await cp.tx_event(
                "Started",
                tx,
                trigger="Authorized",
                wh=0.0,
                context="Transaction.Begin",
                seq_no=0,
                id_token=RFID,
            )
            await cp.tx_event("Updated", tx, wh=300, seq_no=3)
            await cp.tx_event(
                "Ended", tx, trigger="EVDeparted", wh=1_000, context="Transaction.End", seq_no=7
            )
    sessions = await csms.services.sessions.list(charger_id="CS1")
    assert sorted(s.energy_wh for s in sessions) == [700.0, 700.0]


async def test_offline_events_keep_their_timestamps(csms: Csms) -> None:
    """TC_E_04-style: offline=true events are stored with their original timestamps."""
    await _charger(csms)
    async with connected(ws_url(csms, "CS1"), "CS1", version="2.0.1") as cp:
        await cp.tx_event(
            "Started",
            "off",
            trigger="Authorized",
            wh=10,
            context="Transaction.Begin",
            ts="2025-12-31T23:00:00Z",
            offline=True,
            id_token=RFID,
        )
        await cp.tx_event(
            "Ended",
            "off",
            trigger="EVDeparted",
            wh=510,
            context="Transaction.End",
            ts="2025-12-31T23:30:00Z",
            offline=True,
        )
    (session,) = await csms.services.sessions.list(charger_id="CS1")
    assert session.offline and session.session_start is not None and session.session_end is not None
    assert session.session_start.isoformat() == "2025-12-31T23:00:00+00:00"
    assert session.session_end.isoformat() == "2025-12-31T23:30:00+00:00"


async def test_unknown_token_in_transaction_event_gets_invalid(csms: Csms) -> None:
    """TC_C_02/TC_E_*: idTokenInfo is required when the request had idToken; unknown -> Invalid."""
    await _charger(csms)
    async with connected(ws_url(csms, "CS1"), "CS1", version="2.0.1") as cp:
        answer = await cp.tx_event(
            "Started", "x", trigger="Authorized", id_token={"id_token": "NOPE", "type": "ISO14443"}
        )
        assert answer.id_token_info["status"] == "Invalid"
        auth = await cp.call(call.Authorize(id_token={"id_token": "NOPE", "type": "ISO14443"}))
        assert auth.id_token_info["status"] == "Invalid"
    (session,) = await csms.services.sessions.list(charger_id="CS1")
    assert session.auth_status == "Invalid"


async def test_remote_start_correlated_by_remote_start_id(csms: Csms) -> None:
    """TC_F_01/F_02: RequestStartTransaction carries remoteStartId; the Started event joins it."""
    await _charger(csms)
    events = csms.services.events.queue()
    async with connected(ws_url(csms, "CS1"), "CS1", version="2.0.1") as cp:
        outcome = await csms.services.sessions.start_session("CS1", "RF1", evse_id=1)
        assert outcome.result.status is CommandStatus.ACCEPTED
        request = await cp.next_request("RequestStartTransaction")
        rsid = request["remote_start_id"]
        assert rsid == outcome.session.remote_start_id and request["evse_id"] == 1
        started = await cp.tx_event(
            "Started",
            "rs-1",
            trigger="RemoteStart",
            wh=1_000,
            context="Transaction.Begin",
            remote_start_id=rsid,
            id_token={"id_token": "RF1", "type": "Central"},
            evse={"id": 1},
        )
        assert started.id_token_info["status"] == "Accepted"
        assert (await wait_event(events, ev.SESSION_STARTED)).subject == outcome.session.id
        result = await csms.services.sessions.stop_session(outcome.session.id)
        assert result.status is CommandStatus.ACCEPTED
        assert (await cp.next_request("RequestStopTransaction")) == {"transaction_id": "rs-1"}
        await cp.tx_event(
            "Ended",
            "rs-1",
            trigger="RemoteStop",
            wh=3_500,
            context="Transaction.End",
            stopped_reason="Remote",
        )
    session = await csms.services.sessions.get(outcome.session.id)
    assert session.status is SessionStatus.ENDED and session.energy_kwh == 2.5
    assert session.stop_reason == "Remote" and session.transaction_id == "rs-1"


async def test_remote_start_rejected_ends_start_failed(csms: Csms) -> None:
    """TC_F_03-style: a Rejected RequestStartTransaction leaves the session start_failed."""
    await _charger(csms)
    async with connected(ws_url(csms, "CS1"), "CS1", version="2.0.1") as cp:
        assert isinstance(cp, Charger201)
        cp.remote_start_answer = "Rejected"
        outcome = await csms.services.sessions.start_session("CS1", "RF1", evse_id=1)
    assert outcome.session.status is SessionStatus.START_FAILED


async def test_remote_start_nobody_plugs_in_ends_cancelled(make_csms: MakeCsms) -> None:
    """A remote start with no Started event within the plug-in timeout ends cancelled."""
    csms = await make_csms(sessions={"plugin_timeout": 0.3})
    await _charger(csms)
    events = csms.services.events.queue()
    async with connected(ws_url(csms, "CS1"), "CS1", version="2.0.1"):
        outcome = await csms.services.sessions.start_session("CS1", "RF1", evse_id=1)
        cancelled = await wait_event(events, ev.SESSION_CANCELLED)
    assert cancelled.subject == outcome.session.id


async def test_status_notification_and_notify_event_update_connector(csms: Csms) -> None:
    """G01: both StatusNotification and NotifyEvent(AvailabilityState) update connector status."""
    await add_charger(csms, "CS1")
    async with connected(ws_url(csms, "CS1"), "CS1", version="2.0.1") as cp:
        await cp.call(
            call.StatusNotification(
                timestamp="2026-01-01T10:00:00Z",
                connector_status="Available",
                evse_id=1,
                connector_id=1,
            )
        )
        await cp.call(
            call.NotifyEvent(
                generated_at="2026-01-01T10:01:00Z",
                seq_no=0,
                event_data=[
                    {
                        "event_id": 1,
                        "timestamp": "2026-01-01T10:01:00Z",
                        "trigger": "Delta",
                        "actual_value": "Occupied",
                        "event_notification_type": "HardWiredNotification",
                        "component": {"name": "Connector", "evse": {"id": 1, "connector_id": 1}},
                        "variable": {"name": "AvailabilityState"},
                    }
                ],
            )
        )
    (state,) = await csms.services.db.read(lambda uow: uow.chargers.connectors("CS1"))
    assert state.status == "Occupied"


async def test_security_event_is_stored_before_ack(csms: Csms) -> None:
    """A04.FR.03: SecurityEventNotification is acknowledged and stored for the operator."""
    await add_charger(csms, "CS1")
    async with connected(ws_url(csms, "CS1"), "CS1", version="2.0.1") as cp:
        await cp.call(
            call.SecurityEventNotification(type="FirmwareUpdated", timestamp="2026-01-01T10:00:00Z")
        )
    stored = await csms.services.db.read(lambda uow: uow.chargers.events("CS1", "security_event"))
    assert stored and stored[0].data["type"] == "FirmwareUpdated"
