"""The simulator's device model on its own: names, types, mutability, seeds, change hooks."""

from __future__ import annotations

import asyncio
import binascii
from typing import Any

import pytest

from charger_sim import v201
from charger_sim.device import Device, Name201, Seeds, Setting
from charger_sim.lifecycle import build_device, refusals
from charger_sim.link import Endpoint
from charger_sim.model import Identity, Station
from charger_sim.sampling import ENERGY, MeterSpec
from charger_sim.scenario import ScenarioError, parse
from charger_sim.txqueue import TxQueue


def device(evses: int = 1, **seeds: Any) -> tuple[Device, Station]:
    station = Station.build("CP1", Identity(), evses, 0)
    return Device.build(station, Seeds(**seeds)), station


def key16(dev: Device, key: str) -> Setting:
    setting = dev.find16(key)
    assert setting is not None, key
    return setting


def var(dev: Device, name: Name201) -> Setting:
    found = dev.find201(name)
    assert isinstance(found, Setting), found
    return found


@pytest.mark.parametrize(
    ("key", "value", "status", "stored"),
    [
        ("HeartbeatInterval", "60", "Accepted", "60"),
        ("HeartbeatInterval", "-5", "Rejected", "0"),
        ("HeartbeatInterval", "1.5", "Rejected", "0"),
        ("TransactionMessageAttempts", "0", "Rejected", "3"),
        ("LocalPreAuthorize", "True", "Accepted", "true"),
        ("LocalPreAuthorize", "1", "Rejected", "false"),
        ("StopTxnSampledData", "", "Accepted", ""),
        ("StopTxnSampledData", "SoC,Voltage", "Accepted", "SoC,Voltage"),
        ("StopTxnSampledData", "SoC;Voltage", "Rejected", "Energy.Active.Import.Register"),
        ("NumberOfConnectors", "2", "Rejected", "1"),
        ("SupportedFeatureProfiles", "Core", "Rejected", "Core,RemoteTrigger"),
        ("WebSocketPingInterval", "0", "RebootRequired", "0"),
    ],
)
def test_1_6_values_are_checked_against_the_key_type(
    key: str, value: str, status: str, stored: str
) -> None:
    """Integers, true/false and measurand lists are checked; read-only keys refuse writes."""
    dev, _ = device()
    assert dev.write(key16(dev, key), value, "1.6").status == status
    assert dev.get(key) == stored


def test_authorization_key_is_hex_of_16_to_20_bytes_and_becomes_the_password() -> None:
    """1.6 AuthorizationKey is written hex-encoded (TC_073) and never listed."""
    dev, _ = device(password="old-password-0001")
    setting = key16(dev, "AuthorizationKey")
    for bad in ("not hex at all!", binascii.hexlify(b"15-bytes-secret").decode(), "abc"):
        assert dev.write(setting, bad, "1.6").status == "Rejected", bad
    good = binascii.hexlify(b"OCA_OCTT_admin_test").decode()
    assert dev.write(setting, good, "1.6").status == "Accepted"
    assert dev.get("AuthorizationKey") == "OCA_OCTT_admin_test"
    assert setting not in dev.keys16()


def test_basic_auth_password_is_16_to_40_characters_as_they_are() -> None:
    """2.0.1 SecurityCtrlr.BasicAuthPassword is plain text of 16 to 40 characters."""
    dev, _ = device()
    setting = var(dev, Name201("SecurityCtrlr", "BasicAuthPassword"))
    assert dev.write(setting, "x" * 15, "2.0.1").status == "Rejected"
    assert dev.write(setting, "x" * 41, "2.0.1").status == "Rejected"
    assert dev.write(setting, "a-password-of-20-chr", "2.0.1").status == "Accepted"
    assert dev.get("AuthorizationKey") == "a-password-of-20-chr"  # one setting, two names


def test_2_0_1_names_find_variables_or_say_what_is_unknown() -> None:
    """Component, variable, instance and EVSE all count; names are case-insensitive."""
    dev, _ = device(evses=2)
    assert var(dev, Name201("ocppcommctrlr", "heartbeatinterval")).name == "HeartbeatInterval"
    attempts = Name201("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent")
    assert var(dev, attempts).name == "TransactionMessageAttempts"
    assert dev.find201(Name201("OCPPCommCtrlr", "MessageAttempts")) == "UnknownVariable"
    assert dev.find201(Name201("NoCtrlr", "HeartbeatInterval")) == "UnknownComponent"
    assert dev.find201(Name201("EVSE", "AvailabilityState", evse=3)) == "UnknownComponent"
    assert dev.find201(Name201("EVSE", "AvailabilityState")) == "UnknownComponent"
    assert dev.find201(Name201("OCPPCommCtrlr", "NumberOfConnectors")) == "UnknownVariable"


def test_availability_state_follows_the_evse_and_cannot_be_set() -> None:
    """EVSE AvailabilityState reads the EVSE live: Available, Occupied, Unavailable."""
    dev, station = device()
    setting = var(dev, Name201("EVSE", "AvailabilityState", evse=1))
    assert setting.current == "Available"
    station.evses[1].state = "Charging"
    assert setting.current == "Occupied"
    station.evses[1].available = False
    assert setting.current == "Unavailable"
    assert dev.write(setting, "Available", "2.0.1").status == "Rejected"


def test_the_charger_table_and_the_connection_seed_the_device_model() -> None:
    """ev_connection_timeout, message_attempts/retry, evses and the password seed the values."""
    scenario = parse(
        {
            "charger": {
                "evses": 3,
                "ev_connection_timeout": 90.0,
                "message_attempts": 5,
                "message_retry_interval": 0.5,
                "reject_remote_start": True,
                "unlock_fails": True,
            },
            "steps": [{"action": "boot"}],
        }
    )
    station = Station.build("CP1", Identity(), 3, 0)
    endpoint = Endpoint("ws://csms/ocpp", "CP1", "ocpp1.6", password="p" * 16)
    dev = build_device(station, scenario.charger, endpoint)
    assert [dev.get(k) for k in ("ConnectionTimeOut", "TransactionMessageAttempts")] == ["90", "5"]
    assert dev.get("TransactionMessageRetryInterval") == "1"  # integer seconds, rounded up
    assert dev.number("TransactionMessageRetryInterval") == 0.5  # what the queue waits
    assert dev.get("NumberOfConnectors") == "3" and dev.get("SecurityProfile") == "1"
    assert dev.get("AuthorizationKey") == "p" * 16
    assert refusals(scenario.charger) == {"RemoteStart", "Unlock"}


@pytest.mark.parametrize(
    ("seed", "shown"), [(0.05, "1"), (0.2, "1"), (2.5, "3"), (7.0, "7"), (0.0, "0")]
)
def test_integer_seconds_seeded_with_a_fraction_are_reported_rounded_up(
    seed: float, shown: str
) -> None:
    """A fraction of a second is reported as whole seconds in 1.6 and 2.0.1 alike (rounded up),
    while the charger acts on the exact seed until the CSMS writes a value."""
    dev, _ = device(connection_timeout=seed, message_retry_interval=seed)
    timeout = var(dev, Name201("TxCtrlr", "EVConnectionTimeOut"))
    retry = Name201("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent")
    assert key16(dev, "ConnectionTimeOut").current == timeout.current == shown
    assert var(dev, retry).current == dev.get("TransactionMessageRetryInterval") == shown
    assert dev.number("ConnectionTimeOut") == dev.number("TransactionMessageRetryInterval") == seed
    assert dev.write(timeout, "4", "2.0.1").status == "Accepted"
    assert (dev.get("ConnectionTimeOut"), dev.number("ConnectionTimeOut")) == ("4", 4.0)


def test_the_sampling_settings_tell_the_scenarios_measurands_and_clock_interval() -> None:
    """MeterValuesSampledData/AlignedData and ClockAlignedDataInterval (2.0.1 SampledDataCtrlr
    and AlignedDataCtrlr) start from ``measurands`` and ``clock_aligned_interval``."""
    station = Station.build("CP1", Identity(), 1, 0)
    measurands = (ENERGY, "Power.Active.Import", "SoC")
    station.metering = MeterSpec(measurands=measurands, clock_aligned_interval=900.0)
    dev = Device.build(station)
    listed = ",".join(measurands)
    assert dev.get("MeterValuesSampledData") == dev.get("MeterValuesAlignedData") == listed
    assert dev.get("ClockAlignedDataInterval") == "900"
    names = [("SampledDataCtrlr", "TxUpdatedMeasurands"), ("AlignedDataCtrlr", "Measurands")]
    assert [var(dev, Name201(*name)).current for name in names] == [listed, listed]
    assert var(dev, Name201("AlignedDataCtrlr", "Interval")).current == "900"
    assert dev.get("StopTxnSampledData") == ENERGY  # Transaction.End holds the register only


def test_every_change_is_heard_by_the_watchers() -> None:
    """A successful write calls the watchers with the setting's name; a refused one does not."""
    dev, _ = device()
    heard: list[str] = []
    dev.watch(heard.append)
    dev.write(key16(dev, "HeartbeatInterval"), "30", "1.6")
    dev.write(key16(dev, "HeartbeatInterval"), "x", "1.6")
    dev.write(var(dev, Name201("TxCtrlr", "EVConnectionTimeOut")), "10", "2.0.1")
    assert heard == ["HeartbeatInterval", "ConnectionTimeOut"]


async def test_get_transaction_status_says_when_messages_wait_in_the_queue() -> None:
    """messagesInQueue is true while a message of that transaction waits (E14)."""
    station = Station.build("CP1", Identity(), 1, 0)
    adapter = v201.Adapter(station)
    queue = TxQueue()
    adapter.use_queue(queue, asyncio.Event(), asyncio.Event())
    queue.submit("TransactionEvent", {"transactionInfo": {"transactionId": "T1"}})
    waiting = await adapter.handle("GetTransactionStatus", {"transactionId": "T1"})
    other = await adapter.handle("GetTransactionStatus", {"transactionId": "T2"})
    assert waiting == {"messagesInQueue": True, "ongoingIndicator": False}
    assert other == {"messagesInQueue": False, "ongoingIndicator": False}
    assert await adapter.handle("GetTransactionStatus", {}) == {"messagesInQueue": True}


def test_wait_call_needs_the_action_it_waits_for() -> None:
    """A wait_call step without 'message' fails validation naming the key."""
    with pytest.raises(ScenarioError, match=r"steps\[1\]: 'wait_call' needs 'message'"):
        parse({"steps": [{"action": "boot"}, {"action": "wait_call", "timeout": 5}]})
