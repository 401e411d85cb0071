"""web: sessions, sign-in tokens and states, login attempts, the access log

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("contact_id", sa.String(128), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_index("ix_web_session_contact_id", "web_session", ["contact_id"])
    op.create_table(
        "web_login_token",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("contact_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
    )
    op.create_table(
        "web_auth_state",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
    )
    op.create_table(
        "web_login_attempt",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_web_login_attempt_key", "web_login_attempt", ["key"])
    op.create_index("ix_web_login_attempt_at", "web_login_attempt", ["at"])
    op.create_table(
        "web_access",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("contact_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ref", sa.String(200), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_web_access_contact_id", "web_access", ["contact_id"])
    op.create_index("ix_web_access_at", "web_access", ["at"])


def downgrade() -> None:
    for table in ("web_access", "web_login_attempt", "web_auth_state", "web_login_token",
                  "web_session"):
        op.drop_table(table)
