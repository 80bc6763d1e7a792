"""The answers to CSMS calls on their own, without a connection: remote start and stop act
only after the answer, fleet mode refuses what it cannot do, and every stop reason a version
sends is one of its schema's values."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest

from charger_sim import v16, v201
from charger_sim.adapter import BootAnswer, StopReason
from charger_sim.model import Evse, Identity, Station, Transaction
from charger_sim.rpc import Reply
from tests.sim.strict_csms import SCHEMA_DIRS, Version

Adapter = v16.Adapter | v201.Adapter
VERSIONS = pytest.mark.parametrize("version", ["1.6", "2.0.1"])
START: dict[str, tuple[str, dict[str, Any]]] = {
    "1.6": ("RemoteStartTransaction", {"idTag": "APP"}),
    "2.0.1": ("RequestStartTransaction", {"idToken": {"idToken": "APP", "type": "Central"}}),
}
STOP = {"1.6": "RemoteStopTransaction", "2.0.1": "RequestStopTransaction"}


class Control:
    """A ``Control`` that only notes what it is asked (the runner's is ``Lifecycle``)."""

    def reset(self, reason: StopReason, boot_reason: str, *, when_idle: bool = False) -> None:
        """Nothing to restart here."""

    async def stop_transaction(self, evse: Evse, reason: StopReason) -> None:
        evse.transaction = None

    def reconnect(self) -> None:
        """No connection to renew."""

    def booted(self, answer: BootAnswer) -> None:
        """No heartbeat to start."""


def adapter(version: str, *, evses: int = 1, control: bool = True) -> Adapter:
    station = Station.build("CP1", Identity(), evses, 0)
    made: Adapter = v16.Adapter(station) if version == "1.6" else v201.Adapter(station)
    if control:
        made.use_device(made.device, Control())
    return made


def running(station: Station, tx_id: str = "7") -> Transaction:
    tx = Transaction(tx_id, "APP", 0)
    station.evses[1].transaction = tx
    return tx


async def answer(made: Adapter, action: str, payload: dict[str, Any]) -> Reply:
    reply = await made.handle(action, payload)
    assert isinstance(reply, Reply), reply
    return reply


@VERSIONS
async def test_a_remote_start_books_the_evse_at_once_and_is_handed_on_after_the_answer(
    version: str,
) -> None:
    """Accepted: the EVSE is taken (a second request is Rejected) but nothing starts and the
    runner hears nothing until the answer is sent."""
    made = adapter(version)
    station, evse = made.station, made.station.evses[1]
    reply = await answer(made, *START[version])
    assert reply.payload == {"status": "Accepted"}
    assert station.remote_starts.empty() and evse.remote_start is None
    assert evse.reserved is not None
    assert await made.handle(*START[version]) == {"status": "Rejected"}  # the EVSE is taken
    assert reply.then is not None
    await reply.then()  # the answer is sent
    assert station.remote_starts.get_nowait() is evse.remote_start is not None
    assert evse.reserved is None


@VERSIONS
async def test_a_remote_start_dropped_before_its_answer_went_out_is_not_handed_on(
    version: str,
) -> None:
    """A reset or power cut clearing the booking while the answer is on its way wins."""
    made = adapter(version)
    reply = await answer(made, *START[version])
    made.station.evses[1].reserved = None  # what a reset does
    assert reply.then is not None
    await reply.then()
    assert made.station.remote_starts.empty() and made.station.evses[1].remote_start is None


@VERSIONS
async def test_a_remote_stop_marks_the_transaction_only_after_the_answer(version: str) -> None:
    """Accepted for the running transaction, which is marked for stopping once answered."""
    made = adapter(version)
    tx = running(made.station)
    assert await made.handle(STOP[version], {"transactionId": "8"}) == {"status": "Rejected"}
    reply = await answer(made, STOP[version], {"transactionId": "7"})
    assert reply.payload == {"status": "Accepted"} and not tx.stop_requested
    assert reply.then is not None
    await reply.then()
    assert tx.stop_requested and made.station.remote_stops.get_nowait() == 1


@VERSIONS
async def test_fleet_mode_rejects_remote_starts_and_queues_no_remote_stops(version: str) -> None:
    """Without a Control nobody would start a remote session: Rejected, nothing booked. A
    remote stop only marks the transaction (the fleet charger reads it), queueing nothing."""
    made = adapter(version, control=False)
    assert await made.handle(*START[version]) == {"status": "Rejected"}
    assert made.station.evses[1].reserved is None
    tx = running(made.station)
    for _ in range(3):
        reply = await answer(made, STOP[version], {"transactionId": "7"})
        assert reply.then is not None
        await reply.then()
    assert tx.stop_requested and made.station.remote_stops.empty()


async def test_a_16_unlock_answers_first_and_stops_the_transaction_after() -> None:
    """1.6 UnlockConnector on a charging connector: Unlocked now, the stop in ``then``."""
    made = adapter("1.6")
    running(made.station)
    reply = await answer(made, "UnlockConnector", {"connectorId": 1})
    assert reply.payload == {"status": "Unlocked"}
    assert made.station.evses[1].transaction is not None
    assert reply.then is not None
    await reply.then()
    assert made.station.evses[1].transaction is None


def _enum(version: Version, schema: str, *path: str) -> set[str]:
    """The ``enum`` at ``path`` in one of the official schemas."""
    node: Any = json.loads((SCHEMA_DIRS[version] / schema).read_text(encoding="utf-8-sig"))
    for key in path:
        node = node[key]
    return set(node["enum"])


def test_every_stop_reason_is_sent_as_a_value_of_each_versions_schema() -> None:
    """Each StopReason maps to a 1.6 Reason, a 2.0.1 ReasonEnumType and TriggerReasonEnumType
    value of the official schemas, so neither adapter can send the other's (or no) value."""
    reasons = set(get_args(StopReason))
    assert set(v16.REASONS) == set(v201.REASONS) == set(v201.TRIGGERS) == reasons
    reason16 = _enum("1.6", "StopTransaction.json", "properties", "reason")
    event = "TransactionEventRequest.json"
    assert set(v16.REASONS.values()) <= reason16
    assert set(v201.REASONS.values()) <= _enum("2.0.1", event, "definitions", "ReasonEnumType")
    triggers = _enum("2.0.1", event, "definitions", "TriggerReasonEnumType")
    assert set(v201.TRIGGERS.values()) <= triggers


def test_a_16_reset_and_unlock_keep_their_16_reasons() -> None:
    """1.6 sends its own reset and unlock reasons; 2.0.1 its ImmediateReset and Other."""
    assert [v16.REASONS[r] for r in ("SoftReset", "HardReset", "UnlockCommand")] == [
        "SoftReset",
        "HardReset",
        "UnlockCommand",
    ]
    assert v201.REASONS["SoftReset"] == v201.REASONS["ImmediateReset"] == "ImmediateReset"
    assert (v201.REASONS["UnlockCommand"], v201.TRIGGERS["UnlockCommand"]) == (
        "Other",
        "UnlockCommand",
    )
