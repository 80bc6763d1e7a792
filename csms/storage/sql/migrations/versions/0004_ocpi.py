"""OCPI partners, tokens and session links; the outbox learns the HTTP method.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 00:00:00

Hand-written to match ``csms/storage/sql/tables.py`` exactly (a test compares them).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("method", sa.String(), server_default="POST", nullable=False))
    op.create_table(
        "ocpi_partners",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("country_code", sa.String(), nullable=False),
        sa.Column("party_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("their_token", sa.String(), nullable=True),
        sa.Column("versions_url", sa.String(), nullable=True),
        sa.Column("version", sa.String(), nullable=True),
        sa.Column("endpoints", sa.JSON(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_partners"),
        sa.UniqueConstraint("token_hash", name="uq_ocpi_partners_token_hash"),
    )
    op.create_table(
        "ocpi_tokens",
        sa.Column("country_code", sa.String(), nullable=False),
        sa.Column("party_id", sa.String(), nullable=False),
        sa.Column("uid", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("last_updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("country_code", "party_id", "uid", "type", name="pk_ocpi_tokens"),
    )
    op.create_index("ix_ocpi_tokens_uid", "ocpi_tokens", ["uid"])
    op.create_table(
        "ocpi_sessions",
        sa.Column("session_id", sa.String(), nullable=False),
        sa.Column("partner_id", sa.String(), nullable=False),
        sa.Column("cdr_token", sa.JSON(), nullable=False),
        sa.Column("auth_method", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("authorization_reference", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("session_id", name="pk_ocpi_sessions"),
    )
    op.create_index("ix_ocpi_sessions_partner_id", "ocpi_sessions", ["partner_id"])


def downgrade() -> None:
    op.drop_index("ix_ocpi_sessions_partner_id", table_name="ocpi_sessions")
    op.drop_table("ocpi_sessions")
    op.drop_index("ix_ocpi_tokens_uid", table_name="ocpi_tokens")
    op.drop_table("ocpi_tokens")
    op.drop_table("ocpi_partners")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("method")
