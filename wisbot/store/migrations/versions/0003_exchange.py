"""near-real-time exchange: record state, harvests, volumes, dispute cases

Revision ID: 0002x
Revises: 0002p (chained after paging on merging main; was 0001)
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002x"
down_revision = "0002p"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("metadata_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("provider_centre", sa.String(length=64), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("owner_gisc", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=24), nullable=False),
        sa.Column("concern", sa.Text(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("outcome_kind", sa.String(length=12), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("opened_by", sa.String(length=128), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consulted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("referred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("year", "seq"),
    )
    with op.batch_alter_table("exchange_case", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_case_metadata_id"), ["metadata_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_exchange_case_owner_gisc"), ["owner_gisc"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_exchange_case_stage"), ["stage"], unique=False)

    op.create_table(
        "exchange_counter",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "exchange_harvest",
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("next_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )
    op.create_table(
        "exchange_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(length=24), nullable=False),
        sa.Column("previous_scope", sa.String(length=24), nullable=True),
        sa.Column("licence", sa.String(length=24), nullable=True),
        sa.Column("gts_category", sa.String(length=24), nullable=True),
        sa.Column("data_policy", sa.String(length=16), nullable=True),
        sa.Column("originator", sa.String(length=255), nullable=True),
        sa.Column("centre", sa.String(length=64), nullable=True),
        sa.Column("principal_gisc", sa.String(length=64), nullable=True),
        sa.Column("harvested_from", sa.String(length=128), nullable=False),
        sa.Column("datestamp", sa.String(length=40), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("identifier"),
    )
    with op.batch_alter_table("exchange_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_record_centre"), ["centre"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_exchange_record_offered_at"), ["offered_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_exchange_record_principal_gisc"), ["principal_gisc"], unique=False
        )

    op.create_table(
        "exchange_volume",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("centre", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("centre", "metric", "day"),
    )
    with op.batch_alter_table("exchange_volume", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_volume_centre"), ["centre"], unique=False)

    op.create_table(
        "exchange_case_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("gisc", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["exchange_case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("exchange_case_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_case_event_case_id"), ["case_id"], unique=False
        )

    op.create_table(
        "exchange_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("to", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["exchange_case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("exchange_mail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_mail_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_exchange_mail_status"), ["status"], unique=False)

    op.create_table(
        "exchange_position",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("gisc", sa.String(length=64), nullable=False),
        sa.Column("position", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["exchange_case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("exchange_position", schema=None) as batch_op:
        batch_op.create_index("ix_exchange_position_case_gisc", ["case_id", "gisc"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("exchange_position", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_position_case_gisc")

    op.drop_table("exchange_position")
    with op.batch_alter_table("exchange_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_mail_status"))
        batch_op.drop_index(batch_op.f("ix_exchange_mail_case_id"))

    op.drop_table("exchange_mail")
    with op.batch_alter_table("exchange_case_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_case_event_case_id"))

    op.drop_table("exchange_case_event")
    with op.batch_alter_table("exchange_volume", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_volume_centre"))

    op.drop_table("exchange_volume")
    with op.batch_alter_table("exchange_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_record_principal_gisc"))
        batch_op.drop_index(batch_op.f("ix_exchange_record_offered_at"))
        batch_op.drop_index(batch_op.f("ix_exchange_record_centre"))

    op.drop_table("exchange_record")
    op.drop_table("exchange_harvest")
    op.drop_table("exchange_counter")
    with op.batch_alter_table("exchange_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_case_stage"))
        batch_op.drop_index(batch_op.f("ix_exchange_case_owner_gisc"))
        batch_op.drop_index(batch_op.f("ix_exchange_case_metadata_id"))

    op.drop_table("exchange_case")
