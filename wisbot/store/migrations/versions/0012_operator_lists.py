"""operator lists: the highest severity an incident reached

The annual report counts an incident by the highest severity it reached (3 → 5 → 2 counts
as 5), not by its last one. Existing incidents get it from their timeline.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("highest_severity", sa.Integer(), nullable=True))
    bind = op.get_bind()
    highest = {row.id: row.severity
               for row in bind.execute(sa.text("SELECT id, severity FROM incident"))}
    for row in bind.execute(sa.text(
            "SELECT incident_id, data FROM timeline WHERE kind IN ('reported', 'severity')")):
        data = row.data if isinstance(row.data, dict) else json.loads(row.data or "{}")
        for key in ("severity", "from", "to"):
            value = data.get(key)
            if isinstance(value, int) and row.incident_id in highest:
                highest[row.incident_id] = max(highest[row.incident_id], value)
    for incident_id, level in highest.items():
        bind.execute(sa.text("UPDATE incident SET highest_severity = :s WHERE id = :i"),
                     {"s": level, "i": incident_id})


def downgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.drop_column("highest_severity")
