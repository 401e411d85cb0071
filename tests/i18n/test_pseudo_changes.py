"""Change management, the CAB, continuity plans and reachability drills in the
pseudo-locale: every reply, refusal, agenda, reminder, calendar line, drill page and drill
result wisbot writes is inside ⟦…⟧; and a Spanish or Russian room (or person) reads its
own language.

What may stay unmarked is written by hand below (never derived from the code): change and
drill ids, the CAB's acronym, the priorities and risk levels (what `priority=` and `risk=`
take), the example directory's names and codes, the fixed marker DRILL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.audit_fixture import audit_directory
from tests.changes.conftest import change_directory
from tests.conftest import EXAMPLE
from tests.helpers import room_text
from tests.i18n.test_pseudo_rest import (
    english_default,  # noqa: F401 (fixture)
    everything,
    problems,
)
from wisbot import i18n
from wisbot.adapters.console import render_text
from wisbot.directory import Directory, parse_directory

KEPT_HERE = [
    r"\bCHG-\d{4}-\d+\b", r"\bDRILL(-\d+)?\b", r"\bCAB\b",
    r"\b(urgent|high|medium|low)\b",  # priority= and risk= values
    "Ingrid Solberg", "Tomás Oyarzún", "JP-GISC",
    r"\bh\b",  # the unit after a number of hours: ⟦{hours} h⟧ is filled in
]

REQUEST = ('change request {centre} what="Replace the OAI-PMH frontend" '
           'why="Vendor end of life" who="Web operations" when=2026-03-10T08:00Z '
           'until=2026-03-10T10:00Z how="Blue-green switch with rollback" '
           'risk="Harvesters see a short gap" impact="Harvest paused" cost="Two person-days"')
PLAN = ('continuity set DE-OF-NC services="GTS message switch, OAI-PMH portal" mto=8h '
        'rto=4h rpo=30m site="Hamburg backup hall" contacts="Desk +49 69 5550 1234" '
        'tested=2025-12-20')


def left_english(replies: list[Any]) -> list[tuple[list[str], str]]:
    """English words outside ⟦…⟧ (as ``problems`` in test_pseudo_rest), with this file's
    own kept words taken out first."""
    return problems(replies, KEPT_HERE)


def with_languages(directory: Directory, rooms: dict[str, str]) -> Directory:
    data: dict[str, Any] = directory.model_dump(mode="json")
    for room in data["rooms"]:
        if room["key"] in rooms:
            room["language"] = rooms[room["key"]]
    return parse_directory(data, "<languages>")


async def _cab_meeting(app: Any, clock: Any) -> list[Any]:
    at = clock.now + timedelta(hours=1)
    replies = [await app.console.type("sec-maria", f"change cab schedule {at:%Y-%m-%dT%H:%MZ}")]
    await app.services.extra["changes"].post_agendas()
    replies.append(await app.console.type("cab.chair", "change cab", "cab"))
    clock.advance(hours=1)
    return replies


async def test_pseudo_locale_a_change_from_request_to_close(make_app: Any,
                                                           example_directory: Directory,
                                                           clock: Any) -> None:
    app = await make_app(change_directory(example_directory), watch_enabled=False)
    i18n.set_default("qps")
    c = app.console
    svc = app.services.extra["changes"]
    r = [await c.type("anna.weber", REQUEST.format(centre="DE-OF-NC"), "member-de")]
    # refusals: not the board; no risk assessment; not at a meeting
    r.append(await c.type("anna.weber", "change accept CHG-2026-1 priority=high"))
    r.append(await c.type("sec-maria", "change accept CHG-2026-1 priority=high"))
    r.append(await c.type("cab.chair", "change decide CHG-2026-1 authorise"))
    r.append(await c.type("sec-maria", "change decide CHG-2026-1 authorise"))
    r.append(await c.type("anna.weber", "change implemented CHG-2026-1"))
    r.append(await c.type("sec-maria", "change assess CHG-2026-1 risk=medium Rehearsed"))
    r.append(await c.type("cab.chair", "change decide CHG-2026-1 authorise"))
    r.append(await c.type("jonas.keller", "change show CHG-2026-1"))
    r.append(await c.type("cab.expert", "change show CHG-2026-1", "gisc-tokyo"))
    # a second change, requested by a CAB member's own centre; a third, rejected
    r.append(await c.type("cab.expert", REQUEST.format(centre="JP-GISC")))
    r.append(await c.type("sec-maria", "change accept CHG-2026-2 priority=urgent risk=low"))
    r.append(await c.type("anna.weber", REQUEST.format(centre="DE-OF-NC")))
    r.append(await c.type("cab.chair", "change reject CHG-2026-3 Duplicate of CHG-2026-1"))
    r.append(await c.type("sec-maria", "change accept CHG-2026-3 priority=low"))
    r.append(await c.type("sec-maria", "change cab"))
    r += await _cab_meeting(app, clock)
    # the requester's own centre may not authorise; another CAB member does
    r.append(await c.type("cab.expert", "change decide CHG-2026-2 authorise"))
    r.append(await c.type("cab.chair", "change decide CHG-2026-1 authorise Outside the 00 "
                                       "UTC run", "cab"))
    r.append(await c.type("cab.chair", "change decide CHG-2026-2 defer next week"))
    r.append(await c.type("anna.weber", "change calendar"))
    r.append(await c.type("anna.weber", "change tested CHG-2026-1 Passed on staging",
                          "member-de"))
    r.append(await c.type("anna.weber", "change implemented CHG-2026-1"))
    r.append(await c.type("sec-maria", "change close CHG-2026-1 Done as planned"))
    r.append(await c.type("cab.chair", "change decide CHG-2026-1 refuse too late"))
    clock.advance(hours=3)
    await svc.tick()  # the reminder of what the meeting left undecided
    r.append(await c.type("anna.weber", "change show CHG-2026-1"))
    r.append(await c.type("anna.weber", "change list all"))
    r.append(await c.type("cab.chair", "change calendar"))
    await app.outbox.drain()
    texts = [render_text(x) for x in r]
    assert any("CHG-2026-1" in t and "⟦closed after review⟧" in t for t in texts), texts
    assert sum(x.kind == "error" for x in r) >= 8
    cab = room_text(app, "cab")
    assert "⟦CAB meeting {at}: agenda⟧".split("{")[0] in cab
    assert "⟦Reminder: the CAB meeting of" in cab, cab
    left = left_english(r + everything(app))
    assert not left, left[:5]


async def test_pseudo_locale_agenda_to_each_cab_member_directly(
        make_app: Any, example_directory: Directory, clock: Any) -> None:
    app = await make_app(change_directory(example_directory, cab_room=False),
                         watch_enabled=False)
    i18n.set_default("qps")
    c = app.console
    r = [await c.type("sec-maria", "change cab schedule 2026-03-03T08:00Z")]
    r.append(await c.type("anna.weber", REQUEST.format(centre="DE-OF-NC")))
    r.append(await c.type("sec-maria", "change accept CHG-2026-1 priority=medium"))
    await app.services.extra["changes"].tick()
    await app.outbox.drain()
    direct = app.console.direct.get("cab.chair", [])
    assert any("CHG-2026-1" in render_text(x) for x in direct)
    left = left_english(r + everything(app))
    assert not left, left[:5]


async def test_spanish_room_and_russian_board_read_their_languages(
        make_app: Any, example_directory: Directory, clock: Any) -> None:
    directory = with_languages(change_directory(example_directory),
                               {"member-de": "es", "cab": "ru"})
    app = await make_app(directory, watch_enabled=False)
    c = app.console
    made = await c.type("anna.weber", REQUEST.format(centre="DE-OF-NC"), "member-de")
    assert "registrado: solicitud de cambio" in render_text(made), render_text(made)
    await c.type("sec-maria", "change accept CHG-2026-1 priority=high")
    await _cab_meeting(app, clock)
    no_risk = await c.type("cab.chair", "change decide CHG-2026-1 authorise", "cab")
    assert "нет оценки рисков" in render_text(no_risk), render_text(no_risk)
    await app.outbox.drain()
    member = room_text(app, "member-de")
    assert "solicitud de cambio de DE-OF-NC" in member or "DE-OF-NC" in member
    assert "Estado" in member and "solicitado" in member, member
    assert "aceptado, prioridad high" in member, member
    cab = room_text(app, "cab")
    assert "повестка" in cab.lower() or "заседани" in cab.lower(), cab
    # The person's language: a direct reply after `language es`.
    await c.type("anna.weber", "language es")
    shown = render_text(await c.type("anna.weber", "change show CHG-2026-1"))
    assert "Cronología" in shown or "aceptado" in shown, shown
    assert "Estado: aceptado" in shown, shown
    # English is unchanged for an English room.
    listed = render_text(await c.type("sec-maria", "change list", "secretariat"))
    assert "CHG-2026-1 · accepted" in listed, listed


# ----- continuity plans and drills -------------------------------------------------------

WED = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


async def test_pseudo_locale_continuity_plan_and_test_reminder(make_app: Any,
                                                              clock: Any) -> None:
    clock.now = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    app = await make_app(audit_directory(EXAMPLE))
    i18n.set_default("qps")
    c = app.console
    r = [await c.type("anna.weber", PLAN.replace("rto=4h", "rto=12h"))]
    r.append(await c.type("anna.weber", PLAN.replace("rpo=30m", "rpo=soon")))
    r.append(await c.type("hiro.sato", PLAN))
    r.append(await c.type("anna.weber", "continuity tested DE-OF-NC 2026-10-01"))
    r.append(await c.type("anna.weber", PLAN, "member-de"))
    r.append(await c.type("anna.weber", "continuity show DE-OF-NC"))
    r.append(await c.type("hiro.sato", "continuity show DE-OF-NC"))
    r.append(await c.type("sec-maria", "continuity list"))
    r.append(await c.type("hiro.sato", "continuity list"))
    r.append(await c.type("anna.weber", "continuity tested DE-OF-NC 2027-01-01"))
    clock.now = datetime(2026, 11, 21, 7, 5, tzinfo=UTC)
    assert await app.services.extra["continuity"].remind() == 1
    await app.outbox.drain()
    assert "⟦{centre} – continuity test due⟧".replace("{centre}", "DE-OF-NC") in \
        room_text(app, "member-de")
    assert "⟦Critical services⟧" in render_text(r[4]), render_text(r[4])
    left = left_english(r + everything(app))
    assert not left, left[:5]


async def test_pseudo_locale_drill_start_answer_and_results(make_app: Any,
                                                           clock: Any) -> None:
    clock.now = WED
    app = await make_app(audit_directory(EXAMPLE))
    i18n.set_default("qps")
    c = app.console
    r = [await c.type("anna.weber", "drill now gisc:Tokyo")]
    r.append(await c.type("sec-maria", "drill results"))
    r.append(await c.type("sec-maria", "drill schedule off"))
    r.append(await c.type("sec-maria", "drill schedule 2026-12-07T09:00Z every=30"))
    r.append(await c.type("sec-maria", "drill now all", "secretariat"))
    await app.outbox.drain()
    clock.advance(minutes=7)
    await app.paging.tick()
    r.append(await c.type("gisc-offenbach", "ack DRILL-1"))
    for _ in range(5):
        clock.advance(minutes=15)
        await app.paging.tick()
    await app.outbox.drain()
    r.append(await c.type("sec-maria", "drill results", "secretariat"))
    r.append(await c.type("anna.weber", "drill results"))
    r.append(await c.type("sec-maria", "drill schedule off"))
    pages = [x for x in app.console.direct.get("gisc-tokyo", []) if x.kind == "page"]
    assert pages and all((x.title or "").startswith("DRILL ") for x in pages)
    assert any("⟦reachability test {ref}⟧".replace("{ref}", "DRILL-1") in render_text(x)
               for x in pages), render_text(pages[0])
    results = render_text(r[-3])
    assert "⟦answered by {who} after {took} (within the 1-hour target)⟧".split("{")[0] \
        in results, results
    left = left_english(r + everything(app))
    assert not left, left[:5]


async def test_drill_page_and_results_in_the_readers_language(make_app: Any,
                                                             clock: Any) -> None:
    clock.now = WED
    app = await make_app(audit_directory(EXAMPLE))
    c = app.console
    await c.type("gisc-tokyo", "language ru")
    await c.type("sec-maria", "language es")
    started = render_text(await c.type("sec-maria", "drill now gisc:Tokyo"))
    assert "DRILL DRILL-1 iniciado" in started, started
    await app.outbox.drain()
    (page,) = [x for x in app.console.direct["gisc-tokyo"] if x.kind == "page"]
    shown = render_text(page)
    assert shown.startswith("DRILL P-1") and "проверка доступности DRILL-1" in shown, shown
    assert "это проверка круглосуточной цепочки" in shown, shown
    clock.advance(minutes=5)
    await c.type("gisc-tokyo", "ack P-1")
    results = render_text(await c.type("sec-maria", "drill results"))
    assert "Simulacros de localización" in results, results
    assert "respondió GISC Tokyo operations desk tras 5 min" in results, results
