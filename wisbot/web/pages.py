"""The pages: incident register, lessons library, GISC Watch board, on call, annual report.

Every page asks the services as the signed-in person's own view (``Caller`` with no room:
their direct chat), so it shows what chat would show them and nothing more. A hidden
incident, lesson, ticket or page and a missing one get the same 404 body and status.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from wisbot import i18n
from wisbot.domain.confidentiality import Vis
from wisbot.domain.paging import TARGET, format_duration
from wisbot.domain.rsit import classes as rsit_classes
from wisbot.domain.rsit import parse_filter
from wisbot.domain.watch import IMPACTS, STATE_WORDS, Impact, TicketState, target_words
from wisbot.errors import NotFound, UsageError, WisbotError
from wisbot.i18n import N_
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder, Reveal
from wisbot.services.consent import person_may_read
from wisbot.services.context import Caller
from wisbot.services.languages import person_language
from wisbot.services.lessons import lesson_visibility
from wisbot.services.lists import WHICH
from wisbot.services.paging import page_verdict, time_to_notify
from wisbot.services.render import STATUS, exposure, lesson_label, lesson_spans, role_words
from wisbot.services.reports import MONTHS, report_for, to_csv, to_json
from wisbot.services.watch import SERVICE_WORDS, subject_label
from wisbot.store.paging_tables import Page, PageStep
from wisbot.store.tables import Incident, Lesson
from wisbot.store.watch_tables import ProbeRecord, ProbeRun, WatchTicket
from wisbot.web import svg
from wisbot.web.register import register
from wisbot.web.render import reply_html

TEMPLATES = Jinja2Templates(env=jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=True))
TEMPLATES.env.globals.update(_t=_t, reply_html=reply_html, iso=i18n.iso)

HISTORY_DAYS = 30
NO_STORE = {"Cache-Control": "no-store", "Vary": "Cookie"}

# What the pages show of stored keys (a page's state, its steps, a probe's status), in the
# reader's words; an unknown key is shown as it is.
PAGE_STATUS = {"open": N_("open"), "acked": N_("acknowledged"), "stopped": N_("stopped")}
VERDICTS = {"met": N_("met"), "missed": N_("missed"), "pending": N_("pending"),
            "stopped": N_("stopped")}
STEP_ACTIONS = {"page": N_("page"), "repeat": N_("repeat"), "next": N_("next on the chain"),
                "secretariat": N_("Secretariat step"), "missed": N_("target missed")}
STEP_STATUS = {"pending": N_("pending"), "fired": N_("fired"), "skipped": N_("skipped")}
PROBE_STATUS = {"ok": N_("ok"), "degraded": N_("degraded"), "fail": N_("failing")}


def words_of(table: dict[str, Any], key: str | None) -> str:
    """``key`` in the reader's words (``table`` of :func:`N_` strings), else as it is."""
    if key is None:
        return ""
    found = table.get(key)
    return str(found) if found is not None else key


async def record_access(request: Request, kind: str, ref: str) -> None:
    """Who opened which incident, lesson, ticket or page (the access log of
    ``wisbot.web.access``, when that module is present)."""
    try:
        from wisbot.web import access  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return
    done = access.record_access(request, kind, ref)
    if isinstance(done, Awaitable):
        await done


# ----- the frame -------------------------------------------------------------------------

def _bot(request: Request) -> Any:
    return request.state.bot


def _caller(request: Request) -> Caller | None:
    caller: Caller | None = getattr(request.state, "caller", None)
    return caller


async def _language(request: Request) -> str:
    caller = _caller(request)
    if caller is None:
        return i18n.default()
    bot = _bot(request)
    lang: str = await bot.store.tx(
        lambda s: person_language(s, bot.directory, caller.contact.id))
    return lang


def _frame(request: Request) -> dict[str, Any]:
    """What the base template needs besides the page: the sign-out form's CSRF token and
    the shared words of ``wisbot.web.ui`` when that module is present."""
    caller = _caller(request)
    out: dict[str, Any] = {"csrf": getattr(request.state, "csrf", ""),
                           "is_secretariat": caller is not None and caller.is_secretariat}
    try:
        from wisbot.web import ui  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return out
    out["chrome"] = ui.chrome()
    return out


def _html(request: Request, template: str, lang: str, status: int = 200,
          **context: Any) -> HTMLResponse:
    with i18n.use(lang):
        body = TEMPLATES.get_template(template).render(
            request=request, lang=lang, dir="rtl" if i18n.is_rtl(lang) else "ltr",
            caller=_caller(request), now_year=_bot(request).clock().year,
            **_frame(request), **context)
    return HTMLResponse(body, status_code=status, headers=NO_STORE)


async def not_found(request: Request, lang: str | None = None) -> HTMLResponse:
    """One body for a hidden thing and a missing one: nothing in it depends on the URL."""
    return _html(request, "pages/not_found.html", lang or await _language(request), 404)


async def _signed_out(request: Request, lang: str) -> HTMLResponse:
    return _html(request, "pages/sign_in.html", lang, 401)


Handler = Callable[[Request, Caller, str], Awaitable[Response]]


def _signed_in(handler: Handler, *, hidden_when_out: bool = False) -> Callable[
        [Request], Awaitable[Response]]:
    """``hidden_when_out``: a page about one thing answers a signed-out visitor with the
    same 404 as a missing one (its address tells nothing)."""
    async def endpoint(request: Request) -> Response:
        lang = await _language(request)
        caller = _caller(request)
        if caller is None:
            return await (not_found(request, lang) if hidden_when_out
                          else _signed_out(request, lang))
        with i18n.use(lang):
            try:
                return await handler(request, caller, lang)
            except NotFound:
                return await not_found(request, lang)
    return endpoint


def _bad(request: Request, lang: str, message: str, **context: Any) -> HTMLResponse:
    return _html(request, "pages/error.html", lang, 400, message=message, **context)


# ----- incident register -----------------------------------------------------------------

def _int(raw: str | None, lo: int, hi: int, what: str) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    if not text.isdigit() or not lo <= int(text) <= hi:
        raise UsageError(_t("{what} must be a whole number from {lo} to {hi}, not {value}",
                            what=what, lo=lo, hi=hi, value=repr(text[:40])))
    return int(text)


async def incidents(request: Request, caller: Caller, lang: str) -> Response:
    params = request.query_params
    which = params.get("status") or "all"
    form = {"status": which, "severity": params.get("severity", ""),
            "rsit": params.get("rsit", ""), "year": params.get("year", "")}
    options: dict[str, Any] = {
        "statuses": [(w, str(STATUS[w]) if w in STATUS else _t("all statuses"))
                     for w in WHICH if w != "closed"],
        "classes": rsit_classes(), "status_words": {k: str(v) for k, v in STATUS.items()}}
    try:
        if which not in WHICH:
            raise UsageError(_t("status must be one of {choices}, not {value}",
                                choices=", ".join(WHICH), value=repr(which[:40])))
        sev_min = _int(params.get("severity"), 0, 5, _t("Severity"))
        year = _int(params.get("year"), 2000, 2100, _t("Year"))
        page = _int(params.get("page"), 1, 1_000_000, _t("Page")) or 1
        rsit = parse_filter(params["rsit"]) if params.get("rsit", "").strip() else None
    except UsageError as e:
        return _bad(request, lang, str(e), form=form, **options)
    bot = _bot(request)
    reg = await bot.store.tx(lambda s: register(
        s, bot.directory, caller, which=which, sev_min=sev_min, rsit_class=rsit, year=year,
        page=page))
    # The register shows each incident's number and summary: who read them is logged too.
    from wisbot.web import access

    await access.record_list(request, "register", [row.number for row in reg.rows])
    query = {k: v for k, v in form.items() if v}
    return _html(request, "pages/incidents.html", lang, reg=reg, form=form, query=query,
                 **options)


async def incident(request: Request, caller: Caller, lang: str) -> Response:
    number = request.path_params["number"]
    try:
        reply = await _bot(request).services.incidents.show(caller, number)
    except UsageError:  # not an incident number: the same 404
        raise NotFound(number) from None
    await record_access(request, "incident", reply.ref or number.upper())
    return _html(request, "pages/incident.html", lang, reply=reply)


# ----- lessons -----------------------------------------------------------------------------

async def lessons(request: Request, caller: Caller, lang: str) -> Response:
    words = (request.query_params.get("q") or "").strip()
    svc = _bot(request).services.lessons
    try:
        reply = await (svc.search(caller, words) if words else svc.list(caller, None))
    except UsageError as e:  # the search form again, with the words typed and why
        return _html(request, "pages/lessons.html", lang, 400, reply=None, q=words,
                     message=str(e))
    await record_access(request, "lessons", words)
    return _html(request, "pages/lessons.html", lang, reply=reply, q=words)


async def lesson(request: Request, caller: Caller, lang: str) -> Response:
    ref = request.path_params["ref"].upper().removeprefix("L-")
    if not ref.isdigit() or len(ref) > 9:
        raise NotFound(ref)
    bot = _bot(request)

    def work(session: Session) -> Reply:
        found = session.get(Lesson, int(ref))
        inc = session.get(Incident, found.incident_id) if found is not None else None
        if found is None or inc is None:
            raise NotFound(ref)
        vis = lesson_visibility(bot.directory, caller, found, inc)
        if vis is Vis.NONE:
            raise NotFound(ref)
        b = ReplyBuilder(f"L-{found.id}", tlp=lesson_label(bot.directory, found, inc))
        b.line(*lesson_spans(bot.directory, found, inc, vis, caller.sees(exposure(inc))))
        return b.build(private=True)

    reply = await bot.store.tx(work)
    await record_access(request, "lesson", f"L-{int(ref)}")
    return _html(request, "pages/lesson.html", lang, reply=reply)


# ----- GISC Watch ------------------------------------------------------------------------

def watcher(caller: Caller) -> bool:
    """As chat's ``watch``: GISC focal points, watch operators and the Secretariat."""
    c = caller.contact
    return c.is_secretariat or bool(c.giscs) or "watch" in c.roles


WORST = {"ok": 0, "degraded": 1, "fail": 2}


def _subject(centre: str) -> str:
    return centre


async def watch(request: Request, caller: Caller, lang: str) -> Response:
    if not watcher(caller):
        return _html(request, "pages/error.html", lang, 403, message=_t(
            "GISC Watch is for GISC focal points, watch operators and the WMO Secretariat"))
    bot = _bot(request)
    svc = bot.services.watch
    now = bot.clock().astimezone(UTC)
    summary = await svc.summary()
    roster = await svc.roster(None)

    def work(session: Session) -> dict[str, Any]:
        run = session.exec(select(ProbeRun).where(col(ProbeRun.finished_at).is_not(None))
                           .order_by(col(ProbeRun.id).desc())).first()
        today = [] if run is None else list(session.exec(select(ProbeRecord).where(
            ProbeRecord.run_id == run.id).order_by(col(ProbeRecord.centre),
                                                   col(ProbeRecord.service))))
        since = datetime.combine((now - timedelta(days=HISTORY_DAYS - 1)).date(),
                                 datetime.min.time(), tzinfo=UTC)
        grid: dict[str, dict[str, str]] = defaultdict(dict)
        per_day: dict[str, dict[str, int]] = defaultdict(lambda: {"ok": 0, "degraded": 0,
                                                                  "fail": 0})
        failing: dict[str, set[str]] = defaultdict(set)
        for centre, status, at in session.exec(select(
                ProbeRecord.centre, ProbeRecord.status, ProbeRecord.checked_at).where(
                col(ProbeRecord.checked_at) >= since)):
            day = at.date().isoformat()
            was = grid[centre].get(day)
            if was is None or WORST.get(status, 0) > WORST.get(was, 0):
                grid[centre][day] = status
            if status in per_day[day]:
                per_day[day][status] += 1
            if status != "ok":
                failing[day].add(centre)
        days = [(since + timedelta(days=i)).date().isoformat() for i in range(HISTORY_DAYS)]
        tickets = []
        for t in session.exec(select(WatchTicket).where(
                WatchTicket.state != TicketState.DONE.value).order_by(col(WatchTicket.id))):
            info = IMPACTS[Impact(t.impact)]
            tickets.append({
                "id": t.id, "subject": subject_label(t.subject), "finding": t.finding,
                "impact": info.words, "target": target_words(Impact(t.impact)),
                "state": STATE_WORDS[TicketState(t.state)],
                "respond_by": None if t.responded_at else i18n.when(t.created_at + info.respond),
                "resolve_by": i18n.when(t.created_at + info.resolve) if info.resolve else None})
        return {"run": run, "today": today, "grid": dict(grid), "days": days,
                "per_day": [(d, per_day.get(d), sorted(failing.get(d, ()))) for d in days],
                "tickets": tickets, "on_watch": svc.on_watch(session, now)}

    data = await bot.store.tx(work)
    chart = svg.status_grid(_t("Worst status per day, last {n} days", n=HISTORY_DAYS),
                            data["days"], data["grid"],
                            words={k: str(v) for k, v in PROBE_STATUS.items()})
    return _html(request, "pages/watch.html", lang, summary=summary, roster=roster,
                 chart=chart, services=SERVICE_WORDS,
                 statuses={k: str(v) for k, v in PROBE_STATUS.items()}, **data)


async def watch_ticket(request: Request, caller: Caller, lang: str) -> Response:
    if not watcher(caller):
        raise NotFound("ticket")
    n = request.path_params["number"]
    try:
        reply = await _bot(request).services.watch.show_ticket(n)
    except WisbotError:
        raise NotFound("ticket") from None
    await record_access(request, "ticket", f"#{n}")
    return _html(request, "pages/ticket.html", lang, reply=reply)


# ----- on call -----------------------------------------------------------------------------

def _page_reveals(session: Session, page: Page) -> tuple[Reveal, ...]:
    """What a page shows: its incident (anonymised at least), or its role's matter."""
    inc = session.get(Incident, page.incident_id) if page.incident_id is not None else None
    if page.incident_id is not None and inc is None:
        return (Reveal(incident="", named=False),)  # fail closed
    return (Reveal(incident=inc.number, named=False),) if inc is not None \
        else (Reveal(roles=(page.role,)),)


def _page_row(bot: Any, session: Session, page: Page, now: datetime) -> dict[str, Any]:
    step = session.exec(select(PageStep).where(PageStep.page_id == page.id,
                                               PageStep.status == "pending")
                        .order_by(col(PageStep.seq))).first()
    inc = session.get(Incident, page.incident_id) if page.incident_id is not None else None
    paged = page.chain[page.pos] if 0 <= page.pos < len(page.chain) else None
    name = None
    if paged is not None:
        try:
            name = bot.directory.contact(paged).name
        except NotFound:
            name = paged
    return {"id": page.id, "ref": inc.number if inc is not None else page.ref,
            "incident": inc is not None, "role": role_words(page.role),
            "status": words_of(PAGE_STATUS, page.status),
            "created": i18n.when(page.created_at), "target": i18n.when(page.target_at),
            "verdict": words_of(VERDICTS, page_verdict(page, now)), "paged": name,
            "next": None if step is None else (words_of(STEP_ACTIONS, step.action),
                                               i18n.when(step.due_at))}


def _pages_reader(caller: Caller) -> bool:
    return caller.is_secretariat or bool(caller.contact.giscs)


async def oncall(request: Request, caller: Caller, lang: str) -> Response:
    bot = _bot(request)
    paging = bot.services.paging
    who = None if paging is None else await paging.oncall(caller, None)

    def work(session: Session) -> dict[str, Any]:
        now = bot.clock()
        pages, targets = [], []
        if _pages_reader(caller):
            for page in session.exec(select(Page).where(Page.status == "open")
                                     .order_by(col(Page.id))):
                probe = Reply(reveals=_page_reveals(session, page))
                if person_may_read(session, bot.directory, caller.contact, probe):
                    pages.append(_page_row(bot, session, page, now))
        for inc in session.exec(select(Incident).where(Incident.status == "open")
                                .order_by(col(Incident.id).desc()).limit(500)):
            if caller.sees(exposure(inc)) is Vis.NONE:
                continue
            notified = time_to_notify(session, inc)
            first = session.exec(select(Page).where(Page.incident_id == inc.id)
                                 .order_by(col(Page.id))).first()
            targets.append({
                "number": inc.number, "reported": i18n.when(inc.created_at),
                "notified": None if notified is None else format_duration(notified),
                "met": None if notified is None else notified <= TARGET.total_seconds(),
                "ack": None if first is None else words_of(VERDICTS, page_verdict(first, now))})
        return {"pages": pages, "targets": targets}

    data = await bot.store.tx(work)
    for row in data["pages"]:
        await record_access(request, "page", f"P-{row['id']}")
    return _html(request, "pages/oncall.html", lang, who=who, pages_reader=_pages_reader(caller),
                 target=format_duration(TARGET.total_seconds()), **data)


async def oncall_page(request: Request, caller: Caller, lang: str) -> Response:
    raw = request.path_params["ref"].upper().removeprefix("P-")
    if not raw.isdigit() or len(raw) > 9 or not _pages_reader(caller):
        raise NotFound(raw)
    bot = _bot(request)

    def work(session: Session) -> dict[str, Any]:
        page = session.get(Page, int(raw))
        if page is None or not person_may_read(session, bot.directory, caller.contact,
                                               Reply(reveals=_page_reveals(session, page))):
            raise NotFound(raw)
        steps = session.exec(select(PageStep).where(PageStep.page_id == page.id)
                             .order_by(col(PageStep.seq))).all()
        return {"page": _page_row(bot, session, page, bot.clock()),
                "steps": [(s.seq, words_of(STEP_ACTIONS, s.action), i18n.when(s.due_at),
                           words_of(STEP_STATUS, s.status)) for s in steps]}

    data = await bot.store.tx(work)
    await record_access(request, "page", f"P-{int(raw)}")
    return _html(request, "pages/page.html", lang, **data)


# ----- annual report ---------------------------------------------------------------------

async def _report(request: Request, caller: Caller) -> tuple[Any, str]:
    bot = _bot(request)
    year = request.path_params["year"]
    if not 2000 <= year <= 2100:
        raise NotFound(str(year))
    now = bot.clock()
    result: tuple[Any, str] = await bot.store.tx(lambda s: report_for(s, caller, year, now))
    return result


async def annual(request: Request, caller: Caller, lang: str) -> Response:
    rep, scope = await _report(request, caller)
    await record_access(request, "report", f"annual {rep.year}")
    months = [str(m) for m in MONTHS]
    series = {_t("severity {level}", level=level): [rep.by_month[m][level]
                                                    for m in range(1, 13)]
              for level in range(6)}
    by_month = svg.stacked_bars(_t("Incidents per month, by the highest severity reached"),
                                months, series)
    minutes = 60.0

    def mins(v: float | None) -> float | None:
        return None if v is None else v / minutes

    timing = svg.hbars(_t("Time to notify and to acknowledge (minutes)"), [
        (_t("notify, median"), mins(rep.time_to_notify.median_s)),
        (_t("notify, 90th percentile"), mins(rep.time_to_notify.p90_s)),
        (_t("acknowledge, median"), mins(rep.time_to_acknowledge.median_s)),
        (_t("acknowledge, 90th percentile"), mins(rep.time_to_acknowledge.p90_s)),
    ], target=TARGET.total_seconds() / minutes, target_label=_t("1-hour target"),
       shown=lambda v: _t("{minutes} min", minutes=f"{v:.0f}"))
    return _html(request, "pages/annual.html", lang, rep=rep, scope=scope.strip(" ()"),
                 months=months, by_month=by_month, timing=timing,
                 fmt=lambda v: "–" if v is None else format_duration(v),
                 pct=lambda v: "–" if v is None else f"{100 * v:.0f} %")


async def annual_csv(request: Request, caller: Caller, lang: str) -> Response:
    rep, _scope = await _report(request, caller)
    await record_access(request, "report", f"annual {rep.year}.csv")
    return Response(to_csv(rep), media_type="text/csv; charset=utf-8", headers={
        **NO_STORE, "Content-Disposition":
            f'attachment; filename="wis-it-security-{rep.year}.csv"'})


async def annual_json(request: Request, caller: Caller, lang: str) -> Response:
    rep, _scope = await _report(request, caller)
    await record_access(request, "report", f"annual {rep.year}.json")
    return Response(to_json(rep), media_type="application/json", headers={
        **NO_STORE, "Content-Disposition":
            f'attachment; filename="wis-it-security-{rep.year}.json"'})


async def annual_now(request: Request, caller: Caller, lang: str) -> Response:
    return RedirectResponse(f"/reports/annual/{_bot(request).clock().year}", 303,
                            headers=NO_STORE)


def page_routes() -> list[BaseRoute]:
    return [
        Route("/incidents", _signed_in(incidents)),
        Route("/incidents/{number}", _signed_in(incident, hidden_when_out=True)),
        Route("/lessons", _signed_in(lessons)),
        Route("/lessons/{ref}", _signed_in(lesson, hidden_when_out=True)),
        Route("/watch", _signed_in(watch)),
        Route("/watch/tickets/{number:int}", _signed_in(watch_ticket, hidden_when_out=True)),
        Route("/oncall", _signed_in(oncall)),
        Route("/oncall/pages/{ref}", _signed_in(oncall_page, hidden_when_out=True)),
        Route("/reports/annual/{year:int}.csv", _signed_in(annual_csv)),
        Route("/reports/annual/{year:int}.json", _signed_in(annual_json)),
        Route("/reports/annual", _signed_in(annual_now)),
        Route("/reports/annual/{year:int}", _signed_in(annual)),
    ]
