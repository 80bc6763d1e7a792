"""OCTT CSMS test cases for OCPP 2.0.1 (Part 6, ``TC_*_CSMS``), played by a test charging station.

Each test follows the steps of the named case: the test charger sends what the OCTT sends, and the
assertions are the tool validations on the CSMS's answers plus what the CSMS must have recorded
(session status, energy, stop reason, timestamps). Reusable states (Booted, Authorized,
EVConnectedPreSession, EnergyTransferStarted, ...) are the helpers below.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.exceptions import SecurityError
from ocpp.v201 import call

from csms.bootstrap import Csms
from csms.domain import events as ev
from csms.domain.commands import CommandStatus, GetConfiguration, TriggerMessage
from csms.domain.model import RegistrationStatus, Session, SessionStatus, TokenStatus
from tests.chargers import Charger201, connected
from tests.conftest import add_charger, add_token, wait_event, ws_url

CS = "CS1"
VALID = {"id_token": "VALID01", "type": "ISO14443"}
EVSE = {"id": 1, "connector_id": 1}
# Message times: an hour ago, one minute apart, so stored timestamps are checkable exactly.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def at(minute: int) -> str:
    return (T0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


def when(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


async def _station(csms: Csms, status: RegistrationStatus = RegistrationStatus.ACCEPTED) -> None:
    await add_charger(csms, CS, status=status)
    await add_token(csms, VALID["id_token"])


async def _operator_accepts(csms: Csms) -> None:
    """The operator changes the station's registration status to Accepted."""

    async def _accept(uow: Any) -> None:
        stored = await uow.chargers.get(CS)
        stored.registration_status = RegistrationStatus.ACCEPTED
        await uow.chargers.save(stored)

    await csms.services.db.write(_accept)


async def _only_session(csms: Csms) -> Session:
    (session,) = await csms.services.sessions.list(charger_id=CS)
    return session


async def _connector_status(csms: Csms) -> str:
    (state,) = await csms.services.db.read(lambda uow: uow.chargers.connectors(CS))
    return state.status


# -- reusable states (CSMS side: the OCTT plays the charging station) --------------------------


async def _authorized(cp: Charger201) -> None:
    """Reusable state Authorized, before a transaction: AuthorizeResponse must be Accepted."""
    answer = await cp.authorize(VALID)
    assert answer.id_token_info["status"] == "Accepted"


async def _started(cp: Charger201, tx: str, **kw: Any) -> Any:
    """A Started event on EVSE 1 that carries the Transaction.Begin register at minute 0."""
    return await cp.tx_event(
        "Started", tx, evse=EVSE, wh=10_000, context="Transaction.Begin", ts=at(0), **kw
    )


async def _energy_transfer_started(csms: Csms, cp: Charger201, tx: str) -> None:
    """Authorized, then Started(Authorized) and a periodic sample: state EnergyTransferStarted."""
    await _authorized(cp)
    started = await _started(
        cp, tx, trigger="Authorized", id_token=VALID, charging_state="Charging"
    )
    assert started.id_token_info["status"] == "Accepted"
    updated = await cp.tx_event("Updated", tx, wh=11_000, ts=at(10))
    assert updated.id_token_info is None
    assert (await _only_session(csms)).status is SessionStatus.STARTED


# -- B. Provisioning -----------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["StatusNotification", "NotifyEvent"])
async def test_cold_boot_accepted_then_connector_states_are_stored(csms: Csms, form: str) -> None:
    """TC_B_01_CSMS: Booted: Boot is Accepted with interval and currentTime; both status forms are kept."""
    await add_charger(csms, CS)
    async with connected(ws_url(csms, CS), CS, version="2.0.1", boot=False) as cp:
        boot = await cp.boot()
        assert boot.status == "Accepted" and boot.interval > 0
        assert abs(datetime.fromisoformat(boot.current_time) - datetime.now(UTC)) < timedelta(
            minutes=1
        )
        if form == "StatusNotification":
            await cp.status("Available", ts=at(0))
        else:
            await cp.availability_event("Available", ts=at(0))
        heartbeat = await cp.call(call.Heartbeat(), suppress=False)
        assert heartbeat.current_time.endswith("Z")
    assert await _connector_status(csms) == "Available"
    charger = await csms.services.chargers.get(CS)
    assert charger is not None and charger.boot_accepted and charger.boot_reason == "PowerUp"


async def test_pending_boot_keeps_socket_and_next_boot_is_accepted(csms: Csms) -> None:
    """TC_B_02_CSMS: Boot answered Pending (socket kept open); after acceptance the next Boot is Accepted."""
    await _station(csms, RegistrationStatus.PENDING)
    async with connected(ws_url(csms, CS), CS, version="2.0.1", boot=False) as cp:
        assert isinstance(cp, Charger201)
        first = await cp.boot()
        assert first.status == "Pending" and first.interval >= 0
        charger = await csms.services.chargers.get(CS)
        assert charger is not None and not charger.boot_accepted
        pending = await csms.services.sessions.start_session(CS, VALID["id_token"], evse_id=1)
        assert pending.result.status is CommandStatus.FAILED  # no RequestStart while Pending
        assert cp.received.empty()  # bus.send returns only after an answer: nothing was sent

        await _operator_accepts(csms)
        second = await cp.boot()  # same socket: Pending must not have closed it (B02.FR.06)
        assert second.status == "Accepted" and second.interval > 0
        heartbeat = await cp.call(call.Heartbeat(), suppress=False)
        assert heartbeat.current_time
    charger = await csms.services.chargers.get(CS)
    assert charger is not None and charger.boot_accepted


@pytest.mark.parametrize(
    ("command", "asked", "reply"),
    [
        pytest.param(
            GetConfiguration(),
            "GetBaseReport",
            call.NotifyReport(
                request_id=1,
                generated_at=at(0),
                seq_no=0,
                report_data=[
                    {
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                        "variable_attribute": [{"type": "Actual", "value": "300"}],
                    }
                ],
            ),
            id="TC_B_02-GetBaseReport",
        ),
        pytest.param(
            TriggerMessage("StatusNotification", evse_id=1, connector_id=1),
            "TriggerMessage",
            call.StatusNotification(
                timestamp=at(0), connector_status="Available", evse_id=1, connector_id=1
            ),
            id="TC_B_02-TriggerMessage",
        ),
    ],
)
async def test_messages_the_csms_asked_for_while_pending_are_processed(
    csms: Csms, command: Any, asked: str, reply: Any
) -> None:
    """TC_B_02_CSMS (retrieve information while Pending): the answer the CSMS asked for is accepted."""
    await _station(csms, RegistrationStatus.PENDING)
    async with connected(ws_url(csms, CS), CS, version="2.0.1", boot=False) as cp:
        assert (await cp.boot()).status == "Pending"
        result = await csms.services.bus.send(CS, command)
        assert result.status is CommandStatus.ACCEPTED
        await cp.next_request(asked)
        assert await cp.call(reply, suppress=False) is not None


async def test_rejected_boot_csms_initiates_nothing_until_accepted(csms: Csms) -> None:
    """TC_B_03 (CS case mirrored; B03.FR.03/07): Rejected -> no CSMS-initiated call, SecurityError; later Accepted."""
    await _station(csms, RegistrationStatus.REJECTED)
    async with connected(ws_url(csms, CS), CS, version="2.0.1", boot=False) as cp:
        assert isinstance(cp, Charger201)
        boot = await cp.boot()
        assert boot.status == "Rejected" and boot.interval >= 0
        with pytest.raises(SecurityError):
            await cp.call(call.Heartbeat(), suppress=False)
        outcome = await csms.services.sessions.start_session(CS, VALID["id_token"], evse_id=1)
        assert outcome.result.status is CommandStatus.FAILED
        assert outcome.session.status is SessionStatus.START_FAILED
        assert cp.received.empty()  # bus.send returns only after an answer: nothing was sent

        await _operator_accepts(csms)
        assert (await cp.boot()).status == "Accepted"


# -- C. Authorization ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "stored", "allowed"),
    [
        pytest.param("UNKNOWN01", None, {"Invalid", "Unknown"}, id="TC_C_02"),
        pytest.param(
            "BLOCKED01", {"status": TokenStatus.BLOCKED}, {"Blocked", "Invalid"}, id="TC_C_06"
        ),
        pytest.param(
            "EXPIRED01",
            {"expires_at": datetime.now(UTC) - timedelta(days=1)},
            {"Expired", "Invalid"},
            id="TC_C_07",
        ),
    ],
)
async def test_authorize_reports_a_token_that_may_not_charge(
    csms: Csms, token: str, stored: dict[str, Any] | None, allowed: set[str]
) -> None:
    """TC_C_02_CSMS / TC_C_06_CSMS / TC_C_07_CSMS: AuthorizeResponse idTokenInfo.status is not Accepted."""
    await add_charger(csms, CS)
    if stored is not None:
        await add_token(csms, token, **stored)
    async with connected(ws_url(csms, CS), CS, version="2.0.1") as cp:
        answer = await cp.authorize({"id_token": token, "type": "ISO14443"})
    assert answer.id_token_info["status"] in allowed
    assert await csms.services.sessions.list(charger_id=CS) == []


# -- E. Transactions: start options ------------------------------------------------------------


async def test_start_when_power_path_closes(csms: Csms) -> None:
    """TC_E_01_CSMS: Authorize, Occupied, Started(ChargingStateChanged, SuspendedEVSE), Updated Charging."""
    await _station(csms)
    async with connected(ws_url(csms, CS), CS, version="2.0.1") as cp:
        await _authorized(cp)
        await cp.status("Occupied", ts=at(0))
        started = await _started(
            cp,
            "e01",
            trigger="ChargingStateChanged",
            id_token=VALID,
            charging_state="SuspendedEVSE",
        )
        assert started.id_token_info["status"] == "Accepted"
        charging = await cp.tx_event(
            "Updated", "e01", trigger="ChargingStateChanged", charging_state="Charging", ts=at(2)
        )
        assert charging.id_token_info is None
    session = await _only_session(csms)
    assert session.status is SessionStatus.STARTED and session.transaction_id == "e01"
    assert (session.evse_id, session.connector_id, session.id_token) == (1, 1, "VALID01")
    assert session.auth_status == "Accepted"
    assert session.session_start == when(0) and session.charging_start == when(2)
    assert await _connector_status(csms) == "Occupied"


@pytest.mark.parametrize(
    ("trigger", "charging_state", "meter", "charging_from"),
    [
        pytest.param("ChargingStateChanged", "Charging", None, 0, id="TC_E_02"),
        pytest.param(
            "SignedDataReceived",
            None,
            [
                {
                    "timestamp": at(0),
                    "sampled_value": [
                        {
                            "value": 0.0,
                            "context": "Transaction.Begin",
                            "signed_meter_value": {
                                "signed_meter_data": "AAECAwQFBgcICQ==",
                                "signing_method": "ECDSA-secp256r1-SHA256",
                                "encoding_method": "OCMF",
                                "public_key": "BAECAwQ=",
                            },
                        }
                    ],
                }
            ],
            None,
            id="TC_E_11",
        ),
    ],
)
async def test_start_with_id_token_after_authorize_and_occupied(
    csms: Csms,
    trigger: str,
    charging_state: str | None,
    meter: list[dict[str, Any]] | None,
    charging_from: int | None,
) -> None:
    """TC_E_02_CSMS / TC_E_11_CSMS: Authorize, Occupied, Started(EnergyTransfer | DataSigned) -> Accepted."""
    await _station(csms)
    async with connected(ws_url(csms, CS), CS, version="2.0.1") as cp:
        await _authorized(cp)
        await cp.status("Occupied", ts=at(0))
        await cp.availability_event("Occupied", ts=at(0))
        started = await cp.tx_event(
            "Started",
            "e02",
            trigger=trigger,
            id_token=VALID,
            evse=EVSE,
            charging_state=charging_state,
            meter_value=meter,
            ts=at(0),
        )
        assert started.id_token_info["status"] == "Accepted"
    session = await _only_session(csms)
    assert session.status is SessionStatus.STARTED and session.id_token == "VALID01"
    assert (session.evse_id, session.connector_id) == (1, 1)
    assert session.session_start == when(0)
    expected = when(charging_from) if charging_from is not None else None
    assert session.charging_start == expected
    assert len(await csms.services.sessions.samples(session.id)) == (1 if meter else 0)


@pytest.mark.parametrize(
    ("trigger", "charging_state", "occupied_first", "evse"),
    [
        pytest.param("CablePluggedIn", "EVConnected", True, EVSE, id="TC_E_09"),
        pytest.param("EVDetected", None, False, None, id="TC_E_12"),
    ],
)
async def test_start_without_id_token_gets_no_id_token_info(
    csms: Csms,
    trigger: str,
    charging_state: str | None,
    occupied_first: bool,
    evse: dict[str, int] | None,
) -> None:
    """TC_E_09_CSMS / TC_E_12_CSMS: Started(EVConnected | ParkingBayOccupied) with no idToken is recorded."""
    await _station(csms)
    async with connected(ws_url(csms, CS), CS, version="2.0.1") as cp:
        if occupied_first:
            await cp.status("Occupied", ts=at(0))
            await cp.availability_event("Occupied", ts=at(0))
        started = await cp.tx_event(
            "Started", "e09", trigger=trigger, charging_state=charging_state, evse=evse, ts=at(0)
        )
        assert started.id_token_info is None  # idTokenInfo only when the request had idToken
    session = await _only_session(csms)
    assert session.status is SessionStatus.STARTED and session.transaction_id == "e09"
    assert session.id_token is None and session.auth_status is None
    assert session.session_start == when(0)
    assert session.evse_id == (1 if evse else None)


async def test_start_when_authorized_locally(csms: Csms) -> None:
    """TC_E_10_CSMS: Authorize Accepted, then Started(Authorized) with the idToken -> idTokenInfo Accepted."""
    await _station(csms)
    async with connected(ws_url(csms, CS), CS, version="2.0.1") as cp:
        await _authorized(cp)
        started = await cp.tx_event(
            "Started", "e10", trigger="Authorized", id_token=VALID, ts=at(0)
        )
        assert started.id_token_info["status"] == "Accepted"
    session = await _only_session(csms)
    assert session.status is SessionStatus.STARTED and session.auth_status == "Accepted"
    assert (session.id_token, session.id_token_type) == ("VALID01", "ISO14443")


@pytest.mark.parametrize(
    "cable_first", [pytest.param(True, id="TC_E_03"), pytest.param(False, id="TC_E_04")]
)
async def test_local_start_cable_or_identification_first(csms: Csms, cable_first: bool) -> None:
    """TC_E_03_CSMS / TC_E_04_CSMS: EVConnectedPreSession and Authorized in either order, then charging."""
    await _station(csms)
    async with connected(ws_url(csms, CS), CS, version="2.0.1") as cp:
        if cable_first:  # EVConnectedPreSession, then Authorized on the running transaction
            await cp.status("Occupied", ts=at(0))
            started = await _started(
                cp, "e03", trigger="CablePluggedIn", charging_state="EVConnected"
            )
            assert started.id_token_info is None
            await _authorized(cp)
            updated = await cp.tx_event(
                "Updated", "e03", trigger="Authorized", id_token=VALID, ts=at(1)
            )
            assert updated.id_token_info["status"] == "Accepted"
        else:  # Authorized, then the cable: the Started event carries the idToken
            await _authorized(cp)
            await cp.status("Occupied", ts=at(0))
            started = await _started(
                cp, "e03", trigger="CablePluggedIn", charging_state="EVConnected", id_token=VALID
            )
            assert started.id_token_info["status"] == "Accepted"
        charging = await cp.tx_event(
            "Updated",
            "e03",
            trigger="ChargingStateChanged",
            charging_state="Charging",
            wh=12_500,
            ts=at(5),
        )
        assert charging.id_token_info is None and charging.total_cost == 0.75
    session = await _only_session(csms)
    assert session.status is SessionStatus.STARTED and session.id_token == "VALID01"
    assert session.auth_status == "Accepted" and session.energy_wh == 2_500.0
    assert session.session_start == when(0) and session.charging_start == when(5)


# -- E. Transactions: stop options -------------------------------------------------------------

# (triggerReason, chargingState, with idToken) of the Updated events of the "Before" state
Step = tuple[str, str | None, bool]
STOP_AUTHORIZED: Step = ("StopAuthorized", "EVConnected", True)
SUSPENDED_EV: Step = ("ChargingStateChanged", "SuspendedEV", False)
EV_UNPLUGGED: Step = ("EVCommunicationLost", "Idle", False)


@pytest.mark.parametrize(
    ("before", "trigger", "stopped_reason", "charging_state", "stop_token", "unplugged"),
    [
        pytest.param([], "StopAuthorized", "Local", None, False, False, id="TC_E_07"),
        pytest.param(
            [STOP_AUTHORIZED],
            "ChargingStateChanged",
            "Local",
            "EVConnected",
            False,
            False,
            id="TC_E_08",
        ),
        pytest.param(
            [STOP_AUTHORIZED],
            "EVCommunicationLost",
            "EVDisconnected",
            "Idle",
            False,
            True,
            id="TC_E_14",
        ),
        pytest.param([], "StopAuthorized", "Local", "EVConnected", True, False, id="TC_E_15"),
        pytest.param(
            [SUSPENDED_EV],
            "EVCommunicationLost",
            "EVDisconnected",
            "Idle",
            False,
            False,
            id="TC_E_17",
        ),
        pytest.param([EV_UNPLUGGED], "EVDeparted", "Local", None, False, True, id="TC_E_19"),
        pytest.param(
            [SUSPENDED_EV],
            "EVCommunicationLost",
            "EVDisconnected",
            "Idle",
            False,
            True,
            id="TC_E_20",
        ),
        pytest.param(
            [], "ChargingStateChanged", "StoppedByEV", "SuspendedEV", False, False, id="TC_E_22"
        ),
    ],
)
async def test_stop_option_ends_session_with_reason_energy_and_time(
    csms: Csms,
    before: list[Step],
    trigger: str,
    stopped_reason: str,
    charging_state: str | None,
    stop_token: bool,
    unplugged: bool,
) -> None:
    """TC_E_07/08/14/15/17/19/20/22_CSMS: from EnergyTransferStarted, the Ended event closes the session."""
    await _station(csms)
    async with connected(ws_url(csms, CS), CS, version="2.0.1") as cp:
        await _energy_transfer_started(csms, cp, "stop")
        for minute, (step_trigger, state, token) in enumerate(before, start=20):
            if token:
                await _authorized(cp)
            answer = await cp.tx_event(
                "Updated",
                "stop",
                trigger=step_trigger,
                charging_state=state,
                id_token=VALID if token else None,
                ts=at(minute),
            )
            assert (answer.id_token_info is not None) == token
            if token:
                assert answer.id_token_info["status"] == "Accepted"
        if unplugged:
            await cp.status("Available", ts=at(29))
        if stop_token:
            await _authorized(cp)
        ended = await cp.tx_event(
            "Ended",
            "stop",
            trigger=trigger,
            stopped_reason=stopped_reason,
            charging_state=charging_state,
            id_token=VALID if stop_token else None,
            wh=13_000,
            context="Transaction.End",
            ts=at(30),
        )
        assert (ended.id_token_info is not None) == stop_token
        if stop_token:
            assert ended.id_token_info["status"] == "Accepted"
        assert ended.total_cost == 0.9  # 3 kWh x 0.30
    session = await _only_session(csms)
    assert session.status is SessionStatus.ENDED and session.stop_reason == stopped_reason
    assert session.energy_wh == 3_000.0 and session.cost == 0.9
    assert session.session_start == when(0) and session.session_end == when(30)
    if unplugged:
        assert await _connector_status(csms) == "Available"


async def test_invalid_token_is_reported_then_deauthorized_stop_is_recorded(csms: Csms) -> None:
    """TC_E_16_CSMS: Started with an invalid idToken -> Invalid/Unknown; Ended(Deauthorized, DeAuthorized)."""
    await _station(csms)
    invalid = {"id_token": "NOTKNOWN", "type": "ISO14443"}
    async with connected(ws_url(csms, CS), CS, version="2.0.1") as cp:
        started = await _started(cp, "e16", trigger="Authorized", id_token=invalid)
        assert started.id_token_info["status"] in {"Invalid", "Unknown"}
        ended = await cp.tx_event(
            "Ended",
            "e16",
            trigger="Deauthorized",
            stopped_reason="DeAuthorized",
            wh=10_000,
            context="Transaction.End",
            ts=at(1),
        )
        assert ended.id_token_info is None
    session = await _only_session(csms)
    assert session.status is SessionStatus.ENDED and session.stop_reason == "DeAuthorized"
    assert session.auth_status in {"Invalid", "Unknown"} and session.energy_wh == 0.0
    assert session.session_end == when(1)


async def test_remote_stop_of_a_local_transaction(csms: Csms) -> None:
    """TC_E_21_CSMS: RequestStopTransaction carries the station's transactionId; Ended(RemoteStop, Remote)."""
    await _station(csms)
    events = csms.services.events.queue()
    async with connected(ws_url(csms, CS), CS, version="2.0.1") as cp:
        await _energy_transfer_started(csms, cp, "e21-tx")
        session = await _only_session(csms)
        result = await csms.services.sessions.stop_session(session.id)
        assert result.status is CommandStatus.ACCEPTED
        assert await cp.next_request("RequestStopTransaction") == {"transaction_id": "e21-tx"}
        ended = await cp.tx_event(
            "Ended",
            "e21-tx",
            trigger="RemoteStop",
            stopped_reason="Remote",
            wh=14_000,
            context="Transaction.End",
            ts=at(40),
        )
        assert ended.id_token_info is None
        assert (await wait_event(events, ev.SESSION_ENDED)).subject == session.id
    session = await csms.services.sessions.get(session.id)
    assert session.status is SessionStatus.ENDED and session.stop_reason == "Remote"
    assert session.energy_wh == 4_000.0 and session.session_end == when(40)


async def test_seq_no_restarting_at_zero_for_each_transaction(csms: Csms) -> None:
    """TC_E_53_CSMS: a second transaction on the same EVSE starting again at seqNo 0 is fully accepted."""
    await _station(csms)
    async with connected(ws_url(csms, CS), CS, version="2.0.1") as cp:
        for n, tx in enumerate(("e53-a", "e53-b")):
            base = 60 * n
            started = await cp.tx_event(
                "Started",
                tx,
                trigger="Authorized",
                seq_no=0,
                id_token=VALID,
                evse=EVSE,
                charging_state="Charging",
                wh=1_000.0 * (n + 1),
                context="Transaction.Begin",
                ts=at(base),
            )
            assert started.id_token_info["status"] == "Accepted"
            ended = await cp.tx_event(
                "Ended",
                tx,
                trigger="EVDeparted",
                seq_no=1,
                stopped_reason="EVDisconnected",
                wh=1_000.0 * (n + 1) + 500,
                context="Transaction.End",
                ts=at(base + 30),
            )
            assert ended.id_token_info is None
    sessions = sorted(
        await csms.services.sessions.list(charger_id=CS), key=lambda s: s.transaction_id or ""
    )
    assert [(s.transaction_id, s.status, s.energy_wh) for s in sessions] == [
        ("e53-a", SessionStatus.ENDED, 500.0),
        ("e53-b", SessionStatus.ENDED, 500.0),
    ]
    assert [s.session_start for s in sessions] == [when(0), when(60)]


# -- F. Remote control ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "evse_id",
    [
        pytest.param(1, id="TC_F_01-evse"),
        pytest.param(None, id="TC_F_01-any-evse"),
    ],
)
async def test_remote_start_with_cable_plugged_in_first(csms: Csms, evse_id: int | None) -> None:
    """TC_F_01_CSMS: EVConnectedPreSession, RequestStart (answer has the transactionId), Updated(RemoteStart)."""
    await _station(csms)
    async with connected(ws_url(csms, CS), CS, version="2.0.1") as cp:
        assert isinstance(cp, Charger201)
        await cp.status("Occupied", ts=at(0))
        await _started(cp, "f01", trigger="CablePluggedIn", charging_state="EVConnected")
        cp.remote_start_transaction_id = "f01"
        outcome = await csms.services.sessions.start_session(CS, VALID["id_token"], evse_id=evse_id)
        assert outcome.result.status is CommandStatus.ACCEPTED
        request = await cp.next_request("RequestStartTransaction")
        assert request["id_token"]["id_token"] == "VALID01" and request.get("evse_id") == evse_id
        updated = await cp.tx_event(
            "Updated",
            "f01",
            trigger="RemoteStart",
            remote_start_id=request["remote_start_id"],
            id_token=request["id_token"],
            ts=at(1),
        )
        assert updated.id_token_info["status"] == "Accepted"
        await cp.tx_event(
            "Updated", "f01", trigger="ChargingStateChanged", charging_state="Charging", ts=at(2)
        )
    session = await csms.services.sessions.get(outcome.session.id)
    assert session.status is SessionStatus.STARTED and session.transaction_id == "f01"
    open_ = [s for s in await csms.services.sessions.list(charger_id=CS) if s.is_open]
    assert [s.id for s in open_] == [outcome.session.id]


@pytest.mark.parametrize(
    "authorize_remote_start", [pytest.param(True, id="TC_F_02"), pytest.param(False, id="TC_F_03")]
)
async def test_remote_start_first(csms: Csms, authorize_remote_start: bool) -> None:
    """TC_F_02_CSMS / TC_F_03_CSMS: RequestStart (no transactionId), [Authorize], Started(RemoteStart)."""
    await _station(csms)
    events = csms.services.events.queue()
    async with connected(ws_url(csms, CS), CS, version="2.0.1") as cp:
        outcome = await csms.services.sessions.start_session(CS, VALID["id_token"], evse_id=1)
        assert outcome.result.status is CommandStatus.ACCEPTED
        request = await cp.next_request("RequestStartTransaction")
        token = request["id_token"]
        assert token["id_token"] == "VALID01" and request["evse_id"] == 1
        if authorize_remote_start:
            auth = await cp.authorize(token)
            assert auth.id_token_info["status"] == "Accepted"
        started = await _started(
            cp,
            "f02",
            trigger="RemoteStart",
            remote_start_id=request["remote_start_id"],
            id_token=token,
            charging_state="Charging",
        )
        assert started.id_token_info["status"] == "Accepted"
        assert (await wait_event(events, ev.SESSION_STARTED)).subject == outcome.session.id
    session = await csms.services.sessions.get(outcome.session.id)
    assert session.status is SessionStatus.STARTED and session.transaction_id == "f02"
    assert session.remote_start_id == request["remote_start_id"] and session.requested_by == "api"
    assert session.session_start == when(0) and session.evse_id == 1
    assert len(await csms.services.sessions.list(charger_id=CS)) == 1


async def test_remote_start_first_then_cable_plugin_timeout(csms: Csms) -> None:
    """TC_F_04_CSMS: RequestStart, Started(RemoteStart), Updated(EVConnectTimeout) are all answered."""
    await _station(csms)
    async with connected(ws_url(csms, CS), CS, version="2.0.1") as cp:
        outcome = await csms.services.sessions.start_session(CS, VALID["id_token"], evse_id=1)
        assert outcome.result.status is CommandStatus.ACCEPTED
        request = await cp.next_request("RequestStartTransaction")
        started = await cp.tx_event(
            "Started",
            "f04",
            trigger="RemoteStart",
            remote_start_id=request["remote_start_id"],
            id_token=request["id_token"],
            evse={"id": 1},
            ts=at(0),
        )
        assert started.id_token_info["status"] == "Accepted"
        timeout = await cp.tx_event("Updated", "f04", trigger="EVConnectTimeout", ts=at(1))
        assert timeout.id_token_info is None
    session = await csms.services.sessions.get(outcome.session.id)
    assert session.status is SessionStatus.STARTED and session.transaction_id == "f04"
    assert session.remote_start_id == request["remote_start_id"] and session.evse_id == 1
