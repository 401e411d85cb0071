"""tlp rsit: an incident's RSIT classification

``incident.rsit`` holds ``class/type`` of the Reference Security Incident Taxonomy
(``fraud/phishing``), or nothing while unclassified. TLP labels are derived from the share
level and need no column; a public lesson is stored with share ``public`` only once the
affected Member released it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("rsit", sa.String(length=80), nullable=True))
        batch.create_index("ix_incident_rsit", ["rsit"])


def downgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.drop_index("ix_incident_rsit")
        batch.drop_column("rsit")
