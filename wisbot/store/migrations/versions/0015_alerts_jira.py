"""Global Monitor alerts and the WIS2 IMS (JIRA) mirror

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "alert_receipt",
        sa.Column("key", sa.String(length=200), primary_key=True),
        sa.Column("alertname", sa.String(length=128), nullable=False),
        sa.Column("centre_id", sa.String(length=128), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        _at("received_at"),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("digested", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "alert_ticket",
        sa.Column("key", sa.String(length=200), primary_key=True),
        sa.Column("ticket_id", sa.Integer(), nullable=False, index=True),
        sa.Column("alertname", sa.String(length=128), nullable=False),
        sa.Column("centre_id", sa.String(length=128), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
    )
    op.create_table(
        "jira_change",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_id", sa.Integer(), nullable=False, index=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _at("created_at"),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("dead", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_jira_change_pending", "jira_change", ["done", "id"])
    op.create_table(
        "jira_link",
        sa.Column("ticket_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("issue_key", sa.String(length=32), nullable=False, index=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("assignee", sa.String(length=128), nullable=False),
        sa.Column("seen_comments", sa.JSON(), nullable=False),
        _at("reminded_at", nullable=True),
    )
    op.create_table(
        "jira_lease",
        sa.Column("name", sa.String(length=32), primary_key=True),
        sa.Column("holder", sa.String(length=96), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        _at("until"),
        _at("polled_at", nullable=True),
    )


def downgrade() -> None:
    op.drop_table("jira_lease")
    op.drop_table("jira_link")
    op.drop_index("ix_jira_change_pending", table_name="jira_change")
    op.drop_table("jira_change")
    op.drop_table("alert_ticket")
    op.drop_table("alert_receipt")
