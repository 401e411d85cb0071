"""Operator-experience tables (migration 0011)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class WideningRequest(SQLModel, table=True):
    """A widening (``incident share`` to more readers, or a ``named`` lesson) asked for and
    not yet confirmed: nothing changes until its author confirms before ``expires_at``."""

    __tablename__ = "widening_request"
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    kind: str = Field(max_length=12)
    """share or lesson."""
    requested_by: str = Field(max_length=128)
    level: str = Field(max_length=20)
    """The share level asked for (share), or the lesson's share (lesson)."""
    anonymous: bool | None = None
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """The lesson's text, kept so the confirmation need not repeat it; for a share, the
    sharing asked from (``share_words``): a confirmation acts only while it still holds."""
    status: str = Field(default="pending", max_length=12)
    """pending, confirmed, replaced, expired."""
    created_at: datetime
    expires_at: datetime
