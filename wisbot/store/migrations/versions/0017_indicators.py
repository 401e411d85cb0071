"""indicators and sightings (issue 14)

An incident's indicators of compromise, with who added them and when, and other centres'
sightings of it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_indicator",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incident.id"), nullable=False,
                  index=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=12), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timeline_id", sa.Integer(), sa.ForeignKey("timeline.id"), nullable=True),
        sa.UniqueConstraint("incident_id", "n"),
        sa.UniqueConstraint("incident_id", "type", "value"),
    )
    op.create_table(
        "sighting",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incident.id"), nullable=False,
                  index=True),
        sa.Column("indicator_id", sa.Integer(), sa.ForeignKey("incident_indicator.id"),
                  nullable=True),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("reported_by", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sighting")
    op.drop_table("incident_indicator")
