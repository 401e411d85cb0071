"""Change management tables (migration 0021): requests for change, their timeline, and
the change advisory board's meetings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from wisbot.store.watch_tables import UTCDateTime, _at


class ChangeRequest(SQLModel, table=True):
    """A request for change (``CHG-<year>-<n>``) and where it is in the six steps."""

    __tablename__ = "change_request"
    __table_args__ = (Index("ix_change_request_state", "state", "starts_at"),)
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    centre: str = Field(max_length=64)
    member: str = Field(max_length=64, index=True)
    """The requesting centre's Member: with ``gisc``, the change's audience."""
    gisc: str | None = Field(default=None, max_length=64)
    """Set when the requesting centre is a GISC: its own GISC room reads the change."""
    service: str | None = Field(default=None, max_length=128)
    """A Global Service (WIS 2.0 service id or centre-id): announced as a planned outage."""
    what: str = Field(sa_column=Column(Text, nullable=False))
    why: str = Field(sa_column=Column(Text, nullable=False))
    who: str = Field(sa_column=Column(Text, nullable=False))
    how: str = Field(sa_column=Column(Text, nullable=False))
    risk: str = Field(sa_column=Column(Text, nullable=False))
    impact: str = Field(sa_column=Column(Text, nullable=False))
    cost: str = Field(sa_column=Column(Text, nullable=False))
    starts_at: datetime = _at()
    ends_at: datetime = _at()
    state: str = Field(max_length=16)
    priority: str | None = Field(default=None, max_length=8)
    risk_level: str | None = Field(default=None, max_length=8)
    """The assessment's risk level; none: not assessed, so it cannot be authorised."""
    assessment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    requested_by: str = Field(max_length=128)
    created_at: datetime = _at()
    updated_at: datetime = _at()
    decided_by: str | None = Field(default=None, max_length=128)
    decided_at: datetime | None = _at(nullable=True)
    outage_announced: bool = False


class ChangeEvent(SQLModel, table=True):
    """One step of a change's timeline, with who took it."""

    __tablename__ = "change_event"
    id: int | None = Field(default=None, primary_key=True)
    change_id: int = Field(foreign_key="change_request.id", index=True)
    at: datetime = _at()
    actor: str = Field(max_length=128)
    kind: str = Field(max_length=24)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    meeting_id: int | None = Field(default=None)


class CabMeeting(SQLModel, table=True):
    """A scheduled CAB meeting; the agenda and the reminder are each posted once (the
    conditional update of their column is the claim, whichever process runs the job)."""

    __tablename__ = "cab_meeting"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, unique=True))
    created_by: str = Field(max_length=128)
    created_at: datetime = _at()
    agenda_posted_at: datetime | None = _at(nullable=True)
    reminded_at: datetime | None = _at(nullable=True)


class ChangeCounter(SQLModel, table=True):
    """The last change number of each year (numbers never repeat across processes)."""

    __tablename__ = "change_counter"
    year: int = Field(primary_key=True)
    last_seq: int = 0
