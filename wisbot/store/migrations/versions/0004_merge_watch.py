"""merge the paging → exchange (0002p, 0002x) and GISC Watch (0002w) branches

Revision ID: 0004m
Revises: 0002x, 0002w
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0004m"
down_revision = ("0002x", "0002w")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to do: the two branches touch different tables."""


def downgrade() -> None:
    """Nothing to undo."""
