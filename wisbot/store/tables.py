"""Tables. Times are timezone-aware UTC everywhere (sqlmodel stores and returns them so)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class IncidentCounter(SQLModel, table=True):
    __tablename__ = "incident_counter"
    year: int = Field(primary_key=True)
    last_seq: int = 0


class Incident(SQLModel, table=True):
    __tablename__ = "incident"
    __table_args__ = (UniqueConstraint("year", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(index=True, unique=True, max_length=40)
    year: int
    seq: int
    centre: str = Field(max_length=64, index=True)
    member: str = Field(max_length=64, index=True)
    principal_gisc: str = Field(max_length=64)
    share: str = Field(max_length=20)
    anonymous: bool = False
    severity: int = 2
    status: str = Field(default="open", max_length=12, index=True)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    reported_by: str = Field(max_length=128)
    created_at: datetime
    updated_at: datetime
    anon_summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """The summary as anonymised rooms read it, once the affected Member reviewed it
    (migration 0008); until then they read no summary."""
    highest_severity: int | None = None
    """The highest severity the incident reached (migration 0012): the annual report counts
    it by this one."""
    rsit: str | None = Field(default=None, max_length=80, index=True, nullable=True)
    """The RSIT classification ``class/type`` (``fraud/phishing``), migration 0016."""


class TimelineEntry(SQLModel, table=True):
    __tablename__ = "timeline"
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    at: datetime
    actor: str = Field(max_length=128)
    kind: str = Field(max_length=24)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    data: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Lesson(SQLModel, table=True):
    __tablename__ = "lesson"
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    share: str = Field(max_length=12)
    text: str = Field(sa_column=Column(Text, nullable=False))
    author: str = Field(max_length=128)
    created_at: datetime
    anon_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """The lesson as anonymised rooms read it, once the affected Member reviewed it."""


class ConsentReview(SQLModel, table=True):
    """The affected Member's review of free text before it first reaches an anonymised
    audience (migration 0008): ``proposed`` is the redacted wording those rooms would read;
    ``confirmed`` releases it, ``replaced`` released the Member's own wording instead."""

    __tablename__ = "consent_review"
    __table_args__ = (UniqueConstraint("incident_id", "n"),)
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    n: int
    subject: str = Field(max_length=12)
    """``summary``, ``update`` (a timeline entry's text) or ``lesson``."""
    timeline_id: int | None = Field(default=None, foreign_key="timeline.id")
    lesson_id: int | None = Field(default=None, foreign_key="lesson.id")
    proposed: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=12)
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = Field(default=None, max_length=128)


class IncidentQuery(SQLModel, table=True):
    __tablename__ = "incident_query"
    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=128)
    asker: str = Field(max_length=128)
    asker_room: str | None = Field(default=None, max_length=128)
    asker_platform: str = Field(max_length=16)
    status: str = Field(default="open", max_length=12)
    created_at: datetime
    answered_at: datetime | None = None
    answered_by: str | None = None
    answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Notification(SQLModel, table=True):
    """One thing to tell (a report, an update...), fanned out to outbox rows per room."""

    __tablename__ = "notification"
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    kind: str = Field(max_length=24)
    created_at: datetime


class OutboxRow(SQLModel, table=True):
    """A message to deliver to one room or person; ``key`` is its idempotency key."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "room_key", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    notification_id: int | None = Field(default=None, foreign_key="notification.id", index=True)
    key: str = Field(max_length=96, unique=True)
    room_key: str = Field(max_length=128)
    """A directory room key, or ``@<contact id>`` for a direct message."""
    platform: str = Field(max_length=16)
    payload: dict[str, object] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=12)
    """pending, delivered, dead, withdrawn (its incident was narrowed before delivery)."""
    attempts: int = 0
    """Sends that reached the platform: the delivered one and refused ones. Waits (rate
    limits, the platform unreachable, the room inaccessible) are not counted here."""
    failures: int = 0
    """Every failed try, waits included: drives the backoff."""
    first_failed_at: datetime | None = None
    """When the first try failed: the row is given up ``outbox_give_up_hours`` later."""
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None = None
    message_id: str | None = Field(default=None, max_length=256)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class RoomLease(SQLModel, table=True):
    """Which process delivers to a room now: keeps per-room order across processes.

    ``until`` is on the database's clock. ``epoch`` grows each time another process takes
    the room: a send and its delivered mark are fenced by (holder, epoch). A released
    lease keeps its row (and epoch) with an empty holder. ``blocked_since``: the bot lost
    access to the room (reported once; the queue waits)."""

    __tablename__ = "room_lease"
    room_key: str = Field(primary_key=True, max_length=128)
    holder: str = Field(max_length=64)
    until: datetime
    epoch: int = 0
    blocked_since: datetime | None = None
    blocked_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AdapterState(SQLModel, table=True):
    """Small durable values an adapter keeps (a Matrix sync token, for one)."""

    __tablename__ = "adapter_state"
    platform: str = Field(primary_key=True, max_length=16)
    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime


class IncidentIndicator(SQLModel, table=True):
    """An indicator of compromise of an incident (migration 0017): ``value`` is canonical
    (wisbot.domain.indicators); ``timeline_id`` is its timeline entry, whose reviewed
    wording (``data.anon``) is what anonymised readers may read of it."""

    __tablename__ = "incident_indicator"
    __table_args__ = (UniqueConstraint("incident_id", "n"),
                      UniqueConstraint("incident_id", "type", "value"))
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    n: int
    """Its number within the incident (I-1, I-2...): no count of other incidents' ones."""
    type: str = Field(max_length=12)
    value: str = Field(sa_column=Column(Text, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    added_by: str = Field(max_length=128)
    added_at: datetime
    timeline_id: int | None = Field(default=None, foreign_key="timeline.id")


class Sighting(SQLModel, table=True):
    """Another centre's "seen here too" on an incident (migration 0017). ``member`` is the
    sighting Member: who may read it is the audience predicate's answer for that Member
    (services/indicators.py), never the incident's audience."""

    __tablename__ = "sighting"
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    indicator_id: int | None = Field(default=None, foreign_key="incident_indicator.id")
    member: str = Field(max_length=64)
    reported_by: str = Field(max_length=128)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime
