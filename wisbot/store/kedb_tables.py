"""The known-error database (migration 0020): known errors with their symptom and
workaround, shared like lessons, and their links to incidents and lessons."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class KnownError(SQLModel, table=True):
    __tablename__ = "known_error"
    id: int | None = Field(default=None, primary_key=True)
    member: str = Field(max_length=64)
    """The Member that met it: the audience rule is the lessons' one, about this Member."""
    share: str = Field(max_length=12)
    title: str = Field(sa_column=Column(Text, nullable=False))
    symptom: str = Field(sa_column=Column(Text, nullable=False))
    workaround: str = Field(sa_column=Column(Text, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    """Title, symptom and workaround in one: what the search indexes read."""
    author: str = Field(max_length=128)
    created_at: datetime


class KnownErrorLink(SQLModel, table=True):
    __tablename__ = "known_error_link"
    __table_args__ = (UniqueConstraint("known_error_id", "incident_id", "lesson_id"),)
    id: int | None = Field(default=None, primary_key=True)
    known_error_id: int = Field(foreign_key="known_error.id", index=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    lesson_id: int | None = Field(default=None, foreign_key="lesson.id")
    linked_by: str = Field(max_length=128)
    linked_at: datetime
