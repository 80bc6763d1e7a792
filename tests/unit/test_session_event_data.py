"""The session snapshot every session event carries, and the copy the hot path takes."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

from csms.domain.model import MeterSample, Protocol, Session, SessionStatus
from csms.domain.sessions import copy_session, session_event_data, session_from_event


def _session() -> Session:
    t = datetime(2026, 11, 21, 12, 0, 0, 123456, tzinfo=UTC)
    return Session(
        id="s-1",
        charger_id="CP1",
        protocol=Protocol.V201,
        status=SessionStatus.STARTED,
        created_at=t,
        updated_at=t,
        evse_id=1,
        connector_id=1,
        transaction_id="tx-1",
        id_token="TAG",
        session_start=t,
        meter_start_wh=100.0,
        energy_wh=12.5,
        samples=[MeterSample(t, "Energy.Active.Import.Register", 112.5, "Wh")],
    )


def test_event_data_is_json_and_reads_back_as_the_session() -> None:
    """Every field but the samples is a JSON value, and session_from_event restores it."""
    session = _session()
    data = session_event_data(session)
    assert json.loads(json.dumps(data)) == data
    assert data["protocol"] == "2.0.1" and data["status"] == "started"
    assert data["session_start"] == "2026-11-21T12:00:00.123456+00:00"
    assert data["session_end"] is None
    assert "samples" not in data
    assert session_from_event(data) == dataclasses.replace(session, samples=[])


def test_copy_session_is_an_equal_independent_shallow_copy() -> None:
    """copy_session copies every field; changing the copy leaves the original alone."""
    session = _session()
    copied = copy_session(session)
    assert copied == session and copied is not session
    copied.energy_wh = 99.0
    assert session.energy_wh == 12.5
    assert copied.samples is session.samples  # shallow, like copy.copy
