"""What the 1.6 and 2.0.1 answers to CSMS calls share (``calls16``, ``calls201`` use it).

A handler decides the answer at once; whatever the charger does after answering (a triggered
message, status notifications, a reset) goes into ``Reply.then``, so the CSMS hears the answer
first, as from a real charger. No handler closes the connection itself: that is the ``Control``'s
job, in its own task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import cast

from charger_sim.adapter import Adapter, Base, ConnectorState
from charger_sim.model import Evse, Station
from charger_sim.rpc import Payload, Reply

# What ``Station.refuse`` may hold: the CSMS calls the scenario told the charger to refuse.
REMOTE_START = "RemoteStart"
REMOTE_STOP = "RemoteStop"
RESET = "Reset"
UNLOCK = "Unlock"

Then = Callable[[], Awaitable[None]]


def status(accepted: bool) -> Payload:
    return {"status": "Accepted" if accepted else "Rejected"}


def refuses(station: Station, call: str) -> bool:
    return call in station.refuse


def then_if(accepted: bool, send: Then) -> Payload | Reply:
    """Accepted and ``send`` after the answer (a triggered message), or Rejected."""
    return Reply(status(True), then=send) if accepted else status(False)


async def notify(adapter: Base, action: str, payload: Payload) -> None:
    """Send a plain message, such as a triggered one, ignoring its (empty) answer."""
    await adapter.notify(action, payload)


def later(action: Callable[[], None]) -> Then:
    """A ``Reply.then`` that runs ``action`` (which spawns its own task) after the answer."""

    async def then() -> None:
        action()

    return then


def change_availability(evses: Iterable[Evse], operative: bool) -> tuple[str, list[Evse]]:
    """Make ``evses`` (in)operative: ``Accepted``, or ``Scheduled`` when a transaction runs.

    Returns the status and the EVSEs whose reported status changes now; a scheduled change is
    applied by the charger once the transaction ends. Remote starts skip unavailable EVSEs.
    """
    scheduled, changed = False, []
    for evse in evses:
        if not operative and evse.transaction is not None:
            evse.scheduled, scheduled = False, True
            continue
        evse.scheduled = None
        if evse.available != operative:
            evse.available = operative
            changed.append(evse)
    return ("Scheduled" if scheduled else "Accepted"), changed


async def report(adapter: Adapter, evses: Iterable[Evse]) -> None:
    """Send each EVSE's connector status again (Unavailable while inoperative)."""
    for evse in evses:
        async with evse.lock:
            await adapter.status(evse, cast(ConnectorState, evse.state))


def data_transfer(station: Station, payload: Payload) -> Payload:
    """Accepted with the data echoed for our own vendor id; any other vendor is unknown."""
    if payload["vendorId"] != station.identity.vendor:
        return {"status": "UnknownVendorId"}
    answer: Payload = {"status": "Accepted"}
    if "data" in payload:
        answer["data"] = payload["data"]
    return answer
