"""WIS2 monitoring event tables (migration 0014): events heard (the durable dedupe by
WMEM id), the operations calendar of planned outages, the queue of WMEMs to publish, and
the failure event outstanding per Global Service wisbot probes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Index, Text, true
from sqlmodel import Field, SQLModel

from wisbot.store.watch_tables import UTCDateTime


def _at(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class WmemEvent(SQLModel, table=True):
    """One WMEM, by its source and id (unique together per CloudEvents): inserted once
    whichever broker, replay or process saw it."""

    __tablename__ = "wmem_event"
    __table_args__ = (Index("ix_wmem_event_received", "received_at"),
                      Index("ix_wmem_event_subject", "subject", "received_at"))
    source: str = Field(primary_key=True, max_length=128)
    id: str = Field(primary_key=True, max_length=128)
    received_at: datetime = _at()
    event_time: datetime | None = _at(nullable=True)
    via: str = Field(max_length=160)
    subject: str = Field(max_length=128)
    severity: str = Field(max_length=10)
    subtype: str = Field(default="", max_length=64)
    title: str = Field(sa_column=Column(Text, nullable=False))
    ref: str | None = Field(default=None, max_length=128, index=True)
    outcome: str = Field(default="", max_length=16)
    """ticket, update, recovery, suppressed, outage, summary, ignored."""
    ticket_id: int | None = Field(default=None, index=True)
    schema_ok: bool = True
    doc: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class WmemOutage(SQLModel, table=True):
    """The operations calendar: planned outages announced by WMEM or `watch outage`."""

    __tablename__ = "wmem_outage"
    id: int | None = Field(default=None, primary_key=True)
    service: str = Field(max_length=128, index=True)
    """A centre-id (``de-dwd-global-broker``) or a directory wis2 id (``gb-dwd``)."""
    starts_at: datetime | None = _at(nullable=True)
    ends_at: datetime | None = _at(nullable=True)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    announced_by: str = Field(max_length=128)
    event_id: str | None = Field(default=None, max_length=128, unique=True)
    created_at: datetime = _at()
    binding: bool = Field(default=True, sa_column=Column(Boolean, nullable=False,
                                                         server_default=true()))
    """False for a notice from neither the service nor its operating centre (shown in the
    calendar, suppresses nothing)."""


class WmemOutgoing(SQLModel, table=True):
    """A WMEM to publish; its id is fixed when queued, so a retry is the same message."""

    __tablename__ = "wmem_outgoing"
    __table_args__ = (Index("ix_wmem_outgoing_pending", "sent_at", "created_at"),)
    id: str = Field(primary_key=True, max_length=64)
    topic: str = Field(max_length=255)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _at()
    sent_at: datetime | None = _at(nullable=True)
    attempts: int = 0
    next_at: datetime = _at()
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class WmemProbeState(SQLModel, table=True):
    """A Global Service whose probe failure wisbot has published and not yet followed up."""

    __tablename__ = "wmem_probe_state"
    service: str = Field(primary_key=True, max_length=128)
    event_id: str = Field(max_length=64)
    since: datetime = _at()
