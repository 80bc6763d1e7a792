"""OCPP 1.6 sessions end to end: local and remote starts, replays, exact energy."""

from __future__ import annotations

from ocpp.v16 import call

from csms.bootstrap import Csms
from csms.domain import events as ev
from csms.domain.commands import CommandStatus
from csms.domain.model import SessionStatus, TokenStatus
from tests.chargers import Charger16, connected, now_iso
from tests.conftest import MakeCsms, add_charger, add_token, wait_event, ws_url


async def test_local_session_recorded_with_exact_kwh(csms: Csms) -> None:
    """TC_003/TC_004_1: an RFID start, meter values and a stop give one ended session, exact kWh."""
    await add_charger(csms, "CP1")
    await add_token(csms, "TAG1")
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        auth = await cp.call(call.Authorize(id_tag="TAG1"))
        assert auth.id_tag_info["status"] == "Accepted"
        start = await cp.start_tx("TAG1", meter_start=1_000_000)
        assert start.id_tag_info["status"] == "Accepted" and start.transaction_id > 0
        await cp.meter(start.transaction_id, 1_004_000)
        await cp.meter(start.transaction_id, 1_009.5, unit="kWh")
        stop = await cp.stop_tx(start.transaction_id, meter_stop=1_012_345, reason="EVDisconnected")
        assert stop is not None
    sessions = await csms.services.sessions.list(charger_id="CP1")
    assert len(sessions) == 1
    session = sessions[0]
    assert session.status is SessionStatus.ENDED
    assert session.energy_kwh == 12.345
    assert session.cost == round(12.345 * 0.30, 2)
    assert session.stop_reason == "EVDisconnected"
    samples = await csms.services.sessions.samples(session.id)
    assert sorted(s.value for s in samples) == [1_004_000.0, 1_009_500.0]


async def test_transaction_ids_are_positive_unique_across_chargers(csms: Csms) -> None:
    """1.6 transactionIds are positive and unique system-wide, never reused."""
    await add_charger(csms, "A")
    await add_charger(csms, "B")
    await add_token(csms, "T")
    ids = []
    async with connected(ws_url(csms, "A"), "A") as a, connected(ws_url(csms, "B"), "B") as b:
        for n, cp in enumerate((a, b, a, b)):
            result = await cp.start_tx("T", meter_start=n * 100, ts=now_iso())
            ids.append(result.transaction_id)
            await cp.stop_tx(result.transaction_id, meter_stop=n * 100 + 10)
    assert all(i > 0 for i in ids) and len(set(ids)) == 4


async def test_replayed_start_returns_same_transaction_id(csms: Csms) -> None:
    """Field lesson: a retried StartTransaction (lost answer) returns the same id, no duplicate."""
    await add_charger(csms, "CP1")
    await add_token(csms, "TAG1")
    ts = "2026-01-01T10:00:00Z"
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        first = await cp.start_tx("TAG1", 500, ts=ts)
        again = await cp.start_tx("TAG1", 500, ts=ts)
        assert again.transaction_id == first.transaction_id
        await cp.stop_tx(first.transaction_id, 1500, ts="2026-01-01T11:00:00Z")
        await cp.stop_tx(first.transaction_id, 1500, ts="2026-01-01T11:00:00Z")
    sessions = await csms.services.sessions.list(charger_id="CP1")
    assert len(sessions) == 1 and sessions[0].energy_kwh == 1.0
    failed = await csms.services.db.read(lambda uow: uow.sessions.failed_stops("CP1"))
    assert failed == []


async def test_start_with_unknown_or_blocked_tag_is_stored_and_answered(csms: Csms) -> None:
    """TC_023_1/3, TC_037_3: unknown -> Invalid, blocked -> Blocked; both stored with a real id.

    Field lessons 4 (SteVe): the start is kept, so the charger's stop finds its transaction.
    """
    await add_charger(csms, "CP1")
    await add_token(csms, "BAD", TokenStatus.BLOCKED)
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        unknown = await cp.start_tx("WHO", 0)
        assert unknown.id_tag_info["status"] == "Invalid" and unknown.transaction_id > 0
        blocked = await cp.start_tx("BAD", 0, connector=2)
        assert blocked.id_tag_info["status"] == "Blocked"
        assert blocked.transaction_id not in (0, unknown.transaction_id)
        await cp.stop_tx(unknown.transaction_id, 120, reason="DeAuthorized")
    sessions = await csms.services.sessions.list(charger_id="CP1")
    assert {s.auth_status for s in sessions} == {"Invalid", "Blocked"}
    (stopped,) = [s for s in sessions if s.transaction_id == str(unknown.transaction_id)]
    assert stopped.status is SessionStatus.ENDED and stopped.energy_wh == 120
    assert stopped.stop_reason == "DeAuthorized"
    assert await csms.services.db.read(lambda uow: uow.sessions.failed_stops("CP1")) == []


async def test_authorize_expired_and_blocked_tokens(csms: Csms) -> None:
    """TC_023_2/TC_023_3: Authorize answers Expired for a past expiry and Blocked for a blocked tag."""
    from datetime import UTC, datetime, timedelta

    await add_charger(csms, "CP1")
    await add_token(csms, "OLD", expires_at=datetime.now(UTC) - timedelta(days=1))
    await add_token(csms, "BLK", TokenStatus.BLOCKED)
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        assert (await cp.call(call.Authorize(id_tag="OLD"))).id_tag_info["status"] == "Expired"
        assert (await cp.call(call.Authorize(id_tag="BLK"))).id_tag_info["status"] == "Blocked"
        assert (await cp.call(call.Authorize(id_tag="NEW"))).id_tag_info["status"] == "Invalid"


async def test_free_vend_accepts_unknown_tokens(make_csms: MakeCsms) -> None:
    """[authorization] unknown_tokens = "accept" lets any tag charge."""
    csms = await make_csms(authorization={"unknown_tokens": "accept"})
    await add_charger(csms, "CP1")
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        assert (await cp.call(call.Authorize(id_tag="ANY"))).id_tag_info["status"] == "Accepted"


async def test_stop_for_unknown_transaction_is_acknowledged_and_kept(csms: Csms) -> None:
    """A StopTransaction for an unknown id is answered and kept in the failed-stops record.

    Field lessons 4: unknown ids, the -1 placeholder of a charger whose StartTransaction.conf
    was lost (EVerest libocpp #495), and a second, different stop of an ended transaction.
    """
    await add_charger(csms, "CP1")
    await add_token(csms, "T")
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        assert await cp.stop_tx(987654, meter_stop=42) is not None
        assert await cp.stop_tx(-1, meter_stop=43) is not None
        tx = (await cp.start_tx("T", 100)).transaction_id
        await cp.stop_tx(tx, 600, ts="2026-01-01T11:00:00Z")
        assert await cp.stop_tx(tx, 700, ts="2026-01-01T11:05:00Z") is not None
    failed = await csms.services.db.read(lambda uow: uow.sessions.failed_stops("CP1"))
    assert [(f.transaction_id, f.reason, f.data["meter_stop"]) for f in failed] == [
        ("987654", "unknown transaction", 42),
        ("-1", "unknown transaction", 43),
        (str(tx), "already stopped", 700),
    ]
    (session,) = await csms.services.sessions.list(charger_id="CP1")
    assert session.energy_wh == 500.0  # the first stop holds


async def test_meter_values_after_stop_do_not_change_energy(csms: Csms) -> None:
    """MeterValues arriving after the stop are answered and stored, but the energy stays."""
    await add_charger(csms, "CP1")
    await add_token(csms, "T")
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        tx = (await cp.start_tx("T", 100)).transaction_id
        await cp.stop_tx(tx, 600)
        assert await cp.meter(tx, 9_999) is not None
    (session,) = await csms.services.sessions.list(charger_id="CP1")
    assert session.energy_wh == 500.0 and session.status is SessionStatus.ENDED
    samples = await csms.services.sessions.samples(session.id)
    assert [s.value for s in samples] == [9_999.0]  # kept for review, not counted


async def test_remote_start_then_charger_start_is_correlated(csms: Csms) -> None:
    """TC_011_1/TC_010, F-style: API start -> RemoteStartTransaction -> StartTransaction joins it."""
    await add_charger(csms, "CP1")
    await add_token(csms, "APP")
    events = csms.services.events.queue()
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        outcome = await csms.services.sessions.start_session("CP1", "APP", connector_id=1)
        assert outcome.result.status is CommandStatus.ACCEPTED
        request = await cp.next_request("RemoteStartTransaction")
        assert request == {"id_tag": "APP", "connector_id": 1}
        auth = await cp.call(call.Authorize(id_tag="APP"))
        assert auth.id_tag_info["status"] == "Accepted"
        tx = (await cp.start_tx("APP", 2_000)).transaction_id
        started = await wait_event(events, ev.SESSION_STARTED)
        assert started.subject == outcome.session.id
        stop = await csms.services.sessions.stop_session(outcome.session.id)
        assert stop.status is CommandStatus.ACCEPTED
        assert (await cp.next_request("RemoteStopTransaction")) == {"transaction_id": tx}
        await cp.stop_tx(tx, 9_500, reason="Remote")
    session = await csms.services.sessions.get(outcome.session.id)
    assert session.status is SessionStatus.ENDED and session.transaction_id == str(tx)
    assert session.energy_kwh == 7.5 and session.requested_by == "api"
    assert session.stop_reason == "Remote"


async def test_remote_start_rejected_ends_start_failed(csms: Csms) -> None:
    """TC_026: a Rejected RemoteStartTransaction leaves the session start_failed."""
    await add_charger(csms, "CP1")
    await add_token(csms, "APP")
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        assert isinstance(cp, Charger16)
        cp.remote_start_answer = "Rejected"
        outcome = await csms.services.sessions.start_session("CP1", "APP", connector_id=1)
    assert outcome.result.status is CommandStatus.REJECTED
    assert outcome.session.status is SessionStatus.START_FAILED


async def test_remote_stop_rejected_is_reported(csms: Csms) -> None:
    """TC_028: a Rejected RemoteStopTransaction gives a rejected result and a stop_failure event."""
    await add_charger(csms, "CP1")
    await add_token(csms, "T")
    events = csms.services.events.queue()
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        await cp.start_tx("T", 0)
        (session,) = await csms.services.sessions.list(charger_id="CP1")
        cp.remote_stop_answer = "Rejected"
        result = await csms.services.sessions.stop_session(session.id)
        assert result.status is CommandStatus.REJECTED
        await wait_event(events, ev.SESSION_STOP_FAILED)


async def test_remote_start_nobody_plugs_in_ends_cancelled(make_csms: MakeCsms) -> None:
    """TC_011_2: no StartTransaction within the plug-in timeout -> the session ends cancelled."""
    csms = await make_csms(sessions={"plugin_timeout": 0.3})
    await add_charger(csms, "CP1")
    await add_token(csms, "APP")
    events = csms.services.events.queue()
    async with connected(ws_url(csms, "CP1"), "CP1"):
        outcome = await csms.services.sessions.start_session("CP1", "APP", connector_id=1)
        cancelled = await wait_event(events, ev.SESSION_CANCELLED)
    assert cancelled.subject == outcome.session.id
    session = await csms.services.sessions.get(outcome.session.id)
    assert session.status is SessionStatus.CANCELLED


async def test_remote_start_to_offline_charger_is_refused(csms: Csms) -> None:
    """Starting a session on a charger that is not connected raises ChargerOffline."""
    import pytest

    from csms.domain.errors import ChargerNotFound, ChargerOffline

    await add_charger(csms, "CP1")
    with pytest.raises(ChargerOffline):
        await csms.services.sessions.start_session("CP1", "APP")
    with pytest.raises(ChargerNotFound):
        await csms.services.sessions.start_session("NOPE", "APP")


async def test_status_notifications_are_stored_newest_wins(csms: Csms) -> None:
    """StatusNotification is stored per connector; a late, older one does not overwrite it."""
    await add_charger(csms, "CP1")
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        for status, ts in (
            ("Charging", "2026-01-01T10:00:05Z"),
            ("Preparing", "2026-01-01T10:00:00Z"),
        ):
            await cp.call(
                call.StatusNotification(
                    connector_id=1, error_code="NoError", status=status, timestamp=ts
                )
            )
    (state,) = await csms.services.db.read(lambda uow: uow.chargers.connectors("CP1"))
    assert state.status == "Charging"
