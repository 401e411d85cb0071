"""On-call paging and escalation to the 1-hour target.

A :class:`~wisbot.services.notify.ResponseRequest` (a severe incident, a query, a watch
handover) becomes one **page** per target role, created inside the caller's transaction:
a page exists if and only if the change that asked for it committed. A page has one row
per escalation step (``page_step.due_at``); :meth:`PagingService.tick` claims pages with a
due step (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already
serialises writers) and fires each due step in the same transaction as everything it
sends (direct-message outbox rows, e-mail and webhook delivery rows, Secretariat alerts),
so a step fires exactly once across restarts and processes.

Confidentiality: the page's message is the one the incident service rendered for the
role's visibility; it is stored once and every channel sends exactly that, never a
re-rendering.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.adapters.base import MessageRef
from wisbot.clock import Clock
from wisbot.directory import Directory, Room
from wisbot.domain.audience import holds_role, may_be_paged, role_sees
from wisbot.domain.confidentiality import Exposure, Vis
from wisbot.domain.numbers import whole_number
from wisbot.domain.paging import (
    DEFAULT_STEPS,
    TARGET,
    Action,
    Override,
    Step,
    format_duration,
    next_change,
    parse_steps,
    parse_when,
    resolve_chain,
)
from wisbot.domain.reach import Unreachable, chat_reachable, unreachable
from wisbot.domain.tlp import Tlp, strictest, strip_label
from wisbot.errors import InvalidState, NotAllowed, NotFound, UsageError
from wisbot.i18n import _ as _t
from wisbot.reply import Action as ReplyAction
from wisbot.reply import Reply, ReplyBuilder, Span, bold, user
from wisbot.services.context import Caller
from wisbot.services.incidents import QUERY_RE, parse_number
from wisbot.services.languages import person_language, room_language
from wisbot.services.notify import ResponseRequest, notify
from wisbot.services.render import (
    exposure,
    incident_reply,
    incident_tlp,
    role_words,
    timeline_msg,
    word,
)
from wisbot.store.engine import Store
from wisbot.store.paging_tables import (
    OnCallOverrideRow,
    Page,
    PageDelivery,
    PageStep,
    ServiceHour,
)
from wisbot.store.tables import Incident, Notification, OutboxRow, TimelineEntry

log = logging.getLogger(__name__)
PAGE_RE_PREFIX = "P-"
MAX_OVERRIDE = timedelta(days=92)
REMINDER_LINES = 3
"""Lines of the page's message a reminder (repeat, next) keeps."""
ESCALATE_GAP = timedelta(minutes=1)
"""An escalation within this long of a page's last step fires nothing more."""
ESCALATE_INTERVAL = timedelta(minutes=5)
"""An incident's ``escalate`` fires one step per page at most this often: a few quick
calls do not skip the whole schedule (nor the hour to the target)."""


def parse_page_id(text: str) -> int | None:
    t = text.strip().upper()
    return whole_number(t[2:]) if t.startswith(PAGE_RE_PREFIX) else None


def role_label(role: str) -> str:
    kind, _, name = role.partition(":")
    if kind == "secretariat":
        return "the WMO Secretariat"
    if kind == "gisc":
        return f"GISC {name}"
    if kind == "member":
        return f"Member {name}"
    return role


def english_duration(seconds: float) -> str:
    """A duration as the stored (English) timeline text says it, whoever acknowledged."""
    with i18n.use("en"):
        return format_duration(seconds)


def hhmm(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Channels:
    """Which extra channels a step uses besides the direct message."""

    email: bool = False
    webhook_url: str | None = None


class PagingService:
    def __init__(self, store: Store, directory: Directory, clock: Clock, *,
                 steps: str | Sequence[Step] = DEFAULT_STEPS, channels: Channels = Channels(),
                 batch: int = 200, holder: str | None = None) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock
        self.steps: tuple[Step, ...] = parse_steps(steps) if isinstance(steps, str) \
            else tuple(steps)
        self.channels = channels
        self.batch = batch
        self.holder = holder or f"p-{secrets.token_hex(6)}"
        self._last_hour: datetime | None = None
        self.platforms: frozenset[str] | None = None
        """The chat platforms this deployment delivers on (the running adapters); a
        contact with no address on any of them is skipped at once. ``None``: unknown,
        everyone counts as reachable."""
        self.on_fired: list[Any] = []
        """Callbacks run (without arguments) after a transaction that fired steps commits."""
        self.cards: dict[str, Callable[[Session, str], Reply | None]] = {}
        """By page kind: renders the card of a page's ref again in the current language
        (e.g. ``handover``: the GISC Watch), so each person paged reads their own; None
        keeps the stored card."""

    # ----- on-call resolution ---------------------------------------------------------
    def chain_at(self, session: Session, role: str, at: datetime) -> list[str]:
        chain, rotations, overrides = self.directory.oncall_rules(role)
        return resolve_chain(at, chain, rotations, [*overrides, *self._db_overrides(session,
                                                                                    role)])

    def _db_overrides(self, session: Session, role: str) -> list[Override]:
        rows = session.exec(select(OnCallOverrideRow).where(
            OnCallOverrideRow.role == role, col(OnCallOverrideRow.removed_at).is_(None))).all()
        return [Override(r.contact, r.start, r.end) for r in rows]

    # ----- the hook -------------------------------------------------------------------
    def on_response(self, session: Session, request: ResponseRequest) -> None:
        """Create the pages of ``request`` in the caller's transaction and fire step 0."""
        incident_id: int | None = None
        if request.kind == "incident":
            inc = session.exec(select(Incident).where(Incident.number == request.ref)).first()
            incident_id = inc.id if inc is not None else None
        for role, reply in request.targets:
            try:
                role = self.directory.oncall_role(role)
            except NotFound:
                log.warning("paging: %s names unknown role %s", request.ref, role)
            self._open_page(session, kind=request.kind, ref=request.ref,
                            incident_id=incident_id, role=role, reply=reply, at=request.at)

    def _open_page(self, session: Session, *, kind: str, ref: str, incident_id: int | None,
                   role: str, reply: Reply, at: datetime) -> Page | None:
        existing = session.exec(select(Page).where(Page.ref == ref, Page.role == role,
                                                   Page.status == "open")).first()
        if existing is not None:
            return None
        chain = self.chain_at(session, role, at)
        page = Page(kind=kind, ref=ref, incident_id=incident_id, role=role,
                    payload=reply.model_dump(mode="json"), chain=chain, pos=0,
                    status="open", created_at=at, target_at=at + TARGET,
                    next_due_at=at)
        session.add(page)
        session.flush()
        for i, step in enumerate(self.steps):
            session.add(PageStep(page_id=_pid(page), seq=i, action=step.action.value,
                                 due_at=at + step.after))
        session.flush()
        self._fire_due(session, page, self.clock())
        return page

    # ----- the scheduler's work -------------------------------------------------------
    async def tick(self) -> int:
        """Fire every step due now; the number fired."""
        total = 0
        while True:
            fired, more = await self.store.tx(self.tick_once)
            total += fired
            if not more:
                break
        if total:
            for callback in self.on_fired:
                callback()
        return total

    def tick_once(self, session: Session) -> tuple[int, bool]:
        """One transaction: claim up to ``batch`` pages with a due step and fire them."""
        now = self.clock()
        self._heartbeat(session, now)
        q = (select(Page).where(Page.status == "open", col(Page.next_due_at) <= now)
             .order_by(col(Page.next_due_at), col(Page.id)).limit(self.batch))
        if not self.store.sqlite:
            q = q.with_for_update(skip_locked=True)
        pages = session.exec(q).all()
        fired = 0
        for page in pages:
            fired += self._fire_due(session, page, now)
        return fired, len(pages) == self.batch

    def _heartbeat(self, session: Session, now: datetime) -> None:
        hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if hour == self._last_hour:
            return
        if session.get(ServiceHour, hour) is None:
            nested = session.begin_nested()
            try:
                session.add(ServiceHour(hour=hour))
                session.flush()
                nested.commit()
            except Exception:
                nested.rollback()
        self._last_hour = hour

    def _pending(self, session: Session, page: Page) -> list[PageStep]:
        return list(session.exec(select(PageStep).where(PageStep.page_id == page.id,
                                                        PageStep.status == "pending")
                                 .order_by(col(PageStep.seq))).all())

    def _fire_due(self, session: Session, page: Page, now: datetime) -> int:
        fired = 0
        pending = self._pending(session, page)
        with session.no_autoflush:
            for step in pending:
                if step.due_at > now or page.status != "open":
                    break
                self._fire(session, page, step, now)
                fired += 1
        rest = [s for s in pending[fired:] if s.status == "pending"]
        page.next_due_at = rest[0].due_at if rest and page.status == "open" else None
        session.add(page)
        return fired

    def _last_fired(self, session: Session, page: Page) -> datetime | None:
        return session.exec(select(func.max(PageStep.fired_at)).where(
            PageStep.page_id == page.id, PageStep.status == "fired")).one()

    def _reschedule(self, session: Session, page: Page) -> None:
        pending = self._pending(session, page) if page.status == "open" else []
        page.next_due_at = pending[0].due_at if pending else None
        session.add(page)

    def _fire(self, session: Session, page: Page, step: PageStep, now: datetime) -> None:
        inc: Incident | None = None
        if page.incident_id is not None:
            inc = session.get(Incident, page.incident_id)
            if inc is not None and inc.status != "open":
                self._stop(session, page, f"incident {inc.status}")
                return
            if inc is not None and not self._refresh_for_role(session, page, inc):
                return
        action = Action(step.action)
        contacts: list[str] = []
        note: Notification | None = None
        if action in (Action.PAGE, Action.REPEAT, Action.NEXT):
            exp = exposure(inc) if inc is not None else None
            skipped: list[Unreachable] = []
            gap_of = self._gap_for(page)
            walk = page.chain and not (action is Action.NEXT
                                       and page.pos + 1 >= len(page.chain))
            lost_role = False
            if walk:
                start = page.pos + 1 if action is Action.NEXT else min(page.pos,
                                                                        len(page.chain) - 1)
                # A contact nobody can reach is passed over at once: waiting for the next
                # step would spend half the hour on a page that cannot arrive.
                for pos in range(start, len(page.chain)):
                    cid = page.chain[pos]
                    # The chain was fixed when the page opened: a contact who lost the
                    # role since (a directory reload) is no longer paged.
                    if not self._may_be_paged(cid, page.role, exp):
                        if action is Action.NEXT:
                            page.pos = pos
                        lost_role = True
                        break
                    gap = gap_of(cid)
                    if gap is None:
                        page.pos = pos
                        contacts = [cid]
                        break
                    skipped.append(gap)
            if not contacts and not lost_role and page.chain:
                # chain exhausted (or nobody reachable after the current contact):
                # everyone on it again, whoever can be reached
                every = [c for c in page.chain if self._may_be_paged(c, page.role, exp)]
                seen = {g.contact.id for g in skipped}
                for cid in every:
                    gap = gap_of(cid)
                    if gap is None:
                        contacts.append(cid)
                    elif cid not in seen:
                        skipped.append(gap)
            if skipped:
                self._record_skips(session, page, step, skipped, contacts, now)
            if contacts:
                note = self._send_page(session, page, step, contacts, now)
            elif skipped:
                note = self._alert(session, page, now, lambda: (
                    _t("nobody on call can be reached"),
                    _t("{ref} for {role} could not be sent: nobody on its on-call chain can "
                       "be reached.", ref=_ref(page), role=role_words(page.role)) + " "
                    + " ".join(f"{g.contact.id}: {g.missing}; {g.fix}." for g in skipped)))
            else:
                note = self._alert(session, page, now, lambda: (
                    _t("nobody is on call"),
                    _t("{ref} for {role} could not be sent: the role has nobody on call. Set "
                       "an on-call chain or `escalate override`.", ref=_ref(page),
                       role=role_words(page.role))))
        elif action is Action.SECRETARIAT:
            page.secretariat_alerted_at = now
            left = page.target_at - now
            note = self._alert(session, page, now, lambda: (
                _t("1-hour target at risk"),
                _t("{ref} to {role} about {about} is not acknowledged after {after}; the "
                   "1-hour target ends in {left} ({at}).", ref=_ref(page),
                   role=role_words(page.role), about=page.ref,
                   after=format_duration((now - page.created_at).total_seconds()),
                   left=format_duration(max(left.total_seconds(), 0)),
                   at=hhmm(page.target_at))))
        elif action is Action.MISSED:
            page.missed_at = now
            note = self._alert(session, page, now, lambda: (
                _t("1-hour target missed"),
                _t("{ref} to {role} about {about} was not acknowledged within the 1-hour "
                   "target; recorded for the service report.", ref=_ref(page),
                   role=role_words(page.role), about=page.ref)))
            if page.incident_id is not None:
                # ``text``: the English as stored before (exports, old readers); ``data``:
                # the message the timeline renders in each reader's language.
                session.add(TimelineEntry(incident_id=page.incident_id, at=now, actor="wisbot",
                                          kind="target-missed",
                                          text=f"{_ref(page)} ({role_label(page.role)}) not "
                                               "acknowledged within 1 hour",
                                          data=timeline_msg("target-missed", ref=_ref(page),
                                                            role=page.role)))
        step.status = "fired"
        step.fired_at = now
        step.fired_by = self.holder
        step.contacts = contacts
        step.notification_id = note.id if note is not None else None
        session.add(step)
        session.add(page)

    def _refresh_for_role(self, session: Session, page: Page, inc: Incident) -> bool:
        """Re-render an incident page for what its role may read now: sharing may have
        been narrowed or anonymised since the page was opened. False: the role may no
        longer see the incident, and the page is stopped."""
        vis = role_sees(page.role, exposure(inc))
        if vis is Vis.NONE:
            self._stop(session, page, "no longer shared with this role")
            return False
        page.payload = incident_reply(self.directory, inc, vis,
                                      "needs your response").model_dump(mode="json")
        return True

    def _gap_for(self, page: Page) -> Callable[[str], Unreachable | None]:
        def gap(contact_id: str) -> Unreachable | None:
            if self.platforms is None:
                return None
            try:
                contact = self.directory.contact(contact_id)
            except NotFound:
                return None
            return unreachable(contact, page.role, self.platforms, email=self.channels.email)
        return gap

    def _record_skips(self, session: Session, page: Page, step: PageStep,
                      skipped: list[Unreachable], paged: list[str], now: datetime) -> None:
        """Who was passed over and why, on the step (evidence) and the incident's timeline."""
        step.skipped = [{"contact": g.contact.id, "missing": g.missing, "fix": g.fix}
                        for g in skipped]
        then = (f"{', '.join(paged)} paged at once" if paged
                else "nobody else on the chain can be reached")
        for g in skipped:
            log.warning("paging: %s skipped %s: %s; fix: %s", _ref(page), g.contact.id,
                        g.missing, g.fix)
        if page.incident_id is not None:
            session.add(TimelineEntry(
                incident_id=page.incident_id, at=now, actor="wisbot", kind="page-skipped",
                text=f"{_ref(page)} ({role_label(page.role)}): "
                     + "; ".join(f"{g.contact.id} skipped ({g.missing})" for g in skipped)
                     + f"; {then}",
                data=timeline_msg("page-skipped", ref=_ref(page), role=page.role,
                                  skipped=[{"contact": g.contact.id, "missing": g.missing}
                                           for g in skipped],
                                  paged=list(paged))))

    def _may_be_paged(self, contact_id: str, role: str, exp: Exposure | None) -> bool:
        try:
            contact = self.directory.contact(contact_id)
        except NotFound:
            return False
        return may_be_paged(self.directory, contact, role, exp)

    def _page_reply(self, page: Page, step: PageStep, base: Reply | None = None) -> Reply:
        """The page message in the current language (``base``: its card, already in it)."""
        base = base if base is not None else Reply.model_validate(page.payload)
        action = Action(step.action)
        intro = {Action.PAGE: _t("You are on call for {role}"),
                 Action.REPEAT: _t("Reminder: you are on call for {role}"),
                 Action.NEXT: _t("Escalated to you: you are next on call for {role}")}.get(
            action, _t("You are on call for {role}"))
        # The one acknowledgement instruction is the action below: each surface shows it
        # once, its own way (a button, a line naming ✅ and the command).
        header: tuple[Span, ...] = (
            bold(f"{_ref(page)}: "),
            Span(text=intro.format(role=i18n.iso(role_words(page.role)))),
            Span(text=_t(" — 1-hour target {when}.", when=i18n.when(page.target_at))),
        )
        title = f"{_ref(page)} · {strip_label(base.title or page.ref)}"
        if base.tlp is not None:  # the label stays the first token of the page
            title = f"{base.tlp} {title}"
        if page.kind == "drill":  # first in every surface and the e-mail subject
            title = f"DRILL {title}"
            header = (bold("DRILL "), *header)
        lines = list(base.lines)
        fields = base.fields
        if action in (Action.REPEAT, Action.NEXT):
            # A reminder stays short: the first page, or `incident show`, has the rest.
            fields = tuple(f for f in fields if f[0] in (_t("Centre"), _t("Severity")))
            lines = lines[:REMINDER_LINES]
        if page.incident_id is not None:
            lines.append((Span(text=_t("Details and timeline: ")),
                          Span(text=f"incident show {page.ref}", style="code")))
        elif action in (Action.REPEAT, Action.NEXT) and len(base.lines) > REMINDER_LINES:
            lines.append((Span(text=_t("({n} more lines in the first page of {page}.)",
                                       n=len(base.lines) - REMINDER_LINES, page=_ref(page))),))
        return base.model_copy(update={
            "title": title, "lines": (header, *lines), "fields": fields, "kind": "page",
            "ref": _ref(page),
            "actions": (*base.actions, ReplyAction(label=_t("Acknowledge"),
                                                   command=f"ack {_ref(page)}")),
            "private": False, "lang": i18n.current(),
        })

    def _card_in(self, session: Session, page: Page, language: str) -> Reply:
        """The page's card in ``language``: an incident card is rendered again (for what
        the stored one shows, named or anonymised), so is a drill's, and a kind with a
        renderer in :attr:`cards` by it; others are as stored. Called inside
        ``i18n.use(language)``."""
        base = Reply.model_validate(page.payload)
        if page.kind == "drill" and (base.lang or "en") != language:
            from wisbot.services.continuity import drill_card  # (continuity pages through us)

            return drill_card(page.ref)
        card = self.cards.get(page.kind)
        if card is not None:
            with i18n.use(language):
                again = card(session, page.ref)
            if again is not None:
                return again
        if (base.lang or "en") == language or page.incident_id is None \
                or base.kind != "incident" or not base.reveals:
            return base
        inc = session.get(Incident, page.incident_id)
        if inc is None:
            return base
        vis = Vis.NAMED if base.reveals[0].named else Vis.ANONYMOUS
        return incident_reply(self.directory, inc, vis, "needs your response")

    def _send_page(self, session: Session, page: Page, step: PageStep, contacts: list[str],
                   now: datetime) -> Notification:
        # Each person reads the page (and its e-mail) in their own language. A contact
        # reached only by e-mail gets no direct message (it would be a dead letter).
        replies: dict[str, Reply] = {}
        mine: dict[str, Reply] = {}
        for cid in contacts:
            lang = person_language(session, self.directory, cid)
            if lang not in replies:
                with i18n.use(lang):
                    replies[lang] = self._page_reply(page, step,
                                                     self._card_in(session, page, lang))
            mine[cid] = replies[lang]
        with i18n.use(None):
            reply = self._page_reply(page, step, self._card_in(session, page, i18n.default()))
        note = notify(session, kind="page", now=now, incident_id=page.incident_id,
                      deliveries=[], direct=[(c, mine[c]) for c in contacts if self._chats(c)])
        body = reply.model_dump(mode="json")
        for cid in contacts:
            try:
                contact = self.directory.contact(cid)
            except NotFound:
                continue
            if self.channels.email and contact.email:
                session.add(PageDelivery(
                    page_id=_pid(page), step_id=_sid(step), key=f"{_ref(page)}.{step.seq}."
                    f"email.{cid}"[:128], channel="email", contact_id=cid,
                    address=contact.email, payload=mine[cid].model_dump(mode="json"),
                    next_attempt_at=now, created_at=now))
        if self.channels.webhook_url:
            hook = {"page": _ref(page), "step": step.seq, "action": step.action,
                    "drill": page.kind == "drill", "role": page.role, "ref": page.ref,
                    "contacts": contacts,
                    "created_at": page.created_at.isoformat(),
                    "target_at": page.target_at.isoformat(), "message": body,
                    "text": reply.plain(), "tlp": reply.tlp}
            session.add(PageDelivery(
                page_id=_pid(page), step_id=_sid(step), key=f"{_ref(page)}.{step.seq}.webhook",
                channel="webhook", contact_id=None, address=self.channels.webhook_url,
                payload=hook, next_attempt_at=now, created_at=now))
        return note

    def _chats(self, contact_id: str) -> bool:
        if self.platforms is None:
            return True
        try:
            return chat_reachable(self.directory.contact(contact_id), self.platforms)
        except NotFound:
            return True

    def _secretariat_rooms(self) -> list[Room]:
        return self.directory.rooms_with_role("secretariat")

    def _alert(self, session: Session, page: Page, now: datetime,
               words: Callable[[], tuple[str, str]]) -> Notification:
        """An alert to the Secretariat's rooms, each in its language (``words``: the
        headline and text, rendered in the current language)."""
        tlp = _pages_tlp(session, [page])

        def render() -> Reply:
            headline, text = words()
            if page.kind == "drill":
                headline = f"DRILL {page.ref} – {headline}"
            b = ReplyBuilder(f"{_ref(page)} – {headline}", kind="alert", tlp=tlp)
            b.ref = _ref(page)
            b.line(text)
            # No button or reaction here: acknowledging another role's page is deliberate.
            b.line(_t("To acknowledge it on {role_label}'s behalf, type ",
                      role_label=role_words(page.role)),
                   Span(text=f"ack {_ref(page)}", style="code"), ".")
            return b.build()

        deliveries = []
        for room in self._secretariat_rooms():
            with i18n.use(room_language(room)):
                deliveries.append((room, render()))
        return notify(session, kind="page-alert", now=now, incident_id=page.incident_id,
                      deliveries=deliveries)

    def settle(self, session: Session, ref: str, reason: str, *,
               kind: str | None = None) -> int:
        """Stop every open page about ``ref`` (answered elsewhere, e.g. a watch handover
        accepted with ``watch accept``; ``kind``: only pages of that kind); returns how
        many were stopped."""
        q = select(Page).where(Page.ref == ref, Page.status == "open")
        if kind is not None:
            q = q.where(Page.kind == kind)
        pages = session.exec(q).all()
        for page in pages:
            self._stop(session, page, reason)
        return len(pages)

    def _stop(self, session: Session, page: Page, reason: str) -> None:
        page.status = "stopped"
        page.stopped_reason = reason
        page.next_due_at = None
        session.execute(update(PageStep).where(col(PageStep.page_id) == page.id,
                                               col(PageStep.status) == "pending")
                        .values(status="skipped"))
        session.add(page)

    # ----- acknowledge ----------------------------------------------------------------
    def _own_page(self, session: Session, caller: Caller, page: Page, now: datetime) -> bool:
        """The page is of the caller's own role: it paged them, or pages their role."""
        cid = caller.contact.id
        if cid in page.chain or cid in self.chain_at(session, page.role, now):
            return True
        return page.role.casefold() in {r.casefold() for r in caller.contact.roles}

    def _may_ack(self, session: Session, caller: Caller, page: Page, now: datetime,
                 *, own_only: bool) -> bool:
        """``own_only``: an acknowledgement that names no page (an incident or query
        number, a reaction, a button) acts only on pages of the caller's own role; the
        Secretariat acknowledges another role's page only by its number, deliberately."""
        if self._own_page(session, caller, page, now):
            return True
        return caller.is_secretariat and not own_only

    def _lock(self, q: Any) -> Any:
        return q if self.store.sqlite else q.with_for_update()

    async def ack(self, caller: Caller, ref: str, *, own_only: bool = False) -> Reply:
        """``ack P-3`` (a page by its number), ``ack WIS-SEC-2026-7`` / ``ack Q-2`` (the
        caller's own pages of it). A page the caller may not acknowledge reads exactly as
        one that does not exist."""
        def work(session: Session) -> Reply:
            now = self.clock()
            by_number = parse_page_id(ref) is not None
            pages = self._pages_for(session, caller, ref)
            allowed = [p for p in pages if self._may_ack(session, caller, p, now,
                                                          own_only=own_only or not by_number)]
            mine = [p for p in allowed if p.status == "open"]
            if not mine:
                acked = [p for p in allowed if p.status == "acked"]
                if acked:
                    p = acked[0]
                    raise InvalidState(_t("{ref} was already acknowledged by {name} at {hhmm}",
                                          ref=_ref(p), name=self._name(p.acked_by),
                                          hhmm=hhmm(p.acked_at or now)))
                raise NotFound(_no_page(ref))
            return self._acknowledge(session, caller, mine, now)

        return await self.store.tx(work)

    async def ack_by_message(self, caller: Caller, message: MessageRef | str) -> Reply:
        """A reaction (✅) or a reply on a message wisbot sent: it acknowledges only when
        that message is a page, and only the page of the caller's own role. On anything
        else (an incident notice, a Secretariat alert) it acts on nothing and the reply
        is a private hint (``kind="hint"``: an adapter may leave it unsent)."""
        message_id = message.id if isinstance(message, MessageRef) else message

        def work(session: Session) -> Reply:
            row = session.exec(select(OutboxRow).where(OutboxRow.message_id == message_id)
                               ).first()
            payload = row.payload if row is not None else {}
            ref = payload.get("ref") if isinstance(payload, dict) else None
            page_id = parse_page_id(ref) if isinstance(ref, str) else None
            if row is None or payload.get("kind") != "page" or page_id is None:
                return _ack_hint()
            now = self.clock()
            page = session.exec(self._lock(select(Page).where(Page.id == page_id))).first()
            if page is None or not self._own_page(session, caller, page, now):
                return _ack_hint(f"P-{page_id}")
            if page.status == "acked":
                raise InvalidState(_t("{ref} was already acknowledged by {name} at {hhmm}",
                                      ref=_ref(page), name=self._name(page.acked_by),
                                      hhmm=hhmm(page.acked_at or now)))
            if page.status != "open":
                raise NotFound(_no_page(_ref(page)))
            return self._acknowledge(session, caller, [page], now)

        return await self.store.tx(work)

    def _acknowledge(self, session: Session, caller: Caller, mine: list[Page],
                     now: datetime) -> Reply:
        b = ReplyBuilder(_t("Acknowledged: {value}",
                            value=', '.join(_ref(p) for p in mine)), kind="page",
                         tlp=_pages_tlp(session, mine))
        for p in mine:
            p.status = "acked"
            p.acked_at = now
            p.acked_by = caller.contact.id
            self._stop_steps(session, p)
            took = (now - p.created_at).total_seconds()
            met = now <= p.target_at and p.missed_at is None
            b.line(bold(_ref(p)), " " + (_t(
                "({role}, {about}) acknowledged by {name} at {at}, after {took}: within the "
                "1-hour target.", role=role_words(p.role), about=p.ref,
                name=caller.contact.name, at=hhmm(now), took=format_duration(took)) if met
                else _t("({role}, {about}) acknowledged by {name} at {at}, after {took}: after "
                        "the 1-hour target.", role=role_words(p.role), about=p.ref,
                        name=caller.contact.name, at=hhmm(now), took=format_duration(took))))
            self._reveal_page(session, b, p)
            if p.incident_id is not None:
                session.add(TimelineEntry(incident_id=p.incident_id, at=now,
                                          actor=caller.contact.id, kind="ack",
                                          text=f"{_ref(p)} ({role_label(p.role)}) "
                                               f"acknowledged after "
                                               f"{english_duration(took)}",
                                          data=timeline_msg("ack", ref=_ref(p), role=p.role,
                                                            seconds=round(took))))
            self._tell_chain(session, p, caller, now)
        b.line(_t("The page is stopped for everyone on the chain."))
        return b.build()

    def _reveal_page(self, session: Session, b: ReplyBuilder, page: Page) -> None:
        """A reply naming a page shows its role and subject: a room may read it only if it
        may read the incident named, or (no incident) if it is the role's own room."""
        inc = session.get(Incident, page.incident_id) if page.incident_id is not None \
            else None
        if inc is not None:
            b.reveal(inc.number)
        else:
            b.reveal(roles=(page.role,))

    def _stop_steps(self, session: Session, page: Page) -> None:
        page.next_due_at = None
        session.execute(update(PageStep).where(col(PageStep.page_id) == page.id,
                                               col(PageStep.status) == "pending")
                        .values(status="skipped"))
        session.add(page)

    def _tell_chain(self, session: Session, page: Page, caller: Caller, now: datetime) -> None:
        """Whoever was already paged learns that the page is answered."""
        paged: list[str] = []
        for step in session.exec(select(PageStep).where(PageStep.page_id == page.id,
                                                        PageStep.status == "fired")):
            paged += [c for c in step.contacts if c not in paged and c != caller.contact.id]
        if not paged:
            return
        tlp = _pages_tlp(session, [page])

        def told() -> Reply:
            b = ReplyBuilder(_t("{ref} – acknowledged", ref=_ref(page)), kind="page", tlp=tlp)
            b.ref = _ref(page)
            b.line(_t("{ref} for {role_label} was acknowledged by {name} at {hhmm}; you are no "
                      "longer paged for it.",
                      ref=_ref(page), role_label=role_words(page.role),
                      name=caller.contact.name, hhmm=hhmm(now)))
            return b.build()

        direct = []
        for c in paged:  # each in their own language
            with i18n.use(person_language(session, self.directory, c)):
                direct.append((c, told()))
        notify(session, kind="page-acked", now=now, incident_id=page.incident_id,
               deliveries=[], direct=direct)

    def _name(self, contact_id: str | None) -> str:
        if contact_id is None:
            return _t("someone")
        try:
            return self.directory.contact(contact_id).name
        except NotFound:
            return contact_id

    def _pages_for(self, session: Session, caller: Caller, ref: str) -> list[Page]:
        """Pages named by ``P-n``, an incident number the caller may see, or ``Q-n``."""
        page_id = parse_page_id(ref)
        if page_id is not None:
            page = session.exec(self._lock(select(Page).where(Page.id == page_id))).first()
            return [page] if page is not None else []
        if ref.strip().upper().startswith("DRILL-"):
            return list(session.exec(self._lock(select(Page).where(
                Page.ref == ref.strip().upper(), Page.kind == "drill")
                .order_by(col(Page.id)))).all())
        if QUERY_RE.match(ref.strip()):
            qref = f"Q-{int(QUERY_RE.match(ref.strip()).group(1))}"  # type: ignore[union-attr]
            return list(session.exec(self._lock(select(Page).where(Page.ref == qref)
                                                .order_by(col(Page.id)))).all())
        inc = self._visible_incident(session, caller, ref, Vis.ANONYMOUS)
        return list(session.exec(self._lock(select(Page).where(Page.incident_id == inc.id)
                                            .order_by(col(Page.id)))).all())

    def _visible_incident(self, session: Session, caller: Caller, ref: str,
                          minimum: Vis, *, lock: bool = False, bare: bool = False) -> Incident:
        number = parse_number(ref, self.clock().year, bare=bare)
        q = select(Incident).where(Incident.number == number)
        inc = session.exec(q.with_for_update() if lock else q).first()
        if inc is None or caller.sees(exposure(inc)).value < minimum.value:
            raise NotFound(_t("no incident {number} that you may see here", number=number))
        return inc

    # ----- escalate -------------------------------------------------------------------
    async def escalate(self, caller: Caller, number: str, reason: str) -> Reply:
        def work(session: Session) -> Reply:
            now = self.clock()
            # Locked until commit: a second escalation at the same moment sees the page
            # this one opens or fires, instead of opening or firing another.
            inc = self._visible_incident(session, caller, number, Vis.ANONYMOUS, lock=True)
            named = caller.sees(exposure(inc)) is Vis.NAMED
            if not (caller.is_secretariat or caller.is_member_focal(inc.member)
                    or caller.is_gisc_focal(inc.principal_gisc)):
                raise NotAllowed(_t("only the WMO Secretariat, the affected Member's focal "
                                    "points or its principal GISC may escalate {number}",
                                    number=inc.number))
            last = session.exec(select(TimelineEntry.at).where(
                TimelineEntry.incident_id == inc.id, TimelineEntry.kind == "escalated")
                .order_by(col(TimelineEntry.at).desc())).first()
            if last is not None and now - last < ESCALATE_INTERVAL:
                again = last + ESCALATE_INTERVAL
                raise InvalidState(_t("{number} was escalated at {hhmm}: each escalation fires "
                                      "one step; the next is possible from {hhmm_b}",
                                      number=inc.number, hhmm=hhmm(last), hhmm_b=hhmm(again)))

            def whose(page: Page) -> str:
                # Shown anonymised, a page's role could name the Member: say less.
                return role_words(page.role) if named or page.role.startswith(
                    ("gisc:", "secretariat")) else _t("an on-call role")

            if inc.status != "open":
                # A page on a resolved incident would stop at once: nobody would be paged.
                raise InvalidState(_t("{number} is {status}, so nothing is paged: reopen it "
                                      "first (`incident reopen {number} <why>`)",
                                      number=inc.number, status=word(inc.status)))
            pages = list(session.exec(self._lock(select(Page).where(
                Page.incident_id == inc.id, Page.status == "open").order_by(col(Page.id)))).all())
            b = ReplyBuilder(_t("{number} – escalated",
                                number=inc.number), kind="page", tlp=incident_tlp(inc))
            b.reveal(inc.number, named=named)
            if not pages:
                reply = incident_reply(self.directory, inc, Vis.NAMED,
                                       "escalated: needs your response")
                page = self._open_page(session, kind="escalation", ref=inc.number,
                                       incident_id=inc.id, role="secretariat", reply=reply,
                                       at=now)
                if page is not None:
                    b.line(_t("No page was open: {ref} now pages the WMO Secretariat on-call "
                              "chain.", ref=_ref(page)))
            for page in pages:
                pending = self._pending(session, page)
                if not pending:
                    b.line(_t("{ref} ({whose}) has no further step.",
                              ref=_ref(page), whose=whose(page)))
                    continue
                last = self._last_fired(session, page)
                if last is not None and now - last < ESCALATE_GAP:
                    # Two people escalating together ask for one step, not two.
                    b.line(_t("{ref} ({whose}) was paged {format_duration} ago; nothing more "
                              "fired.",
                              ref=_ref(page), whose=whose(page),
                              format_duration=format_duration(
                                  max((now - last).total_seconds(), 0))))
                    continue
                step = pending[0]
                if step.action == Action.MISSED.value and now < page.target_at:
                    # the target is missed only when the hour is really over
                    b.line(_t("{ref} ({whose}) has no further step before its 1-hour target "
                              "ends ({hhmm}).",
                              ref=_ref(page), whose=whose(page), hhmm=hhmm(page.target_at)))
                    continue
                step.due_at = now
                step.escalated_by = caller.contact.id
                session.add(step)
                self._fire(session, page, step, now)
                self._reschedule(session, page)
                label = self.steps[step.seq].label() if step.seq < len(self.steps) \
                    else step.action
                b.line(_t("{ref} ({whose}): step '{label}' fired now.",
                          ref=_ref(page), whose=whose(page), label=label))
            session.add(TimelineEntry(incident_id=_iid(inc), at=now, actor=caller.contact.id,
                                      kind="escalated", text=reason))
            if reason:
                b.line(bold(_t("Reason: ")), user(reason))
            return b.build()

        reply = await self.store.tx(work)
        for callback in self.on_fired:
            callback()
        return reply

    # ----- who is on call -------------------------------------------------------------
    async def oncall(self, caller: Caller, role: str | None) -> Reply:
        if role:
            roles = [self.directory.oncall_role(role)]
            if not holds_role(caller.contact, roles[0]):
                # Who stands in for a role (and when) is that role's and the Secretariat's.
                raise NotAllowed(_t("who is on call for {role_label} is shown only to its own "
                                    "focal points and the WMO Secretariat",
                                    role_label=role_words(roles[0])))
        else:
            known = {r.casefold(): r for r in self.directory.oncall_roles()}
            roles = [known[r.casefold()] for r in caller.contact.roles if r.casefold() in known]
            roles = roles or ["secretariat"]

        def work(session: Session) -> Reply:
            now = self.clock()
            b = ReplyBuilder(_t("On call"))
            for r in roles:
                chain, rotations, overrides = self.directory.oncall_rules(r)
                all_overrides = [*overrides, *self._db_overrides(session, r)]
                current = resolve_chain(now, chain, rotations, all_overrides)
                heading = _t("WMO Secretariat") if r == "secretariat" else role_words(r)
                b.line(bold(heading), f" ({r})")
                b.line(_t("  now ({hhmm}): {chain_words}",
                          hhmm=hhmm(now), chain_words=self._chain_words(current)))
                change = next_change(now, rotations, all_overrides)
                if change is None:
                    b.line(_t("  next: no change scheduled (no rotation or override)"))
                else:
                    upcoming = resolve_chain(change, chain, rotations, all_overrides)
                    b.line(_t("  next from {hhmm}: {chain_words}",
                              hhmm=hhmm(change), chain_words=self._chain_words(upcoming)))
            return b.build(private=True)

        return await self.store.tx(work)

    def _chain_words(self, chain: Sequence[str]) -> str:
        if not chain:
            return _t("nobody")
        return " → ".join(f"{self._name(c)} ({c})" for c in chain)

    async def set_override(self, caller: Caller, role: str, contact_id: str, start: str,
                           end: str, reason: str) -> Reply:
        role = self.directory.oncall_role(role)
        contact = self.directory.contact(contact_id)
        if not (caller.is_secretariat
                or role.casefold() in {r.casefold() for r in caller.contact.roles}):
            raise NotAllowed(_t("only the WMO Secretariat or {role_label}'s own focal points "
                                "may change who is on call for {role}",
                                role_label=role_words(role), role=role))
        if not (contact.is_secretariat
                or role.casefold() in {r.casefold() for r in contact.roles}):
            raise NotAllowed(_t("{id} does not hold the role {role}, so may not read its "
                                "pages; choose one of its focal points", id=contact.id, role=role))
        now = self.clock()
        try:
            begins = now if start.lower() == "now" else parse_when(start)
            ends = parse_when(end)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if ends <= begins:
            raise UsageError(_t("the override must end after it starts ({hhmm})",
                                hhmm=hhmm(begins)))
        if ends - begins > MAX_OVERRIDE:
            raise UsageError(_t("an override lasts at most 92 days; change the directory's "
                                "chain or rotation for longer"))

        def work(session: Session) -> Reply:
            row = OnCallOverrideRow(role=role, contact=contact.id, start=begins, end=ends,
                                    reason=reason, created_by=caller.contact.id,
                                    created_at=now)
            session.add(row)
            session.flush()
            b = ReplyBuilder(_t("O-{id} – on-call override set", id=row.id))
            b.line(_t("{name} ({id}) is first on call for {role_label} from {hhmm} to {hhmm_b}.",
                      name=contact.name, id=contact.id, role_label=role_words(role),
                      hhmm=hhmm(begins), hhmm_b=hhmm(ends)))
            b.line(_t("Remove it with `escalate override remove O-{id}`.", id=row.id))
            return b.build(private=True)

        return await self.store.tx(work)

    async def list_overrides(self, caller: Caller) -> Reply:
        def work(session: Session) -> Reply:
            now = self.clock()
            rows = session.exec(select(OnCallOverrideRow).where(
                col(OnCallOverrideRow.removed_at).is_(None), col(OnCallOverrideRow.end) > now)
                .order_by(col(OnCallOverrideRow.start))).all()
            # Who stands in for a role, and why, is that role's and the Secretariat's.
            rows = [r for r in rows if holds_role(caller.contact, r.role)]
            b = ReplyBuilder(_t("On-call overrides"))
            for o in self.directory.oncall_overrides:
                rule = o.rule()
                if rule.end > now and holds_role(caller.contact, o.role):
                    b.line(_t("directory · {role} · {name} · {hhmm} → {hhmm_b}",
                              role=o.role, name=self._name(o.contact), hhmm=hhmm(rule.start),
                              hhmm_b=hhmm(rule.end)))
            roles: set[str] = set()
            for o in self.directory.oncall_overrides:
                if o.rule().end > now and holds_role(caller.contact, o.role):
                    roles.add(o.role)
            for r in rows:
                roles.add(r.role)
                b.line(f"O-{r.id} · {r.role} · {self._name(r.contact)} · {hhmm(r.start)} → "
                       f"{hhmm(r.end)}", *((" · ", user(r.reason)) if r.reason else ()))
            for role in sorted(roles):
                # Who stands in for a role, and why, is that role's (and the Secretariat's).
                b.reveal(roles=(role,))
            if len(b._lines) == 0:
                b.line(_t("None current or upcoming."))
            return b.build()

        return await self.store.tx(work)

    async def remove_override(self, caller: Caller, ident: str) -> Reply:
        text = ident.strip().upper().removeprefix("O-")
        number = whole_number(text)
        if number is None:
            raise UsageError(_t("{ident!r} is not an override number: they look like O-3",
                                ident=ident))

        def work(session: Session) -> Reply:
            row = session.get(OnCallOverrideRow, number)
            if row is None or row.removed_at is not None:
                raise NotFound(_t("no override O-{text}", text=text))
            if not (caller.is_secretariat or caller.contact.id == row.created_by):
                raise NotAllowed(_t("only the WMO Secretariat or whoever set it may remove an "
                                    "override"))
            row.removed_at = self.clock()
            session.add(row)
            return ReplyBuilder(_t("O-{id} removed", id=row.id)).line(
                _t("{name} is no longer first on call for {role}.",
                   name=self._name(row.contact), role=row.role)
            ).build(private=True)

        return await self.store.tx(work)

    # ----- evidence -------------------------------------------------------------------
    async def evidence(self, caller: Caller, number: str, details: bool = False) -> Reply:
        from wisbot.services.evidence import evidence_reply

        def work(session: Session) -> Reply:
            now = self.clock()
            inc = self._visible_incident(session, caller, number, Vis.NAMED, bare=True)
            if not (caller.is_secretariat or caller.is_member_focal(inc.member)
                    or caller.is_gisc_focal(inc.principal_gisc)):
                raise NotAllowed(_t("the service evidence of {number} is for the WMO "
                                    "Secretariat, the affected Member and its principal GISC",
                                    number=inc.number))
            return evidence_reply(session, self.directory, inc, now, details=details)

        return await self.store.tx(work)


def _pages_tlp(session: Session, pages: Sequence[Page]) -> Tlp | None:
    """The label of messages about pages: the strictest of their incidents' as each page's
    role reads it (none for pages about no incident: a query, a watch handover)."""
    found = [incident_tlp(inc, role_sees(p.role, exposure(inc))) for p in pages
             if p.incident_id is not None
             and (inc := session.get(Incident, p.incident_id)) is not None]
    return strictest(found) if found else None


def _no_page(ref: str) -> str:
    """The one refusal for a page that is missing, hidden, or not the caller's."""
    return _t("no open page for {ref} that you may acknowledge. The contacts on its "
              "on-call chain or the WMO Secretariat can; see `escalate oncall`.", ref=ref.strip())


def _ack_hint(page: str | None = None) -> Reply:
    b = ReplyBuilder(kind="hint")
    if page is None:
        b.line(_t("A ✅ or a reply acknowledges only a page sent to you (the message that says "
                  "'You are on call'); nothing was acknowledged."))
    else:
        b.line(_t("A ✅ or a reply acknowledges only a page of your own role; nothing was "
                  "acknowledged. To acknowledge {page} deliberately, type ", page=page),
               Span(text=f"ack {page}", style="code"), ".")
    return b.build(private=True)


def page_verdict(page: Page, now: datetime) -> str:
    """met: acknowledged before the target (and before the 'missed' step fired)."""
    if page.missed_at is not None:
        return "missed"
    if page.acked_at is not None:
        return "met" if page.acked_at <= page.target_at else "missed"
    if now > page.target_at:
        return "missed"
    if page.status == "stopped":
        return "stopped"
    return "pending"


def time_to_notify(session: Session, inc: Incident) -> float | None:
    """Seconds from the report to the delivery of its notification to every room told."""
    first = session.exec(select(Notification).where(Notification.incident_id == inc.id,
                                                    Notification.kind == "reported")
                         .order_by(col(Notification.id))).first()
    if first is None:
        return None
    rows = session.exec(select(OutboxRow).where(OutboxRow.notification_id == first.id)).all()
    # A row withdrawn by a narrowing was never due: it does not hold the target open.
    rows = [r for r in rows if r.status != "withdrawn"]
    if not rows or any(r.delivered_at is None for r in rows):
        return None
    last = max(r.delivered_at for r in rows if r.delivered_at is not None)
    return max((last - inc.created_at).total_seconds(), 0.0)


def _ref(page: Page) -> str:
    return f"P-{page.id}"


def _pid(page: Page) -> int:
    assert page.id is not None
    return page.id


def _sid(step: PageStep) -> int:
    assert step.id is not None
    return step.id


def _iid(inc: Incident) -> int:
    assert inc.id is not None
    return inc.id
