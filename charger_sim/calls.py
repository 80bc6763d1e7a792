"""What the 1.6 and 2.0.1 answers to CSMS calls share (``calls16``, ``calls201`` use it).

A handler decides the answer at once; whatever the charger does after answering (a triggered
message, status notifications, a reset, a remote start or stop) goes into ``Reply.then``, so
the CSMS hears the answer first, as from a real charger. No handler closes the connection
itself: that is the ``Control``'s job, in its own task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import partial
from typing import TypeVar, cast

from charger_sim.adapter import Adapter, Base, ConnectorState
from charger_sim.model import Evse, RemoteStart, Station
from charger_sim.rpc import CallError, Payload, Reply

# What ``Station.refuse`` may hold: the CSMS calls the scenario told the charger to refuse.
REMOTE_START = "RemoteStart"
REMOTE_STOP = "RemoteStop"
RESET = "Reset"
UNLOCK = "Unlock"

Then = Callable[[], Awaitable[None]]
Answer = Payload | Reply
A = TypeVar("A", bound=Adapter)


async def handle(
    routes: Mapping[str, Callable[[A, Payload], Awaitable[Answer]]],
    adapter: A,
    action: str,
    payload: Payload,
) -> Answer:
    """Answer ``action`` with its ``on_<action>`` from ``routes``; NotImplemented if none."""
    on_call = routes.get(action)
    if on_call is None:
        raise CallError("NotImplemented", f"{action} is not supported by this charger")
    return await on_call(adapter, payload)


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


def remote_start(adapter: Adapter, request: RemoteStart, wanted: int | None) -> Answer:
    """Accepted with a free EVSE booked at once, so a second request finds it taken; the runner
    hears of the request only once the answer is sent (answer first, then act).

    Rejected when told, when no EVSE is free and available, and without a ``Control``: in fleet
    mode nobody would start the session, and the EVSE would stay booked for ever.
    """
    station = adapter.station
    if adapter.control is None or refuses(station, REMOTE_START):
        return status(False)
    if not station.reserve_remote_start(request, wanted):
        return status(False)
    return Reply(status(True), then=later(partial(station.confirm_remote_start, request)))


def remote_stop(adapter: Adapter, transaction_id: str) -> Answer:
    """Accepted for a running transaction, which is marked for stopping once the answer is sent:
    the runner then stops it at once (reason Remote); a fleet charger (no ``Control``) at its
    next sample. Rejected for any other transaction, or when told."""
    station = adapter.station
    evse = None if refuses(station, REMOTE_STOP) else station.evse_of(transaction_id)
    if evse is None or evse.transaction is None:
        return status(False)
    react = adapter.control is not None
    stop = partial(station.confirm_remote_stop, evse, evse.transaction, react=react)
    return Reply(status(True), then=later(stop))


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


async def boot(adapter: Adapter) -> None:
    """A triggered BootNotification; the ``Control`` hears an Accepted answer (its interval)."""
    answer = await adapter.boot("Triggered")
    if adapter.control is not None:
        adapter.control.booted(answer)


async def on_clear_cache(adapter: Adapter, payload: Payload) -> Answer:
    return status(True)  # the simulator keeps no authorization cache


async def on_data_transfer(adapter: Adapter, payload: Payload) -> Answer:
    """Accepted with the data echoed for our own vendor id; any other vendor is unknown."""
    if payload["vendorId"] != adapter.station.identity.vendor:
        return {"status": "UnknownVendorId"}
    answer: Payload = {"status": "Accepted"}
    if "data" in payload:
        answer["data"] = payload["data"]
    return answer
