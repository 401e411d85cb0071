"""outbox reliability (fenced leases, dead letters)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("room_lease") as t:
        t.add_column(sa.Column("epoch", sa.Integer(), nullable=False, server_default="0"))
        t.add_column(sa.Column("blocked_since", sa.DateTime(timezone=True), nullable=True))
        t.add_column(sa.Column("blocked_error", sa.Text(), nullable=True))
    with op.batch_alter_table("outbox") as t:
        t.add_column(sa.Column("failures", sa.Integer(), nullable=False, server_default="0"))
        t.add_column(sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=True))
    # Leases now run on the database's clock: old ones (process clock) are dropped.
    op.execute("DELETE FROM room_lease")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as t:
        t.drop_column("first_failed_at")
        t.drop_column("failures")
    with op.batch_alter_table("room_lease") as t:
        t.drop_column("blocked_error")
        t.drop_column("blocked_since")
        t.drop_column("epoch")
