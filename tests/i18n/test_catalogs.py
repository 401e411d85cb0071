"""The catalogs are complete, the severity scale is exact, and nothing that the wrapped
surfaces show escapes the catalogs (the pseudo-locale run)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from tests.i18n import fixtures as fx
from wisbot import i18n
from wisbot.adapters.console import render_text
from wisbot.commands import build_registry
from wisbot.domain.severity import SCALE, severity

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "wisbot" / "locale"
LANGS = ("ar", "zh", "fr", "ru", "es")
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{[^{}]*\}|[{}]")
"""Placeholders and every other brace: a stray one in a translation would not format."""


def catalog(lang: str) -> Any:
    with (LOCALE / lang / "LC_MESSAGES" / "wisbot.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def template() -> Any:
    with (LOCALE / "wisbot.pot").open("rb") as fh:
        return read_po(fh)


@pytest.fixture(autouse=True)
def english_default() -> Iterator[None]:
    yield
    i18n.set_default("en")


@pytest.mark.parametrize("lang", LANGS)
def test_every_msgid_translated_no_fuzzy_placeholders_match(lang: str) -> None:
    pot = {m.id for m in template() if m.id}
    cat = catalog(lang)
    ids = {m.id for m in cat if m.id}
    assert ids == pot, f"{lang}: run `make i18n` (missing {pot - ids}, extra {ids - pot})"
    assert not cat.fuzzy
    for m in cat:
        if not m.id:
            continue
        assert "fuzzy" not in m.flags, f"{lang}: fuzzy {m.id!r}"
        if isinstance(m.id, (tuple, list)):  # a plural: every form translated
            assert all(m.string), f"{lang}: untranslated plural {m.id[0]!r}"
            wanted = set(PLACEHOLDER.findall(m.id[1]))
            for form in m.string:
                # a form for one exact number may say it in words ("يوم واحد"): {n} only
                assert set(PLACEHOLDER.findall(form)) | {"{n}"} == wanted | {"{n}"}, \
                    f"{lang}: placeholders differ in {m.id[0]!r} → {form!r}"
            continue
        assert m.string, f"{lang}: untranslated {m.id!r}"
        assert sorted(PLACEHOLDER.findall(m.id)) == sorted(PLACEHOLDER.findall(m.string)), \
            f"{lang}: placeholders differ in {m.id!r} → {m.string!r}"
        # Command words and ids are never translated.
        for kept in re.findall(r"`[^`]+`|WIS-SEC-\d+-\d+|share=\w*|P-3|Q-2|O-3", m.id):
            assert kept in m.string, f"{lang}: {kept!r} translated in {m.id!r}"


def test_template_is_up_to_date(tmp_path: Path) -> None:
    """The .pot holds exactly what the code marks (``make i18n`` refreshes it)."""
    out = tmp_path / "fresh.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "-q", "extract", "-F",
                    str(ROOT / "babel.cfg"), "-k", "_t", "-k", "N_", "-k", "ngettext:1,2",
                    "-k", "Command:2", "-k", "group:2", "--no-location", "-o", str(out),
                    str(ROOT)], check=True, capture_output=True, cwd=ROOT)
    with out.open("rb") as fh:
        fresh = {m.id for m in read_po(fh) if m.id}
    assert fresh == {m.id for m in template() if m.id}


def test_every_command_help_is_in_the_catalogs() -> None:
    pot = {m.id for m in template() if m.id}
    reg = build_registry()
    missing = [c.name for c in reg.commands if c.help not in pot]
    assert not missing, missing
    assert all(s in pot for s in reg.summaries.values())
    helps = {a.help for c in reg.commands for a in c.args if a.help}
    helps |= {w for c in reg.commands for a in c.args for w in a.choice_help.values()}
    assert not helps - pot, helps - pot


def test_chinese_scale_is_the_source_table_character_for_character() -> None:
    for (level, description, action), s in zip(fx.CHINESE_SCALE, SCALE, strict=True):
        assert s.level == level
        assert s.description_in("zh") == description
        assert s.action_in("zh") == action
    assert severity(2).words_in("zh") == fx.CHINESE_EXAMPLE
    assert severity(2).words_in("en") == fx.ENGLISH_EXAMPLE
    with i18n.use("zh"):
        assert severity(2).words == fx.CHINESE_EXAMPLE


@pytest.mark.parametrize("lang", ("en", "ar", "zh", "fr", "ru", "es"))
def test_severity_n_words_form_in_every_language(lang: str) -> None:
    for s in SCALE:
        words = s.words_in(lang)
        assert re.search(rf"\D{s.level} – \S", words), words
        assert words.endswith(s.description_in(lang))
        assert (s.action_in(lang) and s.action_in(lang) != s.action) or lang == "en"


# What may stay unmarked in the pseudo-locale: what is never translated (ids, codes, names,
# share levels, command words, a person's text) — written by hand.
NEVER_TRANSLATED = [
    r"WIS-SEC-\d+-\d+", r"L-\d+", r"P-\d+", r"\d{4}-\d\d-\d\d \d\d:\d\d UTC",
    "DWD National Centre", "DE-OF-NC", "Germany", "GISC", "Offenbach", "Beijing",
    "group, anonymous", "group", "principal-gisc", "incident confirm", "incident anon-text",
    "incident show",
    "<text>", "ack", "Anna Weber", "Secretariat desk", "wisbot", r"\[[^\]]*\]",
    r"TLP:(RED|AMBER\+STRICT|AMBER|GREEN|CLEAR)",  # FIRST's labels stay as they are
]


def wisbot_words(reply: Any) -> str:
    """What wisbot itself wrote in a reply: everything but the spans a person typed."""
    parts = [reply.title or ""]
    parts += [f"{label}: {value}" for label, value in reply.fields]
    parts += ["".join(s.text for s in line if s.style != "user") for line in reply.lines]
    parts += [a.label for a in reply.actions]
    return "\n".join(parts)


def unmarked_english(text: str) -> list[str]:
    while re.search(r"⟦[^⟦⟧]*⟧", text):  # innermost first: a filled-in word is marked too
        text = re.sub(r"⟦[^⟦⟧]*⟧", " ", text)
    for pattern in NEVER_TRANSLATED:
        text = re.sub(pattern, " ", text)
    text = text.replace(i18n.FSI, " ").replace(i18n.PDI, " ")
    return re.findall(r"[A-Za-z]{2,}", text)


async def test_pseudo_locale_cascade_leaves_no_english_unmarked(make_app: Any) -> None:
    """Every room of a group cascade (named and anonymised), the Member's review, the
    release, the pages and the reporter's own reply, in the pseudo-locale: any English
    word left outside ⟦…⟧ is a string that escaped the catalogs."""
    app = await make_app(fx.directory())
    i18n.set_default("qps")
    c = app.console
    r = await c.type("anna.weber", f"incident report DE-OF-NC share=group anonymous sev=4 "
                     f"{fx.SUMMARY}", "member-de")
    assert r.kind == "incident"
    await c.type("anna.weber", "incident update WIS-SEC-2026-1 contained", "member-de")
    await c.type("anna.weber", "incident confirm WIS-SEC-2026-1", "member-de")
    await c.type("anna.weber", "severity WIS-SEC-2026-1 3 lower", "member-de")
    await app.outbox.drain()
    seen = 0
    for key in fx.ROOM_LANGUAGE:
        for reply in app.console.rooms.get(key, []):
            if reply.lang != "qps":
                continue  # rooms with a language of their own read it (tested elsewhere)
            seen += 1
            left = unmarked_english(wisbot_words(reply))
            assert not left, (key, left, render_text(reply))
    for contact in ("offenbach-desk", "anna.weber"):
        for reply in app.console.direct.get(contact, []):
            seen += 1
            left = unmarked_english(wisbot_words(reply))
            assert not left, (contact, left, render_text(reply))
    assert seen >= 6
    # The same for usage errors, did-you-mean and help.
    for typed in ("incidnt", "incident report DE-OF-NC share=grop x", "severity help",
                  "help", "language", "language fre", "incident show WIS-SEC-2026-77"):
        left = unmarked_english(wisbot_words(await c.type("anna.weber", typed)))
        left = [w for w in left if w not in {"incidnt", "grop", "fre", "secretariat",
                                             "all", "giscs", "incident", "report", "share",
                                             "sev", "anonymous", "centre", "summary",
                                             "severity", "language", "id", "level",
                                             "reason", "code", "lessons", "escalate",
                                             "watch", "status", "exchange", "en", "ar",
                                             "zh", "fr", "ru", "es", "English",
                                             "Operators", "operators", "Phishing",
                                             "mails", "to", "Lateral", "movement", "seen",
                                             "sec", "help", "service", "change", "audit",
                                             "continuity", "drill", "kedb", "models", "web"}]
        # Command lines (usage, examples) are command words; the rest is marked.
        assert not left, (typed, left)


def test_compiled_on_first_use_without_mo_files() -> None:
    assert not list(LOCALE.rglob("*.mo"))
    code = ("from wisbot import i18n; from wisbot.i18n import _\n"
            "with i18n.use('ru'):\n print(_('Severity'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "Степень серьёзности"
