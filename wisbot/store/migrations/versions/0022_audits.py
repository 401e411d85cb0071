"""audits of WIS centres, continuity plans, reachability drills

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("centre", sa.String(64), nullable=False, index=True),
        sa.Column("member", sa.String(64), nullable=False),
        sa.Column("region", sa.String(8), nullable=False),
        sa.Column("responsible", sa.String(128), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("questionnaire", sa.Text(), nullable=False),
        sa.Column("team", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("requested_at", TZ, nullable=False),
        sa.Column("not_proceeding_reason", sa.Text(), nullable=True),
        sa.Column("audit_start", sa.Date(), nullable=True),
        sa.Column("audit_end", sa.Date(), nullable=True),
        sa.Column("opening_at", TZ, nullable=True),
        sa.Column("closing_at", TZ, nullable=True),
        sa.Column("report_due", sa.Date(), nullable=True),
        sa.Column("report_at", TZ, nullable=True),
        sa.Column("report_by", sa.String(128), nullable=True),
        sa.Column("outcome", sa.String(24), nullable=True),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("evidence_handed_at", TZ, nullable=True),
        sa.Column("copies_destroyed_at", TZ, nullable=True),
        sa.Column("reaudit_years", sa.Integer(), nullable=False),
        sa.Column("reaudit_due", sa.Date(), nullable=True),
        sa.Column("report_reminded", sa.Date(), nullable=True),
        sa.Column("reaudit_reminded", sa.Date(), nullable=True),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("audit_id", sa.Integer(), sa.ForeignKey("audit.id"), nullable=False,
                  index=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
    )
    op.create_table(
        "continuity_plan",
        sa.Column("centre", sa.String(64), primary_key=True),
        sa.Column("member", sa.String(64), nullable=False),
        sa.Column("critical_services", sa.Text(), nullable=False),
        sa.Column("max_outage_h", sa.Float(), nullable=False),
        sa.Column("rto_h", sa.Float(), nullable=False),
        sa.Column("rpo_h", sa.Float(), nullable=False),
        sa.Column("alternate_site", sa.Text(), nullable=False),
        sa.Column("contacts", sa.Text(), nullable=False),
        sa.Column("test_every_days", sa.Integer(), nullable=False),
        sa.Column("last_tested", sa.Date(), nullable=True),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("reminded_for", sa.Date(), nullable=True),
    )
    op.create_table(
        "drill_schedule",
        sa.Column("key", sa.String(16), primary_key=True),
        sa.Column("first_at", TZ, nullable=False),
        sa.Column("every_days", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.String(128), nullable=False),
        sa.Column("set_at", TZ, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "drill_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slot", sa.String(64), nullable=False, unique=True),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("started_by", sa.String(128), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    for table in ("drill_run", "drill_schedule", "continuity_plan", "audit_event", "audit"):
        op.drop_table(table)
