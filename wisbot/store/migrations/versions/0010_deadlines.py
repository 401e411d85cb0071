"""deadlines (harvest checkpoints)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # where a harvest cut short by its deadline (or a failing page) goes on next time
    with op.batch_alter_table("exchange_harvest") as batch:
        batch.add_column(sa.Column("resume", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exchange_harvest") as batch:
        batch.drop_column("resume")
