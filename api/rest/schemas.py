"""Request and response models of the native REST API (shapes follow eDRV v1.1).

They validate requests and produce responses, and ``/openapi.json`` is generated from them.
Unknown request fields are ignored. Object ids are ``_id``; timestamps are ISO 8601 UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

SessionState = Literal["created", "started", "ended", "cancelled", "start_failed"]
TokenState = Literal["Accepted", "Blocked", "Expired", "Invalid"]
Registration = Literal["Accepted", "Pending", "Rejected"]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _json_int(value: Any) -> Any:
    """A JSON integer: 5, or 5.0 (JSON Schema counts it), but not "5" or true."""
    if isinstance(value, bool | str):
        raise ValueError("Input should be a valid integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _iso_datetime(value: Any) -> Any:
    """An RFC 3339 / ISO 8601 string; pydantic alone would also take 0 or "0.5" as Unix time."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.upper())
        except ValueError:
            pass
    raise ValueError("Input should be an ISO 8601 date-time string, e.g. 2026-01-31T12:00:00Z")


# What the document says a field is, and nothing the JSON merely resembles. (Bounds go before
# the validator in ``Annotated``, or pydantic writes "ge"/"le" instead of minimum/maximum.)
JSON_INT = BeforeValidator(_json_int)
IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]


def _any_case(*words: str) -> str:
    """A pattern (ECMA 262 and Python alike) matching ``words`` in any letter case."""
    spelled = ("".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in w) for w in words)
    return "^(" + "|".join(spelled) + ")$"


T = TypeVar("T")


class _Out(BaseModel):
    model_config = ConfigDict(
        validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )


# -- envelope -----------------------------------------------------------------------------------


class Envelope(_Out, Generic[T]):
    """Every REST answer: ``{"ok": ..., "message": ..., "result": ...}``."""

    ok: bool = True
    message: str
    result: T


class FieldError(_Out):
    field: str = Field(description="dotted path of the bad field, e.g. connectors.0.evse_id")
    message: str


class ErrorDetail(_Out):
    code: str = Field(description="stable error code, e.g. charger_offline, invalid_input")
    errors: list[FieldError] = Field(default_factory=list)
    password: str | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="only when a password change got no answer: the password the charger may "
        "have taken (set it with PATCH if the charger is refused from now on)",
    )


class ErrorEnvelope(_Out):
    ok: Literal[False] = False
    message: str
    result: ErrorDetail | None = None


# -- sessions -----------------------------------------------------------------------------------


class SessionCreate(_In):
    connector: str = Field(
        min_length=1,
        description="our connector id `<charger>:<evse>[:<connector>]` or an EVSE ID "
        "such as `DE*ABC*E1234*1`",
    )
    user: str = Field(min_length=1, max_length=36, description="an id token, or a user id")


class SessionQuery(_In):
    status: str | None = Field(
        None,
        pattern=_any_case(*get_args(SessionState), "pending"),
        description="created|started|ended|cancelled|start_failed (any case; pending = created)",
    )
    charger: str | None = None
    user: str | None = Field(None, description="id token")
    created_at_gte: IsoDatetime | None = None
    created_at_lte: IsoDatetime | None = None
    paginate_limit: int = Field(20, ge=1, le=500)
    paginate_page: int = Field(1, ge=1, le=1_000_000)  # offset within a 64-bit integer


class Metrics(_Out):
    meterStart: float | None = Field(None, description="register at start, Wh")
    meterStop: float | None = Field(None, description="register at stop, Wh")
    energyConsumed: float = Field(description="Wh")
    energyPeriod: int | None = Field(None, description="seconds of charging")
    sessionStart: datetime | None = None
    sessionStop: datetime | None = None
    chargingStart: datetime | None = None
    chargingStop: datetime | None = None


class Cost(_Out):
    amount: float | None
    currency: str | None


class MeterValue(_Out):
    timestamp: datetime
    measurand: str
    value: float
    unit: str
    phase: str | None = None
    location: str | None = None
    context: str | None = None


class SessionOut(_Out):
    id: str = Field(alias="_id")
    status: SessionState
    chargestation: str
    connector: str
    evse_id: int | None
    connector_id: int | None
    user: str | None = Field(description="the id token")
    transaction_id: str | None
    protocol: str
    requested_by: str
    energy_kwh: float
    metrics: Metrics
    cost: Cost
    stop_reason: str | None
    failure_reason: str | None
    offline: bool
    createdAt: datetime
    updatedAt: datetime
    meter_values: list[MeterValue] | None = Field(
        None, description="sampled values; only when one session is read"
    )


SessionEnvelope = Envelope[SessionOut]


SessionListEnvelope = Envelope[list[SessionOut]]


# -- chargers -----------------------------------------------------------------------------------


class ConnectorIn(_In):
    # OCPP's integer is 32-bit, and so are the database columns
    evse_id: Annotated[int, Field(ge=1, le=2**31 - 1), JSON_INT]
    connector_id: Annotated[int, Field(ge=1, le=2**31 - 1), JSON_INT] = 1
    evse_ref: str | None = Field(None, max_length=48, description="EVSE ID, DE*ABC*E1234*1")


class ChargerCreate(_In):
    id: str = Field(min_length=1, max_length=48, pattern=r"^[A-Za-z0-9._~:*@+-]+$")
    password: str | None = Field(
        None, min_length=16, max_length=40, description="omit to have one generated"
    )
    no_password: StrictBool = Field(False, description="no Basic auth at all (lab use only)")
    security_profile: Annotated[int, Field(ge=0, le=3), JSON_INT] = 1
    registration_status: Registration = "Accepted"
    allow_missing_subprotocol: StrictBool = False
    connectors: list[ConnectorIn] = Field(default_factory=list)


class ChargerPatch(_In):
    """Absent or null: unchanged."""

    password: str | None = Field(None, min_length=16, max_length=40)
    security_profile: Annotated[int, Field(ge=0, le=3), JSON_INT] | None = None
    registration_status: Registration | None = None
    allow_missing_subprotocol: StrictBool | None = None
    connectors: list[ConnectorIn] | None = None


class ConnectorOut(_Out):
    id: str = Field(alias="_id")
    evse_id: int
    connector_id: int
    evse_ref: str | None
    status: str
    error_code: str | None
    timestamp: datetime | None


class BootInfoOut(_Out):
    chargePointVendor: str | None
    chargePointModel: str | None
    chargePointSerialNumber: str | None
    firmwareVersion: str | None
    reason: str | None


class ChargerOut(_Out):
    id: str = Field(alias="_id")
    endpoint: str
    protocol: str | None
    online: bool
    registration_status: Registration
    security_profile: int
    has_password: bool
    allow_missing_subprotocol: bool
    bootInfo: BootInfoOut
    connectors: list[ConnectorOut]
    lastMessageAt: datetime | None
    lastBootAt: datetime | None
    createdAt: datetime | None
    password: str | None = Field(None, description="the generated password; only on create")


ChargerEnvelope = Envelope[ChargerOut]


ChargerListEnvelope = Envelope[list[ChargerOut]]


class CallOut(_Out):
    status: Literal["accepted", "rejected", "failed", "timeout", "offline"]
    payload: dict[str, Any]
    error_code: str | None
    error_description: str | None


CallEnvelope = Envelope[CallOut]


class PasswordChangeIn(_In):
    password: str | None = Field(
        None,
        description="the new password; omit to have one generated (20 characters). 1.6: 16-20 "
        "characters, 2.0.1: 16-40, of a-z A-Z 0-9 * - _ = : + | @ .",
    )


class PasswordOut(_Out):
    id: str = Field(alias="_id", description="the charger")
    protocol: str | None
    password: str = Field(description="the new Basic auth password; shown only here, once")
    charger_answer: dict[str, Any] = Field(description="the charger's answer, as it sent it")


PasswordEnvelope = Envelope[PasswordOut]


# -- tokens -------------------------------------------------------------------------------------


class TokenCreate(_In):
    id_token: str = Field(min_length=1, max_length=36)
    type: str = Field("ISO14443", max_length=20)
    status: TokenState = "Accepted"
    expires_at: IsoDatetime | None = None
    group_id: str | None = Field(None, max_length=36)
    user_id: str | None = Field(None, max_length=64)


class TokenPatch(_In):
    """``type`` and ``status`` absent or null: unchanged; ``expires_at``, ``group_id`` and
    ``user_id`` absent: unchanged, null: cleared."""

    type: str | None = Field(None, max_length=20)
    status: TokenState | None = None
    expires_at: IsoDatetime | None = None
    group_id: str | None = Field(None, max_length=36)
    user_id: str | None = Field(None, max_length=64)


class TokenOut(_Out):
    id: str = Field(alias="_id")
    id_token: str
    type: str
    status: str
    expires_at: datetime | None
    group_id: str | None
    user_id: str | None


TokenEnvelope = Envelope[TokenOut]


TokenListEnvelope = Envelope[list[TokenOut]]


class Empty(_In):
    """No parameters."""


# -- webhooks -----------------------------------------------------------------------------------

WebhookEvent = Literal[
    "session.created",
    "session.started",
    "session.updated",
    "session.ended",
    "session.cancelled",
    "session.start_failure",
    "session.stop_failure",
    "chargestation.online",
    "chargestation.offline",
    "chargestation.connector_status.updated",
]


class WebhookCreate(_In):
    # RFC 3986: a URL is printable ASCII (percent-encode the rest). Spelled without \s, which
    # means other characters to Python (e.g. U+0085) than to the document's ECMA 262 regexes.
    url: str = Field(
        pattern=r"^https?://[A-Za-z0-9\[][!-~]*$",
        max_length=2000,
        description="absolute http(s) URL, printable ASCII",
    )
    events: list[WebhookEvent] = Field(min_length=1)
    secret: str | None = Field(
        None, min_length=16, max_length=200, description="omit to have one generated"
    )


class WebhookOut(_Out):
    id: str = Field(alias="_id")
    url: str
    events: list[str]
    active: bool
    disabled_reason: str | None
    createdAt: datetime
    secret: str | None = Field(None, description="the signing secret; only on create")


WebhookEnvelope = Envelope[WebhookOut]


WebhookListEnvelope = Envelope[list[WebhookOut]]


class DeliveryOut(_Out):
    id: str = Field(alias="_id")
    event: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    last_error: str | None
    createdAt: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None


DeliveryListEnvelope = Envelope[list[DeliveryOut]]
