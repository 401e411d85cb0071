"""Audit cases of WIS centres (Annex 2): request with the self-assessment questionnaire,
pre-audit assessment, the two-day audit with its opening and closing meetings, the
post-audit report within five working days, evidence to WMO and re-audit reminders.

The report is read only by its audience (:func:`wisbot.domain.audience.audit_report_seen_by`);
anyone else asking about a case reads exactly what a missing case reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.clock import Clock
from wisbot.directory import Directory, Room
from wisbot.domain.audience import audit_report_reader_reads
from wisbot.domain.audits import (
    AUDIT_DAYS,
    OUTCOME_WORDS,
    OUTCOMES,
    PART_WORDS,
    PHASE_WORDS,
    REPORT_WORKING_DAYS,
    TeamMember,
    mostly_english,
    next_working_day,
    team_problems,
    working_days_after,
)
from wisbot.domain.tlp import Tlp
from wisbot.errors import InvalidState, NotAllowed, NotFound, UsageError
from wisbot.i18n import N_, Lazy, ngettext
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder, Span, bold, user
from wisbot.services.context import Caller
from wisbot.services.exchange import ScheduledJob
from wisbot.services.languages import person_language, room_language
from wisbot.services.notify import notify
from wisbot.store.audit_tables import Audit, AuditEvent
from wisbot.store.engine import Store

AUDIT_TLP = Tlp.AMBER_STRICT
"""Every audit message: for the participants' organisations only (Annex 2 §2.26)."""
REAUDIT_NOTICE = timedelta(days=90)
"""How long before a re-audit is due its reminder goes out."""
MODE_WORDS: dict[str, Lazy] = {"remote": N_("remote"), "onsite": N_("onsite")}
"""The audit's mode as shown (``remote`` is the command's word)."""

ONLY_THE_LEAD: dict[str, Lazy] = {
    "assess": N_("only the lead auditor or the WMO Secretariat may start the pre-audit "
                 "assessment"),
    "satisfied": N_("only the lead auditor or the WMO Secretariat may declare the team "
                    "satisfied"),
    "stop": N_("only the lead auditor or the WMO Secretariat may recommend not to proceed"),
    "schedule": N_("only the lead auditor or the WMO Secretariat may schedule the audit"),
    "meeting": N_("only the lead auditor or the WMO Secretariat may record the audit's "
                  "meetings"),
    "report": N_("only the lead auditor or the WMO Secretariat may record the post-audit "
                 "report"),
    "evidence": N_("only the lead auditor or the WMO Secretariat may record the evidence's "
                   "hand-over"),
}
"""Each refusal of a step the lead auditor or the Secretariat takes, as a whole sentence."""
EVENT_WORDS: dict[str, Lazy] = {"ask": N_("asked"), "answer": N_("answered")}

Line = tuple[str | Span, ...]
"""One line of a notice: wisbot's words (str, bold, code) and a person's text (user)."""


def audit_ref(audit: Audit) -> str:
    return f"AUD-{audit.id}"


def parse_audit_ref(text: str) -> int | None:
    t = text.strip().upper()
    t = t[4:] if t.startswith("AUD-") else t
    return int(t) if t.isascii() and t.isdigit() else None


def _missing(ref: str) -> NotFound:
    # The same words for a case that does not exist and one the caller may not see.
    return NotFound(_t("no audit {ref} that you may see here", ref=ref.strip().upper()))


class AuditService:
    def __init__(self, store: Store, directory: Directory, clock: Clock, *,
                 holidays: Sequence[date] = (), reminder_hour: int = 7) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock
        self.holidays = tuple(holidays)
        self.reminder_hour = reminder_hour

    # ----- who ---------------------------------------------------------------------------
    @staticmethod
    def _team_ids(a: Audit) -> set[str]:
        return {m["contact"] for m in a.team}

    def _lead(self, a: Audit) -> str | None:
        return next((m["contact"] for m in a.team if m["part"] == "lead"), None)

    def _sees_report(self, caller: Caller, a: Audit) -> bool:
        return audit_report_reader_reads(caller.roles, caller.room_role, a.member,
                                         a.responsible)

    def _sees_case(self, caller: Caller, a: Audit) -> bool:
        """The report's audience, and the auditors in a direct chat while they run the
        case (closed: their copies are destroyed, so is their access)."""
        if self._sees_report(caller, a):
            return True
        return (caller.room is None and a.phase != "closed"
                and caller.contact.id in self._team_ids(a))

    def _get(self, session: Session, caller: Caller, ref: str, *, lock: bool = False
             ) -> Audit:
        ident = parse_audit_ref(ref)
        q = select(Audit).where(Audit.id == ident)
        if lock and not self.store.sqlite:
            q = q.with_for_update()
        a = session.exec(q).first() if ident is not None else None
        if a is None or not self._sees_case(caller, a):
            raise _missing(ref)
        return a

    def _must_run(self, caller: Caller, a: Audit, refusal: Lazy) -> None:
        """The lead auditor or the Secretariat acts for the team; ``refusal`` is the whole
        sentence (one of :data:`ONLY_THE_LEAD`), translated when refused."""
        if not (caller.is_secretariat or caller.contact.id == self._lead(a)):
            raise NotAllowed(str(refusal))

    def _phase(self, a: Audit, *allowed: str) -> None:
        if a.phase not in allowed:
            raise InvalidState(_t("{audit} is in phase {phase}; this needs phase {needed}",
                                  audit=audit_ref(a), phase=str(PHASE_WORDS[a.phase]),
                                  needed=_t(" or ").join(str(PHASE_WORDS[p])
                                                         for p in allowed)))

    def _event(self, session: Session, a: Audit, actor: str, kind: str, text: str = "") -> None:
        session.add(AuditEvent(audit_id=a.id or 0, at=self.clock(), actor=actor, kind=kind,
                               text=text))

    def _rooms(self, *roles: str) -> list[Room]:
        out: list[Room] = []
        for role in roles:
            for room in self.directory.rooms_with_role(role):
                if room not in out:
                    out.append(room)
        return out

    def _report_rooms(self, a: Audit) -> list[Room]:
        return self._rooms("secretariat", f"member:{a.member}", a.responsible)

    def _tell(self, session: Session, a: Audit, rooms: list[Room],
              render: Callable[[], tuple[str, Sequence[Line]]],
              direct: Sequence[str] = ()) -> None:
        """``render()`` gives the title and the lines in the current language: each room
        reads them in its language, each person (``direct``) in theirs."""
        done: dict[str, Reply] = {}

        def built(lang: str) -> Reply:
            if lang not in done:
                with i18n.use(lang):
                    title, lines = render()
                    b = ReplyBuilder(_heading(a, title), kind="report", tlp=AUDIT_TLP)
                    b.ref = audit_ref(a)
                    for line in lines:
                        b.line(*line)
                    done[lang] = b.build()
            return done[lang]

        notify(session, kind="audit", now=self.clock(), incident_id=None,
               deliveries=[(room, built(room_language(room))) for room in rooms],
               direct=[(c, built(person_language(session, self.directory, c)))
                       for c in direct])

    # ----- phase 1: the request ---------------------------------------------------------
    async def request(self, caller: Caller, centre_code: str, questionnaire: str, *,
                      mode: str, responsible: str | None, reaudit_years: int) -> Reply:
        centre = self.directory.centre(centre_code)
        if not (caller.is_secretariat or caller.is_member_focal(centre.member)):
            raise NotAllowed(_t("an audit is requested by the centre's Member focal points "
                                "or the WMO Secretariat"))
        if not mostly_english(questionnaire):
            raise UsageError(_t("the self-assessment questionnaire is provided in English "
                                "(Annex 2 §2.5): give its English text or a link to it"))
        member = self.directory.member(centre.member)
        if member.region is None:
            raise InvalidState(_t("the directory records no WMO region for {member}: add "
                                  "`region:` to the Member, so the team can be checked",
                                  member=member.code))
        body = self._responsible_role(responsible)

        def work(session: Session) -> Reply:
            now = self.clock()
            a = Audit(centre=centre.code, member=member.code, region=member.region or "",
                      responsible=body, mode=mode, questionnaire=questionnaire,
                      requested_by=caller.contact.id, requested_at=now,
                      reaudit_years=reaudit_years)
            session.add(a)
            session.flush()
            self._event(session, a, caller.contact.id, "request", questionnaire)
            self._tell(session, a, self._rooms("secretariat"), lambda: (
                _t("audit requested"),
                [(_t("{mode} audit of {centre} ({code}) requested by {name}, with the "
                     "self-assessment questionnaire. Next: the Secretariat names the team "
                     "(`audit team {audit} lead=<contact> expert=<contact>`).",
                     mode=str(MODE_WORDS.get(mode, mode)), centre=i18n.iso(centre.name),
                     code=i18n.iso(centre.code), name=i18n.iso(caller.contact.name),
                     audit=i18n.iso(audit_ref(a))),)]))
            return self._card(a, _t("Audit requested"))

        return await self.store.tx(work)

    def _responsible_role(self, text: str | None) -> str:
        if text is None or text.strip().casefold() in ("", "working-group"):
            return "working-group"
        if text.strip().casefold() == "secretariat":
            return "secretariat"
        try:
            return self.directory.oncall_role(text)
        except NotFound as exc:
            raise UsageError(_t("responsible= names the body responsible for the centre: "
                                "working-group, secretariat, gisc:<GISC> or member:<Member> "
                                "({problem})", problem=str(exc))) from None

    # ----- the team ----------------------------------------------------------------------
    def _member_of(self, contact_id: str, part: str) -> TeamMember:
        contact = self.directory.contact(contact_id)
        regions, unplaced = set(), set()
        owners = [*contact.members, *(self.directory.gisc(g).member for g in contact.giscs)]
        for code in owners:
            if not code:
                continue
            region = self.directory.member(code).region
            if region is None:
                unplaced.add(code)
            else:
                regions.add(region)
        return TeamMember(contact.id, part, contact.audit_experience, frozenset(regions),
                          frozenset(unplaced))

    async def team(self, caller: Caller, ref: str, lead: str, expert: str,
                   others: Sequence[str]) -> Reply:
        if not caller.is_secretariat:
            raise NotAllowed(_t("the WMO Secretariat assigns the audit team"))
        team = [self._member_of(lead, "lead"), self._member_of(expert, "expert"),
                *(self._member_of(c, "member") for c in others if c)]

        def work(session: Session) -> Reply:
            a = self._get(session, caller, ref, lock=True)
            self._phase(a, "request", "pre-audit", "not-proceeding", "ready")
            problems = team_problems(team, a.region)
            if problems:
                raise InvalidState(_t("the team cannot audit {centre}: {problems}",
                                      centre=a.centre, problems="; ".join(problems)))
            a.team = [{"contact": m.contact, "part": m.part} for m in team]
            session.add(a)
            self._event(session, a, caller.contact.id, "team",
                        ", ".join(f"{m.contact} ({m.part})" for m in team))
            return self._card(a, _t("Audit team set"))

        return await self.store.tx(work)

    # ----- phase 2: pre-audit assessment ----------------------------------------------
    async def assess(self, caller: Caller, ref: str) -> Reply:
        def work(session: Session) -> Reply:
            a = self._get(session, caller, ref, lock=True)
            self._must_run(caller, a, ONLY_THE_LEAD["assess"])
            self._phase(a, "request", "not-proceeding")
            if not a.team:
                raise InvalidState(_t("{audit} has no team yet: `audit team {audit} "
                                      "lead=<contact> expert=<contact>`",
                                      audit=audit_ref(a)))
            a.phase = "pre-audit"
            session.add(a)
            self._event(session, a, caller.contact.id, "pre-audit")
            return self._card(a, _t("Pre-audit assessment started"))

        return await self.store.tx(work)

    async def ask(self, caller: Caller, ref: str, text: str) -> Reply:
        def work(session: Session) -> Reply:
            a = self._get(session, caller, ref, lock=True)
            if not (caller.is_secretariat or caller.contact.id in self._team_ids(a)):
                raise NotAllowed(_t("the audit team asks for more information"))
            self._phase(a, "pre-audit")
            self._event(session, a, caller.contact.id, "ask", text)
            self._tell(session, a, self._rooms(f"member:{a.member}"), lambda: (
                _t("the audit team asks for more information"),
                [(user(text),),
                 (_t("Answer with `audit answer {audit} <text>` (in English).",
                     audit=audit_ref(a)),)]))
            return self._card(a, _t("Request for more information sent"))

        return await self.store.tx(work)

    async def answer(self, caller: Caller, ref: str, text: str) -> Reply:
        def work(session: Session) -> Reply:
            a = self._get(session, caller, ref, lock=True)
            if not (caller.is_secretariat or caller.is_member_focal(a.member)):
                raise NotAllowed(_t("the audited centre answers the audit team"))
            self._phase(a, "request", "pre-audit", "not-proceeding")
            self._event(session, a, caller.contact.id, "answer", text)
            lead = self._lead(a)
            self._tell(session, a, [], lambda: (_t("the centre answered"), [(user(text),)]),
                       direct=[lead] if lead else [])
            return self._card(a, _t("Answer recorded"))

        return await self.store.tx(work)

    async def satisfied(self, caller: Caller, ref: str) -> Reply:
        def work(session: Session) -> Reply:
            a = self._get(session, caller, ref, lock=True)
            self._must_run(caller, a, ONLY_THE_LEAD["satisfied"])
            self._phase(a, "pre-audit", "not-proceeding")
            a.phase = "ready"
            a.not_proceeding_reason = None
            session.add(a)
            self._event(session, a, caller.contact.id, "satisfied")
            return self._card(a, _t("The team is satisfied: the audit may proceed"))

        return await self.store.tx(work)

    async def stop(self, caller: Caller, ref: str, reasons: str) -> Reply:
        if not reasons.strip():
            raise UsageError(_t("give the reasons for recommending not to proceed"))

        def work(session: Session) -> Reply:
            a = self._get(session, caller, ref, lock=True)
            self._must_run(caller, a, ONLY_THE_LEAD["stop"])
            self._phase(a, "pre-audit")
            a.phase = "not-proceeding"
            a.not_proceeding_reason = reasons
            session.add(a)
            self._event(session, a, caller.contact.id, "not-proceeding", reasons)
            self._tell(session, a, self._report_rooms(a), lambda: (
                _t("recommendation not to proceed"),
                [(_t("The audit team recommends not to proceed with the audit: "),
                  user(reasons)),
                 (_t("It proceeds once further evidence satisfies the team."),)]))
            return self._card(a, _t("Recommended not to proceed"))

        return await self.store.tx(work)

    # ----- phase 3: the audit ---------------------------------------------------------
    async def schedule(self, caller: Caller, ref: str, start: date) -> Reply:
        def work(session: Session) -> Reply:
            a = self._get(session, caller, ref, lock=True)
            self._must_run(caller, a, ONLY_THE_LEAD["schedule"])
            self._phase(a, "ready", "audit")
            if a.opening_at is not None:
                raise InvalidState(_t("the audit of {audit} has begun (opening meeting "
                                      "{at}): it is not moved now", audit=audit_ref(a),
                                      at=_hm(a.opening_at)))
            if start != next_working_day(start, self.holidays):
                raise UsageError(_t("{day} is not a working day (weekend or configured "
                                    "holiday)", day=start.isoformat()))
            a.audit_start = start
            a.audit_end = working_days_after(start, AUDIT_DAYS - 1, self.holidays)
            a.phase = "audit"
            session.add(a)
            self._event(session, a, caller.contact.id, "scheduled", start.isoformat())
            self._tell(session, a, self._rooms("secretariat", f"member:{a.member}"),
                       lambda: (_t("audit scheduled"), [(
                           _t("{mode} audit on {first} and {second}, opening with a formal "
                              "opening meeting and ending with a closing meeting.",
                              mode=str(MODE_WORDS.get(a.mode, a.mode)),
                              first=str(a.audit_start), second=str(a.audit_end)),)]))
            return self._card(a, _t("Audit scheduled"))

        return await self.store.tx(work)

    async def meeting(self, caller: Caller, ref: str, which: str) -> Reply:
        def work(session: Session) -> Reply:
            now = self.clock()
            a = self._get(session, caller, ref, lock=True)
            self._must_run(caller, a, ONLY_THE_LEAD["meeting"])
            self._phase(a, "audit")
            if which == "opening":
                if a.opening_at is not None:
                    raise InvalidState(_t("the opening meeting of {audit} is recorded",
                                          audit=audit_ref(a)))
                a.opening_at = now
            else:
                if a.opening_at is None:
                    raise InvalidState(_t("record the opening meeting first"))
                a.closing_at = now
                a.phase = "report"
                a.report_due = working_days_after(now.astimezone(UTC).date(),
                                                  REPORT_WORKING_DAYS, self.holidays)
            session.add(a)
            self._event(session, a, caller.contact.id, which)
            return self._card(a, _t("Opening meeting recorded") if which == "opening"
                              else _t("Closing meeting recorded"))

        return await self.store.tx(work)

    # ----- phase 4: the report --------------------------------------------------------
    async def report(self, caller: Caller, ref: str, outcome: str, conditions: str | None,
                     text: str) -> Reply:
        if outcome not in OUTCOMES:
            raise UsageError(_t("outcome must be one of {choices}",
                                choices=", ".join(OUTCOMES)))
        listed = [c.strip() for c in (conditions or "").split(";") if c.strip()]
        if outcome == "conditions" and not listed:
            raise UsageError(_t("compliant with conditions lists the conditions: "
                                "{example}", example='conditions="first; second"'))
        if outcome != "conditions" and listed:
            raise UsageError(_t("conditions= goes with outcome=conditions only"))
        if not text.strip():
            raise UsageError(_t("give the report's text (strengths, weaknesses, "
                                "non-conformities, recommendation)"))

        def work(session: Session) -> Reply:
            now = self.clock()
            a = self._get(session, caller, ref, lock=True)
            self._must_run(caller, a, ONLY_THE_LEAD["report"])
            self._phase(a, "report")
            a.outcome, a.conditions, a.report = outcome, listed, text
            a.report_at, a.report_by = now, caller.contact.id
            session.add(a)
            self._event(session, a, caller.contact.id, "report", outcome)
            self._close_when_done(a)
            late = a.report_due is not None and now.astimezone(UTC).date() > a.report_due
            def render() -> tuple[str, list[Line]]:
                lines: list[Line] = [
                    (_t("Outcome: {outcome}.", outcome=str(OUTCOME_WORDS[outcome])),),
                    *((_t("Condition: "), user(c)) for c in listed), (user(text),),
                    (_t("Confidential: the audited centre, WMO and the responsible body "
                        "only."),)]
                if late:
                    lines.append((_t("Recorded after its due date {day}.",
                                     day=str(a.report_due)),))
                return _t("post-audit report"), lines

            self._tell(session, a, self._report_rooms(a), render)
            return self._card(a, _t("Post-audit report recorded and sent to its audience"),
                              session=session)

        return await self.store.tx(work)

    async def evidence(self, caller: Caller, ref: str, what: str) -> Reply:
        def work(session: Session) -> Reply:
            now = self.clock()
            a = self._get(session, caller, ref, lock=True)
            self._must_run(caller, a, ONLY_THE_LEAD["evidence"])
            self._phase(a, "audit", "report")
            if what == "handed":
                a.evidence_handed_at = now
            else:
                if a.evidence_handed_at is None:
                    raise InvalidState(_t("hand the evidence to WMO before the auditors' "
                                          "copies are destroyed"))
                a.copies_destroyed_at = now
            self._event(session, a, caller.contact.id, f"evidence-{what}")
            self._close_when_done(a)
            session.add(a)
            return self._card(a, _t("Evidence recorded"),
                              report=self._sees_report(caller, a))

        return await self.store.tx(work)

    @staticmethod
    def _close_when_done(a: Audit) -> None:
        """Closed once the report is in and the evidence handed over and destroyed (in
        whichever order they came); the rolling re-audit is then due."""
        if a.report_at and a.evidence_handed_at and a.copies_destroyed_at:
            a.phase = "closed"
            a.reaudit_due = _add_years(_utc(a.report_at).date(), a.reaudit_years)

    # ----- reading ---------------------------------------------------------------------
    async def show(self, caller: Caller, ref: str) -> Reply:
        def work(session: Session) -> Reply:
            a = self._get(session, caller, ref)
            return self._card(a, _t("Audit"), session=session,
                              report=self._sees_report(caller, a))

        return await self.store.tx(work)

    async def list_cases(self, caller: Caller) -> Reply:
        def work(session: Session) -> Reply:
            rows = session.exec(select(Audit).order_by(col(Audit.id))).all()
            mine = [a for a in rows if self._sees_case(caller, a)]
            b = ReplyBuilder(_t("Audits"), kind="report")
            for a in mine:
                b.line(bold(audit_ref(a)), f" {a.centre}: {PHASE_WORDS[a.phase]}"
                       + (_t(", report due {day}", day=str(a.report_due))
                          if a.phase == "report" else "")
                       + (_t(", re-audit due {day}", day=str(a.reaudit_due))
                          if a.reaudit_due else ""))
            if not mine:
                b.line(_t("No audits that you may see here."))
            return b.build(private=True)

        return await self.store.tx(work)

    def _card(self, a: Audit, title: str, *, session: Session | None = None,
              report: bool = True) -> Reply:
        """``report``: whether the reader is in the post-audit report's audience; the
        auditors still run the case (evidence) but no longer read its outcome."""
        b = ReplyBuilder(_heading(a, title), kind="report", tlp=AUDIT_TLP)
        b.ref = audit_ref(a)
        b.field(_t("Phase"), str(PHASE_WORDS[a.phase]))
        b.field(_t("Mode"), str(MODE_WORDS.get(a.mode, a.mode)))
        b.field(_t("Region"), a.region)
        if a.team:
            b.field(_t("Team"), ", ".join(
                f"{self._name(m['contact'])} ({PART_WORDS.get(m['part'], m['part'])})"
                for m in a.team))
        if a.not_proceeding_reason:
            b.line(bold(_t("Not to proceed: ")), user(a.not_proceeding_reason))
        if a.audit_start:
            b.line(bold(_t("Audit: ")), f"{a.audit_start} – {a.audit_end}"
                   + (_t("; opening meeting {at}", at=_hm(a.opening_at))
                      if a.opening_at else "")
                   + (_t("; closing meeting {at}", at=_hm(a.closing_at))
                      if a.closing_at else ""))
        if a.report_due:
            b.line(bold(_t("Report due: ")),
                   ngettext("{day} ({n} working day after the closing meeting)",
                            "{day} ({n} working days after the closing meeting)",
                            REPORT_WORKING_DAYS, day=str(a.report_due)))
        if a.outcome and report:
            b.line(bold(_t("Outcome: ")), str(OUTCOME_WORDS[a.outcome]))
            for c in a.conditions:
                b.line(_t("  condition: "), user(c))
        if a.evidence_handed_at:
            b.line(bold(_t("Evidence: ")),
                   _t("handed to WMO {at}", at=_hm(a.evidence_handed_at))
                   + (_t("; auditors' copies destroyed {at}", at=_hm(a.copies_destroyed_at))
                      if a.copies_destroyed_at
                      else _t("; auditors' copies not yet destroyed")))
        if a.reaudit_due:
            b.line(bold(_t("Re-audit due: ")), str(a.reaudit_due))
        if session is not None:
            for ev in session.exec(select(AuditEvent).where(AuditEvent.audit_id == a.id)
                                   .order_by(col(AuditEvent.id))).all():
                if ev.kind in ("ask", "answer"):
                    said = str(EVENT_WORDS[ev.kind])
                    b.line(f"  {_hm(ev.at)} {self._name(ev.actor)} ({said}): ", user(ev.text))
        return b.build(private=True)

    def _name(self, contact_id: str) -> str:
        try:
            return self.directory.contact(contact_id).name
        except NotFound:
            return contact_id

    # ----- reminders -------------------------------------------------------------------
    def scheduled_jobs(self) -> list[ScheduledJob]:
        return [ScheduledJob("audit-reminders", self.reminder_hour, 0, self.remind)]

    async def remind(self) -> int:
        """Remind the lead auditor and the Secretariat of a report due by the next working
        day or late (once a day), and the centre and the Secretariat of a re-audit due
        within 90 days (once per due date)."""
        def work(session: Session) -> int:
            now = self.clock()
            today = now.astimezone(UTC).date()
            sent = 0
            for a in session.exec(select(Audit).where(Audit.phase == "report",
                                                      col(Audit.report_at).is_(None))):
                due = a.report_due
                if due is None or a.report_reminded == today:
                    continue
                if working_days_after(today, 1, self.holidays) >= due:
                    lead = self._lead(a)
                    late = today > due

                    def reminder(due: date = due, late: bool = late
                                 ) -> tuple[str, list[Line]]:
                        said = (_t("The post-audit report is late: due {day}.", day=str(due))
                                if late else
                                _t("The post-audit report is due: due {day}.", day=str(due)))
                        return _t("post-audit report reminder"), [(said,)]

                    self._tell(session, a, self._rooms("secretariat"), reminder,
                               direct=[lead] if lead else [])
                    a.report_reminded = today
                    session.add(a)
                    sent += 1
            for a in session.exec(select(Audit).where(col(Audit.reaudit_due).is_not(None))):
                due = a.reaudit_due
                if due is None or a.reaudit_reminded == due or today < due - REAUDIT_NOTICE:
                    continue
                def reaudit(a: Audit = a, due: date = due) -> tuple[str, list[Line]]:
                    return _t("re-audit due"), [(ngettext(
                        "The rolling re-audit of {centre} is due by {day} (every {n} year). "
                        "Request it with `audit request {centre} <questionnaire>`.",
                        "The rolling re-audit of {centre} is due by {day} (every {n} years). "
                        "Request it with `audit request {centre} <questionnaire>`.",
                        a.reaudit_years, centre=a.centre, day=str(due)),)]

                self._tell(session, a, self._rooms("secretariat", f"member:{a.member}"),
                           reaudit)
                a.reaudit_reminded = due
                session.add(a)
                sent += 1
            return sent

        return await self.store.tx(work)


def _heading(a: Audit, title: str) -> str:
    """``AUD-3 · DE-OF-NC – title``: the codes isolated in a right-to-left language."""
    return f"{i18n.iso(audit_ref(a))} · {i18n.iso(a.centre)} – {title}"


def _hm(at: datetime | None) -> str:
    return "–" if at is None else i18n.when(_utc(at))


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(_t("{given} is not a date: use 2026-03-05",
                            given=repr(text))) from None

