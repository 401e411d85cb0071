"""Tables of the near-real-time exchange watch and its dispute cases (migration 0002x)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class ExchangeRecord(SQLModel, table=True):
    """The last known state of one discovery metadata record (WIS 1.0 or WIS2).

    ``offered_at`` is when the record was last *offered for global exchange*: first seen
    with scope GlobalExchange (WIS2: core), or its scope changed to it.
    """

    __tablename__ = "exchange_record"
    id: int | None = Field(default=None, primary_key=True)
    identifier: str = Field(max_length=255, unique=True)
    source: str = Field(max_length=8)
    title: str = Field(sa_column=Column(Text, nullable=False))
    scope: str = Field(max_length=24)
    previous_scope: str | None = Field(default=None, max_length=24)
    licence: str | None = Field(default=None, max_length=24)
    gts_category: str | None = Field(default=None, max_length=24)
    data_policy: str | None = Field(default=None, max_length=16)
    originator: str | None = Field(default=None, max_length=255)
    centre: str | None = Field(default=None, max_length=64, index=True)
    principal_gisc: str | None = Field(default=None, max_length=64, index=True)
    harvested_from: str = Field(max_length=128)
    datestamp: str | None = Field(default=None, max_length=40)
    first_seen_at: datetime
    updated_at: datetime
    offered_at: datetime | None = Field(default=None, index=True)


class ExchangeHarvest(SQLModel, table=True):
    """Per source (``oai:<GISC>``, ``gdc:<id>``): where the next harvest starts."""

    __tablename__ = "exchange_harvest"
    source: str = Field(primary_key=True, max_length=128)
    next_from: datetime | None = None
    last_run_at: datetime
    status: str = Field(max_length=12)
    stats: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    resume: dict[str, object] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """A harvest cut short: ``{"params": <the request of the page in progress>,
    "listed_at": <when its list began>}``; the next run goes on from there."""


class ExchangeVolume(SQLModel, table=True):
    """A volume figure about an originating centre on a UTC day (the latest of the day)."""

    __tablename__ = "exchange_volume"
    __table_args__ = (UniqueConstraint("centre", "metric", "day"),)
    id: int | None = Field(default=None, primary_key=True)
    centre: str = Field(max_length=64, index=True)
    metric: str = Field(max_length=32)
    day: str = Field(max_length=10)
    value: float
    source: str = Field(max_length=255)
    at: datetime


class ExchangeCounter(SQLModel, table=True):
    __tablename__ = "exchange_counter"
    year: int = Field(primary_key=True)
    last_seq: int = 0


class ExchangeCase(SQLModel, table=True):
    """A dispute about one record's near-real-time exchange, owned by the provider's
    principal GISC; ``stage`` is discussion → consultation → referral, or closed."""

    __tablename__ = "exchange_case"
    __table_args__ = (UniqueConstraint("year", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=40, unique=True)
    year: int
    seq: int
    metadata_id: str = Field(max_length=255, index=True)
    title: str = Field(sa_column=Column(Text, nullable=False))
    provider_centre: str = Field(max_length=64)
    member: str = Field(max_length=64)
    owner_gisc: str = Field(max_length=64, index=True)
    scope: str = Field(max_length=24)
    concern: str = Field(sa_column=Column(Text, nullable=False))
    stage: str = Field(max_length=16, index=True)
    outcome_kind: str | None = Field(default=None, max_length=12)
    outcome: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    record: dict[str, object] = Field(default_factory=dict,
                                      sa_column=Column(JSON, nullable=False))
    figures: dict[str, object] = Field(default_factory=dict,
                                       sa_column=Column(JSON, nullable=False))
    opened_by: str = Field(max_length=128)
    opened_at: datetime
    consulted_at: datetime | None = None
    referred_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime


class ExchangeCaseEvent(SQLModel, table=True):
    """The case's timeline: every stage change, answer, reminder and referral."""

    __tablename__ = "exchange_case_event"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="exchange_case.id", index=True)
    at: datetime
    actor: str = Field(max_length=128)
    kind: str = Field(max_length=24)
    gisc: str | None = Field(default=None, max_length=64)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    data: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ExchangePosition(SQLModel, table=True):
    """A GISC's answer in the consultation; a later answer sets ``current`` False on the
    earlier one, which stays for the history."""

    __tablename__ = "exchange_position"
    __table_args__ = (Index("ix_exchange_position_case_gisc", "case_id", "gisc"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="exchange_case.id")
    gisc: str = Field(max_length=64)
    position: str = Field(max_length=8)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    by: str = Field(max_length=128)
    at: datetime
    current: bool = True


class ExchangeMail(SQLModel, table=True):
    """An e-mail to send (the case file to the working group), written in the referral's
    transaction and sent after it; ``status`` pending, sent or failed."""

    __tablename__ = "exchange_mail"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="exchange_case.id", index=True)
    to: str = Field(max_length=255)
    subject: str = Field(max_length=255)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=12, index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime
    sent_at: datetime | None = None
