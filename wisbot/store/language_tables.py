"""The language a person chose with the ``language`` command (migration 0018): it overrides
the directory's ``language:`` of their contact entry."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class PersonLanguage(SQLModel, table=True):
    __tablename__ = "person_language"
    contact_id: str = Field(primary_key=True, max_length=128)
    language: str = Field(max_length=8)
    """ar, zh, en, fr, ru or es."""
    set_at: datetime
