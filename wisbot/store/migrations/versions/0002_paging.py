"""paging: pages, steps, e-mail/webhook deliveries, on-call overrides, service hours

Revision ID: 0002p
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002p"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "page",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("chain", sa.JSON(), nullable=False),
        sa.Column("pos", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("target_at", TZ, nullable=False),
        sa.Column("next_due_at", TZ, nullable=True),
        sa.Column("acked_at", TZ, nullable=True),
        sa.Column("acked_by", sa.String(length=128), nullable=True),
        sa.Column("secretariat_alerted_at", TZ, nullable=True),
        sa.Column("missed_at", TZ, nullable=True),
        sa.Column("stopped_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("page") as b:
        b.create_index("ix_page_due", ["status", "next_due_at"], unique=False)
        b.create_index("ix_page_ref", ["ref"], unique=False)
        b.create_index("ix_page_incident_id", ["incident_id"], unique=False)
    op.create_table(
        "page_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("fired_at", TZ, nullable=True),
        sa.Column("fired_by", sa.String(length=64), nullable=True),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("escalated_by", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["page_id"], ["page.id"]),
        sa.ForeignKeyConstraint(["notification_id"], ["notification.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("page_id", "seq"),
    )
    with op.batch_alter_table("page_step") as b:
        b.create_index("ix_page_step_page_id", ["page_id"], unique=False)
    op.create_table(
        "page_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("contact_id", sa.String(length=128), nullable=True),
        sa.Column("address", sa.String(length=512), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("delivered_at", TZ, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["page_id"], ["page.id"]),
        sa.ForeignKeyConstraint(["step_id"], ["page_step.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("page_delivery") as b:
        b.create_index("ix_page_delivery_due", ["status", "next_attempt_at"], unique=False)
        b.create_index("ix_page_delivery_page_id", ["page_id"], unique=False)
    op.create_table(
        "oncall_override",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=128), nullable=False),
        sa.Column("contact", sa.String(length=128), nullable=False),
        sa.Column("start", TZ, nullable=False),
        sa.Column("end", TZ, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("removed_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("oncall_override") as b:
        b.create_index("ix_oncall_override_role", ["role"], unique=False)
    op.create_table(
        "service_hour",
        sa.Column("hour", TZ, nullable=False),
        sa.PrimaryKeyConstraint("hour"),
    )


def downgrade() -> None:
    op.drop_table("service_hour")
    with op.batch_alter_table("oncall_override") as b:
        b.drop_index("ix_oncall_override_role")
    op.drop_table("oncall_override")
    with op.batch_alter_table("page_delivery") as b:
        b.drop_index("ix_page_delivery_page_id")
        b.drop_index("ix_page_delivery_due")
    op.drop_table("page_delivery")
    with op.batch_alter_table("page_step") as b:
        b.drop_index("ix_page_step_page_id")
    op.drop_table("page_step")
    with op.batch_alter_table("page") as b:
        b.drop_index("ix_page_incident_id")
        b.drop_index("ix_page_ref")
        b.drop_index("ix_page_due")
    op.drop_table("page")
