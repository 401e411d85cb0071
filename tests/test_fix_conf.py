"""The other side of the round-3 confidentiality fixes (tests/test_redteam_round3.py holds
the findings themselves): what the fixes must not do, and their edges. Forbidden words are
written here by hand."""

from __future__ import annotations

import os
import stat
from typing import Any

from tests.test_redteam_round3 import (
    SECRET,
    N,
    _cli,
    _incident,
    directory,
    found,
    room,
)
from wisbot.adapters.console import render_text
from wisbot.adapters.slack_text import typed_text


async def test_a_stale_confirmation_says_why_and_the_narrowing_holds(make_app) -> None:  # type: ignore[no-untyped-def]
    """Finding 2's other half: Anna learns her question is out of date (not a silent
    nothing), the incident stays as Lukas left it, and asking again works."""
    app = await make_app(directory())
    await _incident(app, "principal-gisc")
    c = app.console
    await c.type("anna.weber", f"incident share {N} group", "member-de")
    await c.type("lukas.brandt", f"incident share {N} secretariat", "member-de")
    stale = await c.type("anna.weber", f"incident share {N} group confirm", "member-de")
    assert stale.kind == "error" and "changed since you asked" in stale.plain(), stale.plain()
    assert "Shared: secretariat" in render_text(
        await c.type("sec-desk", f"incident show {N}", "secretariat"))
    # Asked again about the state as it is now, the confirmation acts.
    again = await c.type("anna.weber", f"incident share {N} group", "member-de")
    assert "confirm" in again.plain(), again.plain()
    done = await c.type("anna.weber", f"incident share {N} group confirm", "member-de")
    assert done.kind != "error", done.plain()
    await app.outbox.drain()
    assert N in room(app, "collaboration")


async def test_a_typo_in_ones_own_room_or_about_a_hidden_incident_is_not_warned(
        make_app) -> None:  # type: ignore[no-untyped-def]
    """Finding 7's guard: a mistyped report in the Member's own room (which reads it all)
    gets no warning; an update naming an incident its author may not read gets the plain
    refusal only (a warning would tell them the incident exists and where it is not)."""
    from wisbot.adapters.base import Invocation, MessageRef, RoomRef, UserRef

    app = await make_app()
    app.console.members["member-de"] |= {"anna.weber", "lukas.brandt"}
    own = await app.dispatch(Invocation(
        platform="console", sender=UserRef("console", "anna.weber"),
        text=f"!incident report DE-OF-NX share=secretariat {SECRET}",
        room=RoomRef("console", "member-de", "member-de"),
        reply_to=MessageRef("console", "member-de", "m1")))
    assert own.kind == "error" and "Warning" not in render_text(own), render_text(own)
    r = await app.console.type("anna.weber", "incident report DE-OF-NC share=secretariat "
                               "first", "member-de")
    assert r.kind == "incident", r.plain()
    app.console.members["collaboration"] |= {"gisc-tokyo", "somebody-else"}
    hidden = await app.dispatch(Invocation(
        platform="console", sender=UserRef("console", "gisc-tokyo"),
        text=f"!incident update {N} {SECRET}",
        room=RoomRef("console", "collaboration", "collaboration"),
        reply_to=MessageRef("console", "collaboration", "m2")))
    text = render_text(hidden)
    assert hidden.kind == "error" and "Warning" not in text, text
    assert "outside the incident's audience" not in text, text


async def test_a_confirmed_indicator_and_sighting_keep_the_view_labels(make_app) -> None:  # type: ignore[no-untyped-def]
    """Findings 8, 9 and 11 together: in the Secretariat room the sighting card names
    the sighter (TLP:RED); the affected Member's room reads the card without the sighter
    (the incident's label, named view); Tokyo's anonymised list stays TLP:GREEN."""
    app = await make_app(directory())
    c = app.console
    await _incident(app, "group anonymous")
    await c.type("anna.weber", f"incident ioc add {N} domain evil.example", "member-de")
    await c.type("jonas.keller", f"incident seen {N} here too at Zürich")
    await app.outbox.drain()
    cards = {key: [r for r in app.console.rooms.get(key, [])
                   if "seen at another centre" in r.title]
             for key in ("secretariat", "member-de")}
    assert [r.tlp for r in cards["secretariat"]] == ["TLP:RED"]
    assert found(render_text(cards["secretariat"][0]), ["Switzerland", "Jonas"])
    assert [r.tlp for r in cards["member-de"]] == ["TLP:AMBER+STRICT"]
    assert not found(render_text(cards["member-de"][0]), ["Switzerland", "Jonas", "Zürich"])
    listing = await c.type("tokyo-desk", "incident list", "gisc-tokyo")
    assert listing.tlp == "TLP:GREEN" and not found(render_text(listing), ["DWD", "Anna"])


def test_slack_markup_is_read_as_typed() -> None:
    """Hand-written in Slack's message format (api.slack.com, formatting)."""
    assert typed_text("ioc add <http://evil.example|evil.example> &amp; "
                      "<mailto:a@evil.example|a@evil.example>") == \
        "ioc add evil.example & a@evil.example"
    assert typed_text("<https://evil.example/x?a=1&amp;b=2>") == "https://evil.example/x?a=1&b=2"
    assert typed_text("&amp;lt;relay&amp;gt; and &lt;b&gt;") == "&lt;relay&gt; and <b>"
    assert typed_text("ask <@U123> in <#C1|ops>") == "ask <@U123> in <#C1|ops>"


async def test_an_export_over_an_existing_readable_file_becomes_owner_only(
        make_app, db_url: str, tmp_path: Any) -> None:  # type: ignore[no-untyped-def]
    """Finding 14's edge: writing over a file made 0644 earlier narrows it too."""
    from wisbot.cli import app as cli

    app = await make_app(directory())
    await _incident(app, "secretariat")
    out = tmp_path / "event.json"
    out.write_text("old", encoding="utf-8")
    os.chmod(out, 0o644)
    r = _cli(db_url, tmp_path).invoke(cli, ["export", "incident", N, "-f", "stix", "-o",
                                            str(out)])
    assert r.exit_code == 0, r.output
    assert "DWD" in out.read_text(encoding="utf-8")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


async def test_a_narrowing_relabels_each_queued_post_for_its_own_view(make_app) -> None:  # type: ignore[no-untyped-def]
    """Narrowing `group anonymous` to `all-giscs anonymous` before the cascade leaves:
    Tokyo's queued anonymised post becomes TLP:AMBER (the share's label, not the named
    view's), Offenbach's named one TLP:AMBER+STRICT."""
    app = await make_app(directory())
    await _incident(app, "group anonymous")
    r = await app.console.type("anna.weber", f"incident share {N} all-giscs", "member-de")
    assert r.kind != "error", r.plain()
    await app.outbox.drain()
    tokyo = list(app.console.rooms.get("gisc-tokyo", []))
    offenbach = list(app.console.rooms.get("gisc-offenbach", []))
    assert tokyo and {p.tlp for p in tokyo} == {"TLP:AMBER"}, [p.title for p in tokyo]
    assert offenbach and {p.tlp for p in offenbach} == {"TLP:AMBER+STRICT"}, \
        [p.title for p in offenbach]
