"""The one way anything outside the gateway reaches a charger: ``send(charger_id, command)``."""

from __future__ import annotations

import logging
from types import ModuleType

from csms.domain import commands as c
from csms.domain.commands import CommandResult, CommandStatus
from csms.gateway import rpc
from csms.gateway.commands import UnsupportedCommand
from csms.gateway.connections import CallFailed, ConnectionRegistry
from csms.gateway.v16 import commands as v16
from csms.gateway.v201 import commands as v201

log = logging.getLogger("csms.gateway")

_ADAPTERS: dict[str, ModuleType] = {"1.6": v16, "2.0.1": v201}
# Commands a charger that is not Accepted must never receive (B02.FR.05, B03.FR.03).
_NEEDS_ACCEPTED = (c.RemoteStart, c.RemoteStop, c.Reset, c.UnlockConnector, c.ChangeAvailability)


class LocalCommandBus:
    def __init__(self, registry: ConnectionRegistry, timeout: float) -> None:
        self._registry = registry
        self._timeout = timeout

    def is_connected(self, charger_id: str) -> bool:
        return self._registry.get(charger_id) is not None

    async def send(self, charger_id: str, command: c.Command) -> CommandResult:
        conn = self._registry.get(charger_id)
        if conn is None:
            return CommandResult(
                CommandStatus.OFFLINE, error_description="charger is not connected"
            )
        if conn.registration == "Rejected" or (
            not conn.accepted and isinstance(command, _NEEDS_ACCEPTED)
        ):
            return _failed("NotAccepted", "charger is not in the Accepted state")
        adapter = _ADAPTERS[conn.version]
        try:
            action, payload = adapter.encode(command)
            rpc.validate(conn.version, action, payload)
        except UnsupportedCommand as exc:
            return _failed("NotSupported", f"{exc} is not available on OCPP {conn.version}")
        except rpc.RpcError as exc:
            return _failed(rpc.wire_code(conn.version, exc.err), exc.description)
        try:
            answer = await conn.call(action, payload, self._timeout)
        except TimeoutError:
            return CommandResult(CommandStatus.TIMEOUT, error_description=f"no answer to {action}")
        except ConnectionError:
            return CommandResult(CommandStatus.OFFLINE, error_description="connection closed")
        except CallFailed as exc:
            return _failed(exc.code, exc.description, sent=True)
        try:
            rpc.validate(conn.version, action, answer, response=True)
        except rpc.RpcError as exc:
            log.warning("charger %s sent an invalid %s answer: %s", charger_id, action, exc)
            return _failed("InvalidResponse", exc.description, sent=True)
        return adapter.decode(command, answer)  # type: ignore[no-any-return]


def _failed(code: str, description: str, *, sent: bool = False) -> CommandResult:
    return CommandResult(
        CommandStatus.FAILED, error_code=code, error_description=description, sent=sent
    )
