"""wmem: WIS2 monitoring events heard, the outage calendar, the WMEM publish queue

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "wmem_event",
        sa.Column("id", sa.String(length=128), nullable=False),
        _at("received_at"),
        _at("event_time", True),
        sa.Column("via", sa.String(length=160), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("subtype", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("ref", sa.String(length=128), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("schema_ok", sa.Boolean(), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_wmem_event_received", "wmem_event", ["received_at"])
    op.create_index("ix_wmem_event_subject", "wmem_event", ["subject", "received_at"])
    op.create_index("ix_wmem_event_ref", "wmem_event", ["ref"])
    op.create_index("ix_wmem_event_ticket_id", "wmem_event", ["ticket_id"])
    op.create_table(
        "wmem_outage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=128), nullable=False),
        _at("starts_at", True),
        _at("ends_at", True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("announced_by", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=True),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_wmem_outage_service", "wmem_outage", ["service"])
    op.create_table(
        "wmem_outgoing",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        _at("created_at"),
        _at("sent_at", True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("next_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_wmem_outgoing_pending", "wmem_outgoing", ["sent_at", "created_at"])
    op.create_table(
        "wmem_probe_state",
        sa.Column("service", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        _at("since"),
        sa.PrimaryKeyConstraint("service"),
    )


def downgrade() -> None:
    op.drop_table("wmem_probe_state")
    op.drop_index("ix_wmem_outgoing_pending", table_name="wmem_outgoing")
    op.drop_table("wmem_outgoing")
    op.drop_index("ix_wmem_outage_service", table_name="wmem_outage")
    op.drop_table("wmem_outage")
    for ix in ("ix_wmem_event_ticket_id", "ix_wmem_event_ref", "ix_wmem_event_subject",
               "ix_wmem_event_received"):
        op.drop_index(ix, table_name="wmem_event")
    op.drop_table("wmem_event")
