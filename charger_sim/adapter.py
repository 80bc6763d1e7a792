"""The port the scenario runner drives: one protocol-neutral ``Adapter`` per OCPP version.

``v16.Adapter`` and ``v201.Adapter`` implement it with the same method names, so a diff of the
two modules shows only the real protocol differences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from charger_sim.model import Evse, RemoteStart
from charger_sim.rpc import Connection, Payload

# Connector states named as in 1.6; 2.0.1 folds the middle three into Occupied.
ConnectorState = Literal["Available", "Preparing", "Charging", "Finishing"]
StopReason = Literal["Local", "Remote", "EVDisconnected"]


@dataclass(frozen=True, slots=True)
class BootAnswer:
    status: str
    interval: int


@dataclass(frozen=True, slots=True)
class StartAnswer:
    id_tag_status: str | None
    transaction_id: str | None


class Adapter(Protocol):
    subprotocol: str

    def attach(self, connection: Connection) -> None: ...

    async def boot(self) -> BootAnswer: ...

    async def heartbeat(self) -> None: ...

    async def status(self, evse: Evse, state: ConnectorState) -> None: ...

    async def authorize(self, id_tag: str) -> str | None: ...

    async def start(self, evse: Evse, id_tag: str, remote: RemoteStart | None) -> StartAnswer:
        """Start a transaction on ``evse`` (sets ``evse.transaction``)."""
        ...

    async def charging(self, evse: Evse) -> None:
        """The EV starts drawing power."""
        ...

    async def sample(self, evse: Evse) -> None:
        """Send one periodic energy register sample of the running transaction."""
        ...

    async def stop(self, evse: Evse, reason: StopReason, id_tag: str | None) -> str | None:
        """Stop the running transaction (clears ``evse.transaction``); the idTag status."""
        ...

    async def handle(self, action: str, payload: Payload) -> Payload:
        """Answer a CSMS-initiated call; unknown actions raise ``CallError('NotImplemented')``."""
        ...


class Base:
    """What both versions share: the connection and a CALL helper."""

    def __init__(self) -> None:
        self._connection: Connection | None = None

    def attach(self, connection: Connection) -> None:
        self._connection = connection

    async def _call(self, action: str, payload: Payload) -> Payload:
        if self._connection is None:
            raise RuntimeError("the adapter is not attached to a connection")
        return await self._connection.call(action, payload)
