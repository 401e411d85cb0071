"""Paging rules without I/O: escalation steps, rotation arithmetic, on-call resolution and
the statistics of the service report.

Times are timezone-aware. A weekly rotation hands over at a *local* wall-clock time (so a
09:00 Geneva handover stays at 09:00 across daylight-saving changes); follow-the-sun shifts
are in UTC hours and wrap around midnight UTC.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from wisbot.i18n import _ as _t


class Action(Enum):
    """What an escalation step does when it falls due."""

    PAGE = "page"
    """Page the current contact of the chain (direct message, e-mail, webhook)."""
    REPEAT = "repeat"
    """Page the current contact again."""
    NEXT = "next"
    """Move to the next contact in the chain and page them (the whole chain once the
    chain is exhausted)."""
    SECRETARIAT = "secretariat"
    """Alert the Secretariat room that the 1-hour target is at risk."""
    MISSED = "missed"
    """Record that the target was missed (and tell the Secretariat room)."""


@dataclass(frozen=True)
class Step:
    after: timedelta
    action: Action

    def label(self) -> str:
        return f"{format_offset(self.after)} {self.action.value}"


DEFAULT_STEPS = "0 page, 15 repeat, 30 next, 45 secretariat, 60 missed"
TARGET = timedelta(hours=1)
_STEP_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h)?\s+([a-z]+)\s*$", re.IGNORECASE)


def format_offset(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 60:
        return f"{seconds}s"
    return f"{seconds // 60} min"


def parse_steps(text: str) -> tuple[Step, ...]:
    """``"0 page, 15 repeat, 30 next, 45 secretariat, 60 missed"``: minutes (``s``/``h``
    suffixes allowed), in increasing order, starting with a ``page`` step."""
    steps: list[Step] = []
    for part in text.split(","):
        if not part.strip():
            continue
        m = _STEP_RE.match(part)
        if not m:
            raise ValueError(f"paging step {part.strip()!r}: write '<minutes> <action>', "
                             f"e.g. '15 repeat'")
        amount = float(m.group(1))
        unit = (m.group(2) or "m").lower()
        seconds = amount * {"s": 1, "m": 60, "min": 60, "h": 3600}[unit]
        try:
            action = Action(m.group(3).lower())
        except ValueError:
            raise ValueError(f"paging step {part.strip()!r}: unknown action "
                             f"{m.group(3)!r}; use one of "
                             f"{', '.join(a.value for a in Action)}") from None
        steps.append(Step(timedelta(seconds=seconds), action))
    if not steps:
        raise ValueError("paging steps: at least one step is needed, e.g. '0 page'")
    if steps[0].action is not Action.PAGE:
        raise ValueError("paging steps: the first step must be a 'page' step")
    for a, b in itertools.pairwise(steps):
        if b.after <= a.after:
            raise ValueError(f"paging steps: {b.label()!r} must come after {a.label()!r}")
    return tuple(steps)


# ----- rotations ----------------------------------------------------------------------

def parse_hhmm(text: str) -> time:
    m = re.match(r"^([01]\d|2[0-3]):([0-5]\d)$", text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a time of day: write HH:MM, e.g. 09:00")
    return time(int(m.group(1)), int(m.group(2)))


def parse_when(text: str) -> datetime:
    """An ISO date or date-time; UTC unless an offset is given."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date-time, e.g. 2026-12-24T18:00 or "
                         "2026-12-24T18:00+01:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Weekly:
    """One contact per week, in order, handing over at ``handover`` local time on the
    weekday of ``start``."""

    contacts: tuple[str, ...]
    start: date
    handover: time
    tz: str = "UTC"

    def _handover_at(self, week: int) -> datetime:
        day = self.start + timedelta(days=7 * week)
        return datetime.combine(day, self.handover, tzinfo=ZoneInfo(self.tz)).astimezone(UTC)

    def _week(self, at: datetime) -> int:
        local = at.astimezone(ZoneInfo(self.tz)).date()
        week = (local - self.start).days // 7
        if at < self._handover_at(week):
            week -= 1
        return week

    def on_call(self, at: datetime) -> str | None:
        week = self._week(at)
        if week < 0 or not self.contacts:
            return None
        return self.contacts[week % len(self.contacts)]

    def next_change(self, at: datetime) -> datetime:
        return self._handover_at(max(self._week(at) + 1, 0))


@dataclass(frozen=True)
class FollowTheSun:
    """Shifts by UTC hour: each ``(start, contact)`` runs until the next shift's start,
    the last one across midnight UTC to the first."""

    shifts: tuple[tuple[time, str], ...]

    def _sorted(self) -> list[tuple[time, str]]:
        return sorted(self.shifts)

    def on_call(self, at: datetime) -> str | None:
        shifts = self._sorted()
        if not shifts:
            return None
        now = at.astimezone(UTC).time()
        current = shifts[-1][1]  # before the first start of the day: last night's shift
        for start, contact in shifts:
            if start <= now:
                current = contact
        return current

    def next_change(self, at: datetime) -> datetime:
        at = at.astimezone(UTC)
        for start, _ in self._sorted():
            candidate = datetime.combine(at.date(), start, tzinfo=UTC)
            if candidate > at:
                return candidate
        first = self._sorted()[0][0]
        return datetime.combine(at.date() + timedelta(days=1), first, tzinfo=UTC)


Rotation = Weekly | FollowTheSun


@dataclass(frozen=True)
class Override:
    contact: str
    start: datetime
    end: datetime

    def active(self, at: datetime) -> bool:
        return self.start <= at < self.end


def resolve_chain(at: datetime, chain: Sequence[str], rotations: Iterable[Rotation] = (),
                  overrides: Iterable[Override] = ()) -> list[str]:
    """Who is paged, in order, at ``at``: active overrides (latest start first), then each
    rotation's contact on call, then the static chain; each contact once."""
    out: list[str] = []
    active = sorted((o for o in overrides if o.active(at)), key=lambda o: o.start, reverse=True)
    for o in active:
        out.append(o.contact)
    for r in rotations:
        who = r.on_call(at)
        if who is not None:
            out.append(who)
    out.extend(chain)
    seen: set[str] = set()
    unique: list[str] = []
    for c in out:
        if c not in seen:
            seen.add(c)
            unique.append(c)
    return unique


def next_change(at: datetime, rotations: Iterable[Rotation] = (),
                overrides: Iterable[Override] = ()) -> datetime | None:
    """The first moment after ``at`` at which the resolved chain may change."""
    times: list[datetime] = [r.next_change(at) for r in rotations]
    for o in overrides:
        for t in (o.start, o.end):
            if t > at:
                times.append(t)
    return min(times) if times else None


# ----- statistics -----------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-quantile (0..1) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def share_within(values: Sequence[float], limit: float) -> float | None:
    if not values:
        return None
    return sum(1 for v in values if v <= limit) / len(values)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return _t("{seconds} s", seconds=seconds)
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return _t("{minutes} min {seconds} s", minutes=minutes, seconds=f"{sec:02d}") if sec \
            else _t("{minutes} min", minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    return _t("{hours} h {minutes} min", hours=hours, minutes=f"{minutes:02d}")
