"""The WIS2 IMS mirror: every watch ticket kept in step with an issue in WMO's JIRA project
(Jira Data Center, REST API v2, personal access token as ``Authorization: Bearer``).

Out: each ticket change is a ``jira_change`` row written in the change's own transaction
(:meth:`JiraMirror.enqueue`, hooked on :class:`WatchService`), replayed in order by one
process at a time (the ``jira_lease`` row, database clock, fencing epoch). Nothing is lost
while JIRA is down, slow, refusing the token or rate-limiting: the row waits. Nothing is
duplicated after a crash between a JIRA call and its mark: an issue is found again by its
label ``<label>-<ticket>`` before one is created, a comment by its ``(wisbot W-<n> #<id>)``
marker, a transition by the issue's current status.

In: every ``jira_poll_seconds`` the issues updated since the last read (JQL ``updated >=``)
are compared with their tickets: a status, an assignee or a comment made in JIRA is written
to the ticket and told to the ticket's rooms.

Endpoints used (all under ``/rest/api/2``): ``POST issue``, ``GET issue/{key}``,
``GET search``, ``GET|POST issue/{key}/transitions``, ``GET|POST issue/{key}/comment``,
``PUT issue/{key}/assignee``, ``POST issue/{key}/watchers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from sqlalchemy import case, delete, event, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.clock import Clock
from wisbot.directory import Directory
from wisbot.domain import aor
from wisbot.domain.watch import STATE_WORDS, Impact, TicketState
from wisbot.errors import NotFound
from wisbot.i18n import _ as _t
from wisbot.leader import new_holder
from wisbot.outbox import db_now
from wisbot.reply import Reply, user
from wisbot.services.languages import room_language
from wisbot.services.notify import notify
from wisbot.services.ticket_words import Words, theirs
from wisbot.services.watch import GLOBAL, WatchService
from wisbot.settings import Settings
from wisbot.store.alerts_jira_tables import AlertTicket, JiraChange, JiraLease, JiraLink
from wisbot.store.engine import Store
from wisbot.store.watch_tables import WatchTicket, WatchTicketEvent

log = logging.getLogger(__name__)

LEASE = "jira"
JIRA_ACTOR = "jira:"
"""Actor prefix of changes read back from JIRA (never mirrored back)."""
STATUS = {TicketState.TRIAGE: "TRIAGE", TicketState.TODO: "TO DO",
          TicketState.PROGRESS: "IN PROGRESS", TicketState.REVIEW: "IN REVIEW",
          TicketState.DONE: "DONE"}
FROM_STATUS = {v: k for k, v in STATUS.items()}
PRIORITY = {Impact.VERY_HIGH: "Very High", Impact.HIGH: "High", Impact.MEDIUM: "Medium"}
KEEP_DONE = timedelta(days=30)
MARKER = re.compile(r"\(wisbot W-\d+ #\d+\)")


class JiraError(Exception):
    """``kind``: down (unreachable, timeout, 5xx), auth (401/403), rate (429), refused
    (any other 4xx: this change cannot be mirrored as it is)."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


class JiraClient:
    """The few Jira Data Center REST v2 calls the mirror makes."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 20.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/rest/api/2", timeout=timeout, transport=transport,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            r = await self._http.request(method, path, **kw)
        except httpx.TimeoutException as exc:
            raise JiraError("down", f"JIRA did not answer in time ({type(exc).__name__})") \
                from None
        except httpx.HTTPError as exc:
            raise JiraError("down", f"JIRA unreachable ({type(exc).__name__}: {exc})") from None
        if r.status_code in (401, 403):
            raise JiraError("auth", f"JIRA refused the token ({r.status_code}): check "
                                    "jira_token and the account's project permissions")
        if r.status_code == 429:
            raise JiraError("rate", "JIRA rate limit (429)",
                            _retry_after(r.headers.get("Retry-After")))
        if r.status_code >= 500:
            raise JiraError("down", f"JIRA answered {r.status_code}")
        if r.status_code >= 400:
            raise JiraError("refused", f"JIRA refused {method} {path}: {r.status_code} "
                                       f"{r.text[:300]}")
        if r.status_code == 204 or not r.content:
            return None
        try:
            return r.json()
        except ValueError:
            raise JiraError("down", f"JIRA answered {r.status_code} with no JSON") from None

    async def search(self, jql: str, fields: str, start: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = await self._call(
            "GET", "/search", params={"jql": jql, "fields": fields, "startAt": start,
                                      "maxResults": 100})
        return out

    async def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = await self._call("POST", "/issue", json={"fields": fields})
        return out

    async def get(self, key: str, fields: str = "status,assignee") -> dict[str, Any]:
        out: dict[str, Any] = await self._call("GET", f"/issue/{key}",
                                               params={"fields": fields})
        return out

    async def transitions(self, key: str) -> list[dict[str, Any]]:
        out = await self._call("GET", f"/issue/{key}/transitions")
        return list(out.get("transitions", []))

    async def transition(self, key: str, transition_id: str) -> None:
        await self._call("POST", f"/issue/{key}/transitions",
                         json={"transition": {"id": transition_id}})

    async def comments(self, key: str) -> list[dict[str, Any]]:
        out = await self._call("GET", f"/issue/{key}/comment")
        return list(out.get("comments", []))

    async def add_comment(self, key: str, body: str) -> dict[str, Any]:
        out: dict[str, Any] = await self._call("POST", f"/issue/{key}/comment",
                                               json={"body": body})
        return out

    async def assign(self, key: str, account: str) -> None:
        await self._call("PUT", f"/issue/{key}/assignee", json={"name": account})

    async def add_watcher(self, key: str, account: str) -> None:
        await self._call("POST", f"/issue/{key}/watchers", json=account)


@dataclass(frozen=True)
class Pending:
    id: int
    ticket_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


class Fenced(Exception):
    """The lease is no longer ours: stop without marking."""


class JiraMirror:
    def __init__(self, store: Store, directory: Directory, settings: Settings,
                 watch: WatchService, clock: Clock, client: JiraClient, *,
                 holder: str | None = None, backoff_max: float = 600.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.store = store
        self.directory = directory
        self.settings = settings
        self.watch = watch
        self.clock = clock
        self.client = client
        self.holder = (holder or new_holder())[:96]
        self.backoff_max = backoff_max
        self.sleep = sleep
        self.epoch: int | None = None
        self._valid_until = 0.0
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._last_poll = 0.0
        self._busy = asyncio.Lock()
        self._backfilled = False
        self.problem: str | None = None
        """The last reason JIRA could not be reached (``wisbot status``, logs)."""

    # ----- the queue (called inside the ticket's transaction) ------------------------------
    def enqueue(self, session: Session, ticket: WatchTicket, kind: str, actor: str,
                text: str) -> None:
        if actor.startswith(JIRA_ACTOR):
            return  # read back from JIRA: already there
        now = self.clock().astimezone(UTC)
        payload: dict[str, object] = {
            "state": ticket.state, "impact": ticket.impact, "subject": ticket.subject,
            "finding": ticket.finding, "assignee": ticket.assignee or "", "actor": actor,
            "text": text}
        if kind == "opened":
            watching = self.watch.on_watch(session, now)
            payload["watcher"] = self._account(watching[0]) if watching else ""
        session.add(JiraChange(ticket_id=_id(ticket), kind=kind, payload=payload,
                               created_at=now, next_attempt_at=now))
        loop = self._loop
        if loop is not None and not session.info.get("jira-wake"):
            session.info["jira-wake"] = True  # wake the loop once this commits

            def wake(_: Session) -> None:
                loop.call_soon_threadsafe(self._wake.set)

            event.listen(session, "after_commit", wake, once=True)

    # ----- accounts and fields ---------------------------------------------------------
    def _account(self, gisc: str) -> str:
        try:
            return self.directory.gisc(gisc).jira_account or ""
        except NotFound:
            return ""

    def _centre(self, session: Session, ticket_id: int, subject: str) -> tuple[str, str]:
        """The centre-id and summary of an alert's ticket; else the subject and ''."""
        link = session.exec(select(AlertTicket).where(
            AlertTicket.ticket_id == ticket_id)).first()
        if link is not None and link.centre_id:
            return link.centre_id, link.summary
        return subject, ""

    def assignee_for(self, centre: str, subject: str) -> str:
        """The responsible GISC's account: the area table for a WIS2 centre-id, else the
        ticket's GISC."""
        for name in aor.responsible_giscs(centre) if centre != subject else ():
            account = self._account(name)
            if account:
                return account
        return self._account(subject) if subject != GLOBAL else ""

    def fields(self, ticket_id: int, centre: str, p: dict[str, Any],
               alert_summary: str = "") -> dict[str, Any]:
        """The WIS2 IMS issue's fields: English (summary and description are WIS2 IMS's
        shared record, not a chat reader's message)."""
        s = self.settings
        finding = str(p["finding"])
        summary = f"{centre} : {alert_summary or finding}"
        return {
            "project": {"key": s.jira_project},
            "issuetype": {"name": s.jira_issue_type},
            "summary": summary.splitlines()[0][:250],
            "description": f"{finding}\n\nwisbot GISC Watch ticket W-{ticket_id}.",
            "priority": {"name": PRIORITY[Impact(str(p["impact"]))]},
            "labels": [s.jira_label, self.label(ticket_id)],
        }

    def label(self, ticket_id: int) -> str:
        return f"{self.settings.jira_label}-{ticket_id}"

    # ----- the lease -------------------------------------------------------------------------
    def _take(self, session: Session) -> int | None:
        ins = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(ins(JiraLease).values(
            name=LEASE, holder="", epoch=0, until=datetime(2000, 1, 1, tzinfo=UTC),
        ).on_conflict_do_nothing(index_elements=["name"]))
        lease = JiraLease.__table__.c  # type: ignore[attr-defined]
        res = session.execute(update(JiraLease).where(
            lease.name == LEASE,
            (lease.holder == self.holder) | (lease.until < db_now(session)))
            .values(holder=self.holder,
                    epoch=case((lease.holder == self.holder, lease.epoch),
                               else_=lease.epoch + 1),
                    until=db_now(session, self.settings.jira_lease_seconds))
            .returning(lease.epoch))
        row = res.first()
        return int(row[0]) if row else None

    async def _hold(self) -> bool:
        started = time.monotonic()
        epoch = await self.store.tx(self._take)
        if epoch is None:
            self.epoch = None
            return False
        if self.epoch != epoch:
            log.info("mirroring to JIRA here (epoch %d)", epoch)
        self.epoch = epoch
        self._valid_until = started + self.settings.jira_lease_seconds * 0.8
        return True

    def _ours(self, session: Session) -> None:
        lease = JiraLease.__table__.c  # type: ignore[attr-defined]
        res = session.execute(update(JiraLease).where(
            lease.name == LEASE, lease.holder == self.holder, lease.epoch == self.epoch,
            lease.until >= db_now(session)).values(holder=self.holder))
        if not res.rowcount:  # type: ignore[attr-defined]
            raise Fenced()

    async def _check(self) -> None:
        if time.monotonic() > self._valid_until and not await self._hold():
            raise Fenced()

    async def release(self) -> None:
        if self.epoch is None:
            return

        def work(session: Session) -> None:
            lease = JiraLease.__table__.c  # type: ignore[attr-defined]
            session.execute(update(JiraLease).where(
                lease.name == LEASE, lease.holder == self.holder)
                .values(holder="", until=db_now(session, -1)))

        with contextlib.suppress(Exception):
            await self.store.tx(work)
        self.epoch = None

    # ----- one pass ------------------------------------------------------------------------
    async def tick(self, *, poll: bool | None = None) -> int:
        """Mirror what is queued (in order), then read JIRA back when due. Returns how many
        changes were mirrored; 0 when another process holds the lease."""
        if self._busy.locked():
            return 0  # a pass is running here already
        async with self._busy:
            return await self._tick(poll)

    async def _tick(self, poll: bool | None) -> int:
        if not await self._hold():
            return 0
        try:
            if not self._backfilled:
                await self.store.tx(self._backfill)
                self._backfilled = True
            done = await self.drain()
            due = time.monotonic() - self._last_poll >= self.settings.jira_poll_seconds
            if poll or (poll is None and due):
                await self.poll()
                self._last_poll = time.monotonic()
            self.problem = None
            return done
        except Fenced:
            log.warning("JIRA mirror: the lease passed to another process")
            self.epoch = None
            return 0
        except JiraError as exc:
            self.problem = str(exc)
            log.warning("JIRA mirror: %s", exc)
            return 0

    async def drain(self) -> int:
        done = 0
        while True:
            await self._check()
            row = await self.store.tx(self._next)
            if row is None:
                return done
            if row == "wait":
                return done
            assert isinstance(row, Pending)
            try:
                await self._apply(row)
            except JiraError as exc:
                if exc.kind != "refused":
                    await self.store.tx(functools.partial(self._later, row=row, exc=exc))
                    raise
                log.warning("JIRA mirror: W-%d %s refused for good: %s", row.ticket_id,
                            row.kind, exc)
                await self.store.tx(functools.partial(self._mark, row=row, dead=str(exc)))
                continue
            await self.store.tx(functools.partial(self._mark, row=row, dead=None))
            done += 1

    def _backfill(self, session: Session) -> int:
        """Queue the open tickets that have never been mirrored (JIRA configured after they
        were opened)."""
        self._ours(session)
        known = select(JiraChange.ticket_id)
        linked = select(JiraLink.ticket_id)
        tickets = session.exec(select(WatchTicket).where(
            WatchTicket.state != TicketState.DONE.value,
            col(WatchTicket.id).not_in(known), col(WatchTicket.id).not_in(linked))
            .order_by(col(WatchTicket.id))).all()
        for t in tickets:
            self.enqueue(session, t, "opened", t.reporter, t.finding)
        return len(tickets)

    def _next(self, session: Session) -> Pending | str | None:
        """The oldest change, its attempt counted before the call (a crash after the call
        leaves ``attempts`` > 0: the next try looks in JIRA before acting)."""
        self._ours(session)
        row = session.exec(select(JiraChange).where(col(JiraChange.done).is_(False))
                           .order_by(col(JiraChange.id))).first()
        if row is None:
            return None
        if row.next_attempt_at > self.clock().astimezone(UTC):
            return "wait"  # in order: nothing after it goes first
        pending = Pending(_id(row), row.ticket_id, row.kind, dict(row.payload), row.attempts)
        row.attempts += 1
        session.add(row)
        return pending

    def _mark(self, session: Session, row: Pending, dead: str | None) -> None:
        self._ours(session)
        r = session.get(JiraChange, row.id)
        if r is None:
            return
        r.done = True
        r.dead = dead is not None
        r.last_error = dead
        session.add(r)

    def _later(self, session: Session, row: Pending, exc: JiraError) -> None:
        r = session.get(JiraChange, row.id)
        if r is None:
            return
        now = self.clock().astimezone(UTC)
        if exc.kind == "rate" and exc.retry_after is not None:
            wait = exc.retry_after
        elif exc.kind == "auth":
            wait = min(self.backoff_max, 300.0)
        else:
            wait = min(self.backoff_max, 2.0 ** min(row.attempts, 10))
        r.next_attempt_at = now + timedelta(seconds=wait)
        r.last_error = str(exc)
        session.add(r)

    # ----- applying one change ----------------------------------------------------------
    async def _apply(self, row: Pending) -> None:
        p = row.payload
        key = await self._issue(row)
        kind = row.kind
        if kind == "opened":
            return
        if kind in ("moved", "reopened", "closed"):
            await self._transition(key, TicketState(str(p["state"])))
        if kind == "assigned":
            account = self._assignee_account(str(p.get("assignee", "")))
            if account:
                await self.client.assign(key, account)
        text = self._comment_text(row)
        if text:
            await self._comment(row, key, text)

    def _assignee_account(self, assignee: str) -> str:
        name = assignee.removeprefix("GISC ").strip()
        return self._account(name) if name else ""

    def _comment_text(self, row: Pending) -> str:
        """The comment written in WIS2 IMS: English, the language of the WIS2 IMS board
        (JIRA issue bodies and comments are read by WMO's systems and every GISC)."""
        p = row.payload
        actor = str(p.get("actor", ""))
        try:
            who = self.directory.contact(actor).name
        except NotFound:
            who = actor or "wisbot"
        text = str(p.get("text", ""))
        state = TicketState(str(p["state"]))
        if row.kind == "reminder":
            return (f"Reminder from the GISC Watch on duty: this ticket has had {text}. "
                    "Please update it (progress, or close it with the evidence).")
        if row.kind in ("moved", "reopened", "closed"):
            head = f"{who}: {STATE_WORDS[state]}"
            return f"{head} – {text}" if text and not text.startswith("moved to") else ""
        if row.kind == "assigned":
            return f"{who}: assigned to {text}"
        return f"{who}: {text}" if text else ""

    async def _issue(self, row: Pending) -> str:
        """The ticket's issue key: linked, found by its label, or created now."""
        link = await self.store.tx(lambda s: s.get(JiraLink, row.ticket_id))
        if link is not None:
            return link.issue_key
        first = await self.store.tx(lambda s: s.exec(select(JiraChange).where(
            JiraChange.ticket_id == row.ticket_id).order_by(col(JiraChange.id))).first())
        p = first.payload if first is not None and first.kind == "opened" else row.payload
        centre, alert_summary = await self.store.tx(
            lambda s: self._centre(s, row.ticket_id, str(p["subject"])))
        found = await self.client.search(
            f'project = "{self.settings.jira_project}" AND labels = "{self.label(row.ticket_id)}"',
            "status,assignee")
        issues = found.get("issues", [])
        if issues:
            key = str(issues[0]["key"])
        else:
            created = await self.client.create(self.fields(row.ticket_id, centre, dict(p),
                                                           alert_summary))
            key = str(created["key"])
            log.info("JIRA: W-%d created as %s", row.ticket_id, key)
        assignee = self.assignee_for(centre, str(p["subject"]))
        if assignee:
            try:
                await self.client.assign(key, assignee)
            except JiraError as exc:
                if exc.kind != "refused":
                    raise
                log.warning("JIRA: %s cannot be assigned to %s: %s", key, assignee, exc)
        watcher = str(p.get("watcher") or "")
        if watcher:
            try:
                await self.client.add_watcher(key, watcher)
            except JiraError as exc:
                if exc.kind != "refused":
                    raise
                log.warning("JIRA: %s cannot be watched by %s: %s", key, watcher, exc)

        def link_it(session: Session) -> None:
            self._ours(session)
            if session.get(JiraLink, row.ticket_id) is None:
                session.add(JiraLink(ticket_id=row.ticket_id, issue_key=key,
                                     status=STATUS[TicketState.TRIAGE], assignee=assignee,
                                     seen_comments=[]))
                ticket = session.get(WatchTicket, row.ticket_id)
                gisc = next((g.name for g in self.directory.giscs
                             if assignee and g.jira_account == assignee), None)
                if ticket is not None and gisc and not ticket.assignee:
                    ticket.assignee = f"GISC {gisc}"  # as JIRA has it (still in TRIAGE)
                    session.add(ticket)

        await self.store.tx(link_it)
        return key

    async def _transition(self, key: str, to: TicketState) -> None:
        target = STATUS[to]
        issue = await self.client.get(key, "status")
        current = str(issue.get("fields", {}).get("status", {}).get("name", ""))
        if current.upper() != target:
            options = await self.client.transitions(key)
            match = next((t for t in options if str(t.get("to", {}).get("name", "")).upper()
                          == target), None)
            if match is None:
                raise JiraError("refused", f"{key}: the workflow has no transition from "
                                           f"{current} to {target}")
            await self.client.transition(key, str(match["id"]))

        def note(session: Session) -> None:
            link = session.exec(select(JiraLink).where(JiraLink.issue_key == key)).first()
            if link is not None:
                link.status = target
                session.add(link)

        await self.store.tx(note)

    async def _comment(self, row: Pending, key: str, text: str) -> None:
        marker = f"(wisbot W-{row.ticket_id} #{row.id})"
        if row.attempts > 0:  # the last try may have posted it
            for c in await self.client.comments(key):
                if marker in str(c.get("body", "")):
                    await self._seen(key, str(c.get("id")))
                    return
        made = await self.client.add_comment(key, f"{text}\n\n{marker}")
        await self._seen(key, str(made.get("id", "")))

    async def _seen(self, key: str, comment_id: str) -> None:
        def work(session: Session) -> None:
            link = session.exec(select(JiraLink).where(JiraLink.issue_key == key)).first()
            if link is not None and comment_id and comment_id not in link.seen_comments:
                link.seen_comments = [*link.seen_comments, comment_id]
                session.add(link)

        await self.store.tx(work)

    # ----- reading JIRA back ---------------------------------------------------------------
    async def poll(self) -> int:
        """Read the issues updated since the last poll; returns how many changes came in."""
        def since_of(session: Session) -> datetime | None:
            lease = session.get(JiraLease, LEASE)
            return lease.polled_at if lease is not None else None

        started = self.clock().astimezone(UTC)
        since = await self.store.tx(since_of) or started - timedelta(days=30)
        # JQL times are minutes in the account's zone: two minutes' margin, UTC account
        jql = (f'project = "{self.settings.jira_project}" AND labels = '
               f'"{self.settings.jira_label}" AND updated >= '
               f'"{(since - timedelta(minutes=2)):%Y/%m/%d %H:%M}" ORDER BY updated ASC')
        changed = 0
        start = 0
        while True:
            await self._check()
            page = await self.client.search(jql, "status,assignee,comment,labels,updated",
                                             start)
            issues = page.get("issues", [])
            for issue in issues:
                changed += await self.store.tx(functools.partial(self._read_back,
                                                                 issue=issue))
            start += len(issues)
            if not issues or start >= int(page.get("total", 0)):
                break

        def done(session: Session) -> None:
            self._ours(session)
            lease = session.get(JiraLease, LEASE)
            if lease is not None:
                lease.polled_at = started
                session.add(lease)
            session.execute(delete(JiraChange).where(  # refused ones stay for the operator
                col(JiraChange.done).is_(True), col(JiraChange.dead).is_(False),
                col(JiraChange.created_at) < started - KEEP_DONE))

        await self.store.tx(done)
        return changed

    def _read_back(self, session: Session, issue: dict[str, Any]) -> int:
        self._ours(session)
        key = str(issue.get("key", ""))
        link = session.exec(select(JiraLink).where(JiraLink.issue_key == key)).first()
        if link is None:
            return 0
        ticket = session.get(WatchTicket, link.ticket_id)
        if ticket is None:
            return 0
        f = issue.get("fields") or {}
        now = self.clock().astimezone(UTC)
        changes = 0
        status = str((f.get("status") or {}).get("name", "")).upper()
        state = FROM_STATUS.get(status)
        if state is not None and status != link.status:
            link.status = status
            if ticket.state != state.value:
                was_done = ticket.state == TicketState.DONE.value
                ticket.state = state.value
                ticket.closed_at = now if state is TicketState.DONE else None
                if ticket.responded_at is None and state is not TicketState.TRIAGE:
                    ticket.responded_at = now
                kind = "closed" if state is TicketState.DONE else \
                    "reopened" if was_done else "moved"
                self._event(session, ticket, f"{JIRA_ACTOR}{key}", kind,
                            f"moved to {STATE_WORDS[state]} in WIS2 IMS")
                self.watch._tell(session, ticket, _moved_in_ims(STATE_WORDS[state], key))
                changes += 1
        who = f.get("assignee") or {}
        account = str(who.get("name") or who.get("key") or "")
        if account and account != link.assignee:
            link.assignee = account
            gisc = next((g.name for g in self.directory.giscs if g.jira_account == account),
                        None)
            shown = f"GISC {gisc}" if gisc else str(who.get("displayName") or account)
            if ticket.assignee != shown:
                ticket.assignee = shown[:128]
                self._event(session, ticket, f"{JIRA_ACTOR}{key}", "assigned", shown)
                self._tell_text(session, ticket, _assigned_in(key), _assigned_to(shown))
                changes += 1
        comments = ((f.get("comment") or {}).get("comments")) or []
        seen = list(link.seen_comments)
        for c in comments:
            cid = str(c.get("id", ""))
            if not cid or cid in seen:
                continue
            seen.append(cid)
            body = str(c.get("body", ""))
            if self._ours_unseen(session, body, link.ticket_id):
                continue
            author = c.get("author") or {}
            name = str(author.get("displayName") or author.get("name") or "someone")
            self._event(session, ticket, f"{JIRA_ACTOR}{name}"[:128], "note", body[:2000])
            self._tell_text(session, ticket,
                            _commented(key), f"{name}: {body[:500]}")
            changes += 1
        link.seen_comments = seen
        session.add(link)
        if changes:
            ticket.last_activity_at = now
            session.add(ticket)
        return changes

    @staticmethod
    def _ours_unseen(session: Session, body: str, ticket_id: int) -> bool:
        """One of wisbot's comments whose id was not recorded (a crash after posting):
        it ends with the marker of one of this ticket's changes. A person quoting it has
        the marker inside the text, so their comment is still read."""
        m = MARKER.search(body.rstrip()[-40:])
        if m is None or not body.rstrip().endswith(m.group(0)):
            return False
        ticket, change = (int(x) for x in re.findall(r"\d+", m.group(0)))
        row = session.get(JiraChange, change)
        return ticket == ticket_id and row is not None and row.ticket_id == ticket_id

    def _tell_text(self, session: Session, ticket: WatchTicket, headline: str,
                   text: str) -> None:
        """Tell the ticket's rooms, each in its language; ``text`` came from JIRA's people,
        shown as user text (never a mention or markup)."""
        now = self.clock().astimezone(UTC)
        replies: dict[str, Reply] = {}
        deliveries = []
        for room in self.watch._ticket_rooms(session, ticket, now):
            lang = room_language(room)
            if lang not in replies:
                with i18n.use(lang):
                    base = self.watch._ticket_reply(ticket, headline)
                    shown = text.text() if isinstance(text, Words) else text
                    replies[lang] = base.model_copy(
                        update={"lines": (*base.lines, (user(shown),))})
            deliveries.append((room, replies[lang]))
        notify(session, kind="watch-ticket", now=now, incident_id=None, deliveries=deliveries)

    def _event(self, session: Session, ticket: WatchTicket, actor: str, kind: str,
               text: str) -> None:
        session.add(WatchTicketEvent(ticket_id=_id(ticket), at=self.clock().astimezone(UTC),
                                     actor=actor[:128], kind=kind, text=text))

    # ----- running ---------------------------------------------------------------------------
    def start(self, interval: float = 5.0) -> None:
        async def loop() -> None:
            while True:
                self._wake.clear()  # before the pass: a change queued during it wakes us
                try:
                    await self.tick()
                except Exception:
                    log.exception("JIRA mirror pass failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), interval)

        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(loop(), name="jira-mirror")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._loop = None
        await self.release()
        await self.client.close()


def _id(obj: Any) -> int:
    value = obj.id if not isinstance(obj, int) else obj
    assert isinstance(value, int)
    return value


# Told to a ticket's rooms, each in its language (WIS2 IMS keys and names isolated in
# right-to-left text).
def _assigned_in(key: str) -> Words:
    return Words(lambda: _t("assigned in WIS2 IMS ({key})", key=i18n.iso(key)))


def _assigned_to(who: str) -> Words:
    return Words(lambda: _t("assigned to {who}", who=theirs(who)))


def _commented(key: str) -> Words:
    return Words(lambda: _t("comment in WIS2 IMS ({key})", key=i18n.iso(key)))


def counts_by_status(tickets: list[WatchTicket]) -> dict[str, int]:
    """Ticket counts under the WIS2 IMS status names (TRIAGE first: it should be zero)."""
    out = {name: 0 for name in STATUS.values()}
    for t in tickets:
        out[STATUS[TicketState(t.state)]] += 1
    return out


def _moved_in_ims(state: str, key: str) -> Words:
    return Words(lambda: _t("moved to {state} in WIS2 IMS ({key})", state=state,
                            key=theirs(key)))
