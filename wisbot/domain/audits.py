"""The rules of an audit of a WIS centre (Annex 2 of the WMO text): the team, working
days, the questionnaire's language, the outcomes. Pure functions, no storage."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

OUTCOMES = ("compliant", "conditions", "not-compliant")
OUTCOME_WORDS = {"compliant": "compliant",
                 "conditions": "compliant with conditions",
                 "not-compliant": "not compliant"}
PHASES = ("request", "pre-audit", "not-proceeding", "ready", "audit", "report", "closed")
PHASE_WORDS = {
    "request": "1 request (self-assessment questionnaire received)",
    "pre-audit": "2 pre-audit assessment",
    "not-proceeding": "2 pre-audit: recommended not to proceed",
    "ready": "2 pre-audit: team satisfied, audit to be scheduled",
    "audit": "3 audit",
    "report": "4 post-audit report",
    "closed": "closed",
}
AUDIT_DAYS = 2
"""An audit takes two (working) days, travel excluded (Annex 2 §2.6)."""
REPORT_WORKING_DAYS = 5
"""The post-audit report is due within five working days of the audit (§2.24)."""
TEAM_PARTS = ("lead", "expert", "member")


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
        out.append("the team needs at least two people")
    leads = [m for m in team if m.part == "lead"]
    if len(leads) != 1:
        out.append("the team needs exactly one lead auditor")
    elif not leads[0].experienced:
        out.append(f"the lead auditor {leads[0].contact} has no audit experience recorded "
                   "(audit_experience in the directory)")
    if not any(m.part == "expert" for m in team):
        out.append("the team needs a subject expert")
    for m in team:
        if m.unplaced:
            out.append(f"the directory records no WMO region for {', '.join(sorted(m.unplaced))}"
                       f" ({m.contact}): add `region:` to the Member, so the no-own-region "
                       "rule can be checked")
        if centre_region in m.regions:
            out.append(f"{m.contact} is from Region {centre_region}, the audited centre's "
                       "region: no auditor audits a centre in their own region")
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
