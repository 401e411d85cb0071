"""Audits of WIS centres (Annex 2), continuity plans and reachability drills (Annex 1 §2)
(migration 0022). A drill's pages are ordinary ``page`` rows of kind ``drill``: they fire,
escalate and stop at the first answer like any page, and no incident figure counts them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel


class Audit(SQLModel, table=True):
    """One audit case of a WIS centre, through its four phases."""

    __tablename__ = "audit"
    id: int | None = Field(default=None, primary_key=True)
    centre: str = Field(max_length=64, index=True)
    member: str = Field(max_length=64)
    region: str = Field(max_length=8)
    responsible: str = Field(max_length=128)
    """The audience role of the body responsible for the centre (reads the report)."""
    mode: str = Field(default="onsite", max_length=8)
    """onsite, remote."""
    phase: str = Field(default="request", max_length=16)
    """request, pre-audit, not-proceeding, ready, audit, report, closed."""
    questionnaire: str = Field(sa_column=Column(Text, nullable=False))
    team: list[dict[str, str]] = Field(default_factory=list,
                                       sa_column=Column(JSON, nullable=False))
    """[{contact, part: lead|expert|member}]."""
    requested_by: str = Field(max_length=128)
    requested_at: datetime
    not_proceeding_reason: str | None = Field(default=None, sa_column=Column(Text))
    audit_start: date | None = None
    audit_end: date | None = None
    opening_at: datetime | None = None
    closing_at: datetime | None = None
    report_due: date | None = None
    report_at: datetime | None = None
    report_by: str | None = Field(default=None, max_length=128)
    outcome: str | None = Field(default=None, max_length=24)
    """compliant, conditions, not-compliant."""
    conditions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    report: str | None = Field(default=None, sa_column=Column(Text))
    evidence_handed_at: datetime | None = None
    copies_destroyed_at: datetime | None = None
    reaudit_years: int = 4
    reaudit_due: date | None = None
    report_reminded: date | None = None
    reaudit_reminded: date | None = None


class AuditEvent(SQLModel, table=True):
    """What happened in an audit, in order (requests for information, answers, phases)."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    audit_id: int = Field(foreign_key="audit.id", index=True)
    at: datetime
    actor: str = Field(max_length=128)
    kind: str = Field(max_length=24)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class ContinuityPlan(SQLModel, table=True):
    """A centre's continuity plan essentials and when it was last tested."""

    __tablename__ = "continuity_plan"
    centre: str = Field(primary_key=True, max_length=64)
    member: str = Field(max_length=64)
    critical_services: str = Field(sa_column=Column(Text, nullable=False))
    max_outage_h: float
    rto_h: float
    rpo_h: float
    alternate_site: str = Field(sa_column=Column(Text, nullable=False))
    contacts: str = Field(sa_column=Column(Text, nullable=False))
    test_every_days: int = 365
    last_tested: date | None = None
    updated_by: str = Field(max_length=128)
    updated_at: datetime
    reminded_for: date | None = None
    """The test due date a reminder was sent for (one reminder per due date)."""


class DrillSchedule(SQLModel, table=True):
    """The Secretariat's reachability drill schedule (one row, ``key='default'``)."""

    __tablename__ = "drill_schedule"
    key: str = Field(primary_key=True, max_length=16)
    first_at: datetime
    every_days: int
    set_by: str = Field(max_length=128)
    set_at: datetime
    active: bool = True


class DrillRun(SQLModel, table=True):
    """One drill: a test page through each role's 24/7 chain (pages ``DRILL-<id>``).
    ``slot`` is unique: a scheduled occurrence starts once across processes."""

    __tablename__ = "drill_run"
    id: int | None = Field(default=None, primary_key=True)
    slot: str = Field(max_length=64, unique=True)
    started_at: datetime
    started_by: str = Field(max_length=128)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
