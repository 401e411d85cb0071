"""room holds (room integrity stream)

Revision ID: 0005
Revises: 0004m
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004m"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "room_hold",
        sa.Column("room_key", sa.String(length=128), primary_key=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("room_hold")
