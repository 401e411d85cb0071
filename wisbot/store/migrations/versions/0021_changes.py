"""changes: requests for change, their timeline, CAB meetings (Annex 1 §4)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Text(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "change_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("centre", sa.String(length=64), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("gisc", sa.String(length=64), nullable=True),
        sa.Column("service", sa.String(length=128), nullable=True),
        _text("what"), _text("why"), _text("who"), _text("how"), _text("risk"),
        _text("impact"), _text("cost"),
        _at("starts_at"),
        _at("ends_at"),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=True),
        sa.Column("risk_level", sa.String(length=8), nullable=True),
        _text("assessment"),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        _at("decided_at", True),
        sa.Column("outage_announced", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_index("ix_change_request_member", "change_request", ["member"])
    op.create_index("ix_change_request_state", "change_request", ["state", "starts_at"])
    op.create_table(
        "change_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        _at("at"),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        _text("text"),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["change_id"], ["change_request.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_change_event_change_id", "change_event", ["change_id"])
    op.create_table(
        "cab_meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        _at("at"),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        _at("created_at"),
        _at("agenda_posted_at", True),
        _at("reminded_at", True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("at"),
    )
    op.create_table(
        "change_counter",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )


def downgrade() -> None:
    op.drop_table("change_counter")
    op.drop_table("cab_meeting")
    op.drop_index("ix_change_event_change_id", table_name="change_event")
    op.drop_table("change_event")
    op.drop_index("ix_change_request_state", table_name="change_request")
    op.drop_index("ix_change_request_member", table_name="change_request")
    op.drop_table("change_request")
