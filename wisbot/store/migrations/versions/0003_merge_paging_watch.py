"""merge the paging (0002p) and GISC Watch (0002w) branches

Revision ID: 0003m
Revises: 0002p, 0002w
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0003m"
down_revision = ("0002p", "0002w")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to do: the two branches touch different tables."""


def downgrade() -> None:
    """Nothing to undo."""
