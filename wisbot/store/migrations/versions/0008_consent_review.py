"""consent at send and free-text review

The wording anonymised rooms read of a Member's free text (summary, updates, lessons) once
the affected Member reviewed it, and the reviews themselves.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("anon_summary", sa.Text(), nullable=True))
    with op.batch_alter_table("lesson") as batch:
        batch.add_column(sa.Column("anon_text", sa.Text(), nullable=True))
    op.create_table(
        "consent_review",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incident.id"), nullable=False,
                  index=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=12), nullable=False),
        sa.Column("timeline_id", sa.Integer(), sa.ForeignKey("timeline.id"), nullable=True),
        sa.Column("lesson_id", sa.Integer(), sa.ForeignKey("lesson.id"), nullable=True),
        sa.Column("proposed", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False, server_default="pending"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.UniqueConstraint("incident_id", "n"),
    )


def downgrade() -> None:
    op.drop_table("consent_review")
    with op.batch_alter_table("lesson") as batch:
        batch.drop_column("anon_text")
    with op.batch_alter_table("incident") as batch:
        batch.drop_column("anon_summary")
