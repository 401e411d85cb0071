"""Audits of WIS centres (Annex 2) end to end on the console: the four phases, the team
rules, working days with weekends and configured holidays, the report's own audience (a
person outside reads the same words as for a missing case), evidence and re-audits."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from tests.audit_fixture import audit_directory
from tests.conftest import EXAMPLE
from tests.helpers import room_text
from wisbot.adapters.console import render_text
from wisbot.domain.audits import working_days_after

# Hand-written words of the confidential report: none may reach a room outside its audience.
SECRET_FINDING = "backup generator never load-tested"
SECRET_CONDITION = "replace the expired TLS certificate on the portal"

WED = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def text(reply: Any) -> str:
    return render_text(reply)


def test_working_days_skip_weekends_and_holidays() -> None:
    # Friday 4 December 2026 + 5 working days: Mon 7 … Fri 11.
    assert working_days_after(date(2026, 12, 4), 5) == date(2026, 12, 11)
    # Tuesday 8 December a holiday: the deadline moves to Monday 14.
    assert working_days_after(date(2026, 12, 4), 5, [date(2026, 12, 8)]) == date(2026, 12, 14)
    # Thursday + 1 working day (the audit's second day) is Friday; Friday + 1 is Monday.
    assert working_days_after(date(2026, 12, 3), 1) == date(2026, 12, 4)
    assert working_days_after(date(2026, 12, 4), 1) == date(2026, 12, 7)


async def _requested(make_app: Any, clock: Any, **settings: Any) -> Any:
    clock.now = WED
    app = await make_app(audit_directory(EXAMPLE), **settings)
    c = app.console
    reply = await c.type("anna.weber", "audit request DE-OF-NC remote "
                         "https://example.org/de-of-nc-self-assessment.pdf", "member-de")
    assert "AUD-1" in text(reply) and "1 request" in text(reply), text(reply)
    return app


async def test_questionnaire_in_english_and_request_rights(make_app: Any, clock: Any) -> None:
    clock.now = WED
    app = await make_app(audit_directory(EXAMPLE))
    c = app.console
    refused = await c.type("anna.weber", "audit request DE-OF-NC 中心自我评估问卷：备份与恢复")
    assert "in English" in text(refused) and refused.kind == "error"
    other = await c.type("hiro.sato", "audit request DE-OF-NC https://example.org/sa.pdf")
    assert other.kind == "error" and "Member focal points" in text(other)
    missing = await c.type("anna.weber", "audit request DE-OF-NC")
    assert "missing <questionnaire>" in text(missing)
    assert "AUD-1" not in text(await c.type("sec-maria", "audit list"))


async def test_team_rules(make_app: Any, clock: Any) -> None:
    app = await _requested(make_app, clock)
    c = app.console
    own_region = await c.type("sec-maria", "audit team AUD-1 lead=lena.huber expert=kofi.mensah")
    assert "Lena Huber" not in text(own_region) or own_region.kind == "error"
    assert "lena.huber is from Region VI" in text(own_region)
    novice = await c.type("sec-maria", "audit team AUD-1 lead=raj.iyer expert=kofi.mensah")
    assert "no audit experience" in text(novice)
    alone = await c.type("sec-maria", "audit team AUD-1 lead=ines.duarte expert=ines.duarte")
    assert "at least two people" in text(alone)
    not_sec = await c.type("anna.weber", "audit team AUD-1 lead=ines.duarte expert=kofi.mensah")
    assert not_sec.kind == "error" and "Secretariat assigns" in text(not_sec)
    # No team yet: the pre-audit cannot start.
    assert "has no team yet" in text(await c.type("sec-maria", "audit assess AUD-1"))
    ok = await c.type("sec-maria", "audit team AUD-1 lead=ines.duarte expert=kofi.mensah")
    assert ok.kind != "error" and "Ines Duarte (lead)" in text(ok), text(ok)


async def test_four_phases_end_to_end(make_app: Any, clock: Any) -> None:
    app = await _requested(make_app, clock, audit_holidays="2026-12-08")
    c = app.console
    await c.type("sec-maria", "audit team AUD-1 lead=ines.duarte expert=kofi.mensah")
    # Phase 2: requests for more information until the team is satisfied.
    assert "2 pre-audit" in text(await c.type("ines.duarte", "audit assess AUD-1"))
    await c.type("ines.duarte", "audit ask AUD-1 Send the restore test records of 2026")
    await app.outbox.drain()
    assert "restore test records" in room_text(app, "member-de")
    assert "restore test records" not in room_text(app, "gisc-offenbach")
    await c.type("anna.weber", "audit answer AUD-1 Records attached to the shared folder",
                 "member-de")
    await app.outbox.drain()
    assert any("shared folder" in text(r) for r in app.console.direct["ines.duarte"])
    # Not to proceed needs reasons; the team may then be satisfied by new evidence.
    assert "missing <reasons>" in text(await c.type("ines.duarte", "audit stop AUD-1"))
    stop = await c.type("ines.duarte", "audit stop AUD-1 No evidence of an alternate site")
    assert "recommended not to proceed" in text(stop).lower()
    assert "2 pre-audit" in text(await c.type("ines.duarte", "audit assess AUD-1"))
    # Only the lead (or the Secretariat) runs the case: the expert may not.
    assert (await c.type("kofi.mensah", "audit satisfied AUD-1")).kind == "error"
    assert "audit may proceed" in text(await c.type("ines.duarte", "audit satisfied AUD-1"))
    # Phase 3: two working days; a Saturday is refused.
    sat = await c.type("ines.duarte", "audit schedule AUD-1 2026-12-05")
    assert "not a working day" in text(sat)
    sched = await c.type("ines.duarte", "audit schedule AUD-1 2026-12-03")
    assert "2026-12-03 – 2026-12-04" in text(sched)
    early = await c.type("ines.duarte", "audit meeting AUD-1 closing")
    assert "opening meeting first" in text(early)
    clock.now = datetime(2026, 12, 3, 8, 30, tzinfo=UTC)
    await c.type("ines.duarte", "audit meeting AUD-1 opening")
    clock.now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    closing = await c.type("ines.duarte", "audit meeting AUD-1 closing")
    # Five working days from Friday 4th, skipping the weekend and the 8th: Monday 14th.
    assert "Report due: 2026-12-14" in text(closing), text(closing)
    # Phase 4: conditions must be listed with outcome=conditions.
    bare = await c.type("ines.duarte", f"audit report AUD-1 outcome=conditions {SECRET_FINDING}")
    assert "lists the conditions" in text(bare)
    typo = await c.type("ines.duarte", f"audit report AUD-1 outcome=passed {SECRET_FINDING}")
    assert "outcome must be one of" in text(typo)
    report = await c.type("ines.duarte", f'audit report AUD-1 outcome=conditions '
                          f'conditions="{SECRET_CONDITION}; quarterly restore tests" '
                          f'Strengths: 24/7 desk. Weakness: {SECRET_FINDING}.')
    assert report.kind != "error", text(report)
    await app.outbox.drain()
    for room in ("member-de", "secretariat", "working-group"):
        got = room_text(app, room)
        assert SECRET_FINDING in got and SECRET_CONDITION in got, room
        assert "compliant with conditions" in got
        assert "TLP:AMBER+STRICT AUD-1" in got  # the label first, as on incidents
    for room in ("gisc-offenbach", "collaboration", "area-offenbach", "gisc-tokyo"):
        got = room_text(app, room)
        assert SECRET_FINDING not in got and SECRET_CONDITION not in got, room
    # Evidence: handed to WMO before the auditors' copies are destroyed.
    first = await c.type("ines.duarte", "audit evidence AUD-1 destroyed")
    assert "hand the evidence to WMO" in text(first)
    await c.type("ines.duarte", "audit evidence AUD-1 handed")
    closed = await c.type("ines.duarte", "audit evidence AUD-1 destroyed")
    assert "closed" in text(closed) and "Re-audit due: 2030-12-04" in text(closed)
    # Closed: the auditors no longer read the case; the centre and WMO do.
    assert text(await c.type("ines.duarte", "audit show AUD-1")) == \
        text(await c.type("ines.duarte", "audit show AUD-9")).replace("AUD-9", "AUD-1")
    shown = await c.type("anna.weber", "audit show AUD-1")
    assert SECRET_CONDITION in text(shown)


async def test_an_outsider_reads_the_words_of_a_missing_case(make_app: Any, clock: Any) -> None:
    app = await _requested(make_app, clock)
    c = app.console
    for who, room in (("hiro.sato", None), ("gisc-offenbach", None),
                      ("gisc-offenbach", "gisc-offenbach"), ("kofi.mensah", None)):
        real = await c.type(who, "audit show AUD-1", room)
        missing = await c.type(who, "audit show AUD-7", room)
        assert text(real) == text(missing).replace("AUD-7", "AUD-1"), who
        assert "DE-OF-NC" not in text(real)
        assert "DE-OF-NC" not in text(await c.type(who, "audit list", room))
        # Acting on it reads the same.
        act = await c.type(who, "audit ask AUD-1 anything?", room)
        assert text(act) == text(await c.type(who, "audit ask AUD-7 anything?", room)
                                 ).replace("AUD-7", "AUD-1")
    # The Secretariat sees it anywhere it may; the Member's own room too.
    assert "DE-OF-NC" in text(await c.type("sec-maria", "audit show AUD-1", "secretariat"))
    assert "DE-OF-NC" in text(await c.type("anna.weber", "audit show AUD-1", "member-de"))


async def test_report_deadline_and_reaudit_reminders(make_app: Any, clock: Any) -> None:
    app = await _requested(make_app, clock)
    c = app.console
    svc = app.services.extra["audits"]
    await c.type("sec-maria", "audit team AUD-1 lead=ines.duarte expert=kofi.mensah")
    for cmd in ("assess", "satisfied", "schedule AUD-1 2026-12-03"):
        await c.type("ines.duarte", f"audit {cmd}" if " " in cmd else f"audit {cmd} AUD-1")
    clock.now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    await c.type("ines.duarte", "audit meeting AUD-1 opening")
    clock.now = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    await c.type("ines.duarte", "audit meeting AUD-1 closing")  # due Friday 11th
    clock.now = datetime(2026, 12, 8, 7, 0, tzinfo=UTC)
    assert await svc.remind() == 0  # not yet
    clock.now = datetime(2026, 12, 10, 7, 0, tzinfo=UTC)  # Thursday: due next working day
    assert await svc.remind() == 1
    assert await svc.remind() == 0  # once a day
    await app.outbox.drain()
    assert "post-audit report is due" in room_text(app, "secretariat")
    assert any("due 2026-12-11" in text(r) for r in app.console.direct["ines.duarte"])
    clock.now = datetime(2026, 12, 14, 7, 0, tzinfo=UTC)
    assert await svc.remind() == 1
    await app.outbox.drain()
    assert "report is late" in room_text(app, "secretariat")
    await c.type("ines.duarte", "audit report AUD-1 outcome=compliant All criteria met")
    await c.type("ines.duarte", "audit evidence AUD-1 handed")
    await c.type("ines.duarte", "audit evidence AUD-1 destroyed")
    clock.now = datetime(2030, 9, 1, 7, 0, tzinfo=UTC)  # re-audit due 2030-12-14
    assert await svc.remind() == 0
    clock.now = datetime(2030, 9, 20, 7, 0, tzinfo=UTC)
    assert await svc.remind() == 1
    assert await svc.remind() == 0
    await app.outbox.drain()
    assert "rolling re-audit of DE-OF-NC is due by 2030-12-14" in room_text(app, "member-de")


async def test_a_centre_without_a_region_is_refused_clearly(make_app: Any, clock: Any) -> None:
    clock.now = WED
    app = await make_app(audit_directory(EXAMPLE))
    reply = await app.console.type("claire.martin",
                                   "audit request ECMWF-DCPC https://example.org/sa.pdf")
    assert reply.kind == "error" and "region" in text(reply)


async def test_evidence_before_the_report_closes_with_the_report(make_app: Any,
                                                                 clock: Any) -> None:
    app = await _requested(make_app, clock)
    c = app.console
    await c.type("sec-maria", "audit team AUD-1 lead=ines.duarte expert=kofi.mensah")
    for cmd in ("assess AUD-1", "satisfied AUD-1", "schedule AUD-1 2026-12-03"):
        await c.type("ines.duarte", f"audit {cmd}")
    clock.now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    await c.type("ines.duarte", "audit meeting AUD-1 opening")
    moved = await c.type("ines.duarte", "audit schedule AUD-1 2026-12-10")
    assert "has begun" in text(moved)
    await c.type("ines.duarte", "audit evidence AUD-1 handed")
    clock.now = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    await c.type("ines.duarte", "audit meeting AUD-1 closing")
    await c.type("ines.duarte", "audit evidence AUD-1 destroyed")
    assert "4 post-audit report" in text(await c.type("sec-maria", "audit show AUD-1"))
    clock.now = datetime(2027, 2, 26, 10, 0, tzinfo=UTC)
    done = await c.type("ines.duarte", "audit report AUD-1 outcome=not-compliant No backups")
    assert "Phase: closed" in text(done) and "Re-audit due: 2031-02-26" in text(done), text(done)
