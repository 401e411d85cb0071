"""The notices wisbot posts by itself, in their reader's language: room holds and integrity
alerts, refused invitations, closed direct chats, blocked rooms and dead letters (each
Secretariat room in its own language, each Secretariat contact in theirs), the refusal in
a held room, usage errors and did-you-mean, the acknowledge and attachment lines of the
Matrix and Slack renderings.

In the pseudo-locale every such notice has no English outside ⟦…⟧; a French room reads
French and an English room English. The Matrix tests run on a real Synapse and read the
notices from the Secretariat's own sync; the Slack ones through the fake Slack.

What may stay unmarked is written by hand below (never derived from the code)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLE
from tests.i18n import fixtures as fx
from tests.i18n.test_pseudo_rest import problems, unmarked
from tests.matrix.conftest import synapse, world  # noqa: F401 (fixtures)
from tests.test_outbox_faults import Scripted, _enqueue, _said
from tests.test_slack import fake_slack, start_slack  # noqa: F401 (fixtures)
from wisbot import i18n
from wisbot.adapters.base import DeliveryError
from wisbot.reply import Attachment, ReplyBuilder, text_reply

# Hand-written: what may stay unmarked in a notice besides test_pseudo_rest's list
# (Matrix and Slack ids, the platforms' own error codes and setting values, room keys).
KEPT_HERE = [
    r"@\u2060?[\w.\-=]+:[\w.\-]+(:\d+)?", r"![\w]+:[\w.\-]+(:\d+)?",  # Matrix users, rooms
    r"\b[CUD][A-Z0-9]{6,}\b", r"\bUSTRANGER\d\b",  # Slack channel and user ids
    r"'(public|shared|world_readable|joined|invited|invite|can_join|forbidden|knock)'",
    r"\bM_[A-Z_]+\b", r"\bnot_in_channel\b", r"\bslack\b", r"\bmatrix\b", r"\bconsole\b",
    r"\b(secretariat|gisc-[a-z\-]+|member-de|area-[a-z\-]+|collaboration)\b",
    r"\bgisc:[A-Z][a-z]+\b", r"\bn\d+-[\w@.\-]+\b", r"\beveryone\b",
    r"\bchart\.png\b", r"\btable\.csv\b", r"\bwisbot\b", r"'ack'", r"'ack P-\d+'",
    r"\b(incdent|frobnicate|sahre)\b",  # what the person typed, quoted back
]


def left(text: str) -> list[str]:
    for pattern in KEPT_HERE:
        text = re.sub(pattern, " ", text)
    return unmarked(text)


def notices_left(replies: list[Any]) -> list[Any]:
    """problems() with this file's hand-written list too."""
    out = []
    for reply, found in zip(replies, [problems([r]) for r in replies], strict=True):
        if found and left(found[0][1]):
            out.append((left(found[0][1]), reply.plain()))
    return out


@pytest.fixture(autouse=True)
def english_default() -> Iterator[None]:
    yield
    i18n.set_default("en")


# ----- the console: alerts to the Secretariat, held rooms, usage errors -----------------


async def test_pseudo_locale_outbox_alerts_held_room_and_usage_errors(make_app: Any,
                                                                      clock: Any) -> None:
    c = Scripted()
    app = await make_app(adapters=[c], outbox_blocked_retry_seconds=600,
                         outbox_give_up_hours=1)
    i18n.set_default("qps")
    # a lost room (no access), a dead letter (a permanent error), to a contact too
    c.script["gisc-tokyo"] = [DeliveryError("M_FORBIDDEN User not in room", no_access=True)]
    c.script["gisc-exeter"] = [DeliveryError("M_TOO_LARGE event too large", permanent=True)]
    await _enqueue(app, "gisc-tokyo", "one")
    await _enqueue(app, "gisc-exeter", "two")
    await app.outbox.drain()
    alerts = app.console.rooms["secretariat"]
    titles = [r.title or "" for r in alerts]
    assert any("Delivery blocked" in t for t in titles), titles
    assert any("Delivery failed" in t for t in titles), titles
    # a command typed in a held room
    await app.holds.hold("gisc-offenbach", "stranger", "stranger: @eve:example.org")
    replies = [await app.console.type("gisc-offenbach", "incident list", "gisc-offenbach")]
    assert replies[0].title == "⟦Room on hold⟧"
    # did-you-mean, a missing sub-command, a bad option, a missing argument
    for text in ("incdent list", "incident frobnicate", "incident",
                 "incident report DE-OF-NC sahre=group Phishing", "incident report"):
        replies.append(await app.console.type("anna.weber", text, "member-de"))
    assert all(r.kind == "error" for r in replies), [r.plain() for r in replies]
    found = notices_left([*alerts, *replies])
    assert not found, found


async def test_a_french_secretariat_room_reads_outbox_alerts_in_french(make_app: Any) -> None:
    """fx.directory(): the Secretariat room reads French, gisc-offenbach English."""
    c = Scripted()
    directory = fx.directory()
    app = await make_app(directory, adapters=[c], outbox_blocked_retry_seconds=600)
    c.script["gisc-beijing"] = [DeliveryError("M_TOO_LARGE event too large", permanent=True)]
    c.script["gisc-offenbach"] = [DeliveryError("M_FORBIDDEN User not in room",
                                                no_access=True)]
    await _enqueue(app, "gisc-beijing", "one")
    await _enqueue(app, "gisc-offenbach", "two")
    await app.outbox.drain()
    sec = "\n".join(_said(app, "secretariat"))
    assert "Échec de livraison : lettre morte" in sec, sec
    assert "une erreur permanente" in sec and "`wisbot outbox retry" in sec
    assert "Livraison bloquée : aucun accès à un salon" in sec
    assert "Réinvitez le bot ou corrigez la liaison du salon." in sec
    assert "M_FORBIDDEN User not in room" in sec  # the platform's own error, as it gave it
    assert "Delivery failed" not in sec and "Delivery blocked" not in sec, sec
    assert "dead letter" not in sec and "nothing is lost" not in sec


async def test_held_rooms_refuse_in_their_own_language(make_app: Any) -> None:
    app = await make_app(fx.directory())
    await app.holds.hold("gisc-beijing", "stranger", "stranger: @eve:example.org")
    await app.holds.hold("gisc-offenbach", "stranger", "stranger: @eve:example.org")
    zh = await app.console.type("beijing-desk", "incident list", "gisc-beijing")
    en = await app.console.type("offenbach-desk", "incident list", "gisc-offenbach")
    assert zh.title == "房间已暂停" and "Room on hold" not in zh.plain()
    assert en.title == "Room on hold"


async def test_secretariat_alerts_are_rendered_per_room_and_per_person(make_app: Any) -> None:
    """A notice built by a function is rendered once per reader's language; when every
    Secretariat room is held, each Secretariat contact reads it in theirs."""
    from wisbot.i18n import _
    from wisbot.services.integrity import alert_secretariat

    app = await make_app(fx.directory())

    def render() -> Any:
        return ReplyBuilder(_("Room on hold"), kind="alert").build()

    await app.alert_secretariat(render)
    await app.outbox.drain()
    assert [r.title for r in app.console.rooms["secretariat"]] == ["Salon suspendu"]
    now = app.clock()
    await app.store.tx(lambda s: alert_secretariat(
        s, app.directory, kind="integrity", reply=render, held={"secretariat"}, now=now))
    await app.outbox.drain()
    (direct,) = app.console.direct["sec-desk"]  # the contact chose French in the directory
    assert direct.title == "Salon suspendu" and direct.lang == "fr"


def test_weak_settings_stay_english_when_stored_and_read_translated() -> None:
    from wisbot.services.integrity import closed_power_levels, weak_settings

    power = {**closed_power_levels("@bot:x"), "invite": 0}
    weak = weak_settings(bot="@bot:x", moderators=(), join_rule="public",
                         history_visibility="shared", guest_access="can_join", power=power)
    assert "join rule 'public' (must be 'invite')" in weak  # stored and compared as is
    assert "everyone (power 0) can invite" in weak
    with i18n.use("fr"):
        shown = [i18n.shown(w) for w in weak]
    assert "règle d’adhésion 'public' (doit être 'invite')" in shown, shown
    assert "everyone (niveau 0) peut inviter" in shown, shown
    with i18n.use("qps"):
        assert not [w for w in weak if left(i18n.shown(w))], [i18n.shown(w) for w in weak]


# ----- renderings: the acknowledge line, attachments ----------------------------------


def _page_with_files() -> Any:
    b = ReplyBuilder("⟦Page⟧", kind="page")
    b.ref = "P-1"
    b.action("⟦Acknowledge⟧", "ack P-1")
    b.attach(Attachment.from_bytes("chart.png", "image/png", b"x" * 2000))
    b.attach(Attachment.from_bytes("table.csv", "text/csv", b"a,b"))
    return b


def test_matrix_and_slack_lines_in_the_message_language() -> None:
    pytest.importorskip("nio")
    from wisbot.adapters.matrix import render_parts
    from wisbot.adapters.slack_render import render_blocks, render_text

    with i18n.use("fr"):
        reply = _page_with_files().build()
    body = "\n".join(p["body"] for p in render_parts(reply))
    html = "\n".join(p["formatted_body"] for p in render_parts(reply))
    assert "Pour accuser réception : réagissez avec ✅ ou répondez 'ack'" in body, body
    assert "tapez 'ack P-1'." in body
    assert "<code>ack P-1</code>" in html and "En pièce jointe ci-dessous : chart.png" in html
    assert "Acknowledge:" not in body and "Attached" not in body
    slack = render_text(reply, files_follow=True)
    assert "En pièce jointe dans le fil de ce message : chart.png (2,000 octets)" in \
        slack.replace("\u202f", ",").replace("\xa0", ","), slack
    assert "[pièce jointe table.csv, 3 octets]" in reply.plain()
    with i18n.use("qps"):
        pseudo = _page_with_files().build()
    notes = [e["text"] for b in render_blocks(pseudo, files_follow=True)
             if b["type"] == "context" for e in b["elements"]]
    texts = ["\n".join(p["body"] for p in render_parts(pseudo)), pseudo.plain(),
             render_text(pseudo, files_follow=True), render_text(pseudo), *notes]
    for text in texts:
        assert not left(text.replace("image/png", "").replace("text/csv", "")), text
    with i18n.use("qps"):  # more sections than a Slack message may hold
        long = text_reply("\n".join("⟦" + "x" * 2900 + "⟧" for _ in range(80)))
        blocks = render_blocks(long)
    assert blocks[-1]["elements"][0]["text"] == "⟦(message shortened)⟧"


# ----- Slack: the channel check, through the fake Slack ---------------------------------


def _slack_languages(tmp_path: Path, languages: dict[str, str]) -> Any:
    from tests._fake_slack import slack_directory

    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    for room in data["rooms"]:
        if room["key"] in languages:
            room["language"] = languages[room["key"]]
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return slack_directory(path)


async def test_slack_channel_check_notice_in_the_secretariat_language(
        start_slack: Any, fake_slack: Any, tmp_path: Path) -> None:  # noqa: F811
    from tests._fake_slack import slack_id

    fake_slack.public = {slack_id("C", "collaboration")}
    fake_slack.members[slack_id("C", "gisc-offenbach")] = [
        slack_id("U", "gisc-offenbach"), "USTRANGER1"]
    env = await start_slack(_slack_languages(tmp_path, {"secretariat": "fr"}))
    assert env.app.holds == {"collaboration", "gisc-offenbach"}
    await env.app.outbox.drain()
    sec = "\n".join(p["text"] for p in env.fake.posts(slack_id("C", "secretariat")))
    assert "Intégrité des salons : messages protégés retenus" in sec, sec
    assert "c’est un canal public" in sec and "membres absents de l’annuaire (1)" in sec
    assert "USTRANGER1" in sec
    assert "Room integrity" not in sec and "public channel" not in sec
    # stored and compared in English (the hold's detail, the operator's check)
    hold = env.app.holds.hold_of("collaboration")
    assert hold is not None and hold.detail.startswith("it is a public channel")


async def test_pseudo_locale_slack_channel_check_notice(
        start_slack: Any, fake_slack: Any) -> None:  # noqa: F811
    from tests._fake_slack import slack_id

    env = await start_slack()
    i18n.set_default("qps")  # after the start, which sets the deployment's language
    assert not env.app.holds
    fake_slack.public = {slack_id("C", "collaboration")}
    fake_slack.members[slack_id("C", "gisc-offenbach")] = [
        slack_id("U", "gisc-offenbach"), slack_id("U", "anna.weber"), "USTRANGER1"]
    for key in ("collaboration", "gisc-offenbach"):
        assert await env.adapter.check_room(env.app.directory.room(key))
    await env.app.outbox.drain()
    posts = [p["text"] for p in env.fake.posts(slack_id("C", "secretariat"))]
    assert len(posts) == 2, posts
    for text in posts:
        # Slack's mrkdwn: *bold* titles, <@U…> mentions
        flat = re.sub(r"<@([A-Z0-9]+)>", r"\1", text).replace("*", "")
        assert not left(flat), (left(flat), text)


# ----- Matrix: a real Synapse, read from the Secretariat's own sync --------------------


async def test_matrix_stranger_alert_read_in_french_by_the_secretariat(
        world: Any) -> None:  # noqa: F811
    """The Secretariat room's directory language is fr: its members read the integrity
    notice in French; the held room (English) reads its refusal in English."""
    from wisbot.directory import parse_directory

    data = copy.deepcopy(world.data)
    for room in data["rooms"]:
        if room["key"] == "secretariat":
            room["language"] = "fr"
    await world.app(directory=parse_directory(data))
    p, r, bot = world.people, world.rooms, world.bot
    await world.invite_stranger("gisc-offenbach")
    alert = await p["sec"].wait_for(r["secretariat"], bot,
                                    lambda t: "gisc-offenbach est en attente" in t)
    assert "Intégrité des salons : gisc-offenbach est en attente" in alert
    assert "n’y répond à aucune commande" in alert, alert
    assert "is on hold" not in alert and "protected post" not in alert
    await p["of"].say(r["gisc-offenbach"], "!incident list")
    refusal = await p["of"].wait_for(r["gisc-offenbach"], bot, lambda t: "on hold" in t)
    assert "Room on hold" in refusal and "Salon suspendu" not in refusal
    # the stranger leaves: the French room reads that the room is clean again
    await p["stranger"].sync()
    await p["stranger"].client.room_leave(r["gisc-offenbach"])
    await p["sec"].wait_for(r["secretariat"], bot,
                            lambda t: "gisc-offenbach est de nouveau sain" in t)


async def test_matrix_pseudo_locale_integrity_notices(world: Any) -> None:  # noqa: F811
    """The held notice, the refusal in the held room and the clean-again notice, in the
    pseudo-locale: nothing English outside ⟦…⟧ in what the people read."""
    await world.app()
    i18n.set_default("qps")  # after the start, which sets the deployment's language
    p, r, bot = world.people, world.rooms, world.bot
    await world.invite_stranger("gisc-offenbach")
    await p["sec"].wait_for(r["secretariat"], bot, lambda t: "gisc-offenbach" in t)
    await p["of"].say(r["gisc-offenbach"], "!incident list")
    await p["of"].wait_for(r["gisc-offenbach"], bot, lambda t: "⟦Room on hold⟧" in t)
    await p["stranger"].sync()
    await p["stranger"].client.room_leave(r["gisc-offenbach"])
    await p["sec"].wait_for(r["secretariat"], bot, lambda t: "clean again" in t)
    texts = [n["body"] for n in p["sec"].notices(r["secretariat"], bot)]
    texts += [n["body"] for n in p["of"].notices(r["gisc-offenbach"], bot)]
    assert len(texts) >= 3, texts
    found = [(left(t), t) for t in texts if left(t)]
    assert not found, found

