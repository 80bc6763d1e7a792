"""Initial schema: chargers, connectors, events, sessions, samples, tokens, counters.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00

Hand-written to match ``csms/storage/sql/tables.py`` exactly (a test compares them).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in tables.py: naive UTC datetimes, 64-bit ids that SQLite
# can still auto-increment.
UtcDateTime = sa.DateTime
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "chargers",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=True),
        sa.Column("registration_status", sa.String(), nullable=False),
        sa.Column("boot_accepted", sa.Boolean(), nullable=False),
        sa.Column("protocol", sa.String(), nullable=True),
        sa.Column("allow_missing_subprotocol", sa.Boolean(), nullable=False),
        sa.Column("security_profile", sa.Integer(), nullable=False),
        sa.Column("vendor", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("serial_number", sa.String(), nullable=True),
        sa.Column("firmware_version", sa.String(), nullable=True),
        sa.Column("boot_reason", sa.String(), nullable=True),
        sa.Column("last_boot_at", UtcDateTime(), nullable=True),
        sa.Column("last_seen", UtcDateTime(), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_chargers"),
    )
    op.create_table(
        "connectors",
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("evse_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("connector_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("error_code", sa.String(), nullable=True),
        sa.Column("info", sa.String(), nullable=True),
        sa.Column("timestamp", UtcDateTime(), nullable=True),
        sa.Column("evse_ref", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("charger_id", "evse_id", "connector_id", name="pk_connectors"),
    )
    op.create_table(
        "charger_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("timestamp", UtcDateTime(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_charger_events"),
    )
    op.create_index(
        "ix_charger_events_charger_id_kind", "charger_events", ["charger_id", "kind"]
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("protocol", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("transaction_id", sa.String(), nullable=True),
        sa.Column("id_token", sa.String(), nullable=True),
        sa.Column("id_token_type", sa.String(), nullable=True),
        sa.Column("auth_status", sa.String(), nullable=True),
        sa.Column("remote_start_id", sa.Integer(), nullable=True),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("session_start", UtcDateTime(), nullable=True),
        sa.Column("session_end", UtcDateTime(), nullable=True),
        sa.Column("charging_start", UtcDateTime(), nullable=True),
        sa.Column("charging_end", UtcDateTime(), nullable=True),
        sa.Column("meter_start_wh", sa.Double(), nullable=True),
        sa.Column("meter_stop_wh", sa.Double(), nullable=True),
        sa.Column("last_register_wh", sa.Double(), nullable=True),
        sa.Column("energy_wh", sa.Double(), nullable=False),
        sa.Column("cost", sa.Double(), nullable=True),
        sa.Column("currency", sa.String(), nullable=True),
        sa.Column("stop_reason", sa.String(), nullable=True),
        sa.Column("start_key", sa.String(), nullable=True),
        sa.Column("failure_reason", sa.String(), nullable=True),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint(
            "charger_id", "transaction_id", name="uq_sessions_charger_id_transaction_id"
        ),
    )
    op.create_index(
        "ix_sessions_charger_id_start_key", "sessions", ["charger_id", "start_key"]
    )
    op.create_index(
        "ix_sessions_charger_id_remote_start_id", "sessions", ["charger_id", "remote_start_id"]
    )
    op.create_index("ix_sessions_status_created_at", "sessions", ["status", "created_at"])
    op.create_index("ix_sessions_id_token", "sessions", ["id_token"])
    op.create_table(
        "meter_samples",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(), nullable=False),
        sa.Column("timestamp", UtcDateTime(), nullable=False),
        sa.Column("measurand", sa.String(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("phase", sa.String(), nullable=False),
        sa.Column("location", sa.String(), nullable=False),
        sa.Column("context", sa.String(), nullable=False),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name="fk_meter_samples_session_id_sessions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_meter_samples"),
        sa.UniqueConstraint(
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
    op.create_table(
        "transaction_events",
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("transaction_id", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint(
            "charger_id", "transaction_id", "key", name="pk_transaction_events"
        ),
    )
    op.create_table(
        "failed_stops",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("transaction_id", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_failed_stops"),
    )
    op.create_index("ix_failed_stops_charger_id", "failed_stops", ["charger_id"])
    op.create_table(
        "id_tokens",
        sa.Column("id_token", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("group_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id_token", name="pk_id_tokens"),
    )
    op.create_table(
        "counters",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_counters"),
    )


def downgrade() -> None:
    op.drop_table("counters")
    op.drop_table("id_tokens")
    op.drop_index("ix_failed_stops_charger_id", table_name="failed_stops")
    op.drop_table("failed_stops")
    op.drop_table("transaction_events")
    op.drop_table("meter_samples")
    op.drop_index("ix_sessions_id_token", table_name="sessions")
    op.drop_index("ix_sessions_status_created_at", table_name="sessions")
    op.drop_index("ix_sessions_charger_id_remote_start_id", table_name="sessions")
    op.drop_index("ix_sessions_charger_id_start_key", table_name="sessions")
    op.drop_table("sessions")
    op.drop_index("ix_charger_events_charger_id_kind", table_name="charger_events")
    op.drop_table("charger_events")
    op.drop_table("connectors")
    op.drop_table("chargers")

