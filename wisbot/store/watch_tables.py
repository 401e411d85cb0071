"""GISC Watch tables: probe runs and results, roster, tickets, handovers, alerts sent.

Times are stored as timezone-aware UTC and always read back aware (SQLite drops the
offset, so :class:`UTCDateTime` puts it back).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Date, DateTime, ForeignKey, Index, Integer, Text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: wisbot stores UTC-aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _at(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class ProbeRun(SQLModel, table=True):
    """One sweep: the daily run (``trigger='daily'``, one per UTC ``day``) or on demand."""

    __tablename__ = "watch_run"
    __table_args__ = (Index("ix_watch_run_day", "day", "trigger"),)
    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(sa_column=Column(Date, nullable=False))
    trigger: str = Field(max_length=12)
    scope: str = Field(default="", max_length=128)
    started_at: datetime = _at()
    finished_at: datetime | None = _at(nullable=True)
    results: int = 0
    failures: int = 0


class ProbeRecord(SQLModel, table=True):
    __tablename__ = "watch_result"
    __table_args__ = (Index("ix_watch_result_when", "checked_at"),
                      Index("ix_watch_result_subject", "centre", "service", "checked_at"))
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(sa_column=Column(Integer, ForeignKey("watch_run.id", ondelete="CASCADE"),
                                         nullable=False, index=True))
    centre: str = Field(max_length=64)
    service: str = Field(max_length=16)
    url: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=10)
    latency_ms: float | None = None
    figure: float | None = None
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    checked_at: datetime = _at()
    details: dict[str, object] = Field(default_factory=dict,
                                       sa_column=Column(JSON, nullable=False))


class RosterEntry(SQLModel, table=True):
    __tablename__ = "watch_roster"
    id: int | None = Field(default=None, primary_key=True)
    gisc: str = Field(max_length=64)
    start_date: date = Field(sa_column=Column(Date, nullable=False, index=True))
    end_date: date = Field(sa_column=Column(Date, nullable=False))
    source: str = Field(default="import", max_length=64)


class WatchTicket(SQLModel, table=True):
    __tablename__ = "watch_ticket"
    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=64, index=True)
    """A directory GISC name, or ``WIS2`` for the WIS 2.0 global services."""
    finding: str = Field(sa_column=Column(Text, nullable=False))
    impact: str = Field(max_length=12)
    state: str = Field(default="triage", max_length=10, index=True)
    partial: bool = False
    services: dict[str, bool] = Field(default_factory=dict,
                                      sa_column=Column(JSON, nullable=False))
    """Services an automatic ticket covers: ``{"sru": True}`` failing, False recovered."""
    auto: bool = False
    reporter: str = Field(max_length=128)
    assignee: str | None = Field(default=None, max_length=128)
    created_at: datetime = _at()
    last_activity_at: datetime = _at()
    responded_at: datetime | None = _at(nullable=True)
    closed_at: datetime | None = _at(nullable=True)
    last_reminder_at: datetime | None = _at(nullable=True)


class WatchTicketEvent(SQLModel, table=True):
    __tablename__ = "watch_ticket_event"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="watch_ticket.id", index=True)
    at: datetime = _at()
    actor: str = Field(max_length=128)
    kind: str = Field(max_length=16)
    """opened, moved, assigned, partial, reopened, closed, reminder, note."""
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class Handover(SQLModel, table=True):
    __tablename__ = "watch_handover"
    id: int | None = Field(default=None, primary_key=True)
    outgoing: str = Field(max_length=64)
    incoming: str = Field(max_length=64, index=True)
    period_start: date = Field(sa_column=Column(Date, nullable=False))
    sent_at: datetime = _at()
    sent_by: str = Field(max_length=128)
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    report: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    emailed: bool = False
    accepted_at: datetime | None = _at(nullable=True)
    accepted_by: str | None = Field(default=None, max_length=128)
    reminders: int = 0
    last_reminder_at: datetime | None = _at(nullable=True)
    escalated_at: datetime | None = _at(nullable=True)
    escalated_to: str | None = Field(default=None, max_length=64)


class WatchMark(SQLModel, table=True):
    """Once-only markers: a dead-man's alert for a day, a period-start notice..."""

    __tablename__ = "watch_mark"
    key: str = Field(primary_key=True, max_length=96)
    at: datetime = _at()
