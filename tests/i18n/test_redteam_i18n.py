"""Red-team findings (redteam-i18n): each was written as a failing test, marked
xfail(strict=True), before the code was fixed; the markers went with the fixes. Forbidden
words and inputs are written by hand, never derived from the code."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest

from tests.i18n import fixtures as fx
from wisbot import i18n
from wisbot.adapters.console import render_text

ANON_ROOMS = ("gisc-beijing", "area-offenbach", "area-beijing", "collaboration")


def room(app: Any, key: str) -> str:
    return "\n\n".join(render_text(r) for r in app.console.rooms.get(key, []))


def flat(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text)
                   if unicodedata.category(ch) != "Cf")


@pytest.fixture(autouse=True)
def english_default() -> Iterator[None]:
    yield
    i18n.set_default("en")


async def _cascade(app: Any, summary: str, sev: int = 3) -> None:
    c = app.console
    r = await c.type("anna.weber", f"incident report DE-OF-NC share=group anonymous sev={sev} "
                     f"{summary}", "member-de")
    assert r.kind == "incident", r.plain()
    await c.type("anna.weber", "incident confirm WIS-SEC-2026-1", "member-de")
    await app.outbox.drain()


# ----- finding 1: identifiers written against CJK / Arabic letters are not withheld ---------
# The Redactor bounds a term by "not a letter"; a Chinese or Arabic character is a letter,
# so "DWD的" (Chinese: "DWD's") or "وDWD" (Arabic: "and DWD") is not recognised, while the
# same words in an English summary are. A Chinese- or Arabic-writing focal point asking for
# anonymity is named to every anonymised room, in every language.
CJK_SUMMARY = "DWD的邮件中继EDZW被攻破，请联系AnnaWeber处理"
ARABIC_SUMMARY = "تعطل خادم البريد لـDWD وEDZW"
# Written by hand: what identifies the DE incident.
FORBIDDEN_1 = ["DWD", "EDZW", "AnnaWeber"]


async def test_finding1_identifiers_glued_to_cjk_or_arabic_are_withheld(
        make_app: Any) -> None:
    app = await make_app(fx.directory())
    await _cascade(app, f"{CJK_SUMMARY} {ARABIC_SUMMARY}")
    leaked = {}
    for key in ANON_ROOMS:
        text = flat(room(app, key))
        assert text, key
        found = [w for w in FORBIDDEN_1 if w.casefold() in text.casefold()]
        if found:
            leaked[key] = found
    assert not leaked, leaked


async def test_finding1_control_english_spelling_is_withheld(make_app: Any) -> None:
    """The same identifiers in a Latin-script summary are withheld (the control)."""
    app = await make_app(fx.directory())
    await _cascade(app, "DWD mail relay EDZW hit, ask Anna Weber")
    for key in ANON_ROOMS:
        text = flat(room(app, key))
        assert not [w for w in ("DWD", "EDZW", "Weber") if w in text], key


# ----- finding 2: a phone number right after a Chinese word is not withheld ----------------
# "Any phone number at all" is withheld from anonymised text, but the international form
# must not follow a letter: "电话+49 30 1234567" ("phone +49…", no space, as Chinese is
# written) and "致电0301234567" pass through. The number below is nobody's in the directory.
async def test_finding2_phone_after_chinese_word_is_withheld(make_app: Any) -> None:
    app = await make_app(fx.directory())
    await _cascade(app, "邮件中继被攻破，值班电话+49 30 1234567，或致电030 7654321")
    for key in ANON_ROOMS:
        digits = re.sub(r"\D", "", flat(room(app, key)))
        assert "1234567" not in digits and "7654321" not in digits, key


# ----- finding 3: one stray brace in one language's translation loses every report ----------
# A translator's typo, a "}" left in the Chinese anonymised label, is not a placeholder
# mismatch for the catalog check, and at run time ``str.format`` raises inside the cascade's
# transaction: the report is refused for everyone (English rooms, the Member's own room), not
# just rendered badly for the Chinese rooms.
ANON_MSGID = "a WIS centre in the area of GISC {gisc}"
BROKEN_ZH = "GISC {gisc} 区域内的一个WIS中心}"  # hand-written: a translator's stray brace


def _break_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    import gettext

    real = i18n._catalog

    class Broken(gettext.NullTranslations):
        def __init__(self, inner: gettext.NullTranslations) -> None:
            super().__init__()
            self.inner = inner

        def gettext(self, message: str) -> str:
            return BROKEN_ZH if message == ANON_MSGID else self.inner.gettext(message)

        def ngettext(self, singular: str, plural: str, n: int) -> str:
            return self.inner.ngettext(singular, plural, n)

    monkeypatch.setattr(i18n, "_catalog",
                        lambda lang: Broken(real(lang)) if lang == "zh" else real(lang))


async def test_finding3_stray_brace_in_a_translation_loses_no_report(
        make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _break_chinese(monkeypatch)
    app = await make_app(fx.directory())
    c = app.console
    r = await c.type("anna.weber", "incident report DE-OF-NC share=group anonymous sev=3 "
                     "relay down", "member-de")
    assert r.kind == "incident", r.plain()
    await app.outbox.drain()
    assert "Security incident severity 3" in room(app, "gisc-offenbach")


def test_finding3_catalog_check_sees_a_stray_brace() -> None:
    from tests.i18n.test_catalogs import PLACEHOLDER

    for bad in (BROKEN_ZH, "GISC {gisc} 区域内的一个WIS中心 {0}", "{gisc} {"):
        assert sorted(PLACEHOLDER.findall(bad)) != sorted(PLACEHOLDER.findall(ANON_MSGID)), bad


# ----- finding 4: `lessons search` without accents differs between SQLite and PostgreSQL ----
# docs/i18n.md: "both give the same results". A French reader typing without accents
# ("securite", as on many keyboards and phones) finds the lesson on SQLite (FTS5 unicode61
# folds diacritics) and nothing on PostgreSQL (to_tsvector('english') and ILIKE keep them).
FRENCH_LESSON = "Renforcer la sécurité du serveur de messagerie après l'hameçonnage."


async def _search_on(url: str, clock: Any, queries: list[str],
                     lesson: str = FRENCH_LESSON) -> dict[str, set[int]]:
    from tests.conftest import EXAMPLE
    from wisbot.adapters.console import ConsoleAdapter
    from wisbot.app import App
    from wisbot.settings import Settings

    app = App(Settings(database_url=url, directory=EXAMPLE), directory=fx.directory(),
              clock=clock, adapters=[ConsoleAdapter(echo=False)], run_worker=False)
    await app.start()
    try:
        c = app.console
        r = await c.type("li.wei", "incident report CN-BJ-NC share=secretariat sev=1 case")
        assert r.kind == "incident", r.plain()
        await c.type("li.wei", "incident resolve WIS-SEC-2026-1")
        r = await c.type("li.wei", f"lessons add WIS-SEC-2026-1 share=none {lesson}")
        assert r.kind != "error", r.plain()
        out = {}
        for q in queries:
            reply = await c.type("sec-desk", f"lessons search {q}")
            out[q] = {int(n) for n in re.findall(r"L-(\d+)", reply.plain())}
        return out
    finally:
        await app.stop()


async def test_finding4_search_without_accents_same_on_both_databases(
        sqlite_url: str, postgres_database: str, clock: Any) -> None:
    from tests.conftest import _truncate

    _truncate(postgres_database)
    queries = ["securite", "hameconnage", "sécurité"]
    on_sqlite = await _search_on(sqlite_url, clock, queries)
    on_postgres = await _search_on(postgres_database, clock, queries)
    assert on_sqlite["sécurité"] == {1} == on_postgres["sécurité"]  # the control
    assert on_sqlite == on_postgres


# ----- finding 5: Arabic lines with an unisolated date or incident id ------------------------
# docs/i18n.md: codes are isolated (U+2068 … U+2069) in Arabic so a Latin code does not
# reorder the line. The card's title isolates WIS-SEC-2026-1, but the `incident list` line
# does not, and the timeline line starts with a bare "2026-03-02 09:00 UTC": in a right-to-
# left paragraph the date, the time and "UTC" are laid out right to left ("UTC 09:00
# 2026-03-02" read from the left).
FSI, PDI = "\u2068", "\u2069"  # by hand


def _outside_isolates(body: str) -> str:
    previous = None
    while previous != body:  # nested isolates: innermost first
        previous, body = body, re.sub(f"{FSI}[^{FSI}{PDI}]*{PDI}", "", body)
    return body


async def test_finding5_arabic_lines_isolate_ids_and_dates(make_app: Any) -> None:
    from wisbot.adapters.matrix import render

    app = await make_app(fx.directory())
    await _cascade(app, "relay down at the centre")
    c = app.console
    bare = []
    for cmd in ("incident show WIS-SEC-2026-1", "incident list"):
        r = await c.type("amina.alaoui", cmd, "area-offenbach")
        body = render(r)["body"]
        assert "\u0627" in body, body  # it is Arabic (alef)
        outside = _outside_isolates(body)
        bare += [(cmd, w) for w in ("WIS-SEC-2026-1", "UTC") if w in outside]
    assert not bare, bare


# ----- finding 6: a server's nested error text crashes the translation of a stored reason ----
# ``Phrases.words`` recurses into every value a template matched; a reason whose server
# part itself looks like a reason ("timed out: timed out: …", 6.6 kB, something a hostile or
# looping server can send inside an SRU diagnostic or an exception message) exhausts the
# stack: RecursionError instead of the text. Latent: ``REASONS.words`` is the API the
# GISC Watch renderers are meant to call on a stored probe reason.
def test_finding6_nested_server_message_does_not_crash_the_translation() -> None:
    import wisbot.probes.reasons  # noqa: F401  (registers the templates)
    from wisbot.i18n_stored import REASONS

    nested = "connection reset by peer"
    for _ in range(600):
        nested = "timed out: " + nested
    with i18n.use("fr"):
        shown = REASONS.words(nested)
    assert "connection reset by peer" in shown


# ----- finding 7: the short date in Chinese reads "02 12月" -----------------------------------
# ``when_short`` uses the fixed pattern "dd MMM HH:mm" in every language; Chinese writes the
# month first with 日 ("12月2日"), so a Chinese reader gets "02 12月 21:30 UTC".
def test_finding7_short_date_in_chinese_is_month_then_day() -> None:
    from datetime import UTC, datetime

    with i18n.use("zh"):
        shown = i18n.when_short(datetime(2026, 12, 2, 21, 30, tzinfo=UTC))
    assert shown.endswith("UTC") and ("12月2日" in shown or "12月02日" in shown), shown


# ----- finding 8: a Member's aliases in Chinese or Arabic are never withheld in a sentence ----
# An operator who adds the Member's names in Chinese and Arabic to the directory (as a
# Chinese- or Arabic-writing focal point will use them) gains nothing: Chinese has no spaces,
# so "德国气象局的…" ("DWD's …") has a letter after the alias, and Arabic attaches "و"
# ("and") to the word before it. Only the alias standing between punctuation is withheld.
def _directory_with_local_aliases() -> Any:
    import yaml

    from wisbot.directory import parse_directory

    text = fx.DIRECTORY.replace("aliases: [DWD, Deutscher Wetterdienst, Deutschland]",
                                "aliases: [DWD, Deutscher Wetterdienst, Deutschland, "
                                "德国气象局, ألمانيا]")
    assert "德国气象局" in text
    return parse_directory(yaml.safe_load(text), "hand-written: aliases in other scripts")


async def test_finding8_local_script_aliases_are_withheld_in_running_text(
        make_app: Any) -> None:
    app = await make_app(_directory_with_local_aliases())
    await _cascade(app, "德国气象局的邮件中继被攻破。 تعطل خادم البريد وألمانيا تحقق")
    leaked = {}
    for key in ANON_ROOMS:
        text = flat(room(app, key))
        assert text, key
        found = [w for w in ("德国气象局", "ألمانيا") if w in text]
        if found:
            leaked[key] = found
    assert not leaked, leaked


# Same promise, English words: SQLite's first pass stems with Porter, PostgreSQL's with the
# Snowball "english" configuration, so "generate" or "communism" find a lesson about a
# "general ... generic" gateway or "communication" on SQLite only.
ENGLISH_LESSON = "General hardening of the generic gateway; communication with the community."


async def test_finding4_english_stems_same_on_both_databases(
        sqlite_url: str, postgres_database: str, clock: Any) -> None:
    from tests.conftest import _truncate

    _truncate(postgres_database)
    queries = ["generate", "communism", "general"]
    on_sqlite = await _search_on(sqlite_url, clock, queries, ENGLISH_LESSON)
    on_postgres = await _search_on(postgres_database, clock, queries, ENGLISH_LESSON)
    assert on_sqlite["general"] == {1} == on_postgres["general"]  # the control
    assert on_sqlite == on_postgres
