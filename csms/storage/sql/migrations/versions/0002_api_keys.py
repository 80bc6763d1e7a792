"""HTTP API keys, token owners (REST ``user``), lookup of connectors by EVSE ID.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 00:00:00

Hand-written to match ``csms/storage/sql/tables.py`` exactly (a test compares them).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("secret_hash", sa.String(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
    )
    with op.batch_alter_table("id_tokens") as batch:
        batch.add_column(sa.Column("user_id", sa.String(), nullable=True))
    op.create_index("ix_id_tokens_user_id", "id_tokens", ["user_id"])
    op.create_index("ix_connectors_evse_ref", "connectors", ["evse_ref"])


def downgrade() -> None:
    op.drop_index("ix_connectors_evse_ref", table_name="connectors")
    op.drop_index("ix_id_tokens_user_id", table_name="id_tokens")
    with op.batch_alter_table("id_tokens") as batch:
        batch.drop_column("user_id")
    op.drop_table("api_keys")
