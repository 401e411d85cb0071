"""Paging tables (migration 0002p): pages, their escalation steps, e-mail/webhook
deliveries, on-call overrides set by command, and the hours the service was running.

A page's deadlines are rows (:class:`PageStep` with ``due_at``), so they survive restarts;
a step and everything it sends are written in one transaction, so it fires exactly once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class Page(SQLModel, table=True):
    """One role's on-call chain asked to respond to one thing (an incident, a query...)."""

    __tablename__ = "page"
    __table_args__ = (Index("ix_page_due", "status", "next_due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    """incident, query, handover, escalation, drill (never an incident figure)."""
    ref: str = Field(max_length=64, index=True)
    """What to respond to: ``WIS-SEC-2026-7``, ``Q-3``..."""
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    role: str = Field(max_length=128)
    """The on-call role paged: ``secretariat``, ``gisc:Tokyo``, ``member:DE``."""
    payload: dict[str, object] = Field(sa_column=Column(JSON, nullable=False))
    """The message, rendered once for what ``role`` may read."""
    chain: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """The contacts on call for ``role`` when the page was created, in order."""
    pos: int = 0
    """Index in ``chain`` of the contact paged now."""
    status: str = Field(default="open", max_length=12)
    """open, acked, stopped."""
    created_at: datetime
    target_at: datetime
    next_due_at: datetime | None = None
    acked_at: datetime | None = None
    acked_by: str | None = Field(default=None, max_length=128)
    secretariat_alerted_at: datetime | None = None
    missed_at: datetime | None = None
    stopped_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class PageStep(SQLModel, table=True):
    """One escalation step of a page, due at ``due_at``; fired once."""

    __tablename__ = "page_step"
    __table_args__ = (UniqueConstraint("page_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    page_id: int = Field(foreign_key="page.id", index=True)
    seq: int
    action: str = Field(max_length=16)
    due_at: datetime
    status: str = Field(default="pending", max_length=12)
    """pending, fired, skipped (the page was acknowledged or stopped first)."""
    fired_at: datetime | None = None
    fired_by: str | None = Field(default=None, max_length=64)
    """The process that fired it (``p-<hex>``)."""
    contacts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notification_id: int | None = Field(default=None, foreign_key="notification.id")
    escalated_by: str | None = Field(default=None, max_length=128)
    """Set when ``/escalate`` brought the step forward."""
    skipped: list[dict[str, str]] | None = Field(default=None, sa_column=Column(JSON))
    """Contacts passed over because nothing can reach them (contact, missing, fix)."""


class PageDelivery(SQLModel, table=True):
    """An e-mail or webhook POST a step sends; delivered at least once, keyed for dedupe
    (the key is the e-mail's Message-ID and the webhook's Idempotency-Key)."""

    __tablename__ = "page_delivery"
    __table_args__ = (Index("ix_page_delivery_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    page_id: int = Field(foreign_key="page.id", index=True)
    step_id: int = Field(foreign_key="page_step.id")
    key: str = Field(max_length=128, unique=True)
    channel: str = Field(max_length=12)
    """email, webhook."""
    contact_id: str | None = Field(default=None, max_length=128)
    address: str = Field(max_length=512)
    payload: dict[str, object] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=12)
    """pending, delivered, dead."""
    attempts: int = 0
    next_attempt_at: datetime
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = None
    created_at: datetime
    delivered_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class OnCallOverrideRow(SQLModel, table=True):
    """A temporary on-call override set with ``/escalate override`` (holidays...)."""

    __tablename__ = "oncall_override"
    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(max_length=128, index=True)
    contact: str = Field(max_length=128)
    start: datetime
    end: datetime
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_by: str = Field(max_length=128)
    created_at: datetime
    removed_at: datetime | None = None


class ServiceHour(SQLModel, table=True):
    """An hour (UTC, truncated) in which a wisbot process was running its pager."""

    __tablename__ = "service_hour"
    hour: datetime = Field(primary_key=True)
