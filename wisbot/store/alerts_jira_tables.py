"""Global Monitor alerts and the WIS2 IMS (JIRA) mirror: receipts, alert keys, the JIRA
change queue, issue links and the mirror's lease."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from wisbot.store.watch_tables import _at


class AlertReceipt(SQLModel, table=True):
    """One alert state seen once: ``fingerprint:status:startsAt``. A repeat or the same
    alert in another grouped notification hits the primary key and is ignored."""

    __tablename__ = "alert_receipt"
    key: str = Field(primary_key=True, max_length=200)
    alertname: str = Field(max_length=128)
    centre_id: str = Field(default="", max_length=128)
    severity: str = Field(default="", max_length=16)
    status: str = Field(max_length=10)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    received_at: datetime = _at()
    ticket_id: int | None = None
    digested: bool = False
    """A warning already shown in a daily digest."""


class AlertTicket(SQLModel, table=True):
    """The watch ticket of ``alertname:centre_id`` (one per alert and centre)."""

    __tablename__ = "alert_ticket"
    key: str = Field(primary_key=True, max_length=200)
    ticket_id: int = Field(index=True)
    alertname: str = Field(max_length=128)
    centre_id: str = Field(max_length=128)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class JiraChange(SQLModel, table=True):
    """A watch-ticket change to mirror, written in the transaction of the change; replayed
    in ``id`` order."""

    __tablename__ = "jira_change"
    __table_args__ = (Index("ix_jira_change_pending", "done", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(index=True)
    kind: str = Field(max_length=16)
    """opened, moved, assigned, partial, reopened, closed, reminder, note."""
    payload: dict[str, object] = Field(default_factory=dict,
                                       sa_column=Column(JSON, nullable=False))
    created_at: datetime = _at()
    done: bool = False
    dead: bool = False
    """Refused by JIRA for good (kept, with the reason, for the operator)."""
    attempts: int = 0
    next_attempt_at: datetime = _at()
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class JiraLink(SQLModel, table=True):
    """A watch ticket's JIRA issue and what was last read back from it."""

    __tablename__ = "jira_link"
    ticket_id: int = Field(primary_key=True)
    issue_key: str = Field(max_length=32, index=True)
    status: str = Field(default="", max_length=32)
    assignee: str = Field(default="", max_length=128)
    seen_comments: list[str] = Field(default_factory=list,
                                     sa_column=Column(JSON, nullable=False))
    reminded_at: datetime | None = _at(nullable=True)


class JiraLease(SQLModel, table=True):
    """Who mirrors (one process at a time): holder, fencing epoch, until (database clock)."""

    __tablename__ = "jira_lease"
    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=96)
    epoch: int = 0
    until: datetime = _at()
    polled_at: datetime | None = _at(nullable=True)
    """The last successful read-back (the next JQL asks ``updated >=`` this, less a margin)."""
