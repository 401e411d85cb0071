"""GISC Watch rules, pure: roster arithmetic, the ticket workflow, impact levels and their
targets, and the handover clock of the 2025 practice. No I/O.

Roster periods run 00:00–23:59 UTC from ``start`` to ``end`` inclusive (the official file's
``gisc_name,start_date,end_date``); the duty GISC at an instant is the one whose period
holds that instant's UTC date.
"""

from __future__ import annotations

import calendar
import csv
import io
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from wisbot.i18n import _ as _t
from wisbot.i18n import ngettext

# ----- roster ------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Period:
    """One roster line: ``Period(date(2025, 4, 1), date(2025, 4, 15), "Toulouse")``."""

    start: date
    end: date
    gisc: str

    @property
    def starts_at(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)

    @property
    def ends_at(self) -> datetime:
        """The first instant after the period (the next day, 00:00 UTC)."""
        nxt = self.end + timedelta(days=1)
        return datetime(nxt.year, nxt.month, nxt.day, tzinfo=UTC)

    def holds(self, day: date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, other: Period) -> bool:
        return self.start <= other.end and other.start <= self.end


class RosterError(ValueError):
    """A roster file that cannot be imported; ``problems`` name the line and the field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class RosterImport:
    periods: tuple[Period, ...]
    warnings: tuple[str, ...] = ()


_DATE_RE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")


def _parse_day(raw: str, where: str, warnings: list[str]) -> date:
    m = _DATE_RE.match(raw)
    if not m:
        raise ValueError(f"{where}: {raw!r} is not a date like 2025-04-01")
    y, mo, d = (int(g) for g in m.groups())
    if not 1 <= mo <= 12 or d < 1 or d > 31:
        raise ValueError(f"{where}: {raw!r} is not a date")
    last = calendar.monthrange(y, mo)[1]
    if d > last:
        warnings.append(f"{where}: {raw} does not exist; read as {y:04d}-{mo:02d}-{last:02d} "
                        "(the last day of that month)")
        d = last
    return date(y, mo, d)


def parse_roster_csv(text: str, resolve: Callable[[str], str]) -> RosterImport:
    """The official roster file as published: a ``gisc_name,start_date,end_date`` header,
    names like ``GISC-Brasília`` (``resolve`` maps them to directory GISCs and raises
    ``ValueError``/``LookupError`` for unknown ones), blank lines ignored.

    Known slips in the published file are repaired with a warning, never silently: a day
    past the month's end (``2027-06-31`` → the 30th), and a start year typed wrong so that
    the line overlaps the lines before it although month and day continue the sequence
    (``2026-01-01`` after a period ending ``2026-12-31`` → ``2027-01-01``). Anything else
    that overlaps, ends before it starts, or names an unknown GISC is an error.
    """
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text))
    problems: list[str] = []
    warnings: list[str] = []
    rows: list[tuple[int, list[str]]] = [(i, r) for i, r in enumerate(reader, start=1)
                                         if any(c.strip() for c in r)]
    if not rows:
        raise RosterError(["the file is empty: expected gisc_name,start_date,end_date"])
    header = [c.strip().lower() for c in rows[0][1]]
    if header[:3] != ["gisc_name", "start_date", "end_date"]:
        raise RosterError([f"line {rows[0][0]}: the header must be "
                           f"gisc_name,start_date,end_date, not {','.join(rows[0][1])!r}"])
    periods: list[tuple[int, Period]] = []
    for line, row in rows[1:]:
        where = f"line {line}"
        if len(row) < 3:
            problems.append(f"{where}: expected 3 fields, got {len(row)}")
            continue
        name, raw_start, raw_end = (c.strip() for c in row[:3])
        try:
            gisc = resolve(name)
        except (ValueError, LookupError) as exc:
            problems.append(f"{where}: {exc}")
            continue
        try:
            start = _parse_day(raw_start, f"{where} start_date", warnings)
            end = _parse_day(raw_end, f"{where} end_date", warnings)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if periods:
            prev_line, prev = periods[-1]
            expected = prev.end + timedelta(days=1)
            if start < expected and start.year != expected.year and \
                    (start.month, start.day) == (expected.month, expected.day):
                warnings.append(f"{where} start_date: {raw_start} overlaps line {prev_line}; "
                                f"read as {expected.isoformat()} (the year looks mistyped)")
                start = expected
        if end < start:
            problems.append(f"{where}: end_date {end} is before start_date {start}")
            continue
        periods.append((line, Period(start, end, gisc)))
    ordered = sorted(periods, key=lambda lp: lp[1].start)
    for (la, a), (lb, b) in itertools.pairwise(ordered):
        if a.overlaps(b):
            problems.append(f"line {lb}: {b.start}–{b.end} overlaps line {la} "
                            f"({a.gisc}, {a.start}–{a.end})")
    if problems:
        raise RosterError(problems)
    result = tuple(p for _, p in ordered)
    for gap_start, gap_end in gaps(result):
        warnings.append(f"no duty GISC from {gap_start} to {gap_end} (a gap in the roster)")
    return RosterImport(result, tuple(warnings))


def gaps(periods: Sequence[Period]) -> list[tuple[date, date]]:
    """Uncovered days between the first and last period, as inclusive (start, end)."""
    out: list[tuple[date, date]] = []
    ordered = sorted(periods)
    for a, b in itertools.pairwise(ordered):
        if b.start > a.end + timedelta(days=1):
            out.append((a.end + timedelta(days=1), b.start - timedelta(days=1)))
    return out


def utc_day(when: datetime) -> date:
    if when.tzinfo is None:
        raise ValueError("a naive datetime has no UTC date; give a timezone")
    return when.astimezone(UTC).date()


def period_at(periods: Iterable[Period], when: datetime) -> Period | None:
    """The period holding ``when``'s UTC date (None in a gap or outside the roster)."""
    day = utc_day(when)
    for p in periods:
        if p.holds(day):
            return p
    return None


def next_period(periods: Iterable[Period], after: date) -> Period | None:
    """The first period starting after ``after`` (skipping any gap)."""
    later = sorted(p for p in periods if p.start > after)
    return later[0] if later else None


def with_override(periods: Iterable[Period], new: Period) -> list[Period]:
    """The roster with ``new`` set over whatever it covers: overlapped periods are trimmed
    (or split in two when ``new`` falls inside one)."""
    out: list[Period] = []
    for p in periods:
        if not p.overlaps(new):
            out.append(p)
            continue
        if p.start < new.start:
            out.append(Period(p.start, new.start - timedelta(days=1), p.gisc))
        if p.end > new.end:
            out.append(Period(new.end + timedelta(days=1), p.end, p.gisc))
    out.append(new)
    return sorted(out)


def fmt_day(day: date) -> str:
    """The report template's DD/MM/YYYY."""
    return day.strftime("%d/%m/%Y")


# ----- tickets -----------------------------------------------------------------------------


class Impact(StrEnum):
    VERY_HIGH = "very-high"
    HIGH = "high"
    MEDIUM = "medium"

    @classmethod
    def parse(cls, text: str) -> Impact:
        key = text.strip().lower().replace(" ", "-").replace("_", "-")
        for level in cls:
            if key in (level.value, level.value.replace("-", "")):
                return level
        raise ValueError(_t("impact must be very-high, high or medium, not {given!r}",
                            given=text))


@dataclass(frozen=True)
class ImpactInfo:
    words: str
    meaning: str
    respond: timedelta
    resolve: timedelta | None
    """None: no resolve deadline, progress updates every :attr:`update_every` instead."""
    update_every: timedelta | None = None


IMPACTS: dict[Impact, ImpactInfo] = {
    Impact.VERY_HIGH: ImpactInfo(
        "Very High", "severe impact on one or more GISCs' operations, immediate action",
        timedelta(days=1), timedelta(weeks=1)),
    Impact.HIGH: ImpactInfo("High", "one or more essential services unavailable",
                            timedelta(weeks=1), timedelta(days=30)),
    Impact.MEDIUM: ImpactInfo("Medium", "essential services not affected; monitoring ongoing",
                              timedelta(weeks=1), None, timedelta(days=30)),
}


def target_words(impact: Impact) -> str:
    info = IMPACTS[impact]
    # The impact levels (Very High, High, Medium) are the WIS2 IMS's words: kept.
    respond = _span(info.respond)
    if info.resolve:
        return _t("Impact {impact} – respond within {respond}, resolve within {resolve}",
                  impact=info.words, respond=respond, resolve=_span(info.resolve))
    return _t("Impact {impact} – respond within {respond}, progress updates monthly",
              impact=info.words, respond=respond)


def _span(delta: timedelta) -> str:
    days = delta.days
    if days % 30 == 0 and days >= 30:
        return ngettext("{n} month", "{n} months", days // 30)
    if days % 7 == 0:
        return ngettext("{n} week", "{n} weeks", days // 7)
    return ngettext("{n} day", "{n} days", days)


class TicketState(StrEnum):
    TRIAGE = "triage"
    TODO = "todo"
    PROGRESS = "progress"
    REVIEW = "review"
    DONE = "done"


STATE_WORDS: dict[TicketState, str] = {
    TicketState.TRIAGE: "Triage",
    TicketState.TODO: "To Do",
    TicketState.PROGRESS: "In Progress",
    TicketState.REVIEW: "In Review",
    TicketState.DONE: "Done",
}
_ORDER = list(TicketState)


def allowed_moves(state: TicketState) -> tuple[TicketState, ...]:
    """One step forward or back along Triage → To Do → In Progress → In Review → Done;
    Done from anywhere (duplicate, fixed meanwhile); a Done ticket goes back to Triage."""
    if state is TicketState.DONE:
        return (TicketState.TRIAGE,)
    i = _ORDER.index(state)
    moves = [_ORDER[i + 1]]
    if i > 0:
        moves.append(_ORDER[i - 1])
    if TicketState.DONE not in moves:
        moves.append(TicketState.DONE)
    return tuple(moves)


class WorkflowError(ValueError):
    pass


def move(state: TicketState, to: TicketState) -> TicketState:
    # The WIS2 IMS state names (Triage, To Do...) stay English inside the words.
    if to is state:
        raise WorkflowError(_t("the ticket is already {state}", state=STATE_WORDS[state]))
    if to not in allowed_moves(state):
        options = ", ".join(f"{STATE_WORDS[m]} ({m.value})" for m in allowed_moves(state))
        raise WorkflowError(_t("a ticket in {state} can move to {options}, not {to}",
                               state=STATE_WORDS[state], options=options, to=STATE_WORDS[to]))
    return to


def report_status(state: TicketState, partial: bool) -> str:
    """The seed report's status column: closed, partially open, open."""
    if state is TicketState.DONE:
        return "closed"
    return "partially open" if partial else "open"


def stalled(last_activity: datetime, now: datetime, last_reminder: datetime | None,
            after: timedelta = timedelta(days=14)) -> bool:
    """Inactive for more than ``after``, and not reminded since the last activity within
    ``after`` (one reminder per quiet fortnight)."""
    if now - last_activity <= after:
        return False
    return last_reminder is None or now - max(last_reminder, last_activity) > after


@dataclass(frozen=True)
class ProbeVerdict:
    """What a sweep means for one subject (a GISC, or the WIS 2.0 global services)."""

    failing: frozenset[str]
    probed: frozenset[str]

    @property
    def all_failing(self) -> bool:
        return bool(self.probed) and self.failing == self.probed


def impact_for(subject_is_global: bool, verdict: ProbeVerdict,
               kinds: dict[str, str] | None = None) -> Impact:
    """Global services: every one down → Very High (total failure of Global Services); a
    whole kind down (all brokers, say) → High; less → Medium. A GISC: all its probed
    services down → High; some → Medium."""
    if subject_is_global:
        if verdict.all_failing:
            return Impact.VERY_HIGH
        by_kind: dict[str, set[str]] = {}
        for svc in verdict.probed:
            by_kind.setdefault((kinds or {}).get(svc, svc), set()).add(svc)
        if any(members <= verdict.failing for members in by_kind.values()):
            return Impact.HIGH
        return Impact.MEDIUM
    return Impact.HIGH if verdict.all_failing else Impact.MEDIUM


@dataclass(frozen=True)
class TicketChange:
    """How probes move an automatic ticket: ``closed`` when every service it covers
    answers again, ``partial`` when some do, ``more`` lists services failing anew."""

    closed: bool
    partial: bool
    still_failing: frozenset[str]
    more: frozenset[str] = field(default_factory=frozenset)


def recovery(covered: Mapping[str, bool] | Iterable[str], failing_now: Iterable[str],
             probed_now: Iterable[str]) -> TicketChange:
    """``covered``: the ticket's services, mapped to whether each was failing at the last
    look (a plain iterable: all were)."""
    last = dict(covered) if isinstance(covered, Mapping) else dict.fromkeys(covered, True)
    covered_set = frozenset(last)
    failing = frozenset(failing_now)
    probed = frozenset(probed_now)
    # a covered service not probed this time keeps its last known state
    still = frozenset(s for s in covered_set if s in failing or (s not in probed and last[s]))
    more = failing - covered_set
    if not still and not more:
        return TicketChange(closed=True, partial=False, still_failing=still)
    return TicketChange(closed=False, partial=bool(covered_set - still),
                        still_failing=still | more, more=more)


# ----- handover ----------------------------------------------------------------------------


class HandoverStep(StrEnum):
    WAIT = "wait"
    REMIND = "remind"
    ESCALATE = "escalate"
    DONE = "done"


def handover_step(*, now: datetime, sent_at: datetime, period_start: datetime,
                  accepted: bool, last_reminder: datetime | None, escalated: bool,
                  remind_after: timedelta, deadline_after: timedelta) -> HandoverStep:
    """What the handover clock asks for now. Reminders every ``remind_after`` since the
    report (or the last reminder); the deadline is ``deadline_after`` from the later of
    the report and the incoming period's start; past it, once, the GISC after the next
    one is contacted (reminders to the next GISC continue until it accepts)."""
    if accepted:
        return HandoverStep.DONE
    deadline = max(sent_at, period_start) + deadline_after
    if now >= deadline and not escalated:
        return HandoverStep.ESCALATE
    since = last_reminder or sent_at
    if now - since >= remind_after:
        return HandoverStep.REMIND
    return HandoverStep.WAIT
