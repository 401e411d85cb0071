"""Messages wisbot writes on its own (page alerts, the annual report, acknowledgement
notices) reach each room and person in their language. Expected wording is written by
hand; the directory is tests/i18n/fixtures.py (Secretariat room French, collaboration
Spanish, Beijing desk Chinese)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.i18n import fixtures as fx
from wisbot import i18n
from wisbot.adapters.console import render_text


@pytest.fixture(autouse=True)
def english_default() -> Iterator[None]:
    yield
    i18n.set_default("en")


def room(app: Any, key: str) -> str:
    return "\n\n".join(render_text(r) for r in app.console.rooms.get(key, []))


async def test_page_alert_reaches_the_secretariat_room_in_its_language(
        make_app: Any, clock: Any) -> None:
    app = await make_app(fx.directory(), paging_steps="0 page, 5 secretariat, 60 missed")
    c = app.console
    await c.type("anna.weber", f"incident report DE-OF-NC share=principal-gisc sev=4 "
                 f"{fx.SUMMARY}", "member-de")
    clock.advance(minutes=6)
    await app.services.paging.tick()
    await app.outbox.drain()
    sec = room(app, "secretariat")
    assert "Objectif d’une heure menacé" in sec, sec
    assert "n’a pas reçu d’accusé de réception après" in sec
    assert "1-hour target at risk" not in sec
    # The GISC room has no language: its desk acknowledges in English.
    r = await c.type("offenbach-desk", "ack WIS-SEC-2026-1", "gisc-offenbach")
    assert "within the 1-hour target" in r.plain() or "after the 1-hour target" in r.plain(), \
        r.plain()


async def test_annual_report_posted_in_each_rooms_language(make_app: Any, clock: Any) -> None:
    from wisbot.services.reports import post_annual_report

    app = await make_app(fx.directory())
    await app.console.type("anna.weber", f"incident report DE-OF-NC share=group sev=2 "
                           f"{fx.SUMMARY}", "member-de")
    assert await post_annual_report(app.store, app.directory, app.clock, clock().year)
    await app.outbox.drain()
    sec, collab = room(app, "secretariat"), room(app, "collaboration")
    assert f"Rapport de service {clock().year}" in sec and "Par gravité" in sec, sec
    assert f"Informe de servicio {clock().year} (incidentes compartidos con el grupo)" \
        in collab, collab
    assert "Service report" not in sec + collab


def test_durations_units_and_watch_impact_words_in_every_language() -> None:
    from wisbot.domain.paging import format_duration
    from wisbot.domain.watch import Impact, target_words

    with i18n.use("ru"):
        assert format_duration(3720) == "1 ч 02 мин"
        assert target_words(Impact.HIGH) == \
            "Влияние High – срок ответа: 1 неделя, срок решения: 1 месяц"
    with i18n.use("zh"):
        assert format_duration(45) == "45 秒"
    with i18n.use("en"):
        assert target_words(Impact.MEDIUM) == \
            "Impact Medium – respond within 1 week, progress updates monthly"
