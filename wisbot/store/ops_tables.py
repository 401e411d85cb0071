"""Operations tables: room holds (0005), the leader lease, replicas and scheduled job runs
(0007). Shared by the room-integrity checks, the leader election, the scheduler and
``wisbot status``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class RoomHold(SQLModel, table=True):
    """A closed room that gets nothing protected and answers no command until a
    membership check passes. Stored so a restart or another process sees it."""

    __tablename__ = "room_hold"
    room_key: str = Field(primary_key=True, max_length=128)
    reason: str = Field(max_length=32)
    """unchecked, stranger, weak-settings, api-error, no-access, direct-not-two."""
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    since: datetime
    checked_at: datetime | None = None


class LeaderLease(SQLModel, table=True):
    """Who holds the singletons (chat sync, scheduler, integrity loops, MQTT) now.
    ``epoch`` grows on every change of holder: a fencing token."""

    __tablename__ = "leader_lease"
    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=64)
    epoch: int = 0
    until: datetime
    host: str = Field(default="", max_length=128)


class Replica(SQLModel, table=True):
    """A running ``wisbot run`` process, for ``wisbot status``."""

    __tablename__ = "replica"
    holder: str = Field(primary_key=True, max_length=64)
    host: str = Field(max_length=128)
    pid: int
    role: str = Field(default="follower", max_length=16)
    started_at: datetime
    seen_at: datetime


class JobRun(SQLModel, table=True):
    """One scheduled job's run for one period: the unique key makes it run once however
    many replicas run."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    period: str = Field(max_length=32)
    holder: str = Field(max_length=64)
    started_at: datetime
    finished_at: datetime | None = None
    status: str = Field(default="running", max_length=12)
    """running, ok, failed, overran."""
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
