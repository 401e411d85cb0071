"""operator experience: page steps record who was skipped; widenings wait for confirmation

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # contacts passed over because nothing can reach them (evidence of the page)
    with op.batch_alter_table("page_step") as batch:
        batch.add_column(sa.Column("skipped", sa.JSON(), nullable=True))
    op.create_table(
        "widening_request",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incident.id"), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_widening_request_incident_id", "widening_request", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_widening_request_incident_id", table_name="widening_request")
    op.drop_table("widening_request")
    with op.batch_alter_table("page_step") as batch:
        batch.drop_column("skipped")
