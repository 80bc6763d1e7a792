"""Domain events: every state change the façades may want to hear about.

Names follow the webhook event names of the REST API (``session.started``...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SESSION_CREATED = "session.created"
SESSION_STARTED = "session.started"
SESSION_UPDATED = "session.updated"
SESSION_ENDED = "session.ended"
SESSION_CANCELLED = "session.cancelled"
SESSION_START_FAILED = "session.start_failure"
SESSION_STOP_FAILED = "session.stop_failure"
CHARGER_ONLINE = "chargestation.online"
CHARGER_OFFLINE = "chargestation.offline"
CHARGER_BOOTED = "chargestation.booted"
CONNECTOR_STATUS = "chargestation.connector_status.updated"


@dataclass(frozen=True, slots=True)
class DomainEvent:
    name: str
    subject: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)
