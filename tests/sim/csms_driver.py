"""Driving the simulator from the CSMS side: send a call, check the answer against the schema.

The answers are validated against the official OCPP JSON schemas shipped in the ``ocpp``
package (the same files our CSMS compiles), with ``jsonschema`` as a second, independent reader.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from charger_sim.runner import ProtocolVersion, RunResult, run
from charger_sim.scenario import parse
from csms.bootstrap import Csms
from csms.domain import commands as c
from csms.domain import events as ev
from csms.domain.commands import CommandResult, CommandStatus
from csms.domain.events import DomainEvent
from csms.domain.model import RegistrationStatus
from tests.conftest import wait_event
from tests.sim.conftest import sim_url

Payload = dict[str, Any]
CHARGER = "SIM1"
PLAY_TIMEOUT = 30.0  # a whole played scenario; above every step timeout the tests give

# Fast but real, for every test that plays the simulator against our CSMS: 10 simulated minutes
# a wall second at 22 kW, a register starting at 5,000 Wh; answers within 2 s (a lost answer is
# retried after that) and retries 0.05 s apart; reconnects after 0.05-0.25 s.
FAST: dict[str, Any] = {
    "time_scale": 600.0,
    "power_kw": 22.0,
    "meter_start_wh": 5_000,
    "call_timeout": 2.0,
    "message_retry_interval": 0.05,
    "reconnect_min": 0.05,
    "reconnect_max": 0.2,
    "reconnect_random": 0.05,
}


def steps(*actions: str | dict[str, Any]) -> list[dict[str, Any]]:
    """Scenario steps: a bare action name, or a step table."""
    return [{"action": a} if isinstance(a, str) else a for a in actions]


def wait_call(message: str, timeout: float = 15.0) -> dict[str, Any]:
    """The step that waits for the CSMS's ``message`` (and what it sets off)."""
    return {"action": "wait_call", "message": message, "timeout": timeout}


def charge(kwh: float) -> dict[str, Any]:
    """Charge exactly ``kwh``, one periodic sample per simulated minute."""
    return {"action": "charge", "kwh": kwh, "sample_interval": 60}


async def play(
    csms: Csms,
    protocol: ProtocolVersion,
    scenario_steps: list[dict[str, Any]],
    *,
    password: str | None = None,
    queue_file: Path | None = None,
    **charger: Any,
) -> RunResult:
    """Play ``scenario_steps`` as SIM1 with :data:`FAST` (``charger`` overrides any of its keys
    or adds ``[charger]`` keys), within :data:`PLAY_TIMEOUT`."""
    scenario = parse({"charger": {**FAST, **charger}, "steps": scenario_steps})
    async with asyncio.timeout(PLAY_TIMEOUT):
        return await run(
            scenario,
            url=sim_url(csms),
            charger_id=CHARGER,
            protocol=protocol,
            password=password,
            queue_file=queue_file,
        )


@cache
def _schema(protocol: str, action: str) -> dict[str, Any]:
    name = f"v16/schemas/{action}Response.json"
    if protocol == "2.0.1":
        name = f"v201/schemas/{action}Response.json"
    text = (importlib.resources.files("ocpp") / name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _request_schema(protocol: str, action: str) -> dict[str, Any]:
    name = f"v16/schemas/{action}.json"
    if protocol == "2.0.1":
        name = f"v201/schemas/{action}Request.json"
    text = (importlib.resources.files("ocpp") / name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def valid_answer(protocol: str, action: str, payload: Payload) -> Payload:
    """``payload`` if it is a schema-valid answer to ``action``; fails the test otherwise."""
    jsonschema.validate(payload, _schema(protocol, action))
    return payload


def valid_request(protocol: str, action: str, payload: Payload) -> Payload:
    jsonschema.validate(payload, _request_schema(protocol, action))
    return payload


async def ask(csms: Csms, protocol: str, action: str, payload: Payload) -> Payload:
    """Send ``action`` to the simulator through the CSMS; its schema-valid answer."""
    result = await csms.services.bus.send(CHARGER, c.RawCall(action, payload))
    _answered(action, result)
    return valid_answer(protocol, action, result.payload)


async def command(csms: Csms, protocol: str, cmd: c.Command) -> Payload:
    """Send a domain command; the charger's schema-valid answer (action per version)."""
    result = await csms.services.bus.send(CHARGER, cmd)
    _answered(cmd, result)
    return valid_answer(protocol, _ACTIONS[protocol][type(cmd)], result.payload)


def _answered(what: object, result: CommandResult) -> None:
    """Fail unless the charger answered with a CALLRESULT (OFFLINE and TIMEOUT carry no
    error code and an empty payload, which some answer schemas accept)."""
    answered = result.status in (CommandStatus.ACCEPTED, CommandStatus.REJECTED)
    assert answered, f"{what}: {result.describe()} ({result.error_description})"


def status_of(answer: Payload) -> str:
    """The status of a 1.6 answer, or of a 2.0.1 SetVariables answer's only item."""
    if "setVariableResult" in answer:
        (result,) = answer["setVariableResult"]
        return str(result["attributeStatus"])
    return str(answer["status"])


_ACTIONS: dict[str, dict[type, str]] = {
    "1.6": {
        c.ChangeConfiguration: "ChangeConfiguration",
        c.Reset: "Reset",
        c.ChangeAvailability: "ChangeAvailability",
        c.UnlockConnector: "UnlockConnector",
        c.TriggerMessage: "TriggerMessage",
    },
    "2.0.1": {
        c.ChangeConfiguration: "SetVariables",
        c.Reset: "Reset",
        c.ChangeAvailability: "ChangeAvailability",
        c.UnlockConnector: "UnlockConnector",
        c.TriggerMessage: "TriggerMessage",
    },
}


async def wait_status(events: asyncio.Queue[DomainEvent], status: str) -> DomainEvent:
    """The next connector status event with ``status``."""
    while True:
        event = await wait_event(events, ev.CONNECTOR_STATUS)
        if event.data["status"] == status:
            return event


async def set_registration(csms: Csms, status: RegistrationStatus) -> None:
    async def change(uow: Any) -> None:
        charger = await uow.chargers.get(CHARGER)
        charger.registration_status = status
        await uow.chargers.save(charger)

    await csms.services.db.write(change)


async def set_password_hash(csms: Csms, password_hash: str) -> None:
    async def change(uow: Any) -> None:
        charger = await uow.chargers.get(CHARGER)
        charger.password_hash = password_hash
        await uow.chargers.save(charger)

    await csms.services.db.write(change)


async def recorded(csms: Csms, kind: str) -> list[Payload]:
    """What the CSMS stored of a charger-reported message kind (``report``, ``log_status``)."""
    events = await csms.services.db.read(lambda uow: uow.chargers.events(CHARGER, kind))
    return [e.data for e in events]
