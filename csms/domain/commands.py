"""Version-neutral commands the CSMS sends to chargers, and their outcome.

Each gateway version adapter (``gateway/v16/commands.py``, ``gateway/v201/commands.py``) turns a
command into that version's action and payload, and the charger's answer into a
:class:`CommandResult`. Nothing outside the gateway ever sees an OCPP frame.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class CommandStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FAILED = "failed"
    TIMEOUT = "timeout"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class CommandResult:
    status: CommandStatus
    payload: dict[str, Any] = field(default_factory=dict)
    error_code: str | None = None
    error_description: str | None = None
    sent: bool = True  # False: refused before reaching the charger (bad payload, wrong state)

    @property
    def accepted(self) -> bool:
        return self.status is CommandStatus.ACCEPTED

    def describe(self) -> str:
        """One line for people: ``rejected``, ``failed: NotImplemented no handler``."""
        if self.error_code:
            return f"{self.status.value}: {self.error_code} {self.error_description or ''}".strip()
        return self.status.value


@dataclass(frozen=True, slots=True)
class RemoteStart:
    id_token: str
    evse_id: int | None = None
    connector_id: int | None = None
    remote_start_id: int | None = None
    id_token_type: str = "Central"


@dataclass(frozen=True, slots=True)
class RemoteStop:
    transaction_id: str


@dataclass(frozen=True, slots=True)
class Reset:
    hard: bool = False
    evse_id: int | None = None


@dataclass(frozen=True, slots=True)
class UnlockConnector:
    evse_id: int
    connector_id: int = 1


@dataclass(frozen=True, slots=True)
class ChangeAvailability:
    operative: bool
    evse_id: int | None = None
    connector_id: int | None = None


@dataclass(frozen=True, slots=True)
class TriggerMessage:
    message: str
    evse_id: int | None = None
    connector_id: int | None = None


@dataclass(frozen=True, slots=True)
class GetConfiguration:
    """1.6 GetConfiguration; on 2.0.1 it becomes GetVariables of ``component.variable`` keys."""

    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChangeConfiguration:
    """1.6 ChangeConfiguration; on 2.0.1 a SetVariables of ``Component.Variable``."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class ClearCache:
    pass


@dataclass(frozen=True, slots=True)
class SetChargerPassword:
    """The charger's new Basic auth password: 1.6 ChangeConfiguration(AuthorizationKey, hex),
    2.0.1 SetVariables(SecurityCtrlr.BasicAuthPassword) (A01.FR.01/02). Not in reprs or logs."""

    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class RawCall:
    """Any other CSMS-initiated action of the charger's version; validated against its schema."""

    action: str
    payload: dict[str, Any]


Command = (
    RemoteStart
    | RemoteStop
    | Reset
    | UnlockConnector
    | ChangeAvailability
    | TriggerMessage
    | GetConfiguration
    | ChangeConfiguration
    | ClearCache
    | SetChargerPassword
    | RawCall
)
