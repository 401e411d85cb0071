"""TLP 2.0 on every message about an incident or lesson: each share level's label is the
first token on every surface (room cascade named and anonymised, direct replies, show,
timeline, list, query, pages in chat, e-mail through aiosmtpd and webhook), the strictest
wins, public lessons (TLP:CLEAR) need the affected Member's release, and room topics name
the strictest label a room may receive.

The expected labels are written here by hand from FIRST's definitions (docs/tlp.md), not
taken from the code under test."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.test_paging_channels import smtp, webhook  # noqa: F401  (fixtures)
from wisbot.adapters.console import render_text
from wisbot.domain.tlp import room_topic
from wisbot.reply import Reply

LABEL = {"secretariat": "TLP:RED", "principal-gisc": "TLP:AMBER+STRICT",
         "all-giscs": "TLP:AMBER", "group": "TLP:GREEN"}
# With `anonymous`, the Member is named to the Secretariat, itself and its principal GISC
# only: a named view is labelled for them (it may not go to whom the Member asked not to
# be named to); the anonymised view keeps the share level's label.
NAMED_LABEL = {"secretariat": "TLP:RED", "principal-gisc": "TLP:AMBER+STRICT",
               "all-giscs": "TLP:AMBER+STRICT", "group": "TLP:AMBER+STRICT"}

# Rooms told at each share level, and whether they read the incident anonymised
# (with `anonymous`): the Member's and Secretariat's rooms always named.
TOLD = {
    "secretariat": {"secretariat": "named", "member-de": "named"},
    "principal-gisc": {"secretariat": "named", "member-de": "named",
                       "gisc-offenbach": "named"},
    "all-giscs": {"secretariat": "named", "member-de": "named", "gisc-offenbach": "named",
                  "gisc-tokyo": "anonymised"},
    "group": {"secretariat": "named", "member-de": "named", "gisc-offenbach": "named",
              "gisc-tokyo": "anonymised", "area-tokyo": "anonymised",
              "collaboration": "anonymised"},
}


def posts(app: Any, key: str) -> list[Reply]:
    return list(app.console.rooms.get(app.directory.room(key).target, []))


def first_token(reply: Reply) -> str:
    return render_text(reply).split()[0]


@pytest.mark.parametrize("share", list(LABEL))
async def test_each_share_level_labels_every_surface_first(make_app: Any, share: str) -> None:
    app = await make_app()
    label = NAMED_LABEL[share]  # Anna, in her Member's room, reads it named
    told = await app.console.type(
        "anna.weber", f"incident report DE-OF-NC share={share} anonymous Odd logins",
        "member-de")
    assert first_token(told) == label, render_text(told)
    await app.outbox.drain()
    for key, how in TOLD[share].items():
        got = posts(app, key)
        assert got, f"{key} was not told"
        for reply in got:
            want = LABEL[share] if how == "anonymised" else label
            assert first_token(reply) == want, (key, render_text(reply))
        if how == "anonymised":
            assert "a WIS centre in the area of GISC Offenbach" in render_text(got[0])
    # An update keeps each view's label.
    await app.console.type("anna.weber", "incident update WIS-SEC-2026-1 Passwords reset",
                           "member-de")
    await app.outbox.drain()
    for key, how in TOLD[share].items():
        want = LABEL[share] if how == "anonymised" else label
        assert all(first_token(r) == want for r in posts(app, key)), key
    show = await app.console.type("anna.weber", "incident show WIS-SEC-2026-1", "member-de")
    text = render_text(show)
    assert first_token(show) == label and "Timeline" in text
    listing = render_text(await app.console.type("anna.weber", "incident list", "member-de"))
    assert listing.split()[0] == label
    line = next(ln for ln in listing.splitlines() if "WIS-SEC-2026-1" in ln)
    assert line.split()[0] == label, line
    query = render_text(await app.console.type("anna.weber", "incident query DE-OF-NC"))
    assert query.split()[0] == label
    assert next(ln for ln in query.splitlines() if "WIS-SEC-2026-1" in ln).startswith(label)
    assert "TLP:CLEAR" not in "\n".join(render_text(r) for k in TOLD[share]
                                        for r in posts(app, k))


async def test_a_list_spanning_incidents_carries_the_strictest_label(make_app: Any) -> None:
    app = await make_app()
    await app.console.type("anna.weber", "incident report DE-OF-NC share=group Spam wave",
                           "member-de")
    await app.console.type("anna.weber", "incident report DE-OF-NC share=all-giscs Scan",
                           "member-de")
    listing = render_text(await app.console.type("anna.weber", "incident list", "member-de"))
    assert listing.split()[0] == "TLP:AMBER", listing
    lines = {ln.split()[1]: ln.split()[0] for ln in listing.splitlines()
             if "WIS-SEC-" in ln}
    assert lines == {"WIS-SEC-2026-1": "TLP:GREEN", "WIS-SEC-2026-2": "TLP:AMBER"}
    # The Secretariat adds a red one: the list of all three is red.
    await app.console.type("sec-desk", "incident report DE-OF-NC share=secretariat Quiet one",
                           "secretariat")
    listing = render_text(await app.console.type("sec-desk", "incident list", "secretariat"))
    assert listing.split()[0] == "TLP:RED"
    # Where only the green one may be read, the list is green.
    listing = render_text(await app.console.type("gisc-tokyo", "incident list", "area-tokyo"))
    assert listing.split()[0] == "TLP:GREEN", listing
    assert "TLP:AMBER" not in listing and "TLP:RED" not in listing


async def test_pages_in_chat_email_and_webhook_carry_the_label_first(
        make_app: Any, smtp: Any, webhook: Any) -> None:  # noqa: F811
    inbox, port = smtp
    receiver, url = webhook
    app = await make_app(smtp_host="127.0.0.1", smtp_port=port, smtp_from="wisbot@example.org",
                         paging_webhook_url=url)
    await app.console.type("anna.weber", "incident report DE-OF-NC share=all-giscs sev=4 "
                           "anonymous Message switch compromised", "member-de")
    await app.outbox.drain()
    await app.deliveries.drain()
    direct = [r for replies in app.console.direct.values() for r in replies if r.kind == "page"]
    assert direct, "no page in chat"
    for page in direct:
        # Anonymous: a page naming the Member (its principal GISC's) is labelled for the
        # Member's named readers; the other GISCs' pages keep the share level's label.
        named = "DWD National Centre" in render_text(page)
        assert first_token(page) == ("TLP:AMBER+STRICT" if named else "TLP:AMBER"), \
            render_text(page)
        assert "P-" in render_text(page).split("\n")[0]
    tokyo = inbox.to("ops@gisc-tokyo.example.org")
    assert len(tokyo) == 1
    assert tokyo[0]["Subject"].startswith("TLP:AMBER P-"), tokyo[0]["Subject"]
    assert tokyo[0].get_payload().startswith("TLP:AMBER ")
    for _, raw in receiver.posts:
        hook = json.loads(raw)
        want = "TLP:AMBER+STRICT" if "DWD National Centre" in hook["text"] else "TLP:AMBER"
        assert hook["tlp"] == want and hook["text"].startswith(f"{want} P-"), hook
        assert hook["message"]["title"].startswith(f"{want} ")
    ack = await app.console.type("gisc-tokyo", f"ack {tokyo[0]['X-Wisbot-Page']}")
    assert ack.kind != "error" and first_token(ack) == "TLP:AMBER", render_text(ack)
    evidence = render_text(await app.console.type("sec-desk", "incident evidence "
                                                  "WIS-SEC-2026-1", "secretariat"))
    assert evidence.split()[0] == "TLP:AMBER+STRICT", evidence  # names the Member
    # Narrowed before its page e-mails leave: they are re-rendered with the new label first.
    await app.console.type("anna.weber", "incident report DE-OF-NC share=all-giscs sev=4 "
                           "Second switch", "member-de")
    await app.console.type("anna.weber", "incident share WIS-SEC-2026-2 principal-gisc",
                           "member-de")
    await app.outbox.drain()
    await app.deliveries.drain()
    second = [m for m in inbox.to("ops@gisc-offenbach.example.org")
              if "WIS-SEC-2026-2" in m["Subject"]]
    assert second and all(m["Subject"].startswith("TLP:AMBER+STRICT P-") for m in second), \
        [m["Subject"] for m in second]
    assert not [m for m in inbox.to("ops@gisc-tokyo.example.org")
                if "WIS-SEC-2026-2" in m["Subject"]]


async def test_lesson_labels_strictest_of_its_reach_and_its_incident(make_app: Any) -> None:
    app = await make_app()
    await app.console.type("anna.weber", "incident report DE-OF-NC share=all-giscs Phish",
                           "member-de")
    await app.console.type("anna.weber", "incident resolve WIS-SEC-2026-1", "member-de")
    # Recorded by the Secretariat: capped by the incident (AMBER) though meant for the
    # whole group (GREEN): the strictest wins.
    r = await app.console.type("sec-desk", "lessons add WIS-SEC-2026-1 share=anonymous "
                               "Check mail filters weekly", "secretariat")
    assert first_token(r) == "TLP:AMBER", render_text(r)
    await app.outbox.drain()
    lesson_posts = [p for p in posts(app, "secretariat") if p.kind == "lesson"]
    assert lesson_posts and first_token(lesson_posts[-1]) == "TLP:AMBER"
    assert not [p for p in posts(app, "collaboration") if p.kind == "lesson"]
    # Recorded by the Member itself (its consent): the group's label.
    r = await app.console.type("anna.weber", "lessons add WIS-SEC-2026-1 share=anonymous "
                               "Train operators on phishing", "member-de")
    assert first_token(r) == "TLP:GREEN", render_text(r)
    # Kept for the Member and the Secretariat: red.
    r = await app.console.type("anna.weber", "lessons add WIS-SEC-2026-1 share=none "
                               "Our VPN gateway was old", "member-de")
    assert first_token(r) == "TLP:RED"
    listing = render_text(await app.console.type("anna.weber", "lessons list", "member-de"))
    assert listing.split()[0] == "TLP:RED"
    labels = [ln.split()[0] for ln in listing.splitlines() if " L-" in ln or
              (ln.split()[1:2] and ln.split()[1].startswith("L-"))]
    assert labels == ["TLP:AMBER", "TLP:GREEN", "TLP:RED"], listing


async def test_public_lesson_needs_the_affected_members_release(make_app: Any) -> None:
    app = await make_app()
    await app.console.type("sec-desk", "incident report DE-OF-NC share=secretariat Ransomware",
                           "secretariat")
    await app.console.type("sec-desk", "incident resolve WIS-SEC-2026-1", "secretariat")
    words = "Keep offline backups of the message switch"
    r = await app.console.type("sec-desk", f"lessons add WIS-SEC-2026-1 share=public {words} "
                               "as DWD's Anna Weber (EDZW, +49 69 8062 4400) learnt",
                               "secretariat")
    assert "lessons release L-1" in render_text(r)
    await app.outbox.drain()
    # Not public yet: no room beyond the Secretariat's and the Member's reads it, and it is
    # red there.
    for key in ("collaboration", "gisc-offenbach", "gisc-tokyo", "area-tokyo"):
        assert words not in "\n".join(render_text(p) for p in posts(app, key)), key
    assert "None that you may see" in render_text(
        await app.console.type("gisc-tokyo", "lessons list", "gisc-tokyo"))
    review = [p for p in posts(app, "member-de") if p.kind == "review"]
    assert review and first_token(review[-1]) == "TLP:RED"
    assert "TLP:CLEAR" in render_text(review[-1])
    # The Secretariat recorded it: only the Member may release it; a stranger Member too.
    refused = await app.console.type("sec-desk", "lessons release L-1", "secretariat")
    assert refused.kind == "error" and "only the focal points" in render_text(refused)
    refused = await app.console.type("jonas.keller", "lessons release L-1")
    assert refused.kind == "error" and "no lesson L-1" in render_text(refused)
    # Confirming all waiting wordings does not release it: that is its own step.
    await app.console.type("anna.weber", "incident confirm WIS-SEC-2026-1", "member-de")
    assert words not in render_text(
        await app.console.type("gisc-tokyo", "lessons list", "gisc-tokyo"))
    done = await app.console.type("anna.weber", "lessons release L-1", "member-de")
    assert first_token(done) == "TLP:CLEAR", render_text(done)
    await app.outbox.drain()
    public = [p for p in posts(app, "collaboration") if p.kind == "lesson"]
    assert public and first_token(public[-1]) == "TLP:CLEAR"
    assert words in render_text(public[-1])
    for room, who in (("gisc-tokyo", "gisc-tokyo"), ("area-tokyo", "gisc-tokyo"),
                      ("collaboration", "jonas.keller"), ("working-group", "gisc-exeter")):
        listing = render_text(await app.console.type(who, "lessons list", room))
        assert words in listing and listing.split()[0] == "TLP:CLEAR", (room, listing)
        # Public means anonymised: the Member is not named, the incident number not shown.
        for forbidden in ("DE-OF-NC", "WIS-SEC-2026-1", "DWD", "Anna", "Weber", "EDZW",
                          "8062", "Germany", "Offenbach (DE"):
            assert forbidden not in listing, (room, forbidden, listing)
    again = await app.console.type("anna.weber", "lessons release L-1", "member-de")
    assert again.kind == "error" and "already released" in render_text(again)
    # The incident itself never becomes CLEAR.
    show = await app.console.type("anna.weber", "incident show WIS-SEC-2026-1", "member-de")
    assert first_token(show) == "TLP:RED"


async def test_the_secretariat_may_release_what_the_member_asked_to_be_public(
        make_app: Any) -> None:
    app = await make_app()
    await app.console.type("anna.weber", "incident report DE-OF-NC share=principal-gisc "
                           "Phishing", "member-de")
    await app.console.type("anna.weber", "incident resolve WIS-SEC-2026-1", "member-de")
    await app.console.type("anna.weber", "lessons add WIS-SEC-2026-1 share=public "
                           "Report phishing to the CSIRT at once", "member-de")
    await app.outbox.drain()
    asked = [p for p in posts(app, "secretariat") if p.kind == "review"]
    assert asked, "the Secretariat is asked to confirm"
    done = await app.console.type("sec-desk", "lessons release L-1", "secretariat")
    assert first_token(done) == "TLP:CLEAR", render_text(done)


def test_room_topics_name_the_strictest_label_they_may_receive() -> None:
    assert room_topic("secretariat").startswith("TLP:RED ")
    assert room_topic("member:DE").startswith("TLP:RED ")
    assert room_topic("gisc:Offenbach").startswith("TLP:AMBER+STRICT ")
    assert room_topic("area:Tokyo").startswith("TLP:GREEN ")
    assert room_topic("collaboration").startswith("TLP:GREEN ")
    assert room_topic("working-group").startswith("TLP:CLEAR only")
    assert room_topic("duty").startswith("TLP:CLEAR only")


async def test_every_message_a_room_receives_fits_its_topic(make_app: Any) -> None:
    """No room is sent a label stricter than its topic names (the one audience rule)."""
    app = await make_app()
    order = ["TLP:RED", "TLP:AMBER+STRICT", "TLP:AMBER", "TLP:GREEN", "TLP:CLEAR"]
    for share in LABEL:
        await app.console.type("anna.weber", f"incident report DE-OF-NC share={share} "
                               "anonymous sev=3 Odd logins", "member-de")
    await app.console.type("anna.weber", "incident resolve WIS-SEC-2026-4", "member-de")
    await app.console.type("anna.weber", "lessons add WIS-SEC-2026-4 share=anonymous "
                           "Rotate keys", "member-de")
    await app.console.type("anna.weber", "incident confirm WIS-SEC-2026-4", "member-de")
    await app.outbox.drain()
    for room in app.directory.rooms:
        top = room_topic(room.role).split()[0]
        for reply in posts(app, room.key):
            if reply.tlp is None:
                continue
            assert order.index(reply.tlp) >= order.index(top), (room.key, reply.title)


def test_slack_topics_lists_the_topic_of_each_bound_channel(tmp_path: Any) -> None:
    import yaml
    from typer.testing import CliRunner

    from tests.conftest import EXAMPLE
    from wisbot.cli import app as cli

    data = yaml.safe_load(EXAMPLE.read_text())
    for room, channel in (("secretariat", "C0SEC"), ("gisc-tokyo", "C0TOKYO"),
                          ("collaboration", "C0COLLAB")):
        found = next(r for r in data["rooms"] if r["key"] == room)
        found.update(platform="slack", address=channel)
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data))
    out = CliRunner().invoke(cli, ["slack", "topics", str(path)])
    assert out.exit_code == 0, out.output
    rows = [line.split("\t") for line in out.output.splitlines()]
    assert rows == [
        ["secretariat", "C0SEC", "TLP:RED at most · wisbot: secretariat"],
        ["gisc-tokyo", "C0TOKYO", "TLP:AMBER+STRICT at most · wisbot: gisc:Tokyo"],
        ["collaboration", "C0COLLAB", "TLP:GREEN at most · wisbot: collaboration"],
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text("rooms: [1, 2]\n")
    out = CliRunner().invoke(cli, ["slack", "topics", str(bad)])
    assert out.exit_code == 1 and "Traceback" not in out.output


async def test_two_releases_at_once_publish_once(make_app: Any) -> None:
    """The Member's focal point and the Secretariat release the same lesson at the same
    moment (on PostgreSQL, two transactions): one publishes, the other is told it was."""
    import asyncio

    app = await make_app()
    await app.console.type("anna.weber", "incident report DE-OF-NC share=group Phishing",
                           "member-de")
    await app.console.type("anna.weber", "incident resolve WIS-SEC-2026-1", "member-de")
    await app.console.type("anna.weber", "lessons add WIS-SEC-2026-1 share=public "
                           "Report look-alike domains at once", "member-de")
    await app.outbox.drain()
    before = len([p for p in posts(app, "collaboration") if p.kind == "lesson"])
    a, b = await asyncio.gather(
        app.console.type("anna.weber", "lessons release L-1", "member-de"),
        app.console.type("sec-desk", "lessons release L-1", "secretariat"))
    outcomes = sorted([a.kind == "error", b.kind == "error"])
    assert outcomes == [False, True], (render_text(a), render_text(b))
    loser = a if a.kind == "error" else b
    assert "already released" in render_text(loser)
    await app.outbox.drain()
    public = [p for p in posts(app, "collaboration") if p.kind == "lesson"]
    assert len(public) == before + 1 and first_token(public[-1]) == "TLP:CLEAR"
