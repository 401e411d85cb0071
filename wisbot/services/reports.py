"""The annual service report: incidents handled and the service level achieved.

Aggregates only — no incident numbers, centres or Members. Live figures still count
incidents most readers may not see (a hidden report moves them at once), so they are the
Secretariat's (:func:`wisbot.domain.audience.sees_live_statistics`); everyone else gets the
figures of the incidents they may see, or the figures published for a closed year (posted
once on 1 January and kept as published: the collaboration room's count only the incidents
shared with the group; the Secretariat room gets every incident).

* time to notify: from an incident's report to the delivery of that report to every
  room told;
* time to acknowledge: from a page's creation to its acknowledgement; the share within
  the 1-hour target counts every page whose target has passed or that was acknowledged;
* incidents are counted by the highest severity they reached (3 → 5 → 2 counts as 5):
  what the incident was at its worst is what the year's figures are about;
* pager running: UTC hours in which a wisbot process was running its pager (so a page
  would have gone out), out of the hours since wisbot first ran that year — a deployment
  in December is not "0 % covered" for the months before it existed. The hours of the
  whole year so far are given beside it;
* reachability: the year's drill pages (test pages through each role's 24/7 chain) per
  GISC and for the Secretariat: answered, median time to answer and the share answered
  within the 1-hour target. Drill pages are never counted among the incident pages above.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.clock import Clock
from wisbot.directory import Directory
from wisbot.domain.audience import room_sees
from wisbot.domain.confidentiality import Vis
from wisbot.domain.paging import TARGET, format_duration, percentile, share_within
from wisbot.domain.rsit import classes as rsit_classes
from wisbot.domain.severity import severity
from wisbot.i18n import N_, ngettext
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder, bold
from wisbot.services.context import Caller
from wisbot.services.languages import room_language
from wisbot.services.notify import notify
from wisbot.services.paging import page_verdict, time_to_notify
from wisbot.services.render import exposure
from wisbot.store.engine import Store
from wisbot.store.paging_tables import Page, ServiceHour
from wisbot.store.tables import AdapterState, Incident

UNCLASSIFIED = "unclassified"

MONTHS = (N_("Jan"), N_("Feb"), N_("Mar"), N_("Apr"), N_("May"), N_("Jun"), N_("Jul"),
          N_("Aug"), N_("Sep"), N_("Oct"), N_("Nov"), N_("Dec"))


@dataclass
class Timing:
    count: int
    median_s: float | None
    p90_s: float | None
    within_1h: float | None


@dataclass
class AnnualReport:
    year: int
    generated_at: str
    incidents: int
    by_severity: dict[int, int]
    by_month: dict[int, dict[int, int]]
    """month (1-12) → severity → count."""
    time_to_notify: Timing
    time_to_acknowledge: Timing
    pages: int
    pages_acknowledged: int
    pages_secretariat_step: int
    pages_target_missed: int
    hours_covered: int
    hours_in_period: int
    notes: list[str] = field(default_factory=list)
    first_hour: str | None = None
    """The first hour of the year in which a wisbot pager ran (ISO, UTC)."""
    hours_since_first: int = 0
    """Hours from ``first_hour`` to the end of the period."""
    by_class: dict[str, int] = field(default_factory=dict)
    """RSIT class → incidents (``unclassified`` for none); absent from figures published
    before classification existed."""
    reachability: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Role (``secretariat``, ``gisc:X``) → drills, answered, median_s, within_1h."""

    @property
    def coverage(self) -> float | None:
        """Share of the hours since wisbot first ran in the year with a pager running."""
        if self.first_hour is None:
            return None
        return self.hours_covered / self.hours_since_first if self.hours_since_first else None


BY_HIGHEST = N_("counted by the highest severity each reached (3 → 5 → 2 counts as 5)")


def highest_severity(inc: Incident) -> int:
    return inc.severity if inc.highest_severity is None else inc.highest_severity


def _timing(values: list[float], denominator: int | None = None) -> Timing:
    within = share_within(values, TARGET.total_seconds())
    if denominator:
        within = sum(1 for v in values if v <= TARGET.total_seconds()) / denominator
    return Timing(len(values), percentile(values, 0.5), percentile(values, 0.9), within)


def annual_report(session: Session, year: int, now: datetime,
                  include: Callable[[Incident], bool] | None = None) -> AnnualReport:
    """The year's figures; with ``include``, only of the incidents it admits (and their
    pages: pages about no incident, or a hidden one, are left out)."""
    start = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    incidents = list(session.exec(select(Incident).where(col(Incident.created_at) >= start,
                                                         col(Incident.created_at) < end)).all())
    if include is not None:
        incidents = [inc for inc in incidents if include(inc)]
    by_severity = {level: 0 for level in range(6)}
    by_month = {m: {level: 0 for level in range(6)} for m in range(1, 13)}
    by_class = {c: 0 for c in [*rsit_classes(), UNCLASSIFIED]}
    ttn: list[float] = []
    for inc in incidents:
        level = highest_severity(inc)
        by_severity[level] += 1
        by_month[inc.created_at.month][level] += 1
        cls = (inc.rsit or "").partition("/")[0]
        by_class[cls if cls in by_class else UNCLASSIFIED] += 1
        t = time_to_notify(session, inc)
        if t is not None:
            ttn.append(t)
    pages = list(session.exec(select(Page).where(col(Page.created_at) >= start,
                                                 col(Page.created_at) < end,
                                                 col(Page.kind) != "drill")).all())
    if include is not None:
        shown = {inc.id for inc in incidents}
        pages = [p for p in pages if p.incident_id is not None and p.incident_id in shown]
    tta = [(p.acked_at - p.created_at).total_seconds() for p in pages if p.acked_at]
    decided = sum(1 for p in pages if p.acked_at is not None or p.target_at <= now)
    missed = sum(1 for p in pages if page_verdict(p, now) == "missed")
    hours = session.exec(select(ServiceHour).where(col(ServiceHour.hour) >= start,
                                                   col(ServiceHour.hour) < end)).all()
    period_end = min(end, max(now, start))
    period_hours = _hours(start, period_end)
    first = min((h.hour for h in hours), default=None)
    if first is not None and first.tzinfo is None:
        first = first.replace(tzinfo=UTC)
    return AnnualReport(
        year=year, generated_at=now.astimezone(UTC).isoformat(timespec="seconds"),
        incidents=len(incidents), by_severity=by_severity, by_month=by_month,
        time_to_notify=_timing(ttn), time_to_acknowledge=_timing(tta, decided),
        pages=len(pages), pages_acknowledged=len(tta),
        pages_secretariat_step=sum(1 for p in pages if p.secretariat_alerted_at),
        pages_target_missed=missed, hours_covered=len(hours), hours_in_period=period_hours,
        first_hour=first.isoformat(timespec="minutes") if first else None,
        hours_since_first=max(_slots(first, min(now, end - timedelta(microseconds=1))),
                              len(hours)) if first else 0,
        by_class={c: n for c, n in by_class.items() if n},
        reachability=reachability(session, start, end, now),
    )


def reachability(session: Session, start: datetime, end: datetime,
                 now: datetime) -> dict[str, dict[str, Any]]:
    """Measured reachability from the drills of ``[start, end)``: per GISC and for the
    Secretariat, against the 1-hour target (a drill still inside its hour is left out)."""
    drills = session.exec(select(Page).where(col(Page.kind) == "drill",
                                             col(Page.created_at) >= start,
                                             col(Page.created_at) < end)).all()
    per: dict[str, list[float | None]] = {}
    for p in drills:
        if not (p.role == "secretariat" or p.role.startswith("gisc:")):
            continue
        target = p.target_at if p.target_at.tzinfo else p.target_at.replace(tzinfo=UTC)
        if p.acked_at is None and target > now:
            continue
        took = (p.acked_at - p.created_at).total_seconds() if p.acked_at else None
        per.setdefault(p.role, []).append(took)
    out: dict[str, dict[str, Any]] = {}
    for role in sorted(per, key=lambda r: (r != "secretariat", r)):
        times = [t for t in per[role] if t is not None]
        out[role] = {"drills": len(per[role]), "answered": len(times),
                     "median_s": percentile(times, 0.5),
                     "within_1h": sum(1 for t in times if t <= TARGET.total_seconds())
                     / len(per[role])}
    return out


def reachability_lines(r: AnnualReport) -> list[str]:
    return [_role_name(role) + ": " + ngettext(
        "{n} drill, answered {answered}, median {median}, within 1 hour {within}",
        "{n} drills, answered {answered}, median {median}, within 1 hour {within}",
        int(v["drills"] or 0), answered=v["answered"], median=format_duration(v["median_s"]),
        within=_pct(v["within_1h"])) for role, v in r.reachability.items()]


def _role_name(role: str) -> str:
    return _t("Secretariat") if role == "secretariat" else f"GISC {role.partition(':')[2]}"
def report_for(session: Session, caller: Caller, year: int,
               now: datetime) -> tuple[AnnualReport, str]:
    """The report ``caller`` may read, and what it covers: live figures for the
    Secretariat; for everyone else the published figures of a closed year, or the figures
    of the incidents they may see (a count that moved with a hidden report would reveal
    it). Chat's ``incident stats`` and the web page both ask here."""
    if caller.sees_live_statistics:
        return annual_report(session, year, now), ""
    # Drill reachability (every role's chain and how it answered) stays the Secretariat's,
    # as chat's `drill results` keeps it.
    published = published_report(session, year) if year < now.year else None
    if published is not None:
        return replace(published, reachability={}), _t(" (as published)")

    def seen(inc: Incident) -> bool:
        return caller.sees(exposure(inc)) is not Vis.NONE

    return (replace(annual_report(session, year, now, include=seen), reachability={}),
            _t(" (incidents you may see here)"))


def _slots(first: datetime, last: datetime) -> int:
    """The UTC hours from ``first``'s through ``last``'s, both included."""
    last = last.replace(minute=0, second=0, microsecond=0)
    return max(int((last - first).total_seconds() // 3600) + 1, 0)


def _hours(start: datetime, end: datetime) -> int:
    """Whole or started hours from ``start`` to ``end``."""
    seconds = max((end - start).total_seconds(), 0.0)
    return int(seconds // 3600) + (1 if seconds % 3600 else 0)


def pager_words(r: AnnualReport) -> str:
    """What the pager hours measure, in words (a bare "1 of 8046" told nobody anything)."""
    if r.first_hour is None:
        if r.hours_covered:  # figures published before the first hour was kept
            return _t("{covered} of the {hours} hours of {year} had a wisbot process up to "
                      "send pages", covered=r.hours_covered, hours=r.hours_in_period,
                      year=r.year)
        return _t("no wisbot pager ran in {year} (of {hours} hours so far)", year=r.year,
                  hours=r.hours_in_period)
    first = i18n.when_short(datetime.fromisoformat(r.first_hour))
    return _t("{covered} of the {since} hours since wisbot first ran in {year} ({first}): "
              "{coverage} — hours in which a wisbot process was up to send pages ({hours} "
              "hours of {year} so far)", covered=r.hours_covered, since=r.hours_since_first,
              year=r.year, first=first, coverage=_pct(r.coverage), hours=r.hours_in_period)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _timing_words(t: Timing) -> str:
    return _t("median {median}, 90th percentile {p90}, within 1 hour {within} (n={count})",
              median=format_duration(t.median_s), p90=format_duration(t.p90_s),
              within=_pct(t.within_1h), count=t.count)


def to_markdown(r: AnnualReport) -> str:
    out = [_t("# WIS IT-security incident service — annual report {year}", year=r.year), "",
           _t("Generated {at}.", at=r.generated_at), "",
           _t("- Incidents handled: **{count}**", count=r.incidents),
           _t("- Time to notify: {timing}", timing=_timing_words(r.time_to_notify)),
           _t("- Time to acknowledge a page: {timing}",
              timing=_timing_words(r.time_to_acknowledge)),
           _t("- Pages: {pages}, acknowledged {acknowledged}, reached the Secretariat step "
              "{secretariat}, 1-hour target missed {missed}", pages=r.pages,
              acknowledged=r.pages_acknowledged, secretariat=r.pages_secretariat_step,
              missed=r.pages_target_missed),
           _t("- Pager running: {words}", words=pager_words(r)), "",
           _t("## Incidents by severity"), "", _t("Incidents are {how}.", how=BY_HIGHEST), "",
           _t("| severity | incidents |"), "|---|---|"]
    for level, n in r.by_severity.items():
        out.append(f"| {severity(level).words} | {n} |")
    out += ["", _t("## Incidents by RSIT class"), "", _t("| class | incidents |"), "|---|---|"]
    out += [f"| {cls} | {n} |" for cls, n in r.by_class.items()] or ["| – | 0 |"]
    out += ["", "## " + _t("Reachability (drills, 1-hour target)"), ""]
    out += [f"- {line}" for line in reachability_lines(r)] or ["- " + _t("no drills")]
    out += ["", _t("## Incidents by month and severity"), "",
            _t("| month | ") + " | ".join(_t("sev {level}", level=s) for s in range(6))
            + _t(" | total |"),
            "|---|" + "---|" * 7]
    for month, row in r.by_month.items():
        out.append(f"| {MONTHS[month - 1]} | " + " | ".join(str(row[s]) for s in range(6))
                   + f" | {sum(row.values())} |")
    return "\n".join(out) + "\n"


def to_csv(r: AnnualReport) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section", "key", "value"])
    w.writerow(["summary", "year", r.year])
    w.writerow(["summary", "incidents", r.incidents])
    for name, t in (("time_to_notify", r.time_to_notify),
                    ("time_to_acknowledge", r.time_to_acknowledge)):
        w.writerow([name, "count", t.count])
        w.writerow([name, "median_s", "" if t.median_s is None else round(t.median_s, 1)])
        w.writerow([name, "p90_s", "" if t.p90_s is None else round(t.p90_s, 1)])
        w.writerow([name, "within_1h", "" if t.within_1h is None else round(t.within_1h, 4)])
    for key in ("pages", "pages_acknowledged", "pages_secretariat_step",
                "pages_target_missed", "hours_covered", "hours_since_first", "hours_in_period"):
        w.writerow(["pages" if key.startswith("pages") else "hours", key, getattr(r, key)])
    w.writerow(["hours", "first_hour", r.first_hour or ""])
    w.writerow(["by_severity", "counted_by", "highest severity reached"])
    for level, n in r.by_severity.items():
        w.writerow(["by_severity", level, n])
    for cls, n in r.by_class.items():
        w.writerow(["by_class", cls, n])
    for role, v in r.reachability.items():
        for key in ("drills", "answered", "median_s", "within_1h"):
            value = v[key]
            w.writerow(["reachability", f"{role}/{key}",
                        "" if value is None else round(value, 4)])
    for month, row in r.by_month.items():
        for level, n in row.items():
            w.writerow(["by_month", f"{r.year}-{month:02d}/sev{level}", n])
    return buf.getvalue()


def to_json(r: AnnualReport) -> str:
    data = asdict(r)
    data["coverage"] = r.coverage
    data["severity_counted_by"] = "highest"
    return json.dumps(data, indent=2, sort_keys=True)


def from_json(text: str) -> AnnualReport:
    """A report written by :func:`to_json` (the published figures of a year)."""
    data: dict[str, Any] = json.loads(text)
    data.pop("coverage", None)
    data.pop("severity_counted_by", None)
    data["by_severity"] = {int(k): int(v) for k, v in data["by_severity"].items()}
    data["by_month"] = {int(m): {int(k): int(v) for k, v in row.items()}
                        for m, row in data["by_month"].items()}
    data["by_class"] = {str(k): int(v) for k, v in (data.get("by_class") or {}).items()}
    data["reachability"] = dict(data.get("reachability") or {})
    data["time_to_notify"] = Timing(**data["time_to_notify"])
    data["time_to_acknowledge"] = Timing(**data["time_to_acknowledge"])
    return AnnualReport(**data)


PUBLIC_SCOPE = N_(" (incidents shared with the group)")


def _marker(year: int) -> str:
    return f"annual-report-{year}"


def published_report(session: Session, year: int) -> AnnualReport | None:
    """The figures posted for ``year`` on 1 January, as they were posted."""
    marker = session.get(AdapterState, ("wisbot", _marker(year)))
    if marker is None:
        return None
    try:
        return from_json(marker.value)
    except (ValueError, KeyError, TypeError):
        return None  # a marker from before the figures were kept with it


def to_reply(r: AnnualReport, scope: str = "") -> Reply:
    b = ReplyBuilder(_t("Service report {year}{scope}", year=r.year, scope=scope), kind="report")
    b.field(_t("Incidents"), str(r.incidents))
    b.field(_t("Pager running"), pager_words(r))
    b.line(bold(_t("Time to notify: ")), _timing_words(r.time_to_notify))
    b.line(bold(_t("Time to acknowledge: ")), _timing_words(r.time_to_acknowledge))
    b.line(bold(_t("Pages: ")), _t("{pages}, acknowledged {pages_acknowledged}, reached the "
                               "Secretariat step {pages_secretariat_step}, 1-hour target "
                               "missed {pages_target_missed}",
                                   pages=r.pages, pages_acknowledged=r.pages_acknowledged,
                                   pages_secretariat_step=r.pages_secretariat_step,
                                   pages_target_missed=r.pages_target_missed))
    b.line(bold(_t("By severity: ")), ", ".join(f"{lvl}: {n}" for lvl, n in r.by_severity.items())
           + f" ({BY_HIGHEST})")
    if r.by_class:
        b.line(bold(_t("By RSIT class: ")), ", ".join(f"{c}: {n}" for c, n in r.by_class.items()))
    if r.reachability:
        b.line(bold(_t("Reachability (drills, 1-hour target)") + ":"))
        for line in reachability_lines(r):
            b.line(f"  {line}")
    b.line(bold(_t("By month (sev 0–5):")))
    for month, row in r.by_month.items():
        if sum(row.values()):
            b.line(f"  {MONTHS[month - 1]}: " + " ".join(str(row[s]) for s in range(6))
                   + _t(" (total {total})", total=sum(row.values())))
    if not r.incidents:
        b.line(_t("No incidents recorded this year."))
    return b.build()


async def post_annual_report(store: Store, directory: Directory, clock: Clock,
                             year: int) -> bool:
    """Post the report to the Secretariat and collaboration rooms once (a durable marker
    keeps a restart or a second process from posting it again); True when posted."""

    def work(session: Session) -> bool:
        now = clock()
        marker = session.get(AdapterState, ("wisbot", _marker(year)))
        if marker is not None:
            return False
        report = annual_report(session, year, now)
        # What the group is told counts only the incidents shared with the group: a
        # month/severity count of hidden ones would give them away.
        public = annual_report(session, year, now, include=lambda inc: room_sees(
            "collaboration", exposure(inc)) is not Vis.NONE)
        # The published figures are kept: a closed year's stats read these, never a live
        # recount (that would move with later changes to hidden incidents).
        session.add(AdapterState(platform="wisbot", name=_marker(year),
                                 value=to_json(public), updated_at=now))
        deliveries = []  # each room in its language
        for room in directory.rooms_with_role("secretariat"):
            with i18n.use(room_language(room)):
                deliveries.append((room, to_reply(report)))
        for room in directory.rooms_with_role("collaboration"):
            with i18n.use(room_language(room)):
                deliveries.append((room, to_reply(public, str(PUBLIC_SCOPE))))
        notify(session, kind="annual-report", now=now, incident_id=None,
               deliveries=deliveries)
        return True

    return await store.tx(work)
