"""The transaction messages chargers report, as the domain takes them, and its answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from csms.domain.model import Authorization, MeterSample


@dataclass(frozen=True, slots=True)
class StartTransaction:
    """1.6 StartTransaction.req."""

    charger_id: str
    connector_id: int
    id_tag: str
    meter_start: int
    timestamp: datetime
    reservation_id: int | None = None


@dataclass(frozen=True, slots=True)
class StopTransaction:
    """1.6 StopTransaction.req."""

    charger_id: str
    transaction_id: int
    meter_stop: int
    timestamp: datetime
    reason: str | None = None
    id_tag: str | None = None
    samples: list[MeterSample] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TransactionEvent:
    """2.0.1 TransactionEventRequest, flattened."""

    charger_id: str
    event_type: str  # Started | Updated | Ended
    timestamp: datetime
    trigger_reason: str
    seq_no: int
    transaction_id: str
    offline: bool = False
    charging_state: str | None = None
    stopped_reason: str | None = None
    remote_start_id: int | None = None
    id_token: str | None = None
    id_token_type: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    samples: list[MeterSample] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StartAnswer:
    transaction_id: int
    authorization: Authorization


@dataclass(frozen=True, slots=True)
class EventAnswer:
    authorization: Authorization | None
    total_cost: float | None
