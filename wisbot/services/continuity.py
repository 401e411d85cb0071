"""Continuity plans of WIS centres and reachability drills (Annex 1 §2; Annex 3 §9: the
Secretariat measures and keeps response times).

A drill is a test page through a role's 24/7 chain: a page of kind ``drill`` about
``DRILL-<n>``, so it escalates and stops at the first acknowledgement exactly like an
incident page, is marked DRILL everywhere (:mod:`wisbot.services.paging`), and no incident
figure counts it (:func:`wisbot.services.reports.annual_report`). A scheduled drill starts
once across processes: its :class:`DrillRun` row has a unique slot.

Every message is in its reader's language: a reply in the room's or the person's, a
reminder in each room's, a drill page in each paged person's (:func:`drill_card`, rendered
again by the paging service). The word DRILL and the ref ``DRILL-<n>`` are a fixed marker,
the same in every language (docs/continuity.md)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.clock import Clock
from wisbot.directory import Directory, Room
from wisbot.domain.audience import continuity_reader_reads
from wisbot.domain.audits import parse_hours
from wisbot.domain.paging import TARGET, format_duration
from wisbot.errors import InvalidState, NotAllowed, NotFound, UsageError
from wisbot.i18n import _ as _t
from wisbot.i18n import ngettext
from wisbot.reply import Reply, ReplyBuilder, bold, user
from wisbot.services.context import Caller
from wisbot.services.exchange import ScheduledJob
from wisbot.services.languages import room_language
from wisbot.services.notify import ResponseHook, ResponseRequest, notify
from wisbot.store.audit_tables import ContinuityPlan, DrillRun, DrillSchedule
from wisbot.store.engine import Store
from wisbot.store.paging_tables import Page

TEST_NOTICE = timedelta(days=30)
"""How long before a continuity test is due its reminder goes out."""
STALE = timedelta(days=1)
"""A scheduled drill missed by more than this (wisbot was down) is not sent late."""
DRILL_PREFIX = "DRILL-"


def drill_ref(run: DrillRun) -> str:
    return f"{DRILL_PREFIX}{run.id}"


def drill_card(ref: str) -> Reply:
    """A drill page's card in the current language (the paging service renders it again
    for each paged person's language)."""
    b = ReplyBuilder(_t("reachability test {ref}", ref=i18n.iso(ref)), kind="drill")
    b.line(_t("DRILL: this is a test of the 24/7 on-call chain, not an incident. "
              "Acknowledge it as you would a real page; the time to answer is "
              "recorded for the service report (1-hour target)."))
    return b.build()


def drill_roles(directory: Directory) -> list[str]:
    """Every role with a 24/7 chain: the Secretariat, the GISCs, the Members."""
    return [r for r in directory.oncall_roles()
            if r == "secretariat" or r.startswith(("gisc:", "member:"))]


class ContinuityService:
    def __init__(self, store: Store, directory: Directory, clock: Clock, *,
                 page: ResponseHook, reminder_hour: int = 7) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock
        self.page = page
        self.reminder_hour = reminder_hour

    # ----- continuity plans -------------------------------------------------------------
    def _centre_for(self, caller: Caller, code: str, *, write: bool) -> tuple[str, str]:
        try:
            centre = self.directory.centre(code)
        except NotFound:
            raise _no_plan(code) from None
        if not continuity_reader_reads(caller.roles, caller.room_role, centre.member):
            if write:
                raise NotAllowed(_t("a continuity plan is kept by the centre's Member focal "
                                    "points (in their room or a direct chat) or the "
                                    "Secretariat"))
            raise _no_plan(centre.code)
        return centre.code, centre.member

    async def set_plan(self, caller: Caller, code: str, *, services: str, mto: str,
                       rto: str, rpo: str, site: str, contacts: str, every: int,
                       tested: date | None) -> Reply:
        centre, member = self._centre_for(caller, code, write=True)
        hours = {}
        for option, given in (("mto", mto), ("rto", rto), ("rpo", rpo)):
            try:
                hours[option] = parse_hours(given)
            except ValueError:
                raise UsageError(_t("{option}={given} is not a duration: use 4h, 90m or 2d",
                                    option=option, given=given)) from None
        mto_h, rto_h, rpo_h = hours["mto"], hours["rto"], hours["rpo"]
        if rto_h > mto_h:
            raise UsageError(_t("the recovery time objective ({rto}) exceeds the maximum "
                                "tolerable outage ({mto}): recovery would come too late",
                                rto=rto, mto=mto))
        for name, value in (("services", services), ("site", site), ("contacts", contacts)):
            if not value.strip():
                raise UsageError(_t("{option}= is part of the plan's essentials",
                                    option=name))
        today = self.clock().astimezone(UTC).date()
        if tested is not None and tested > today:
            raise UsageError(_t("tested= is a date in the past"))

        def work(session: Session) -> Reply:
            plan = session.get(ContinuityPlan, centre)
            if plan is None:
                plan = ContinuityPlan(centre=centre, member=member, critical_services=services,
                                      max_outage_h=mto_h, rto_h=rto_h, rpo_h=rpo_h,
                                      alternate_site=site, contacts=contacts,
                                      test_every_days=every, last_tested=tested,
                                      updated_by=caller.contact.id, updated_at=self.clock())
            else:
                plan.member, plan.critical_services = member, services
                plan.max_outage_h, plan.rto_h, plan.rpo_h = mto_h, rto_h, rpo_h
                plan.alternate_site, plan.contacts = site, contacts
                plan.test_every_days = every
                plan.updated_by, plan.updated_at = caller.contact.id, self.clock()
                if tested is not None:
                    plan.last_tested = tested
            session.add(plan)
            return self._card(plan, _t("Continuity plan recorded"))

        return await self.store.tx(work)

    async def tested(self, caller: Caller, code: str, day: date) -> Reply:
        centre, _ = self._centre_for(caller, code, write=True)
        if day > self.clock().astimezone(UTC).date():
            raise UsageError(_t("the test date is in the past"))

        def work(session: Session) -> Reply:
            plan = session.get(ContinuityPlan, centre)
            if plan is None:
                raise InvalidState(_t("{centre} has no continuity plan yet: `continuity set "
                                      "{centre} …` first", centre=centre))
            plan.last_tested = day
            session.add(plan)
            return self._card(plan, _t("Continuity test recorded"))

        return await self.store.tx(work)

    async def show(self, caller: Caller, code: str) -> Reply:
        centre, _ = self._centre_for(caller, code, write=False)

        def work(session: Session) -> Reply:
            plan = session.get(ContinuityPlan, centre)
            if plan is None:
                raise _no_plan(centre)
            return self._card(plan, _t("Continuity plan"))

        return await self.store.tx(work)

    async def list_plans(self, caller: Caller) -> Reply:
        def work(session: Session) -> Reply:
            b = ReplyBuilder(_t("Continuity plans"), kind="report")
            n = 0
            for plan in session.exec(select(ContinuityPlan).order_by(
                    col(ContinuityPlan.centre))):
                if continuity_reader_reads(caller.roles, caller.room_role, plan.member):
                    n += 1
                    b.line(bold(plan.centre), _t(": last tested {tested}, next test due {due}",
                                                 tested=_tested(plan), due=next_test(plan)))
            if not n:
                b.line(_t("No continuity plans that you may see here."))
            return b.build(private=True)

        return await self.store.tx(work)

    def _card(self, plan: ContinuityPlan, title: str) -> Reply:
        b = ReplyBuilder(f"{plan.centre} – {title}", kind="report")
        b.field(_t("Maximum tolerable outage"), _h(plan.max_outage_h))
        b.field(_t("Recovery time objective"), _h(plan.rto_h))
        b.field(_t("Recovery point objective"), _h(plan.rpo_h))
        b.field(_t("Last tested"), _tested(plan))
        b.field(_t("Next test due"), f"{next_test(plan)} ("
                + ngettext("every {n} day", "every {n} days", plan.test_every_days) + ")")
        # The centre's own words, as typed (isolated in right-to-left text).
        for label, value in ((_t("Critical services"), plan.critical_services),
                             (_t("Alternate site"), plan.alternate_site),
                             (_t("Contact list"), plan.contacts)):
            b.line(bold(f"{label}: "), user(value))
        return b.build(private=True)

    # ----- drills ------------------------------------------------------------------------
    async def set_schedule(self, caller: Caller, first: datetime | None, every: int) -> Reply:
        if not caller.is_secretariat:
            raise NotAllowed(_t("the WMO Secretariat sets the reachability drills"))

        def work(session: Session) -> Reply:
            row = session.get(DrillSchedule, "default")
            now = self.clock()
            if first is None:
                if row is None or not row.active:
                    raise InvalidState(_t("no drill schedule is set"))
                row.active = False
                session.add(row)
                return ReplyBuilder(_t("Reachability drills stopped")).build(private=True)
            if row is None:
                row = DrillSchedule(key="default", first_at=first, every_days=every,
                                    set_by=caller.contact.id, set_at=now)
            row.first_at, row.every_days, row.active = first, every, True
            row.set_by, row.set_at = caller.contact.id, now
            session.add(row)
            b = ReplyBuilder(_t("Reachability drills scheduled"))
            roles = len(drill_roles(self.directory))
            b.line(ngettext("A test page through every role's 24/7 chain ({n} role) from "
                            "{first}, {period}; next {next}.",
                            "A test page through every role's 24/7 chain ({n} roles) from "
                            "{first}, {period}; next {next}.", roles,
                            first=i18n.when(first), next=i18n.when(self._next(row, now)),
                            period=ngettext("every {n} day", "every {n} days", every)))
            return b.build(private=True)

        return await self.store.tx(work)

    @staticmethod
    def _occurrence(row: DrillSchedule, now: datetime) -> tuple[int, datetime] | None:
        first = _utc(row.first_at)
        if now < first:
            return None
        n = int((now - first) // timedelta(days=row.every_days))
        return n, first + n * timedelta(days=row.every_days)

    def _next(self, row: DrillSchedule, now: datetime) -> datetime:
        occ = self._occurrence(row, now)
        first = _utc(row.first_at)
        return first if occ is None else occ[1] + timedelta(days=row.every_days)

    async def drill_now(self, caller: Caller, role: str) -> Reply:
        if not caller.is_secretariat:
            raise NotAllowed(_t("the WMO Secretariat runs the reachability drills"))
        roles = drill_roles(self.directory) if role.casefold() == "all" \
            else [self.directory.oncall_role(role)]

        def work(session: Session) -> Reply:
            now = self.clock()
            run = self._start(session, f"now-{now.isoformat()}-{caller.contact.id}-{role}",
                              caller.contact.id, roles, now)
            if run is None:
                raise InvalidState(_t("that drill was just started"))
            b = ReplyBuilder(_t("DRILL {ref} started", ref=i18n.iso(drill_ref(run))))
            b.line(_t("A test page to {roles}; see `drill results`.",
                      roles=i18n.iso(", ".join(roles))))
            return b.build(private=True)

        return await self.store.tx(work)

    async def run_due(self) -> int:
        """Start the scheduled drill whose time has come, once; the pages sent."""
        def work(session: Session) -> int:
            now = self.clock()
            row = session.get(DrillSchedule, "default")
            if row is None or not row.active:
                return 0
            occ = self._occurrence(row, now)
            if occ is None or now - occ[1] > STALE:
                return 0
            # Keyed on the occurrence's time alone, and none within a period of the last
            # scheduled one: re-setting the schedule never drills the chains twice.
            slot = f"sched-{occ[1]:%Y%m%dT%H%M}"
            since = now - timedelta(days=row.every_days)
            recent = session.exec(select(DrillRun.id).where(
                DrillRun.started_by == "schedule", col(DrillRun.started_at) > since)).first()
            if recent is not None:
                return 0
            roles = drill_roles(self.directory)
            run = self._start(session, slot, "schedule", roles, now)
            return len(roles) if run is not None else 0

        return await self.store.tx(work)

    def _start(self, session: Session, slot: str, by: str, roles: Sequence[str],
               now: datetime) -> DrillRun | None:
        nested = session.begin_nested()
        try:
            run = DrillRun(slot=slot[:64], started_at=now, started_by=by, roles=list(roles))
            session.add(run)
            session.flush()
            nested.commit()
        except IntegrityError:
            nested.rollback()
            return None
        ref = drill_ref(run)
        with i18n.use(None):  # stored in the deployment's language; each page is
            card = drill_card(ref)  # rendered again in its reader's (paging._card_in)
        targets = [(role, card) for role in roles]
        self.page(session, ResponseRequest(kind="drill", ref=ref, at=now,
                                           targets=tuple(targets)))
        return run

    async def results(self, caller: Caller, count: int) -> Reply:
        if not caller.is_secretariat or caller.room_role not in (None, "secretariat"):
            raise NotAllowed(_t("drill results are the Secretariat's (its room or a direct "
                                "chat)"))

        def work(session: Session) -> Reply:
            now = self.clock()
            runs = session.exec(select(DrillRun).order_by(col(DrillRun.id).desc())
                                .limit(count)).all()
            b = ReplyBuilder(_t("Reachability drills"), kind="report")
            for run in runs:
                by = (_t("scheduled") if run.started_by == "schedule"
                      else self._name(run.started_by))
                b.line(bold(f"DRILL {drill_ref(run)}"), f" {i18n.when(run.started_at)} ({by})")
                for p in session.exec(select(Page).where(Page.ref == drill_ref(run))
                                      .order_by(col(Page.id))):
                    b.line(f"  {p.role}: {drill_outcome(p, now, self._name)}")
            if not runs:
                b.line(_t("No drills yet."))
            return b.build(private=True)

        return await self.store.tx(work)

    def _name(self, contact_id: str | None) -> str:
        if contact_id is None:
            return _t("someone")
        try:
            return self.directory.contact(contact_id).name
        except NotFound:
            return contact_id

    # ----- reminders -------------------------------------------------------------------
    def scheduled_jobs(self) -> list[ScheduledJob]:
        return [ScheduledJob("continuity-reminders", self.reminder_hour, 5, self.remind)]

    async def remind(self) -> int:
        """Tell the centre's Member room and the Secretariat once per due date that a
        continuity test is due within 30 days (or overdue)."""
        def work(session: Session) -> int:
            today = self.clock().astimezone(UTC).date()
            sent = 0
            for plan in session.exec(select(ContinuityPlan)):
                due = next_test(plan)
                if plan.reminded_for == due or today < due - TEST_NOTICE:
                    continue
                rooms: list[Room] = [*self.directory.rooms_with_role(f"member:{plan.member}"),
                                     *self.directory.rooms_with_role("secretariat")]
                deliveries = []
                for room in rooms:  # each room in its language
                    with i18n.use(room_language(room)):
                        deliveries.append((room, _reminder(plan, due)))
                notify(session, kind="continuity", now=self.clock(), incident_id=None,
                       deliveries=deliveries)
                plan.reminded_for = due
                session.add(plan)
                sent += 1
            return sent

        return await self.store.tx(work)


def _no_plan(code: str) -> NotFound:
    """The one answer for a centre without a plan and one the caller may not read."""
    return NotFound(_t("no continuity plan for {centre} that you may see here",
                       centre=i18n.iso(code)))


def _tested(plan: ContinuityPlan) -> str:
    return str(plan.last_tested) if plan.last_tested is not None else _t("never")


def _reminder(plan: ContinuityPlan, due: date) -> Reply:
    b = ReplyBuilder(_t("{centre} – continuity test due", centre=i18n.iso(plan.centre)),
                     kind="report")
    b.line(_t("The continuity plan of {centre} is due for a test by {due} (last tested "
              "{tested}). Record it with `continuity tested {centre} <date>`.",
              centre=plan.centre, due=due, tested=_tested(plan)))
    return b.build()


def next_test(plan: ContinuityPlan) -> date:
    if plan.last_tested is None:
        return plan.updated_at.astimezone(UTC).date()
    return plan.last_tested + timedelta(days=plan.test_every_days)


def drill_outcome(p: Page, now: datetime, namer: Callable[[str | None], str]) -> str:
    if p.acked_at is not None:
        took = (_utc(p.acked_at) - _utc(p.created_at)).total_seconds()
        who, shown = i18n.iso(namer(p.acked_by)), format_duration(took)
        if took <= TARGET.total_seconds():
            return _t("answered by {who} after {took} (within the 1-hour target)",
                      who=who, took=shown)
        return _t("answered by {who} after {took} (after the 1-hour target)",
                  who=who, took=shown)
    if p.status == "open" and _utc(p.target_at) > now:
        return _t("not answered yet")
    return _t("not answered within the 1-hour target")


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _h(hours: float) -> str:
    return _t("{hours} h", hours=i18n.number(hours))
