"""Sessions, one-time sign-in links, Slack sign-in states and login rate limits, all in the
database (any process may serve; two replicas behind a proxy agree).

Every secret handed out (session id, link token, Slack state) is random (256 bits) and stored
only as its SHA-256: reading the database signs nobody in. No password is stored anywhere:
a person proves the chat identity the directory already names.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from wisbot.directory import Contact, Directory
from wisbot.store.web_tables import WebAuthState, WebLoginAttempt, WebLoginToken, WebSession

if TYPE_CHECKING:
    from starlette.requests import Request

    from wisbot.app import App
    from wisbot.store.engine import Store

LINK_LIFETIME = timedelta(minutes=15)
# How long a used Matrix OpenID token is remembered: longer than Synapse honours one (1 h).
OPENID_MEMORY = timedelta(hours=2)
STATE_LIFETIME = timedelta(minutes=10)
RATE_WINDOW = timedelta(minutes=15)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _aware(value: datetime) -> datetime:
    """SQLite gives datetimes back without their zone; wisbot stores UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def contact_by_email(directory: Directory, address: str) -> Contact | None:
    wanted = address.strip().casefold()
    if not wanted:
        return None
    for contact in directory.contacts:
        if contact.email and contact.email.casefold() == wanted:
            return contact
    return None


def cookie_names(secure: bool) -> tuple[str, str]:
    """(session, csrf): the ``__Host-`` prefix (Secure, no Domain, Path=/) when secure, so
    a sibling host cannot plant either cookie."""
    return (("__Host-wisbot-session", "__Host-wisbot-csrf") if secure
            else ("wisbot-session", "wisbot-csrf"))


class WebAuth:
    """The sign-in state of one :class:`~wisbot.app.App`, on its store and clock."""

    def __init__(self, bot: App) -> None:
        self.bot = bot
        s = bot.settings
        self.session_lifetime = timedelta(hours=s.web_session_hours)
        self.secure = not s.web_dev
        self.session_cookie, self.csrf_cookie = cookie_names(self.secure)

    @property
    def _store(self) -> Store:
        assert self.bot.store is not None, "the app is not started"
        return self.bot.store

    def now(self) -> datetime:
        return self.bot.clock()

    # ----- sessions -------------------------------------------------------------------
    async def create_session(self, contact_id: str, method: str) -> str:
        raw, now = new_secret(), self.now()

        def work(session: Session) -> None:
            session.add(WebSession(id_hash=digest(raw), contact_id=contact_id, method=method,
                                   created_at=now, expires_at=now + self.session_lifetime))

        await self._store.tx(work)
        return raw

    async def session_contact_id(self, raw: str) -> str | None:
        now = self.now()

        def work(session: Session) -> str | None:
            row = session.get(WebSession, digest(raw))
            if row is None or row.revoked_at is not None or _aware(row.expires_at) <= now:
                return None
            return row.contact_id

        return await self._store.tx(work)

    async def revoke(self, raw: str) -> None:
        now = self.now()

        def work(session: Session) -> None:
            session.execute(update(WebSession).where(
                WebSession.id_hash == digest(raw),  # type: ignore[arg-type]
                WebSession.revoked_at.is_(None))  # type: ignore[union-attr]
                .values(revoked_at=now))

        await self._store.tx(work)

    async def logout_all(self, contact_id: str) -> int:
        """Revoke every live session of a person; returns how many there were."""
        return await self._store.tx(lambda s: logout_all(s, contact_id, self.now()))

    async def authenticate(self, request: Request) -> Contact | None:
        """The seam of :func:`wisbot.web.app.build_web_app`: the session cookie's person,
        if the session lives and the directory still names them."""
        raw = request.cookies.get(self.session_cookie)
        if not raw or len(raw) > 100:
            return None
        contact_id = await self.session_contact_id(raw)
        if contact_id is None:
            return None
        for contact in self.bot.directory.contacts:
            if contact.id == contact_id:
                return contact
        return None

    # ----- one-time links ---------------------------------------------------------------
    async def issue_link(self, contact_id: str, kind: str) -> str:
        raw, now = new_secret(), self.now()

        def work(session: Session) -> None:
            session.add(WebLoginToken(token_hash=digest(raw), contact_id=contact_id, kind=kind,
                                      created_at=now, expires_at=now + LINK_LIFETIME))

        await self._store.tx(work)
        return raw

    async def peek_link(self, raw: str) -> str | None:
        """The link's person while it is unused and unexpired (the confirmation page)."""
        now = self.now()

        def work(session: Session) -> str | None:
            row = session.get(WebLoginToken, digest(raw))
            if row is None or row.used_at is not None or _aware(row.expires_at) <= now:
                return None
            return row.contact_id

        return await self._store.tx(work)

    async def redeem_link(self, raw: str) -> tuple[str, str] | None:
        """(contact id, kind) of an unused, unexpired link, which is used up: one
        conditional UPDATE, so two processes redeeming at once cannot both win."""
        now, key = self.now(), digest(raw)

        def work(session: Session) -> tuple[str, str] | None:
            won = session.execute(update(WebLoginToken).where(
                WebLoginToken.token_hash == key,  # type: ignore[arg-type]
                WebLoginToken.used_at.is_(None),  # type: ignore[union-attr]
                WebLoginToken.expires_at > now)  # type: ignore[arg-type]
                .values(used_at=now))
            if getattr(won, "rowcount", 0) != 1:
                return None
            row = session.get(WebLoginToken, key)
            return None if row is None else (row.contact_id, row.kind)

        return await self._store.tx(work)

    async def spend_openid(self, contact_id: str, token: str) -> bool:
        """True the first time this Matrix OpenID token is used, False ever after (until
        the homeserver has long stopped honouring it): a token seen by a widget or over a
        shoulder cannot open a second session. Kept as a used one-time token (its hash)."""
        now, key = self.now(), digest("matrix-openid:" + token.strip())

        def work(session: Session) -> bool:
            if session.get(WebLoginToken, key) is not None:
                return False
            session.add(WebLoginToken(token_hash=key, contact_id=contact_id, kind="openid",
                                      created_at=now, expires_at=now + OPENID_MEMORY,
                                      used_at=now))
            session.flush()
            return True

        try:
            return await self._store.tx(work)
        except IntegrityError:  # another process spent it at the same moment
            return False

    # ----- Slack sign-in states -----------------------------------------------------------
    async def new_state(self) -> tuple[str, str]:
        state, nonce, now = new_secret(), new_secret(), self.now()

        def work(session: Session) -> None:
            session.add(WebAuthState(state_hash=digest(state), nonce=nonce, created_at=now,
                                     expires_at=now + STATE_LIFETIME))

        await self._store.tx(work)
        return state, nonce

    async def take_state(self, state: str) -> str | None:
        """The nonce of an unused, unexpired state, which is used up."""
        now, key = self.now(), digest(state)

        def work(session: Session) -> str | None:
            won = session.execute(update(WebAuthState).where(
                WebAuthState.state_hash == key,  # type: ignore[arg-type]
                WebAuthState.used_at.is_(None),  # type: ignore[union-attr]
                WebAuthState.expires_at > now)  # type: ignore[arg-type]
                .values(used_at=now))
            if getattr(won, "rowcount", 0) != 1:
                return None
            row = session.get(WebAuthState, key)
            return None if row is None else row.nonce

        return await self._store.tx(work)

    # ----- rate limits ----------------------------------------------------------------
    async def attempt(self, ip: str, identity: str | None) -> bool:
        """Count one sign-in attempt; False when the IP address or the identity has used
        up its attempts in the window (shared by every process through the database)."""
        s, now = self.bot.settings, self.now()
        keys = [(f"ip:{ip}"[:200], s.web_login_limit_ip)]
        if identity:
            keys.append((f"id:{identity.strip().casefold()}"[:200],
                         s.web_login_limit_identity))

        def work(session: Session) -> bool:
            since = now - RATE_WINDOW
            session.execute(delete(WebLoginAttempt).where(
                WebLoginAttempt.at < now - 2 * RATE_WINDOW))  # type: ignore[arg-type]
            allowed = True
            for key, limit in keys:
                n = session.execute(select(func.count()).select_from(WebLoginAttempt).where(
                    WebLoginAttempt.key == key,
                    WebLoginAttempt.at > since)).scalar_one()
                if n >= limit:
                    allowed = False
            for key, _limit in keys:
                session.add(WebLoginAttempt(key=key, at=now))
            return allowed

        return await self._store.tx(work)


def logout_all(session: Session, contact_id: str, now: datetime) -> int:
    """Revoke every live session of ``contact_id`` (the CLI, the chat command, the page)."""
    result = session.execute(update(WebSession).where(
        WebSession.contact_id == contact_id,  # type: ignore[arg-type]
        WebSession.revoked_at.is_(None))  # type: ignore[union-attr]
        .values(revoked_at=now))
    return int(getattr(result, "rowcount", 0) or 0)
