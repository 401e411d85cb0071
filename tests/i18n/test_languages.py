"""Every reader in their language: rooms by the directory's ``language:``, people by the
``language`` command (stored) or the directory, the deployment default otherwise. Runs on
SQLite and PostgreSQL (``db_url``). Forbidden words and expected wording are written by
hand in ``fixtures.py``."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest

from tests.i18n import fixtures as fx
from wisbot import i18n
from wisbot.adapters.console import render_text
from wisbot.errors import DirectoryError


def room(app: Any, key: str) -> str:
    return "\n\n".join(render_text(r) for r in app.console.rooms.get(key, []))


def squash(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", unicodedata.normalize(
        "NFKC", text)).casefold() if ch.isalnum())


def plain(text: str) -> str:
    """The text without the isolation marks (they are checked by the RTL tests)."""
    return text.replace(i18n.FSI, "").replace(i18n.PDI, "")


@pytest.fixture(autouse=True)
def english_default() -> Iterator[None]:
    yield
    i18n.set_default("en")


async def test_group_cascade_each_room_reads_its_language(make_app: Any) -> None:
    app = await make_app(fx.directory())
    c = app.console
    r = await c.type("anna.weber", f"incident report DE-OF-NC share=group anonymous sev=3 "
                     f"{fx.SUMMARY}", "member-de")
    assert r.kind == "incident", r.plain()
    assert "confirmed" in (await c.type("anna.weber", "incident confirm WIS-SEC-2026-1",
                                        "member-de")).plain()
    await app.outbox.drain()
    for key, lang in fx.ROOM_LANGUAGE.items():
        text = plain(room(app, key))
        assert fx.SEVERITY_3[lang] in text, (key, text)
        for other, words in fx.SEVERITY_3.items():
            if other != lang and other != "en" and lang != "en":
                assert words not in text, (key, other)
    # The anonymised wording is in the room's language too, and names nobody.
    for key in fx.ANONYMISED:
        text = plain(room(app, key))
        lang = fx.ROOM_LANGUAGE[key]
        if lang in fx.ANONYMOUS_LABEL:
            assert fx.ANONYMOUS_LABEL[lang] in text, (key, text)
        flat = squash(text)
        leaked = [w for w in fx.DE_FORBIDDEN if squash(w) in flat]
        assert not leaked, (key, leaked)
    # Named rooms read the Member (the test can fail).
    assert "DWD" in room(app, "secretariat") and "Germany" in room(app, "gisc-offenbach")
    # Labels and the status are translated; share levels and command words are not.
    sec = plain(room(app, "secretariat"))
    assert "Mesure recommandée: Renforcez la vigilance." in sec
    assert "Partage: group, anonymous" in sec
    zh = plain(room(app, "gisc-beijing"))
    assert "建议的行动: 提高警惕。" in zh and "状态: 未结" in zh
    ar = room(app, "area-offenbach")
    assert "الإجراء الموصى به: زيادة اليقظة." in ar
    es = plain(room(app, "collaboration"))
    assert "Gravedad del incidente de seguridad 3" in es and "Estado: abierto" in es


async def test_language_command_is_stored_per_person_and_rules_direct_replies(
        make_app: Any, db_url: str) -> None:
    app = await make_app(fx.directory())
    c = app.console
    assert "English" in (await c.type("anna.weber", "language")).plain()
    r = await c.type("anna.weber", "language fr")
    assert r.kind != "error" and "Votre langue est désormais fr – Français" in r.plain()
    # A direct reply: the person's language; help and usage too.
    assert "Gravité de l’incident de sécurité 0 – Aucun problème actuel" in \
        (await c.type("anna.weber", "severity")).plain()
    h = (await c.type("anna.weber", "incident report help")).plain()
    assert h.startswith("Syntaxe : incident report") and "Exemple : incident report" in h
    # In a room: the room's language (member-de has none: the deployment's, English).
    assert "Security incident severity 0" in (await c.type("anna.weber", "severity",
                                                           "member-de")).plain()
    # Another process on the same database reads the stored choice.
    other = await make_app(fx.directory())
    assert "Refusé" in (await other.console.type("anna.weber", "incident show WIS-SEC-2026-9"
                                                 )).plain()
    # The directory's language for someone who chose none; the choice beats it.
    assert "安全事件严重程度0 – 当前无问题" in (await c.type("li.wei", "severity")).plain()
    assert "Security incident severity 0" in \
        (await c.type("li.wei", "language en") and await c.type("li.wei", "severity")).plain()


async def test_bad_language_gets_did_you_mean_and_changes_nothing(make_app: Any) -> None:
    app = await make_app(fx.directory())
    c = app.console
    r = await c.type("anna.weber", "language fre")
    assert r.kind == "error"
    assert "did you mean fr?" in r.plain() and "ar en" not in r.plain()
    assert "use one of en ar zh fr ru es" in r.plain()
    assert "English" in (await c.type("anna.weber", "language")).plain()
    r = await c.type("anna.weber", "language klingon")
    assert r.kind == "error" and "Traceback" not in r.plain()


def test_directory_language_is_validated_with_did_you_mean() -> None:
    bad = fx.DIRECTORY.replace("language: es}", "language: esp}")
    import yaml

    from wisbot.directory import parse_directory

    with pytest.raises(DirectoryError) as err:
        parse_directory(yaml.safe_load(bad), "bad.yaml")
    assert "rooms[5]" in str(err.value) and "did you mean es?" in str(err.value)


def test_setting_language_is_validated() -> None:
    from wisbot.settings import Settings

    assert Settings(language="zh").language == "zh"
    with pytest.raises(ValueError, match="did you mean"):
        Settings(language="zhh")


async def test_usage_errors_and_did_you_mean_in_the_readers_language(make_app: Any) -> None:
    app = await make_app(fx.directory())
    c = app.console
    await c.type("li.wei", "language zh")
    r = (await c.type("li.wei", "incidnt list")).plain()
    assert r.startswith("未知命令 'incidnt'。 您是否指 incident？") and "`help`" in r
    r = (await c.type("li.wei", "incident report DE-OF-NC share=grop x")).plain()
    assert "share 必须是 secretariat, principal-gisc, all-giscs, group 之一" in r
    assert "（您是否指 group？）" in r and "用法：incident report" in r
    r = (await c.type("li.wei", "help")).plain()
    assert r.startswith("命令（输入 `<command> help` 查看详情）：")
    assert "incident – 报告并跟踪IT安全事件" in r  # command words stay
    await c.type("amina.alaoui", "language ar")
    r = (await c.type("amina.alaoui", "incident show WIS-SEC-2026-99")).plain()
    assert r.startswith("مرفوض: ")


async def test_page_and_its_email_in_the_paged_persons_language(make_app: Any) -> None:
    app = await make_app(fx.directory(), smtp_host="127.0.0.1")
    c = app.console
    await c.type("anna.weber", f"incident report DE-OF-NC share=principal-gisc sev=4 "
                 f"{fx.SUMMARY}", "member-de")
    await app.outbox.drain()
    # sec-desk: French in the directory.
    page = "\n".join(render_text(r) for r in app.console.direct.get("sec-desk", []))
    assert "Vous êtes d’astreinte pour le Secrétariat de l’OMM" in page, page
    assert "Gravité de l’incident de sécurité 4" in page
    from sqlmodel import select

    from wisbot.channels import SmtpSender
    from wisbot.store.paging_tables import PageDelivery

    def mails(session: Any) -> list[PageDelivery]:
        return list(session.exec(select(PageDelivery).where(
            PageDelivery.channel == "email")).all())

    rows = await app.store.tx(mails)
    assert rows, "no page e-mail queued"
    msg = SmtpSender(host="127.0.0.1").message(rows[0])
    assert "appelle votre réponse" in str(msg["Subject"])
    assert "accusez réception dans le chat" in msg.get_content()


def test_dates_numbers_and_utc() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    at = datetime(2026, 12, 2, 23, 30, tzinfo=timezone(timedelta(hours=2)))
    with i18n.use("fr"):
        assert i18n.when(at) == "2026-12-02 21:30 UTC"
        assert i18n.when_long(datetime(2026, 12, 2, 11, 8, tzinfo=UTC)).endswith(" UTC")
        assert i18n.number(12345.5) == "12\u202f345,5"
    with i18n.use("es"):
        assert i18n.number(12345.5) == "12.345,5"
    with i18n.use("ru"):
        assert "дек" in i18n.day(datetime(2026, 12, 2).date())
    with i18n.use("zh"):
        assert i18n.day(datetime(2026, 12, 2).date()) == "2026年12月2日"


def test_context_local_language_and_lazy_strings() -> None:
    import asyncio

    from wisbot.services.render import UNREVIEWED

    async def one(lang: str) -> str:
        with i18n.use(lang):
            await asyncio.sleep(0)
            return str(UNREVIEWED)

    async def both() -> list[str]:
        return await asyncio.gather(one("fr"), one("zh"), one("en"))

    fr, zh, en = asyncio.run(both())
    assert fr.startswith("(non affiché") and zh.startswith("（在受影响会员确认措辞之前")
    assert en.startswith("(not shown")
    assert i18n.current() == "en"
    with i18n.use("qps"):
        assert str(UNREVIEWED).startswith("⟦(not shown")
    assert re.fullmatch(r"[a-z]{2}", i18n.default())


async def test_deployment_default_language_for_rooms_and_people_without_one(
        make_app: Any) -> None:
    """``WISBOT_LANGUAGE=ru``: rooms and people with no ``language:`` read Russian; those
    with one keep theirs."""
    app = await make_app(fx.directory(), language="ru")
    c = app.console
    await c.type("anna.weber", f"incident report DE-OF-NC share=principal-gisc sev=3 "
                 f"{fx.SUMMARY}", "member-de")
    await app.outbox.drain()
    assert "Степень серьёзности инцидента безопасности 3" in room(app, "gisc-offenbach")
    assert "Степень серьёзности инцидента безопасности 3" in room(app, "member-de")
    assert fx.SEVERITY_3["fr"] in room(app, "secretariat")
    assert "Степень серьёзности инцидента безопасности 0" in \
        (await c.type("anna.weber", "severity")).plain()


async def test_narrowing_rerenders_a_queued_page_in_its_readers_language(
        make_app: Any) -> None:
    """A page queued in French, re-rendered after the Member narrows the sharing, stays
    French."""
    app = await make_app(fx.directory())
    c = app.console
    await c.type("anna.weber", f"incident report DE-OF-NC share=group sev=4 {fx.SUMMARY}",
                 "member-de")
    r = await c.type("anna.weber", "incident share WIS-SEC-2026-1 group anonymous",
                     "member-de")
    assert r.kind != "error", r.plain()
    await app.outbox.drain()
    page = "\n".join(render_text(x) for x in app.console.direct.get("beijing-desk", []))
    assert "安全事件严重程度4" in page, page
    assert "DWD" not in page and "Germany" not in page
