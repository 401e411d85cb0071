"""The pages over HTTP (Starlette's ASGI app through httpx), on SQLite and PostgreSQL:
what each role reads, the filters, the same 404 for hidden and missing things, the watch
board, on call, the annual report and its downloads, languages, the access log calls.

Forbidden words are written by hand in tests/web/pages_fixture.py."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from typing import Any

import pytest

from tests.web.pages_fixture import (
    CH_FORBIDDEN,
    DE_FORBIDDEN,
    DE_WHOLLY,
    client,
    directory,
    page_ids,
    world,
)
from wisbot.reply import Reply, Span

ROLES = {
    # who: words of incidents they may not see (or see only anonymised)
    "hiro.sato": DE_FORBIDDEN + CH_FORBIDDEN,  # a Member focal point (JP)
    "tokyo-desk": DE_FORBIDDEN + CH_FORBIDDEN,  # a GISC desk of another area
    None: DE_FORBIDDEN + CH_FORBIDDEN + DE_WHOLLY,  # a stranger, signed out
}

PAGES = ["/incidents", "/incidents?status=open", "/incidents?status=resolved",
         "/incidents?severity=3", "/incidents?year=2026", "/incidents?rsit=intrusions",
         "/incidents/WIS-SEC-2026-1", "/incidents/WIS-SEC-2026-2", "/incidents/2",
         "/lessons", "/lessons?q=MFA", "/lessons?q=keys", "/lessons?q=rotate",
         "/lessons/L-1", "/lessons/L-2", "/watch", "/watch/tickets/1",
         "/oncall", *[f"/oncall/pages/P-{n}" for n in range(1, 11)],
         "/reports/annual/2026", "/reports/annual/2026.csv", "/reports/annual/2026.json"]


def squash(text: str) -> str:
    """Letters and digits only, folded as a reader takes them."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", unicodedata.normalize(
        "NFKC", text)).casefold() if ch.isalnum())


def found(text: str, forbidden: list[str]) -> list[str]:
    flat = squash(text)
    return [word for word in forbidden if squash(word) in flat]


def visible_text(html: str) -> str:
    """What a reader gets: the text, the attribute values and the SVG titles."""
    return re.sub(r"<[^>]*?>", " ", html) + " " + " ".join(re.findall(r'"([^"]*)"', html))


@pytest.fixture
async def app(make_app):  # type: ignore[no-untyped-def]
    bot = await make_app(directory())
    await world(bot)
    r = await bot.console.type("anna.weber", "incident classify WIS-SEC-2026-1 "
                               "intrusions/system-compromise", "member-de")
    assert r.kind != "error", r.plain()
    return bot


async def get(bot: Any, who: str | None, path: str) -> Any:
    async with client(bot, who) as c:
        return await c.get(path)


async def test_each_role_reads_none_of_what_it_may_not_see(app) -> None:  # type: ignore[no-untyped-def]
    # The words are really there: the Secretariat reads every one.
    everything = "".join([(await get(app, "sec-desk", p)).text for p in PAGES])
    assert found(everything, DE_FORBIDDEN + CH_FORBIDDEN + DE_WHOLLY) == \
        DE_FORBIDDEN + CH_FORBIDDEN + DE_WHOLLY
    for who, forbidden in ROLES.items():
        for path in PAGES:
            r = await get(app, who, path)
            assert r.status_code in (200, 401, 403, 404), (who, path, r.status_code)
            # the CSRF token is random letters: 'dwD' in it is no leak
            assert found(visible_text(unsalted(r.text)), forbidden) == [], f"{who} {path}: {r.text}"
    # What the roles may read is there, anonymised.
    hiro = (await get(app, "hiro.sato", "/incidents/WIS-SEC-2026-1")).text
    assert "a WIS centre in the area of GISC Offenbach" in hiro and "mail relay" in hiro
    assert "admin accounts need MFA" in (await get(app, "tokyo-desk", "/lessons?q=MFA")).text


async def test_searching_a_withheld_word_finds_nothing(app) -> None:  # type: ignore[no-untyped-def]
    bad = await get(app, "hiro.sato", "/lessons?q=%21%21%3F")
    assert bad.status_code == 400 and "give at least one word" in bad.text
    assert 'value="!!?"' in bad.text  # the words typed are kept in the form
    for word in ("EDZW", "Weber", "DWDs", "LSSW", "sandpiper"):
        text = (await get(app, "hiro.sato", f"/lessons?q={word}")).text
        assert "No lessons that you may see match." in text, text
        assert "admin accounts" not in text and "L-1" not in text and "L-2" not in text


async def test_counts_and_charts_count_only_what_the_person_may_see(app) -> None:  # type: ignore[no-untyped-def]
    def count(text: str) -> int:
        return int(re.search(r"Incidents that you may see: (\d+)", text).group(1))  # type: ignore[union-attr]

    assert count((await get(app, "sec-desk", "/incidents")).text) == 2
    for who in ("hiro.sato", "tokyo-desk"):
        assert count((await get(app, who, "/incidents")).text) == 1
        data = json.loads((await get(app, who, "/reports/annual/2026.json")).text)
        assert data["incidents"] == 1 and data["by_severity"]["3"] == 0, data
        assert data["pages"] == len(await page_ids(app, "WIS-SEC-2026-1")) + 3, data
        rows = list(csv.reader(io.StringIO((await get(app, who,
                                                      "/reports/annual/2026.csv")).text)))
        assert rows, rows
        page = (await get(app, who, "/reports/annual/2026")).text
        assert "Figures of the incidents you may see" in page
        assert "Mar 1;" in page  # the chart's description: one incident in March
    data = json.loads((await get(app, "sec-desk", "/reports/annual/2026.json")).text)
    assert data["incidents"] == 2 and data["by_severity"]["3"] == 1, data
    assert data["pages"] > len(await page_ids(app, "WIS-SEC-2026-1")) + 3, data
    page = (await get(app, "sec-desk", "/reports/annual/2026")).text
    assert "Mar 2;" in page and "Figures of the incidents you may see" not in page


async def test_hidden_and_missing_things_are_the_same_404(app) -> None:  # type: ignore[no-untyped-def]
    de, ch = await page_ids(app, "WIS-SEC-2026-1"), await page_ids(app, "WIS-SEC-2026-2")
    pairs = [
        ("tokyo-desk", "/incidents/WIS-SEC-2026-2", "/incidents/WIS-SEC-2026-99"),
        ("hiro.sato", "/incidents/WIS-SEC-2026-2", "/incidents/not-a-number"),
        ("tokyo-desk", "/lessons/L-2", "/lessons/L-99"),
        ("hiro.sato", "/lessons/L-2", "/lessons/%3Cscript%3E"),
        ("tokyo-desk", f"/oncall/pages/{ch[0]}", "/oncall/pages/P-999"),  # CH's page
        *(("tokyo-desk", f"/oncall/pages/{p}", "/oncall/pages/P-999")
          for p in await page_ids(app, "WIS-SEC-2026-2", None)),  # CH's, stopped too
        ("hiro.sato", f"/oncall/pages/{de[0]}", "/oncall/pages/P-999"),  # a Member
        ("hiro.sato", "/watch/tickets/1", "/watch/tickets/99"),  # not a watcher
        (None, "/incidents/WIS-SEC-2026-1", "/incidents/WIS-SEC-2026-99"),
        (None, "/lessons/L-1", f"/oncall/pages/{de[0]}"),
    ]
    missing = await get(app, "tokyo-desk", "/incidents/WIS-SEC-2026-99")
    assert missing.status_code == 404 and "There is nothing here that you may see." in missing.text
    for who, hidden, absent in pairs:
        a, b = await get(app, who, hidden), await get(app, who, absent)
        assert (a.status_code, b.status_code) == (404, 404), (who, hidden, absent)
        assert unsalted(a.text) == unsalted(b.text), (who, hidden, absent)
    # The owner reads it.
    assert (await get(app, "offenbach-desk", "/incidents/WIS-SEC-2026-2")).status_code == 200
    assert (await get(app, "offenbach-desk", f"/oncall/pages/{ch[0]}")).status_code == 200


def unsalted(page: str) -> str:
    """The page without its per-request CSRF token (the sign-out form's)."""
    return re.sub(r'name="csrf" value="[^"]*"', 'name="csrf"', page)


async def test_the_incident_page_is_the_persons_chat_view(app) -> None:  # type: ignore[no-untyped-def]
    for who in ("sec-desk", "tokyo-desk", "hiro.sato", "offenbach-desk"):
        chat = await app.console.type(who, "incident show WIS-SEC-2026-1")
        page = as_read((await get(app, who, "/incidents/WIS-SEC-2026-1")).text)
        for line in [*chat.lines, *((Span(text=f"{k}{v}"),) for k, v in chat.fields)]:
            text = "".join(s.text for s in line)
            assert text in page, f"{who}: {text!r} not in {page}"
        assert "Timeline" in page


def as_read(page: str) -> str:
    """The page's text as a reader reads it: no tags, entities decoded, no word joiner."""
    import html
    return html.unescape(re.sub(r"<[^>]*>", "", page)).replace("\u2060", "")


async def test_register_filters_and_bad_input(app) -> None:  # type: ignore[no-untyped-def]
    async def numbers(path: str, who: str = "sec-desk") -> list[str]:
        text = (await get(app, who, path)).text
        return re.findall(r'<th scope="row"><a href="/incidents/(WIS-SEC-\d+-\d+)"', text)

    assert await numbers("/incidents") == ["WIS-SEC-2026-2", "WIS-SEC-2026-1"]
    assert await numbers("/incidents?severity=4") == ["WIS-SEC-2026-1"]
    assert await numbers("/incidents?rsit=intrusions") == ["WIS-SEC-2026-1"]
    assert await numbers("/incidents?rsit=fraud") == []
    assert await numbers("/incidents?year=2025") == []
    assert await numbers("/incidents?status=resolved") == []
    assert await numbers("/incidents?status=open&year=2026") == ["WIS-SEC-2026-2",
                                                                  "WIS-SEC-2026-1"]
    assert await numbers("/incidents", "hiro.sato") == ["WIS-SEC-2026-1"]
    for bad, says in (("severity=9", "Severity must be a whole number from 0 to 5"),
                      ("year=twenty", "Year must be a whole number"),
                      ("status=gone", "status must be one of"),
                      ("rsit=intrusionz", "did you mean intrusions")):
        r = await get(app, "sec-desk", f"/incidents?{bad}")
        assert r.status_code == 400 and says in r.text, (bad, r.text)
        assert '<form method="get" action="/incidents"' in r.text  # the form is kept
        assert "Traceback" not in r.text


async def test_register_pages_through_many_incidents(make_app) -> None:  # type: ignore[no-untyped-def]
    bot = await make_app(directory())
    for n in range(60):
        await bot.console.type("hiro.sato", f"incident report JP-NC share=group sev=2 "
                               f"outage number {n}", "member-jp")
    first = (await get(bot, "tokyo-desk", "/incidents")).text
    assert "Incidents that you may see: 60" in first and "page 1 of 2" in first
    assert "WIS-SEC-2026-60" in first and ">WIS-SEC-2026-10<" not in first
    second = (await get(bot, "tokyo-desk", "/incidents?page=2")).text
    assert ">WIS-SEC-2026-10<" in second and ">WIS-SEC-2026-60<" not in second


async def test_watch_board(app) -> None:  # type: ignore[no-untyped-def]
    text = (await get(app, "tokyo-desk", "/watch")).text
    assert "On watch: <bdi>GISC Tokyo</bdi>" in text
    assert "<svg" in text and "Offenbach 2026-03-02: fail" in text  # SRU failing today
    assert "Tokyo 2026-02-27: degraded" in text
    assert text.count('<tr><th scope="row">2026-') == 30  # 30 days in the table
    assert "SRU search times out since 06:00" in text
    assert "respond within 1 week" in text and "Respond by" in text
    assert "23/02/2026 – 08/03/2026" in text  # the roster
    r = await get(app, "hiro.sato", "/watch")
    assert r.status_code == 403 and "GISC Watch is for GISC focal points" in r.text
    ticket = (await get(app, "offenbach-desk", "/watch/tickets/1")).text
    assert "SRU search times out" in ticket


async def test_on_call(app) -> None:  # type: ignore[no-untyped-def]
    tokyo = (await get(app, "tokyo-desk", "/oncall")).text
    assert "Tokyo desk (tokyo-desk)" in tokyo  # who is on call for its role
    de, ch = await page_ids(app, "WIS-SEC-2026-1"), await page_ids(app, "WIS-SEC-2026-2")
    assert de and ch
    shown = re.findall(r'href="/oncall/pages/(P-\d+)"', tokyo)
    assert shown == de, (shown, de, ch)
    assert "The 1-hour target" in tokyo and "WIS-SEC-2026-2" not in tokyo
    sec = (await get(app, "sec-desk", "/oncall")).text
    assert re.findall(r'href="/oncall/pages/(P-\d+)"', sec) == de + ch
    assert "repeat" in sec  # the next step
    member = (await get(app, "hiro.sato", "/oncall")).text
    assert "Open pages" not in member and "/oncall/pages/" not in member
    page = (await get(app, "offenbach-desk", f"/oncall/pages/{ch[0]}")).text
    assert "Escalation steps" in page and "Offenbach desk" in page


async def test_pages_speak_the_persons_language(app) -> None:  # type: ignore[no-untyped-def]
    text = (await get(app, "layla.haddad", "/incidents")).text
    assert '<html lang="ar" dir="rtl">' in text
    assert "Incident register" not in text  # translated
    await app.console.type("hiro.sato", "language fr")
    text = (await get(app, "hiro.sato", "/incidents")).text
    assert '<html lang="fr" dir="ltr">' in text and "Incident register" not in text


async def test_each_view_is_recorded_in_the_access_log(app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[str | None, str, str]] = []

    async def record(request: Any, kind: str, ref: str) -> None:
        caller = request.state.caller
        seen.append((caller.contact.id if caller else None, kind, ref))

    monkeypatch.setattr("wisbot.web.pages.record_access", record)
    for path in ("/incidents/WIS-SEC-2026-1", "/lessons/L-1", "/lessons?q=MFA",
                 "/watch/tickets/1", "/oncall/pages/P-4", "/incidents/WIS-SEC-2026-99"):
        await get(app, "sec-desk", path)
    assert ("sec-desk", "incident", "WIS-SEC-2026-1") in seen
    assert ("sec-desk", "lesson", "L-1") in seen and ("sec-desk", "lessons", "MFA") in seen
    assert ("sec-desk", "ticket", "#1") in seen and ("sec-desk", "page", "P-4") in seen
    assert not [s for s in seen if s[2] == "WIS-SEC-2026-99"]  # a 404 opened nothing


async def test_pages_load_nothing_from_elsewhere_and_are_not_cached(app) -> None:  # type: ignore[no-untyped-def]
    for path in PAGES:
        r = await get(app, "sec-desk", path)
        assert "<script" not in r.text and "https://" not in r.text.replace(
            "http://www.w3.org/2000/svg", ""), path
        assert r.headers["cache-control"] == "no-store", path


async def test_signed_out_visitors_are_asked_to_sign_in(app) -> None:  # type: ignore[no-untyped-def]
    assert (await get(app, "sec-desk", "/reports/annual")).headers["location"] == \
        "/reports/annual/2026"
    for path in ("/incidents", "/lessons", "/watch", "/oncall", "/reports/annual/2026",
                 "/reports/annual/2026.csv"):
        r = await get(app, None, path)
        assert r.status_code == 401 and 'href="/login"' in r.text, path


def test_spans_are_escaped_as_the_matrix_adapter_escapes_them() -> None:
    matrix = pytest.importorskip("wisbot.adapters.matrix")
    from wisbot.web.render import reply_html, span_html
    spans = [Span(text="<b>x</b> & \"q\" @room", style="user"), Span(text="a<b", style="bold"),
             Span(text="x'y", style="code"), Span(text="<i>", style="italic"),
             Span(text="plain <tag>")]
    for span in spans:
        for rtl in (False, True):
            assert span_html(span, rtl) == matrix._span_html(span, rtl)
    html = reply_html(Reply(title="<script>", lines=((spans[0],),),
                            fields=(("<k>", "@room <v>"),)))
    assert "<script>" not in html and "&lt;script&gt;" in html and "@\u2060room" in html


async def test_the_register_lists_exactly_what_chat_lists(app) -> None:  # type: ignore[no-untyped-def]
    """The same rule as `incident list all` in each person's direct chat: the same
    incidents, named or anonymised alike, for every share level."""
    from wisbot.domain.audience import person_roles
    from wisbot.services.context import Caller
    from wisbot.web.register import register

    c = app.console
    for who, room, text in (
            ("hiro.sato", "member-jp", "incident report JP-NC share=all-giscs sev=1 scan"),
            ("anna.weber", "member-de", "incident report DE-OF-NC share=secretariat sev=2 x"),
            ("jonas.keller", "member-ch", "incident report CH-NC share=group sev=2 spam"),
            ("hiro.sato", "member-jp", "incident report JP-NC share=principal-gisc sev=2 y"),
            ("anna.weber", "member-de", "incident report DE-OF-NC share=group anonymous z")):
        assert (await c.type(who, text, room)).kind == "incident"
    for who in ("sec-desk", "offenbach-desk", "tokyo-desk", "hiro.sato", "anna.weber",
                "jonas.keller", "layla.haddad"):
        contact = app.directory.contact(who)
        caller = Caller(contact=contact, room=None, platform="web",
                        roles=person_roles(app.directory, contact))
        chat = await app.services.incidents.list(caller, "all")
        expected = {r.incident: r.named for r in chat.reveals}
        reg = await app.store.tx(lambda s, caller=caller: register(
            s, app.directory, caller, per_page=1000))
        assert {r.number: r.named for r in reg.rows} == expected, who
        assert reg.total == len(expected), who
        text = (await get(app, who, "/incidents")).text
        listed = re.findall(r'<th scope="row"><a href="/incidents/(WIS-SEC-\d+-\d+)"', text)
        assert set(listed) == set(expected), who


async def test_a_second_process_on_the_same_database_serves_the_same_pages(
        make_app) -> None:  # type: ignore[no-untyped-def]
    """Two wisbot processes on one database: what one records, the other's pages show."""
    first = await make_app(directory())
    second = await make_app(directory())
    await first.console.type("hiro.sato", "incident report JP-NC share=group sev=2 "
                             "first process outage", "member-jp")
    text = (await get(second, "tokyo-desk", "/incidents")).text
    assert "WIS-SEC-2026-1" in text and "first process outage" in text
    shown = (await get(second, "tokyo-desk", "/incidents/WIS-SEC-2026-1")).text
    assert "first process outage" in shown
