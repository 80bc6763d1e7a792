"""The schema, declared once with SQLAlchemy 2 typed mappings.

``migrations/versions`` must build exactly these tables (a test compares them). Conventions:

- every datetime column is ``UtcDateTime``: naive UTC in the database, aware UTC in Python;
- enums are stored as their string values, converted back by the repositories;
- ``meter_samples`` keeps ``''`` for a missing phase, location or context so its unique
  constraint (NULLs never collide) really rejects duplicates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (same on SQLite and PostgreSQL)."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the domain only deals in aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime()}


class ChargerRow(Base):
    __tablename__ = "chargers"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    password_hash: Mapped[str | None]
    registration_status: Mapped[str]
    boot_accepted: Mapped[bool]
    protocol: Mapped[str | None]
    allow_missing_subprotocol: Mapped[bool]
    security_profile: Mapped[int]
    vendor: Mapped[str | None]
    model: Mapped[str | None]
    serial_number: Mapped[str | None]
    firmware_version: Mapped[str | None]
    boot_reason: Mapped[str | None]
    last_boot_at: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]
    online: Mapped[bool]
    created_at: Mapped[datetime | None]


class ConnectorRow(Base):
    __tablename__ = "connectors"
    __table_args__ = (Index(None, "evse_ref"),)

    charger_id: Mapped[str] = mapped_column(String, primary_key=True)
    evse_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str]
    error_code: Mapped[str | None]
    info: Mapped[str | None]
    timestamp: Mapped[datetime | None]
    evse_ref: Mapped[str | None]


class ChargerEventRow(Base):
    __tablename__ = "charger_events"
    __table_args__ = (Index(None, "charger_id", "kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    charger_id: Mapped[str]
    kind: Mapped[str]
    timestamp: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class SessionRow(Base):
    __tablename__ = "sessions"
    __table_args__ = (
        UniqueConstraint("charger_id", "transaction_id"),
        Index(None, "charger_id", "start_key"),
        Index(None, "charger_id", "remote_start_id"),
        Index(None, "status", "created_at"),
        Index(None, "id_token"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    charger_id: Mapped[str]
    protocol: Mapped[str]
    status: Mapped[str]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    evse_id: Mapped[int | None]
    connector_id: Mapped[int | None]
    transaction_id: Mapped[str | None]
    id_token: Mapped[str | None]
    id_token_type: Mapped[str | None]
    auth_status: Mapped[str | None]
    remote_start_id: Mapped[int | None]
    requested_by: Mapped[str]
    session_start: Mapped[datetime | None]
    session_end: Mapped[datetime | None]
    charging_start: Mapped[datetime | None]
    charging_end: Mapped[datetime | None]
    meter_start_wh: Mapped[float | None]
    meter_stop_wh: Mapped[float | None]
    last_register_wh: Mapped[float | None]
    energy_wh: Mapped[float]
    cost: Mapped[float | None]
    currency: Mapped[str | None]
    stop_reason: Mapped[str | None]
    start_key: Mapped[str | None]
    failure_reason: Mapped[str | None]
    offline: Mapped[bool]


class MeterSampleRow(Base):
    __tablename__ = "meter_samples"
    __table_args__ = (
        UniqueConstraint(
            "session_id",
            "timestamp",
            "measurand",
            "phase",
            "location",
            "context",
            "value",
            name="uq_meter_samples_dedupe",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    timestamp: Mapped[datetime]
    measurand: Mapped[str]
    value: Mapped[float]
    unit: Mapped[str]
    phase: Mapped[str]
    location: Mapped[str]
    context: Mapped[str]
    signed: Mapped[bool]


class TransactionEventRow(Base):
    __tablename__ = "transaction_events"

    charger_id: Mapped[str] = mapped_column(String, primary_key=True)
    transaction_id: Mapped[str] = mapped_column(String, primary_key=True)
    key: Mapped[str] = mapped_column(String, primary_key=True)


class FailedStopRow(Base):
    __tablename__ = "failed_stops"
    __table_args__ = (Index(None, "charger_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    charger_id: Mapped[str]
    transaction_id: Mapped[str]
    reason: Mapped[str]
    received_at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class IdTokenRow(Base):
    __tablename__ = "id_tokens"

    id_token: Mapped[str] = mapped_column(String, primary_key=True)
    type: Mapped[str]
    status: Mapped[str]
    expires_at: Mapped[datetime | None]
    group_id: Mapped[str | None]
    user_id: Mapped[str | None] = mapped_column(index=True)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str]
    secret_hash: Mapped[str]
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class JournalRow(Base):
    """Domain events, in commit order; consumers read them from their cursor."""

    __tablename__ = "journal"
    # SQLite must never reuse a sequence number after pruning (plain rowids restart at max+1).
    __table_args__ = {"sqlite_autoincrement": True}

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str]
    subject: Mapped[str]
    at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class JournalCursorRow(Base):
    __tablename__ = "journal_cursors"

    consumer: Mapped[str] = mapped_column(String, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class WebhookRow(Base):
    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    url: Mapped[str]
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str]
    created_at: Mapped[datetime]
    active: Mapped[bool]
    disabled_reason: Mapped[str | None]


class DeliveryRow(Base):
    """The outbox: HTTP POSTs waiting to be (re)tried."""

    __tablename__ = "deliveries"
    __table_args__ = (Index(None, "status", "next_attempt_at"), Index(None, "target_id"))

    id: Mapped[str] = mapped_column(String, primary_key=True)
    consumer: Mapped[str]
    target_id: Mapped[str]
    url: Mapped[str]
    event: Mapped[str]
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int]
    status: Mapped[str]
    last_error: Mapped[str | None]
    delivered_at: Mapped[datetime | None]
    method: Mapped[str] = mapped_column(String, server_default="POST")


class OcpiPartnerRow(Base):
    __tablename__ = "ocpi_partners"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    country_code: Mapped[str]
    party_id: Mapped[str]
    status: Mapped[str]
    token_hash: Mapped[str] = mapped_column(unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    name: Mapped[str | None]
    their_token: Mapped[str | None]
    versions_url: Mapped[str | None]
    version: Mapped[str | None]
    endpoints: Mapped[dict[str, Any]] = mapped_column(JSON)
    roles: Mapped[list[Any]] = mapped_column(JSON)


class OcpiTokenRow(Base):
    """Tokens eMSPs pushed (OCPI Tokens module), keyed as the module addresses them."""

    __tablename__ = "ocpi_tokens"

    country_code: Mapped[str] = mapped_column(String, primary_key=True)
    party_id: Mapped[str] = mapped_column(String, primary_key=True)
    uid: Mapped[str] = mapped_column(String, primary_key=True, index=True)
    type: Mapped[str] = mapped_column(String, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    last_updated: Mapped[datetime]


class OcpiSessionRow(Base):
    """The OCPI side of a session: the eMSP it belongs to and how it was authorized."""

    __tablename__ = "ocpi_sessions"

    session_id: Mapped[str] = mapped_column(String, primary_key=True)
    partner_id: Mapped[str] = mapped_column(index=True)
    cdr_token: Mapped[dict[str, Any]] = mapped_column(JSON)
    auth_method: Mapped[str]
    created_at: Mapped[datetime]
    authorization_reference: Mapped[str | None]


class CounterRow(Base):
    """Named sequences (``tx16``, ``remote_start``) that work the same on both backends."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


def table_of(model: type[Base]) -> Table:
    """The Core ``Table`` of a mapped class, typed as such (for Core statements)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
