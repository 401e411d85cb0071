"""The rules of an audit of a WIS centre (Annex 2 of the WMO text): the team, working
days, the questionnaire's language, the outcomes. Pure functions, no storage."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from wisbot.i18n import N_, Lazy
from wisbot.i18n import _ as _t

OUTCOMES = ("compliant", "conditions", "not-compliant")
# The outcome= and phase keys are command words; the words shown are translated (str()).
OUTCOME_WORDS: dict[str, Lazy] = {"compliant": N_("compliant"),
                                  "conditions": N_("compliant with conditions"),
                                  "not-compliant": N_("not compliant")}
PHASES = ("request", "pre-audit", "not-proceeding", "ready", "audit", "report", "closed")
PHASE_WORDS: dict[str, Lazy] = {
    "request": N_("1 request (self-assessment questionnaire received)"),
    "pre-audit": N_("2 pre-audit assessment"),
    "not-proceeding": N_("2 pre-audit: recommended not to proceed"),
    "ready": N_("2 pre-audit: team satisfied, audit to be scheduled"),
    "audit": N_("3 audit"),
    "report": N_("4 post-audit report"),
    "closed": N_("closed"),
}
AUDIT_DAYS = 2
"""An audit takes two (working) days, travel excluded (Annex 2 §2.6)."""
REPORT_WORKING_DAYS = 5
"""The post-audit report is due within five working days of the audit (§2.24)."""
TEAM_PARTS = ("lead", "expert", "member")
PART_WORDS: dict[str, Lazy] = {"lead": N_("lead"), "expert": N_("expert"),
                               "member": N_("team member")}
"""A team member's part as shown (``lead=`` and ``expert=`` stay the command's words)."""


def working_days_after(start: date, days: int, holidays: Iterable[date] = ()) -> date:
    """The ``days``-th working day after ``start`` (weekends and ``holidays`` skipped)."""
    off = set(holidays)
    day = start
    left = days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in off:
            left -= 1
    return day


def next_working_day(day: date, holidays: Iterable[date] = ()) -> date:
    """``day`` itself when it is a working day, else the next one."""
    off = set(holidays)
    while day.weekday() >= 5 or day in off:
        day += timedelta(days=1)
    return day


@dataclass(frozen=True)
class TeamMember:
    contact: str
    part: str
    experienced: bool
    regions: frozenset[str]
    unplaced: frozenset[str] = frozenset()
    """The person's Members with no region recorded: the own-region rule cannot be
    checked for them, so they may not audit."""


def team_problems(team: Sequence[TeamMember], centre_region: str) -> list[str]:
    """Why a team may not audit a centre of ``centre_region`` (empty: it may)."""
    out: list[str] = []
    people = {m.contact for m in team}
    if len(people) < 2:
        out.append(_t("the team needs at least two people"))
    leads = [m for m in team if m.part == "lead"]
    if len(leads) != 1:
        out.append(_t("the team needs exactly one lead auditor"))
    elif not leads[0].experienced:
        out.append(_t("the lead auditor {contact} has no audit experience recorded "
                      "(audit_experience in the directory)", contact=leads[0].contact))
    if not any(m.part == "expert" for m in team):
        out.append(_t("the team needs a subject expert"))
    for m in team:
        if m.unplaced:
            out.append(_t("the directory records no WMO region for {members} ({contact}): "
                          "add `region:` to the Member, so the no-own-region rule can be "
                          "checked", members=", ".join(sorted(m.unplaced)), contact=m.contact))
        if centre_region in m.regions:
            out.append(_t("{contact} is from Region {region}, the audited centre's region: "
                          "no auditor audits a centre in their own region",
                          contact=m.contact, region=centre_region))
    return out


def mostly_english(text: str) -> bool:
    """Whether ``text`` is written in Latin script (the questionnaire is in English,
    §2.5/§2.10): at least 90 % of its letters Latin. A link counts as Latin."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    return latin >= 0.9 * len(letters)


def parse_hours(text: str) -> float:
    """``4h``, ``90m``, ``2d``, ``1.5`` (hours) → hours; ValueError when not a duration."""
    t = text.strip().lower()
    factor = 1.0
    if t.endswith("h"):
        t = t[:-1]
    elif t.endswith("m"):
        t, factor = t[:-1], 1 / 60
    elif t.endswith("d"):
        t, factor = t[:-1], 24.0
    value = float(t) * factor
    if not 0 <= value <= 24 * 365:
        raise ValueError(text)
    return value
