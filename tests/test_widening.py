"""Widening asks first (rooms and organisations that will read it), changes nothing until
confirmed, the confirmation expires, and narrowing stays immediate. The request is in the
database: another process (or a restart) confirms it."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from tests.helpers import room_text
from wisbot.adapters.console import render_text
from wisbot.store.tables import Incident, Lesson

REPORT = "incident report DE-OF-NC share=principal-gisc sev=2 Phishing at the message switch"
N = "WIS-SEC-2026-1"


async def _share(app: Any) -> tuple[str, bool]:
    inc = await app.store.tx(lambda s: s.exec(select(Incident)).one())
    return inc.share, inc.anonymous


async def test_widening_asks_with_counts_and_changes_nothing(make_app):
    app = await make_app()
    await app.console.type("anna.weber", REPORT, "member-de")
    await app.outbox.drain()
    before_tokyo = room_text(app, "gisc-tokyo")
    ask = await app.console.type("anna.weber", f"incident share {N} group anonymous",
                                 "member-de")
    text = render_text(ask)
    assert ask.private and ask.kind != "error"
    # Counted by hand on deploy/directory.example.yaml: 15 GISC rooms, 2 area rooms, the
    # collaboration, Secretariat and Germany's rooms; 18 Members and the Secretariat.
    assert "will be read in 20 rooms (17 of them anonymised) by 19 organisations" in text
    assert "17 rooms more than now" in text
    assert f"incident share {N} group anonymous confirm" in text
    assert "Nothing has changed yet" in text
    await app.outbox.drain()
    assert await _share(app) == ("principal-gisc", False)
    assert room_text(app, "gisc-tokyo") == before_tokyo == ""


async def test_confirm_widens_and_tells_the_new_rooms(make_app):
    app = await make_app()
    await app.console.type("anna.weber", REPORT, "member-de")
    await app.console.type("anna.weber", f"incident share {N} all-giscs", "member-de")
    done = await app.console.type("anna.weber", f"incident share {N} all-giscs confirm",
                                  "member-de")
    assert done.kind == "incident", render_text(done)
    await app.outbox.drain()
    assert await _share(app) == ("all-giscs", False)
    assert N in room_text(app, "gisc-tokyo")
    # The confirmation was used: typing it again (after narrowing) confirms nothing.
    await app.console.type("anna.weber", f"incident share {N} principal-gisc", "member-de")
    again = await app.console.type("anna.weber", f"incident share {N} all-giscs confirm",
                                   "member-de")
    assert again.kind == "error" and "nothing to confirm" in render_text(again)
    assert await _share(app) == ("principal-gisc", False)


async def test_confirm_without_asking_or_of_another_level_changes_nothing(make_app):
    app = await make_app()
    await app.console.type("anna.weber", REPORT, "member-de")
    r = await app.console.type("anna.weber", f"incident share {N} group confirm", "member-de")
    assert r.kind == "error" and "nothing to confirm" in render_text(r)
    assert f"incident share {N} group" in render_text(r)
    await app.console.type("anna.weber", f"incident share {N} all-giscs", "member-de")
    r = await app.console.type("anna.weber", f"incident share {N} group confirm", "member-de")
    assert r.kind == "error"
    assert await _share(app) == ("principal-gisc", False)


async def test_confirmation_expires(make_app, clock):
    app = await make_app()
    await app.console.type("anna.weber", REPORT, "member-de")
    await app.console.type("anna.weber", f"incident share {N} group", "member-de")
    clock.advance(minutes=10, seconds=1)
    late = await app.console.type("anna.weber", f"incident share {N} group confirm",
                                  "member-de")
    assert late.kind == "error" and "expired" in render_text(late)
    await app.outbox.drain()
    assert await _share(app) == ("principal-gisc", False)
    assert room_text(app, "collaboration") == ""
    # Asking again starts a fresh ten minutes.
    await app.console.type("anna.weber", f"incident share {N} group", "member-de")
    clock.advance(minutes=9)
    ok = await app.console.type("anna.weber", f"incident share {N} group confirm", "member-de")
    assert ok.kind == "incident", render_text(ok)


async def test_narrowing_is_immediate(make_app):
    app = await make_app()
    await app.console.type("anna.weber", REPORT, "member-de")
    r = await app.console.type("sec-desk", f"incident share {N} secretariat", "secretariat")
    assert r.kind == "incident"
    assert await _share(app) == ("secretariat", False)
    r = await app.console.type("anna.weber", f"incident share {N} secretariat anonymous",
                               "member-de")
    assert r.kind == "incident"
    assert await _share(app) == ("secretariat", True)


async def test_only_the_member_is_asked_others_are_refused_as_before(make_app):
    app = await make_app()
    await app.console.type("anna.weber", REPORT, "member-de")
    r = await app.console.type("sec-desk", f"incident share {N} group", "secretariat")
    assert r.kind == "error" and "may widen" in render_text(r)
    assert "will be read" not in render_text(r)


async def test_another_process_confirms_the_stored_request(make_app):
    first = await make_app()
    await first.console.type("anna.weber", REPORT, "member-de")
    await first.console.type("anna.weber", f"incident share {N} group", "member-de")
    await first.stop()
    second = await make_app()  # a restart, or the other process, on the same database
    r = await second.console.type("anna.weber", f"incident share {N} group confirm",
                                  "member-de")
    assert r.kind == "incident", render_text(r)
    assert await _share(second) == ("group", False)


async def _resolved(app: Any) -> None:
    await app.console.type("anna.weber", REPORT, "member-de")
    await app.console.type("anna.weber", f"incident resolve {N} Contained", "member-de")


async def test_named_lesson_asks_first_and_confirm_records_the_kept_text(make_app, clock):
    app = await make_app()
    await _resolved(app)
    ask = await app.console.type("anna.weber", f"lessons add {N} share=named Rotate the "
                                 "switch keys after staff changes", "member-de")
    text = render_text(ask)
    assert "Nothing is recorded yet" in text and "organisations" in text
    assert f"lessons confirm {N}" in text
    assert "Rotate the switch keys" in text  # the text is shown back, kept
    assert await app.store.tx(lambda s: s.exec(select(Lesson)).all()) == []
    done = await app.console.type("anna.weber", f"lessons confirm {N}", "member-de")
    assert "recorded (named)" in render_text(done)
    lessons = await app.store.tx(lambda s: s.exec(select(Lesson)).all())
    assert [(x.share, x.text) for x in lessons] == [
        ("named", "Rotate the switch keys after staff changes")]


async def test_named_lesson_confirmation_expires(make_app, clock):
    app = await make_app()
    await _resolved(app)
    await app.console.type("anna.weber", f"lessons add {N} share=named Patch VPN",
                           "member-de")
    clock.advance(minutes=11)
    late = await app.console.type("anna.weber", f"lessons confirm {N}", "member-de")
    assert late.kind == "error" and "expired" in render_text(late)
    assert await app.store.tx(lambda s: s.exec(select(Lesson)).all()) == []
    # An anonymous lesson is not a widening to confirm: recorded at once.
    r = await app.console.type("anna.weber", f"lessons add {N} share=anonymous Patch VPN",
                               "member-de")
    assert "recorded (anonymous)" in render_text(r)


async def test_lifting_anonymous_is_a_widening_too(make_app):
    app = await make_app()
    await app.console.type("anna.weber", "incident report DE-OF-NC share=all-giscs anonymous "
                           "Phishing", "member-de")
    ask = await app.console.type("anna.weber", f"incident share {N} all-giscs named",
                                 "member-de")
    text = render_text(ask)
    assert "the same rooms as now, named where they read it anonymised" in text
    assert await _share(app) == ("all-giscs", True)
    done = await app.console.type("anna.weber", f"incident share {N} all-giscs named confirm",
                                  "member-de")
    assert done.kind == "incident", render_text(done)
    assert await _share(app) == ("all-giscs", False)
