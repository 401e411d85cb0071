"""kedb: known errors and workarounds, linked to incidents and lessons (issue 17)

Searched like lessons in every script: an FTS5 ``trigram`` table on SQLite, a pg_trgm
index on PostgreSQL, over title, symptom and workaround together (``text``).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "known_error",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("share", sa.String(length=12), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("symptom", sa.Text(), nullable=False),
        sa.Column("workaround", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "known_error_link",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("known_error_id", sa.Integer(), sa.ForeignKey("known_error.id"),
                  nullable=False, index=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incident.id"), nullable=True),
        sa.Column("lesson_id", sa.Integer(), sa.ForeignKey("lesson.id"), nullable=True),
        sa.Column("linked_by", sa.String(length=128), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("known_error_id", "incident_id", "lesson_id"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE known_error_trgm USING fts5(text, "
                   "content='known_error', content_rowid='id', tokenize='trigram')")
        op.execute("CREATE TRIGGER known_error_trgm_ai AFTER INSERT ON known_error BEGIN "
                   "INSERT INTO known_error_trgm(rowid, text) VALUES (new.id, new.text); END")
        op.execute("CREATE TRIGGER known_error_trgm_ad AFTER DELETE ON known_error BEGIN "
                   "INSERT INTO known_error_trgm(known_error_trgm, rowid, text) "
                   "VALUES ('delete', old.id, old.text); END")
        op.execute("CREATE TRIGGER known_error_trgm_au AFTER UPDATE ON known_error BEGIN "
                   "INSERT INTO known_error_trgm(known_error_trgm, rowid, text) "
                   "VALUES ('delete', old.id, old.text); "
                   "INSERT INTO known_error_trgm(rowid, text) VALUES (new.id, new.text); END")
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_known_error_trgm ON known_error "
                   "USING gin (text gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("known_error_trgm_ai", "known_error_trgm_ad", "known_error_trgm_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS known_error_trgm")
    else:
        op.execute("DROP INDEX IF EXISTS ix_known_error_trgm")
    op.drop_table("known_error_link")
    op.drop_table("known_error")
