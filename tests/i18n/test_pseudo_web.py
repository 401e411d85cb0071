"""The web facility in the pseudo-locale: a person whose language is ``qps`` signs in (the
``web login`` code pasted on the sign-in page, as in tests/web) and opens every page and
download: the register with its filters, an incident, the lessons and their search, the
GISC Watch board and a ticket, on call and a page, the annual report, the sign-in pages,
the 403 / 404 / CSRF refusals and the sign-out. The text a reader gets (the text of the
page, its title, the alt, aria-label, placeholder and title attributes, button values,
the SVG charts' <text>/<title>/<desc>) may hold no English word outside ⟦…⟧.

What may stay unmarked is written by hand below (never derived from the code): ids, codes,
names of the hand-written world of tests/web/pages_fixture.py and what its people typed,
TLP labels, RSIT class names, probe statuses and service keys, URLs and paths.

Then real languages: an Arabic reader's pages are ``<html lang="ar" dir="rtl">`` with the
codes and people's text isolated, a Chinese reader's are in Chinese, and the sign-in
e-mail speaks the language of the person it is for."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.i18n.test_catalogs import NEVER_TRANSLATED
from tests.web.conftest import Inbox, chat_code, client_for, csrf_of, smtp  # noqa: F401
from tests.web.pages_fixture import (
    CH_LESSON,
    CH_SUMMARY,
    DE_LESSON,
    DE_SUMMARY,
    directory,
    page_ids,
    world,
)
from wisbot import i18n
from wisbot.store.language_tables import PersonLanguage
from wisbot.web.server import build_site

SESSION = "__Host-wisbot-session"

# Written by hand: what the pages may show untranslated.
TYPED = [DE_SUMMARY, DE_LESSON, CH_SUMMARY, CH_LESSON,
         "SRU search times out since 06:00", "fixed", "again"]
"""What the fixture's people typed (summaries, lessons, a ticket's finding, reasons): shown
as typed, or cut short, or with words withheld, so each of its words may stand alone."""
TYPED_WORDS = sorted({w for text in TYPED for w in re.findall(r"[^\W\d_]{2,}", text)})

KEPT_WEB = [
    r"TLP:(RED|AMBER\+STRICT|AMBER|GREEN|CLEAR)", r"\bTLP\b",
    # The world's names, centres and codes.
    "Secretariat desk", "Offenbach desk", "Tokyo desk", "Anna Weber", "Jonas Keller",
    "Hiro Sato", "Layla Haddad", "sec-desk", "offenbach-desk", "tokyo-desk", "anna.weber",
    "jonas.keller", "hiro.sato", "layla.haddad", "Swiss National Centre",
    "JMA National Centre", "DWD National Centre", "CH-NC", "JP-NC", "Switzerland", "Japan", "Tokyo",
    "Global Broker", r"\bGISC\b", r"\bRSIT\b", r"\b(none|anonymous|named)\b",
    # Ids, formats and machine words.
    r"L-\d+", r"P-\d+", r"#\d+", r"WIS-SEC-\d+-\d+", r"\bUTC\b", r"\bCSV\b", r"\bJSON\b",
    r"\bOpenID\b", r"\bMatrix\b", r"\bSlack\b", r"\bwisbot\b", r"\bWMO\b", r"\bWIS2?\b",
    # The access log's references as recorded (ids, search words, report names).
    r"^annual \d{4}(\.csv|\.json)?$", r"^(MFA|keys|a)$",
    # RSIT classes and types (the filter's options, the classified incident).
    r"\b(abusive-content|malicious-code|information-gathering|intrusion-attempts|"
    r"intrusions|availability|information-content-security|fraud|vulnerable|other|test)"
    r"(/[a-z\-]+)?\b", "Intrusions: system compromise",
    # Role keys, a probe's service key and status as chat's watch summary names them, and
    # the WIS2 IMS (JIRA) ticket states and impact levels.
    r"\((secretariat|gisc:[A-Z]\w+|member:[A-Z]{2})\)",
    r"\b(oaipmh|sru|broker|csw): (ok|degraded|fail)\b",
    r"\b(Triage|To Do|In Progress|In Review|Done)\b", r"\b(Very High|High|Medium)\b",
    # Paths and addresses.
    r"(?<![\w⟧])/[\w/.\-?=&]+", r"https?://\S+",
    # What people typed, word by word.
    r"\b(" + "|".join(TYPED_WORDS) + r")\b",
]
TIMELINE = [r"\b(opened|classified|was not classified)\b"]
"""The incident's timeline kinds ``opened`` and ``classified`` (and the ``(was …)`` of a
classification) are wisbot's words stored in English and rendered by
``wisbot.services.render``: the i18n-timeline branch translates them; drop this then."""


INLINE = {"a", "b", "i", "em", "strong", "code", "bdi", "span", "abbr", "small", "br"}
"""Tags inside a line of text; any other starts or ends a line."""


class Visible(HTMLParser):
    """What a reader gets from a page: its text (no script or style), the title, alt,
    aria-label, placeholder and title attributes, and the value of buttons; one line per
    block (a cell, a paragraph, an SVG text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        if tag not in INLINE:
            self.parts.append("\n")
        values = dict(attrs)
        for name in ("title", "alt", "aria-label", "placeholder"):
            if values.get(name):
                self.parts.append(f"\n{values[name]}\n")
        kind = (values.get("type") or "").lower()
        if values.get("value") and (tag == "button" or kind in ("submit", "button",
                                                                 "reset")):
            self.parts.append(f"\n{values['value']}\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        if tag not in INLINE:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = Visible()
    parser.feed(html)
    return "".join(parser.parts)


def english_left(text: str) -> list[str]:
    """The English words left outside ⟦…⟧ (each line on its own: a KEPT pattern may
    anchor on a line's end)."""
    left: list[str] = []
    for line in text.split("\n"):
        while re.search(r"⟦[^⟦⟧]*⟧", line):  # innermost first
            line = re.sub(r"⟦[^⟦⟧]*⟧", " ", line)
        for pattern in [*KEPT_WEB, *TIMELINE, *NEVER_TRANSLATED]:
            line = re.sub(pattern, " ", line)
        found = re.findall(r"[A-Za-z]{2,}", line.replace(i18n.FSI, " ").replace(i18n.PDI, " "))
        if found and (dump := os.environ.get("WISBOT_I18N_DUMP")):
            with open(dump, "a", encoding="utf-8") as fh:
                fh.write(f"{found}\t{line}\n")
        left += found
    return left


@pytest.fixture(autouse=True)
def english_default() -> Iterator[None]:
    yield
    i18n.set_default("en")


async def set_language(app: Any, who: str, language: str) -> None:
    """As the ``language`` command stores it (the command takes the six languages only)."""
    def work(session: Any) -> None:
        session.merge(PersonLanguage(contact_id=who, language=language,
                                     set_at=app.clock()))
    await app.store.tx(work)


@pytest.fixture
async def site(make_app: Any) -> Any:
    app = await make_app(directory(), web_base_url="https://wisbot.example.org")
    await world(app)
    r = await app.console.type("anna.weber", "incident classify WIS-SEC-2026-1 "
                               "intrusions/system-compromise", "member-de")
    assert r.kind != "error", r.plain()
    return app, build_site(app)


async def signed_in(app: Any, c: Any, who: str) -> None:
    reply = await app.console.type(who, "web login")
    r = await c.post("/login/link", data={"token": chat_code(reply), "csrf": await csrf_of(c)})
    assert r.status_code == 303, r.text


PAGES_SIGNED_IN = [
    "/", "/incidents", "/incidents?status=open", "/incidents?status=resolved",
    "/incidents?severity=3&year=2026", "/incidents?rsit=intrusions",
    "/incidents?severity=9", "/incidents?status=bogus", "/incidents?rsit=nonsense",
    "/incidents?year=1999", "/incidents?page=x",
    "/incidents/WIS-SEC-2026-1", "/incidents/WIS-SEC-2026-2", "/incidents/WIS-SEC-2026-99",
    "/lessons", "/lessons?q=MFA", "/lessons?q=keys", "/lessons?q=a",
    "/lessons/L-1", "/lessons/L-2", "/lessons/L-99",
    "/watch", "/watch/tickets/1", "/watch/tickets/99", "/oncall",
    "/reports/annual/2026", "/reports/annual/2025",
    "/access-log", "/access-log?contact=sec-desk", "/no-such-page", "/login",
]


async def test_every_page_of_a_pseudo_locale_reader_is_marked(site: Any) -> None:
    app, web = site
    await set_language(app, "sec-desk", i18n.PSEUDO)
    bad: dict[str, list[str]] = {}
    async with client_for(web) as c:
        await signed_in(app, c, "sec-desk")
        paths = [*PAGES_SIGNED_IN, *[f"/oncall/pages/{p}" for p in
                                     await page_ids(app, "WIS-SEC-2026-1", None)]]
        for path in paths:
            r = await c.get(path)
            assert r.status_code in (200, 400, 404), (path, r.status_code)
            assert '<html lang="qps" dir="ltr">' in r.text, path
            if left := english_left(visible(r.text)):
                bad[path] = left
        # The downloads are machine formats (their column names stay English), served.
        for ext, kind in (("csv", "text/csv"), ("json", "application/json")):
            r = await c.get(f"/reports/annual/2026.{ext}")
            assert r.status_code == 200 and r.headers["content-type"].startswith(kind)
        assert (await c.get("/reports/annual")).status_code == 303
        # A link of one's own (the confirmation page), a used or unknown one.
        reply = await app.console.type("sec-desk", "web login")
        for path in (f"/login/link/{chat_code(reply)}", "/login/link/not-a-code"):
            r = await c.get(path)
            if left := english_left(visible(r.text)):
                bad[path] = left
        csrf = await csrf_of(c)
        for path, data in (("/login/link", {"token": "nope"}),
                           ("/login/email", {"email": "nobody@example.org"}),
                           ("/login/matrix", {"server": "not a server", "token": "x"}),
                           ("/logout-refused", {})):
            r = await c.post(path, data={**data, "csrf": csrf})
            if left := english_left(visible(r.text)):
                bad[f"POST {path}"] = left
        for path in ("/login/slack", "/login/slack/callback?state=a&code=b"):
            r = await c.get(path)
            if left := english_left(visible(r.text)):
                bad[path] = left
        # A form's address opened as a page, a page sent a form: refused in their words.
        for method, path in (("GET", "/logout"), ("GET", "/login/email"),
                             ("POST", "/incidents")):
            r = await c.request(method, path, data={"csrf": csrf} if method == "POST"
                                else None)
            assert r.status_code == 405 and r.headers["allow"], (method, path)
            if left := english_left(visible(r.text)):
                bad[f"{method} {path}"] = left
        # A form from elsewhere (no CSRF token): refused in the reader's language.
        r = await c.post("/logout", data={"everywhere": "1"})
        assert r.status_code == 403
        if left := english_left(r.text):
            bad["POST /logout without csrf"] = left
        r = await c.post("/logout", data={"csrf": csrf})
        if left := english_left(visible(r.text)):
            bad["POST /logout"] = left
    assert not bad, bad


async def test_a_member_reads_the_403_and_their_own_views_marked(site: Any) -> None:
    app, web = site
    await set_language(app, "hiro.sato", i18n.PSEUDO)
    bad: dict[str, list[str]] = {}
    async with client_for(web) as c:
        await signed_in(app, c, "hiro.sato")
        for path in ("/watch", "/oncall", "/incidents", "/lessons", "/access-log",
                     "/reports/annual/2026", "/watch/tickets/1"):
            r = await c.get(path)
            if path == "/watch":
                assert r.status_code == 403
            if left := english_left(visible(r.text)):
                bad[path] = left
    assert not bad, bad


async def test_signed_out_pages_in_the_pseudo_locale(site: Any) -> None:
    _app, web = site
    i18n.set_default(i18n.PSEUDO)
    bad: dict[str, list[str]] = {}
    async with client_for(web) as c:
        for path in ("/login", "/incidents", "/watch", "/incidents/WIS-SEC-2026-1",
                     "/reports/annual/2026.csv", "/no-such-page", "/access-log"):
            r = await c.get(path)
            assert r.status_code in (401, 404, 200), path
            if left := english_left(visible(r.text)):
                bad[path] = left
        r = await c.post("/login/email", data={"email": "x@example.org"})
        assert r.status_code == 403
        if left := english_left(r.text):
            bad["POST /login/email without csrf"] = left
    assert not bad, bad


# ----- real languages -------------------------------------------------------------------

FSI, PDI = "\u2068", "\u2069"  # written here by hand


async def test_an_arabic_reader_reads_right_to_left_with_codes_isolated(site: Any) -> None:
    """Layla Haddad's directory entry says ``language: ar``."""
    app, web = site
    async with client_for(web) as c:
        await signed_in(app, c, "layla.haddad")
        pages = {path: (await c.get(path)).text for path in (
            "/incidents", "/incidents/WIS-SEC-2026-1", "/oncall", "/oncall/pages/P-1",
            "/access-log", "/watch", "/lessons/L-1", "/no-such-page")}
        for path, text in pages.items():
            assert '<html lang="ar" dir="rtl">' in text, path
            assert "<bdi>Layla Haddad</bdi>" in text, path  # the signed-in name
            assert "Sign out" not in text and "تسجيل الخروج" in text, path
        assert "سجل الحوادث" in pages["/incidents"]  # Incident register
        incident = pages["/incidents/WIS-SEC-2026-1"]
        assert re.search(f"<bdi>{FSI}?DWD National Centre", incident)  # a card value
        assert "<h1>الحادث <bdi>WIS-SEC-2026-1</bdi></h1>" in incident  # Incident
        assert "<bdi>DWDs mail relay" in pages["/incidents"]  # the summary, isolated
        assert f"<h1>نداء المناوبة {FSI}P-1{PDI}</h1>" in pages["/oncall/pages/P-1"]
        assert "خطوات التصعيد" in pages["/oncall/pages/P-1"]  # Escalation steps
        assert "<bdi>Layla Haddad (layla.haddad)</bdi>" in pages["/access-log"]
        assert "سجل الوصول" in pages["/access-log"]  # Access log
        assert "غير موجود" in pages["/no-such-page"]  # Not found
        # A form from elsewhere, refused in Arabic.
        r = await c.post("/logout", data={})
        assert r.status_code == 403 and "انتهت صلاحية هذا النموذج" in r.text, r.text


async def test_a_chinese_reader_reads_chinese(site: Any) -> None:
    app, web = site
    r = await app.console.type("hiro.sato", "language zh")
    assert r.kind != "error", r.plain()
    async with client_for(web) as c:
        await signed_in(app, c, "hiro.sato")
        pages = {path: (await c.get(path)).text for path in (
            "/incidents", "/lessons", "/oncall", "/reports/annual/2026", "/watch")}
        for path, text in pages.items():
            assert '<html lang="zh" dir="ltr">' in text, path
            assert "已登录：<bdi>Hiro Sato</bdi>" in text, path  # Signed in as
            for english in ("Incident register", "Lessons library", "Sign out", "On call"):
                assert english not in text, (path, english)
        assert "事件登记册" in pages["/incidents"] and "状态" in pages["/incidents"]
        assert "经验教训库" in pages["/lessons"]
        assert "值班" in pages["/oncall"]
        assert "2026年度服务报告" in pages["/reports/annual/2026"]
        assert "严重程度 3" in pages["/reports/annual/2026"]  # the chart's series, the table
        assert pages["/watch"].count("GISC值守") >= 1  # the 403 page's menu still names it


@pytest.mark.parametrize("language", ["fr", "zh", i18n.PSEUDO])
async def test_the_sign_in_mail_speaks_the_persons_language(
        make_app: Any, smtp: Any, language: str) -> None:  # noqa: F811
    from email.header import decode_header, make_header

    inbox, port = smtp
    app = await make_app(directory(), smtp_host="127.0.0.1", smtp_port=port,
                         web_base_url="https://wisbot.example.org")
    await set_language(app, "anna.weber", language)
    web = build_site(app)
    async with client_for(web) as c:
        r = await c.post("/login/email", data={"email": "anna.weber@dwd.example.de",
                                               "csrf": await csrf_of(c)})
        assert r.status_code == 200
    mail = (await Inbox.wait_for(inbox, "anna.weber@dwd.example.de"))[0]
    subject = str(make_header(decode_header(mail["Subject"])))
    body = mail.get_payload(decode=True).decode()
    assert "/login/link/" in body
    if language == "fr":
        assert subject == "wisbot : votre lien de connexion", subject
        assert "Si vous ne l’avez pas demandé, ignorez ce courriel." in body, body
    elif language == "zh":
        assert subject == "wisbot：您的登录链接", subject
        assert "sign in" not in body and "登录" in body, body
    else:
        flat = " ".join(body.split())  # one line: the ⟦…⟧ spans the paragraphs
        assert not english_left(subject) and not english_left(flat), (subject, body)
        assert flat.startswith("⟦") and flat.endswith("⟧"), body


async def test_signed_out_browsers_read_their_accept_language(make_app: Any) -> None:
    """Nobody signed in: the browser's first language wisbot writes; too many attempts
    are refused in it too."""
    app = await make_app(directory(), web_login_limit_ip=1)
    web = build_site(app)
    async with client_for(web) as c:
        c.headers["accept-language"] = "de-CH, zh-CN;q=0.8, en;q=0.5"
        page = (await c.get("/login")).text
        assert '<html lang="zh" dir="ltr">' in page and "Sign in" not in page
        csrf = await csrf_of(c)
        statuses = [(await c.post("/login/email", data={"email": "x@example.org",
                                                        "csrf": csrf})).status_code
                    for _ in range(2)]
        assert statuses == [200, 429]
        r = await c.post("/login/email", data={"email": "x@example.org", "csrf": csrf})
        assert r.status_code == 429 and "Too many" not in r.text
        assert '<html lang="zh" dir="ltr">' in r.text
    i18n.set_default(i18n.PSEUDO)
    async with client_for(web, ip="203.0.113.9") as c:
        csrf = await csrf_of(c)
        for _ in range(2):
            r = await c.post("/login/email", data={"email": "x@example.org", "csrf": csrf})
        assert r.status_code == 429 and not english_left(visible(r.text)), r.text
