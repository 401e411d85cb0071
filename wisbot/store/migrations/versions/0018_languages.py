"""languages: a person's chosen language; lesson search in every script

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02

``person_language`` stores ``language <code>``. Lesson search also matches substrings,
so Chinese, Japanese and Arabic text and word prefixes are found: an FTS5 trigram index
on SQLite, a pg_trgm index on PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_language",
        sa.Column("contact_id", sa.String(length=128), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contact_id"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE lesson_trgm USING fts5(text, content='lesson', "
                   "content_rowid='id', tokenize='trigram')")
        op.execute("CREATE TRIGGER lesson_trgm_ai AFTER INSERT ON lesson BEGIN "
                   "INSERT INTO lesson_trgm(rowid, text) VALUES (new.id, new.text); END")
        op.execute("CREATE TRIGGER lesson_trgm_ad AFTER DELETE ON lesson BEGIN "
                   "INSERT INTO lesson_trgm(lesson_trgm, rowid, text) "
                   "VALUES ('delete', old.id, old.text); END")
        op.execute("CREATE TRIGGER lesson_trgm_au AFTER UPDATE ON lesson BEGIN "
                   "INSERT INTO lesson_trgm(lesson_trgm, rowid, text) "
                   "VALUES ('delete', old.id, old.text); "
                   "INSERT INTO lesson_trgm(rowid, text) VALUES (new.id, new.text); END")
        op.execute("INSERT INTO lesson_trgm(lesson_trgm) VALUES ('rebuild')")
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_lesson_trgm ON lesson USING gin (text gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("lesson_trgm_ai", "lesson_trgm_ad", "lesson_trgm_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS lesson_trgm")
    else:
        op.execute("DROP INDEX IF EXISTS ix_lesson_trgm")
    op.drop_table("person_language")
