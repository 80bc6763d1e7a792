"""CSMS-initiated calls answered by the simulator like a real charger, against our real CSMS.

Each test plays a short scenario whose ``wait_call`` steps keep the charger connected until the
test has sent its calls; every answer is checked against the official response schema.
"""

from __future__ import annotations

import asyncio

import pytest

from charger_sim.runner import ProtocolVersion
from csms.bootstrap import Csms
from csms.domain import commands as c
from csms.domain import events as ev
from csms.domain.model import RegistrationStatus, SessionStatus
from tests.conftest import add_charger, wait_event
from tests.sim.conftest import in_background
from tests.sim.csms_driver import (
    ask,
    charge,
    command,
    play,
    recorded,
    set_registration,
    steps,
    valid_request,
    wait_call,
    wait_status,
)

PROTOCOLS = pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
V16 = pytest.mark.parametrize("protocol", ["1.6"])
V201 = pytest.mark.parametrize("protocol", ["2.0.1"])
RUNNING = ("boot", "plug", "start")  # a transaction runs when these steps are done


@V16
async def test_get_configuration_reports_readable_keys_and_names_unknown_ones(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """GetConfiguration lists every key but the write-only AuthorizationKey; unknown keys are named."""
    events = sim1.services.events.queue()
    play_ = play(sim1, protocol, steps("boot", wait_call("GetConfiguration")), evses=2)
    async with in_background(play_) as sim, asyncio.timeout(20):
        await wait_event(events, ev.CHARGER_BOOTED)
        everything = await ask(sim1, protocol, "GetConfiguration", {})
        wanted = ["heartbeatinterval", "AuthorizationKey", "NoSuchKey"]
        some = await ask(sim1, protocol, "GetConfiguration", {"key": wanted})
        await sim
    keys = {k["key"]: k for k in everything["configurationKey"]}
    assert "AuthorizationKey" not in keys and "unknownKey" not in everything
    assert keys["NumberOfConnectors"] == {
        "key": "NumberOfConnectors",
        "readonly": True,
        "value": "2",
    }
    assert keys["HeartbeatInterval"]["readonly"] is False
    assert keys["HeartbeatInterval"]["value"] == "300"  # the CSMS's boot interval
    assert keys["ConnectionTimeOut"]["value"] == "120"
    assert [k["key"] for k in some["configurationKey"]] == ["HeartbeatInterval"]
    assert some["unknownKey"] == ["AuthorizationKey", "NoSuchKey"]


@V16
async def test_change_configuration_checks_keys_and_values(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """ChangeConfiguration: NotSupported, Rejected for read-only or invalid, RebootRequired, Accepted."""
    cases = [
        ("NoSuchKey", "1", "NotSupported"),
        ("NumberOfConnectors", "3", "Rejected"),
        ("HeartbeatInterval", "soon", "Rejected"),
        ("LocalAuthorizeOffline", "yes", "Rejected"),
        ("MeterValuesSampledData", "Energy.Active.Import.Register,Bogus", "Rejected"),
        ("AuthorizationKey", "short", "Rejected"),
        ("WebSocketPingInterval", "30", "RebootRequired"),
        ("MeterValuesSampledData", "Energy.Active.Import.Register, SoC", "Accepted"),
        ("localauthorizeoffline", "FALSE", "Accepted"),
    ]
    events = sim1.services.events.queue()
    play_ = play(sim1, protocol, steps("boot", wait_call("GetConfiguration")))
    async with in_background(play_) as sim, asyncio.timeout(20):
        await wait_event(events, ev.CHARGER_BOOTED)
        got = []
        for key, value, _ in cases:
            answer = await ask(sim1, protocol, "ChangeConfiguration", {"key": key, "value": value})
            got.append(answer["status"])
        keys = ["MeterValuesSampledData", "LocalAuthorizeOffline", "WebSocketPingInterval"]
        after = await ask(sim1, protocol, "GetConfiguration", {"key": keys})
        await sim
    assert got == [status for _, _, status in cases]
    values = {k["key"]: k["value"] for k in after["configurationKey"]}
    assert values == {
        "MeterValuesSampledData": "Energy.Active.Import.Register,SoC",
        "LocalAuthorizeOffline": "false",
        "WebSocketPingInterval": "30",
    }


@V201
async def test_get_and_set_variables_answer_each_item_with_its_status(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """Get/SetVariables: Accepted, UnknownComponent/Variable, NotSupportedAttributeType, Rejected,
    RebootRequired, per item; a value set is read back."""

    def item(component: str, variable: str, **extra: object) -> dict[str, object]:
        instance = extra.pop("instance", None)
        var: dict[str, object] = {"name": variable}
        if instance is not None:
            var["instance"] = instance
        comp: dict[str, object] = {"name": component}
        if "evse" in extra:
            comp["evse"] = {"id": extra.pop("evse")}
        return {"component": comp, "variable": var, **extra}

    gets = [
        item("OCPPCommCtrlr", "HeartbeatInterval"),
        item("OCPPCommCtrlr", "MessageAttempts", instance="TransactionEvent"),
        item("EVSE", "AvailabilityState", evse=1),
        item("EVSE", "AvailabilityState", evse=9),
        item("NoSuchCtrlr", "HeartbeatInterval"),
        item("OCPPCommCtrlr", "NoSuchVariable"),
        item("OCPPCommCtrlr", "HeartbeatInterval", attributeType="Target"),
        item("SecurityCtrlr", "BasicAuthPassword"),
    ]
    sets = [
        item("TxCtrlr", "EVConnectionTimeOut", attributeValue="45"),
        item("TxCtrlr", "EVConnectionTimeOut", attributeValue="-1"),
        item("SecurityCtrlr", "SecurityProfile", attributeValue="3"),
        item("OCPPCommCtrlr", "WebSocketPingInterval", attributeValue="10"),
        item("NoSuchCtrlr", "X", attributeValue="1"),
        item("TxCtrlr", "EVConnectionTimeOut", attributeValue="1", attributeType="MaxSet"),
    ]
    events = sim1.services.events.queue()
    play_ = play(sim1, protocol, steps("boot", wait_call("GetVariables")))
    async with in_background(play_) as sim, asyncio.timeout(20):
        await wait_event(events, ev.CHARGER_BOOTED)
        got = await ask(sim1, protocol, "GetVariables", {"getVariableData": gets})
        set_ = await ask(sim1, protocol, "SetVariables", {"setVariableData": sets})
        timeout = [item("TxCtrlr", "EVConnectionTimeOut")]
        read_back = await ask(sim1, protocol, "GetVariables", {"getVariableData": timeout})
        await sim
    results = got["getVariableResult"]
    assert [r["attributeStatus"] for r in results] == [
        "Accepted", "Accepted", "Accepted", "UnknownComponent", "UnknownComponent",
        "UnknownVariable", "NotSupportedAttributeType", "Rejected",
    ]  # fmt: skip
    assert [r.get("attributeValue") for r in results[:3]] == ["300", "3", "Available"]
    assert "attributeValue" not in results[7]  # write-only: never read
    assert [r["attributeStatus"] for r in set_["setVariableResult"]] == [
        "Accepted", "Rejected", "Rejected", "RebootRequired", "UnknownComponent",
        "NotSupportedAttributeType",
    ]  # fmt: skip
    assert read_back["getVariableResult"][0]["attributeValue"] == "45"


@V201
async def test_get_base_report_sends_the_device_model_in_a_notify_report(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """GetBaseReport is Accepted and followed by a schema-valid NotifyReport; GetReport is NotSupported."""
    events = sim1.services.events.queue()
    play_ = play(sim1, protocol, steps("boot", wait_call("GetBaseReport")))
    async with in_background(play_) as sim, asyncio.timeout(20):
        await wait_event(events, ev.CHARGER_BOOTED)
        report = {"requestId": 7, "reportBase": "FullInventory"}
        assert (await ask(sim1, protocol, "GetBaseReport", report))["status"] == "Accepted"
        criteria = {"requestId": 8, "componentCriteria": ["Active"]}
        assert (await ask(sim1, protocol, "GetReport", criteria))["status"] == "NotSupported"
        await sim
    (notified,) = await recorded(sim1, "report")
    valid_request(protocol, "NotifyReport", notified)
    assert notified["requestId"] == 7 and notified["tbc"] is False
    names = {(d["component"]["name"], d["variable"]["name"]) for d in notified["reportData"]}
    assert {("OCPPCommCtrlr", "HeartbeatInterval"), ("EVSE", "AvailabilityState")} <= names
    password = next(
        d for d in notified["reportData"] if d["variable"]["name"] == "BasicAuthPassword"
    )
    assert "value" not in password["variableAttribute"][0]


@PROTOCOLS
async def test_trigger_message_answers_first_then_sends_the_message(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """Each supported TriggerMessage is Accepted and its message reaches the CSMS valid; an unknown
    connector is Rejected, an unsupported message NotImplemented."""
    if protocol == "1.6":
        accepted = ["BootNotification", "Heartbeat", "StatusNotification", "MeterValues",
                    "DiagnosticsStatusNotification", "FirmwareStatusNotification"]  # fmt: skip
        refused = [({"requestedMessage": "StatusNotification", "connectorId": 7}, "Rejected")]
        where: dict[str, object] = {"connectorId": 1}
    else:
        accepted = ["Heartbeat", "StatusNotification", "MeterValues", "LogStatusNotification",
                    "FirmwareStatusNotification"]  # fmt: skip
        refused = [
            ({"requestedMessage": "StatusNotification", "evse": {"id": 7}}, "Rejected"),
            ({"requestedMessage": "BootNotification"}, "Rejected"),  # already accepted
            ({"requestedMessage": "TransactionEvent"}, "Rejected"),  # none runs
            ({"requestedMessage": "SignV2GCertificate"}, "NotImplemented"),  # TC_F_27
        ]
        where = {"evse": {"id": 1}}
    waits = [wait_call("TriggerMessage") for _ in accepted + refused]
    events = sim1.services.events.queue()
    async with in_background(play(sim1, protocol, steps("boot", *waits))) as sim:
        async with asyncio.timeout(20):
            await wait_event(events, ev.CHARGER_BOOTED)
            for message in accepted:
                payload = {"requestedMessage": message, **where}
                answer = await ask(sim1, protocol, "TriggerMessage", payload)
                assert answer == {"status": "Accepted"}, message
                if message == "StatusNotification":
                    assert (await wait_status(events, "Available")).data["evse_id"] == 1
            for payload, status in refused:
                answer = await ask(sim1, protocol, "TriggerMessage", payload)
                assert answer["status"] == status, payload
            await sim  # wait_call fails if a triggered message got a CALLERROR
    firmware = await recorded(sim1, "firmware_status")
    assert firmware == [{"status": "Idle"}]
    if protocol == "1.6":
        assert await recorded(sim1, "diagnostics_status") == [{"status": "Idle"}]
    else:
        assert await recorded(sim1, "log_status") == [{"status": "Idle"}]


@PROTOCOLS
async def test_triggered_boot_ends_pending_registration(
    csms: Csms, protocol: ProtocolVersion
) -> None:
    """A Pending charger triggered to boot sends BootNotification (2.0.1 reason Triggered) and is
    Accepted once the CSMS accepts it (TC_B_31)."""
    await add_charger(csms, "SIM1", status=RegistrationStatus.PENDING)
    events = csms.services.events.queue()
    boot = {"action": "boot", "expect_status": "Pending"}
    play_ = play(csms, protocol, steps(boot, wait_call("TriggerMessage"), wait_call("ClearCache")))
    async with in_background(play_) as sim, asyncio.timeout(20):
        assert (await wait_event(events, ev.CHARGER_BOOTED)).data["status"] == "Pending"
        await set_registration(csms, RegistrationStatus.ACCEPTED)
        trigger = {"requestedMessage": "BootNotification"}
        assert (await ask(csms, protocol, "TriggerMessage", trigger))["status"] == "Accepted"
        booted = await wait_event(events, ev.CHARGER_BOOTED)
        assert booted.data["status"] == "Accepted"
        assert booted.data["reason"] == (None if protocol == "1.6" else "Triggered")
        await wait_status(events, "Available")  # accepted at last: the connectors are reported
        assert (await ask(csms, protocol, "ClearCache", {}))["status"] == "Accepted"
        await sim


@PROTOCOLS
async def test_change_availability_makes_the_charger_unavailable_and_back(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """Inoperative: Unavailable and remote starts are rejected; Operative: Available again."""
    events = sim1.services.events.queue()
    waits = [wait_call("ChangeAvailability") for _ in range(3)]
    async with in_background(play(sim1, protocol, steps("boot", *waits))) as sim:
        async with asyncio.timeout(20):
            await wait_event(events, ev.CHARGER_BOOTED)
            await wait_status(events, "Available")
            answer = await command(sim1, protocol, c.ChangeAvailability(operative=False))
            assert answer["status"] == "Accepted"
            await wait_status(events, "Unavailable")
            outcome = await sim1.services.sessions.start_session("SIM1", "APP", connector_id=1)
            assert not outcome.result.accepted
            assert outcome.session.status is SessionStatus.START_FAILED
            unknown = c.ChangeAvailability(operative=True, evse_id=5, connector_id=5)
            assert (await command(sim1, protocol, unknown))["status"] == "Rejected"
            answer = await command(sim1, protocol, c.ChangeAvailability(operative=True))
            assert answer["status"] == "Accepted"
            await wait_status(events, "Available")
            await sim


@PROTOCOLS
async def test_inoperative_while_charging_is_scheduled_until_the_transaction_ends(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """ChangeAvailability Inoperative during a transaction is Scheduled and applied after the stop."""
    events = sim1.services.events.queue()
    script = steps(*RUNNING, wait_call("ChangeAvailability"), "stop", wait_call("ClearCache"))
    async with in_background(play(sim1, protocol, script)) as sim, asyncio.timeout(20):
        await wait_event(events, ev.SESSION_STARTED)
        answer = await command(sim1, protocol, c.ChangeAvailability(operative=False, evse_id=1))
        assert answer["status"] == "Scheduled"
        await wait_event(events, ev.SESSION_ENDED)
        await wait_status(events, "Unavailable")
        assert (await ask(sim1, protocol, "ClearCache", {}))["status"] == "Accepted"
        await sim


@V16
@pytest.mark.parametrize(
    ("connector", "unlock_fails", "status"),
    [(1, False, "Unlocked"), (1, True, "UnlockFailed"), (5, False, "NotSupported")],
)
async def test_unlock_connector_answers_as_told_16(
    sim1: Csms, protocol: ProtocolVersion, connector: int, unlock_fails: bool, status: str
) -> None:
    """1.6 UnlockConnector: Unlocked, UnlockFailed when told to fail, NotSupported for an unknown
    connector (TC_031)."""
    events = sim1.services.events.queue()
    play_ = play(
        sim1, protocol, steps("boot", wait_call("UnlockConnector")), unlock_fails=unlock_fails
    )
    async with in_background(play_) as sim, asyncio.timeout(20):
        await wait_event(events, ev.CHARGER_BOOTED)
        answer = await ask(sim1, protocol, "UnlockConnector", {"connectorId": connector})
        assert answer == {"status": status}
        await sim


@V16
async def test_unlock_stops_the_running_transaction_first_with_exact_energy(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """1.6 UnlockConnector during a transaction stops it (reason UnlockCommand), then Unlocked."""
    events = sim1.services.events.queue()
    script = steps(*RUNNING, charge(0.5), wait_call("UnlockConnector"), "unplug")
    async with in_background(play(sim1, protocol, script)) as sim, asyncio.timeout(20):
        started = await wait_event(events, ev.SESSION_STARTED)
        sessions = sim1.services.sessions
        while (await sessions.get(started.subject)).energy_wh < 500:
            await wait_event(events, ev.SESSION_UPDATED)
        answer = await command(sim1, protocol, c.UnlockConnector(evse_id=1))
        assert answer == {"status": "Unlocked"}
        result = await sim
    (delivered,) = result.delivered
    session = await sim1.services.sessions.get(started.subject)
    assert session.status is SessionStatus.ENDED and session.stop_reason == "UnlockCommand"
    assert session.energy_wh == delivered.energy_wh == 500


@V201
async def test_unlock_connector_answers_as_the_201_spec_says(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """2.0.1 UnlockConnector: UnknownConnector, OngoingAuthorizedTransaction while one runs,
    Unlocked once it ended."""
    events = sim1.services.events.queue()
    script = steps(
        *RUNNING, *[wait_call("UnlockConnector")] * 2, "stop", wait_call("UnlockConnector")
    )
    async with in_background(play(sim1, protocol, script)) as sim, asyncio.timeout(20):
        await wait_event(events, ev.SESSION_STARTED)
        unknown = {"evseId": 4, "connectorId": 1}
        assert (await ask(sim1, protocol, "UnlockConnector", unknown))[
            "status"
        ] == "UnknownConnector"
        busy = await command(sim1, protocol, c.UnlockConnector(evse_id=1))
        assert busy["status"] == "OngoingAuthorizedTransaction"
        await wait_event(events, ev.SESSION_ENDED)
        assert (await command(sim1, protocol, c.UnlockConnector(evse_id=1)))["status"] == "Unlocked"
        await sim


@PROTOCOLS
async def test_data_transfer_echoes_for_our_vendor_only(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """DataTransfer with the charger's vendor id is Accepted with the data echoed; others unknown."""
    events = sim1.services.events.queue()
    waits = [wait_call("DataTransfer")] * 2
    async with in_background(play(sim1, protocol, steps("boot", *waits))) as sim:
        async with asyncio.timeout(20):
            await wait_event(events, ev.CHARGER_BOOTED)
            ours = {"vendorId": "ChargerSim", "messageId": "Ping", "data": "hello"}
            answer = await ask(sim1, protocol, "DataTransfer", ours)
            assert answer == {"status": "Accepted", "data": "hello"}
            other = await ask(sim1, protocol, "DataTransfer", {"vendorId": "Elsewhere"})
            assert other == {"status": "UnknownVendorId"}
            await sim


@V201
async def test_get_transaction_status_tells_whether_a_transaction_runs(
    sim1: Csms, protocol: ProtocolVersion
) -> None:
    """GetTransactionStatus: ongoing for the running transaction, not for another; nothing queued.
    A triggered TransactionEvent reports the running transaction."""
    events = sim1.services.events.queue()
    waits = [wait_call("GetTransactionStatus")] * 3
    script = steps(*RUNNING, *waits, wait_call("TriggerMessage"), "stop", "unplug")
    async with in_background(play(sim1, protocol, script)) as sim, asyncio.timeout(20):
        started = await wait_event(events, ev.SESSION_STARTED)
        tx_id = (await sim1.services.sessions.get(started.subject)).transaction_id
        running = await ask(sim1, protocol, "GetTransactionStatus", {"transactionId": tx_id})
        other = await ask(sim1, protocol, "GetTransactionStatus", {"transactionId": "nope"})
        anything = await ask(sim1, protocol, "GetTransactionStatus", {})
        trigger = {"requestedMessage": "TransactionEvent", "evse": {"id": 1}}
        assert (await ask(sim1, protocol, "TriggerMessage", trigger))["status"] == "Accepted"
        result = await sim
    assert running == {"messagesInQueue": False, "ongoingIndicator": True}
    assert other == {"messagesInQueue": False, "ongoingIndicator": False}
    assert anything == {"messagesInQueue": False}
    session = await sim1.services.sessions.get(started.subject)
    assert session.status is SessionStatus.ENDED and result.delivered[0].transaction_id == tx_id


@PROTOCOLS
async def test_remote_start_is_rejected_when_told(sim1: Csms, protocol: ProtocolVersion) -> None:
    """reject_remote_start: the charger answers Rejected and the CSMS fails the session."""
    events = sim1.services.events.queue()
    play_ = play(sim1, protocol, steps("boot", wait_call("ClearCache")), reject_remote_start=True)
    async with in_background(play_) as sim, asyncio.timeout(20):
        await wait_event(events, ev.CHARGER_BOOTED)
        outcome = await sim1.services.sessions.start_session("SIM1", "APP", connector_id=1)
        assert outcome.result.payload == {"status": "Rejected"}
        assert outcome.session.status is SessionStatus.START_FAILED
        await ask(sim1, protocol, "ClearCache", {})
        await sim
