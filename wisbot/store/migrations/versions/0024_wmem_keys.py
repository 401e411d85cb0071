"""wmem keys: events are unique by (source, id) as CloudEvents defines; planned outages
announced by someone other than the service are kept but not binding

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0022"
branch_labels = None
depends_on = None


def _event_table(key: list[str]) -> sa.Table:
    """wmem_event as migration 0014 made it, with ``key`` as its primary key."""
    at = sa.DateTime(timezone=True)
    t = sa.Table(
        "wmem_event", sa.MetaData(),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("received_at", at, nullable=False),
        sa.Column("event_time", at, nullable=True),
        sa.Column("via", sa.String(length=160), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("subtype", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("ref", sa.String(length=128), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("schema_ok", sa.Boolean(), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint(*key, name="wmem_event_pkey"),
    )
    sa.Index("ix_wmem_event_received", t.c.received_at)
    sa.Index("ix_wmem_event_subject", t.c.subject, t.c.received_at)
    sa.Index("ix_wmem_event_ref", t.c.ref)
    sa.Index("ix_wmem_event_ticket_id", t.c.ticket_id)
    return t


def _primary_key(columns: list[str]) -> None:
    if op.get_bind().dialect.name == "sqlite":  # rebuilt with the new key, rows copied
        with op.batch_alter_table("wmem_event", recreate="always",
                                  copy_from=_event_table(columns)):
            pass
    else:
        op.drop_constraint("wmem_event_pkey", "wmem_event", type_="primary")
        op.create_primary_key("wmem_event_pkey", "wmem_event", columns)


def upgrade() -> None:
    _primary_key(["source", "id"])
    with op.batch_alter_table("wmem_outage") as batch:
        batch.add_column(sa.Column("binding", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("wmem_outage") as batch:
        batch.drop_column("binding")
    # the old key is the id alone: of one id from several sources the first heard stays
    op.execute("DELETE FROM wmem_event WHERE EXISTS (SELECT 1 FROM wmem_event o "
               "WHERE o.id = wmem_event.id AND (o.received_at < wmem_event.received_at "
               "OR (o.received_at = wmem_event.received_at AND o.source < wmem_event.source)))")
    _primary_key(["id"])
