"""The web facility's state (migration 0019): sessions, one-time sign-in tokens, Slack
sign-in states, login attempts (rate limits) and the access log. All in the database, so
any process may serve and two replicas behind a proxy agree. Secrets are stored hashed
(SHA-256): a copy of the database signs nobody in."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class WebSession(SQLModel, table=True):
    __tablename__ = "web_session"
    id_hash: str = Field(primary_key=True, max_length=64)
    contact_id: str = Field(index=True, max_length=128)
    method: str = Field(max_length=16)
    """matrix, slack, email or chat (a ``web login`` link)."""
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


class WebLoginToken(SQLModel, table=True):
    """A one-time sign-in link (e-mail or ``web login`` in a direct chat)."""

    __tablename__ = "web_login_token"
    token_hash: str = Field(primary_key=True, max_length=64)
    contact_id: str = Field(max_length=128)
    kind: str = Field(max_length=16)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class WebAuthState(SQLModel, table=True):
    """A Slack sign-in in progress: its state (hashed) and nonce."""

    __tablename__ = "web_auth_state"
    state_hash: str = Field(primary_key=True, max_length=64)
    nonce: str = Field(max_length=64)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class WebLoginAttempt(SQLModel, table=True):
    """One sign-in attempt, counted per IP and per identity for the rate limits."""

    __tablename__ = "web_login_attempt"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, max_length=200)
    at: datetime = Field(index=True)


class WebAccess(SQLModel, table=True):
    """Who opened which incident or page, when: proof of who knew what."""

    __tablename__ = "web_access"
    id: int | None = Field(default=None, primary_key=True)
    contact_id: str = Field(index=True, max_length=128)
    kind: str = Field(max_length=32)
    ref: str = Field(max_length=200)
    path: str = Field(max_length=500)
    ip: str | None = Field(default=None, max_length=64)
    at: datetime = Field(index=True)
