"""GISC Watch: probe runs and results, roster, tickets, handovers, marks

Revision ID: 0002w
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002w"
down_revision = "0001"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "watch_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("trigger", sa.String(length=12), nullable=False),
        sa.Column("scope", sa.String(length=128), nullable=False),
        _at("started_at"),
        _at("finished_at", True),
        sa.Column("results", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_watch_run_day", "watch_run", ["day", "trigger"])
    op.create_table(
        "watch_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("centre", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("figure", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        _at("checked_at"),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["watch_run.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_watch_result_run_id", "watch_result", ["run_id"])
    op.create_index("ix_watch_result_when", "watch_result", ["checked_at"])
    op.create_index("ix_watch_result_subject", "watch_result",
                    ["centre", "service", "checked_at"])
    op.create_table(
        "watch_roster",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gisc", sa.String(length=64), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_watch_roster_start_date", "watch_roster", ["start_date"])
    op.create_table(
        "watch_ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("finding", sa.Text(), nullable=False),
        sa.Column("impact", sa.String(length=12), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("partial", sa.Boolean(), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("reporter", sa.String(length=128), nullable=False),
        sa.Column("assignee", sa.String(length=128), nullable=True),
        _at("created_at"),
        _at("last_activity_at"),
        _at("responded_at", True),
        _at("closed_at", True),
        _at("last_reminder_at", True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_watch_ticket_subject", "watch_ticket", ["subject"])
    op.create_index("ix_watch_ticket_state", "watch_ticket", ["state"])
    op.create_table(
        "watch_ticket_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        _at("at"),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["watch_ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_watch_ticket_event_ticket_id", "watch_ticket_event", ["ticket_id"])
    op.create_table(
        "watch_handover",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outgoing", sa.String(length=64), nullable=False),
        sa.Column("incoming", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        _at("sent_at"),
        sa.Column("sent_by", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("emailed", sa.Boolean(), nullable=False),
        _at("accepted_at", True),
        sa.Column("accepted_by", sa.String(length=128), nullable=True),
        sa.Column("reminders", sa.Integer(), nullable=False),
        _at("last_reminder_at", True),
        _at("escalated_at", True),
        sa.Column("escalated_to", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_watch_handover_incoming", "watch_handover", ["incoming"])
    op.create_table(
        "watch_mark",
        sa.Column("key", sa.String(length=96), nullable=False),
        _at("at"),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    for table in ("watch_mark", "watch_handover", "watch_ticket_event", "watch_ticket",
                  "watch_roster", "watch_result", "watch_run"):
        op.drop_table(table)
