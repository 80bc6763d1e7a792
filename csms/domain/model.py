"""Domain values shared by every protocol version and every façade."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Protocol(enum.StrEnum):
    V16 = "1.6"
    V201 = "2.0.1"


class RegistrationStatus(enum.StrEnum):
    """What the CSMS answers to a BootNotification."""

    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class SessionStatus(enum.StrEnum):
    PENDING = "pending"
    STARTED = "started"
    ENDED = "ended"
    CANCELLED = "cancelled"
    START_FAILED = "start_failed"


class TokenStatus(enum.StrEnum):
    """Authorization outcome, named as in OCPP (both versions share these values)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class BootInfo:
    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None
    reason: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class Charger:
    id: str
    password_hash: str | None = None
    registration_status: RegistrationStatus = RegistrationStatus.ACCEPTED
    boot_accepted: bool = False
    protocol: Protocol | None = None
    allow_missing_subprotocol: bool = False
    security_profile: int = 1
    vendor: str | None = None
    model: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None
    boot_reason: str | None = None
    last_boot_at: datetime | None = None
    last_seen: datetime | None = None
    online: bool = False
    created_at: datetime | None = None


@dataclass(slots=True)
class ConnectorState:
    charger_id: str
    evse_id: int
    connector_id: int
    status: str
    error_code: str | None = None
    info: str | None = None
    timestamp: datetime | None = None
    evse_ref: str | None = None  # an external EVSE ID such as DE*ABC*E1234*1


@dataclass(slots=True)
class IdToken:
    id_token: str
    type: str = "ISO14443"
    status: TokenStatus = TokenStatus.ACCEPTED
    expires_at: datetime | None = None
    group_id: str | None = None
    user_id: str | None = None  # the backend's user this token belongs to (REST ``user``)


@dataclass(frozen=True, slots=True)
class Authorization:
    """The answer to "may this token charge here?"."""

    status: TokenStatus
    expires_at: datetime | None = None
    group_id: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status is TokenStatus.ACCEPTED


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One sampled value, normalised: energy in Wh, power in W, everything in SI base units.

    ``value`` is already multiplied out (2.0.1 multipliers, kWh -> Wh).
    """

    timestamp: datetime
    measurand: str
    value: float
    unit: str
    phase: str | None = None
    location: str | None = None
    context: str | None = None
    signed: bool = False


ENERGY_REGISTER = "Energy.Active.Import.Register"


@dataclass(slots=True)
class Session:
    id: str
    charger_id: str
    protocol: Protocol
    status: SessionStatus
    created_at: datetime
    updated_at: datetime
    evse_id: int | None = None
    connector_id: int | None = None
    transaction_id: str | None = None
    id_token: str | None = None
    id_token_type: str | None = None
    auth_status: str | None = None
    remote_start_id: int | None = None
    requested_by: str = "charger"
    session_start: datetime | None = None
    session_end: datetime | None = None
    charging_start: datetime | None = None
    charging_end: datetime | None = None
    meter_start_wh: float | None = None
    meter_stop_wh: float | None = None
    last_register_wh: float | None = None
    energy_wh: float = 0.0
    cost: float | None = None
    currency: str | None = None
    stop_reason: str | None = None
    start_key: str | None = None
    failure_reason: str | None = None
    offline: bool = False
    samples: list[MeterSample] = field(default_factory=list)

    @property
    def energy_kwh(self) -> float:
        return round(self.energy_wh / 1000.0, 6)

    @property
    def is_open(self) -> bool:
        return self.status in (SessionStatus.PENDING, SessionStatus.STARTED)


@dataclass(frozen=True, slots=True)
class ChargerEvent:
    """Something a charger reported that an operator may need later (security, firmware, ...)."""

    charger_id: str
    kind: str
    timestamp: datetime
    data: dict[str, object]


@dataclass(frozen=True, slots=True)
class FailedStop:
    """A stop that could not be applied: kept for review, never dropped."""

    charger_id: str
    transaction_id: str
    reason: str
    received_at: datetime
    data: dict[str, object]


class ApiScope(enum.StrEnum):
    """What an API key may do: operators manage everything, session clients only sessions."""

    OPERATOR = "operator"
    SESSIONS = "sessions"


@dataclass(slots=True)
class ApiKey:
    """An HTTP API key. Only a hash of its secret part is stored (see ``credentials.py``)."""

    id: str
    name: str
    secret_hash: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None = None

    def allows(self, scope: ApiScope) -> bool:
        return self.revoked_at is None and (
            scope.value in self.scopes or ApiScope.OPERATOR.value in self.scopes
        )


@dataclass(slots=True)
class Webhook:
    """A receiver of signed event notifications. ``secret`` signs deliveries (HMAC-SHA256), so
    it is kept as given: it is a shared signing key, not a credential we check."""

    id: str
    url: str
    events: list[str]
    secret: str
    created_at: datetime
    active: bool = True
    disabled_reason: str | None = None


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # gave up after the last attempt, or its receiver was disabled


@dataclass(slots=True)
class Delivery:
    """One HTTP POST waiting in the outbox: retried with backoff until delivered or dead."""

    id: str
    consumer: str  # who builds and signs it: "webhook", later "oioi", "ocpi"
    target_id: str  # the webhook (or partner) it goes to
    url: str
    event: str
    body: str  # the exact JSON text that is sent (and signed)
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    status: DeliveryStatus = DeliveryStatus.PENDING
    last_error: str | None = None
    delivered_at: datetime | None = None
    method: str = "POST"  # OCPI pushes a Session with PUT


class PartnerStatus(enum.StrEnum):
    INVITED = "invited"  # holds a one-time token A; may only register
    REGISTERED = "registered"  # completed the credentials handshake; uses token C
    REVOKED = "revoked"


@dataclass(slots=True)
class OcpiPartner:
    """An OCPI 2.2.1 eMSP we roam with.

    ``token_hash`` is a SHA-256 of the credentials token the partner presents to us (token A
    until it registers, then the token C we issued). ``their_token`` (token B) is what we
    present when we call them; it is a credential we send, so it is kept as given.
    """

    id: str
    country_code: str
    party_id: str
    status: PartnerStatus
    token_hash: str
    created_at: datetime
    updated_at: datetime
    name: str | None = None
    their_token: str | None = None
    versions_url: str | None = None
    version: str | None = None
    endpoints: dict[str, str] = field(default_factory=dict)  # "<module>:<ROLE>" -> url
    roles: list[dict[str, object]] = field(default_factory=list)

    def endpoint(self, module: str, role: str = "RECEIVER") -> str | None:
        return self.endpoints.get(f"{module}:{role}")


@dataclass(slots=True)
class RoamingToken:
    """An OCPI Token an eMSP pushed to us; ``data`` is the Token object as last received."""

    country_code: str
    party_id: str
    uid: str
    type: str
    data: dict[str, object]
    last_updated: datetime


@dataclass(slots=True)
class RoamingSession:
    """What OCPI needs beyond our session: whose it is and how it was authorized.

    Written when an eMSP starts a session (START_SESSION) or when a charger starts one with a
    token an eMSP gave us; the session itself stays in ``sessions``.
    """

    session_id: str
    partner_id: str
    cdr_token: dict[str, object]  # the CdrToken: country_code, party_id, uid, type, contract_id
    auth_method: str  # COMMAND | WHITELIST | AUTH_REQUEST
    created_at: datetime
    authorization_reference: str | None = None
