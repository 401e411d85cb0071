"""Consent held at the moment a message leaves, the free-text review of anonymised rooms,
the query rate limit, and no protected text or secret in the logs.

Forbidden words are written here by hand (names, codes, identifiers, people)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from tests.helpers import confirmed
from wisbot.adapters.console import render_text
from wisbot.adapters.slack import SlackConfig
from wisbot.channels import SmtpSender, WebhookSender
from wisbot.settings import Settings
from wisbot.store.paging_tables import Page, PageDelivery
from wisbot.store.tables import Incident, OutboxRow

# ----- logs ---------------------------------------------------------------------------


async def test_a_failing_command_logs_no_text_of_it(make_app: Any, caplog: Any,
                                                    monkeypatch: Any) -> None:
    app = await make_app()

    async def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(app.services.incidents, "update", boom)
    await app.console.type("anna.weber", "incident report DE-OF-NC share=secretariat sev=2 x",
                           "member-de")
    with caplog.at_level(logging.DEBUG):
        reply = await app.console.type(
            "anna.weber", "incident update WIS-SEC-2026-1 Ransom note signed by Jonas at "
            "EDZW, call +49 69 8062 4400", "member-de")
    assert reply.kind == "error" and "Error id" in reply.plain()
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "incident update" in logged  # the command's name is there to debug with
    for word in ("Ransom", "Jonas", "EDZW", "8062", "4400"):
        assert word not in logged


def test_config_reprs_hold_no_secret() -> None:
    shown = " ".join(repr(x) for x in (
        SlackConfig(bot_token="xoxb-hand-written-1", app_token="xapp-hand-written-2",
                    signing_secret="s3cr3t-hand-written"),
        SmtpSender(host="smtp.example.org", username="wisbot", password="pw-hand-written"),
        WebhookSender(secret="hook-hand-written"),
    ))
    for secret in ("xoxb-hand-written-1", "xapp-hand-written-2", "s3cr3t-hand-written",
                   "pw-hand-written", "hook-hand-written"):
        assert secret not in shown
    assert "smtp.example.org" in shown
    settings = Settings(database_url="postgresql://wisbot:db-pw-hand-written@db/wisbot",
                        paging_webhook_url="https://hooks.example.org/T0/B0/hook-token-by-hand",
                        smtp_password="smtp-pw-hand-written")  # type: ignore[arg-type]
    for text in (repr(settings), str(settings)):
        for secret in ("db-pw-hand-written", "hook-token-by-hand", "smtp-pw-hand-written"):
            assert secret not in text


# ----- query rate limit ---------------------------------------------------------------


async def test_queries_are_limited_per_person_with_a_clear_refusal(make_app: Any,
                                                                   clock: Any) -> None:
    app = await make_app(query_limit=3, query_window_minutes=60)
    c = app.console
    for subject in ("DE-OF-NC", "CH-NC", "KE-NC"):
        r = await c.type("gisc-tokyo", f"incident query {subject}", "gisc-tokyo")
        assert r.kind != "error", r.plain()
    refused = await c.type("gisc-tokyo", "incident query JP-TK-NC", "gisc-tokyo")
    text = refused.plain()
    assert refused.kind == "error" and "limit is 3" in text and "ask again after" in text
    # Someone else is not limited by another person's queries.
    other = await c.type("gisc-exeter", "incident query JP-TK-NC", "gisc-exeter")
    assert other.kind != "error"
    # Only four queries reached the Secretariat (three and the other person's one).
    await app.outbox.drain()
    secretariat = [r for r in c.rooms.get(app.directory.room("secretariat").target, [])
                   if r.kind == "query"]
    assert len(secretariat) == 4
    clock.now = clock.now + timedelta(minutes=61)
    again = await c.type("gisc-tokyo", "incident query JP-TK-NC", "gisc-tokyo")
    assert again.kind != "error"


@pytest.mark.parametrize("hidden", [True, False])
async def test_the_query_limit_reads_the_same_whether_or_not_something_is_hidden(
        make_app: Any, hidden: bool) -> None:
    app = await make_app(query_limit=1)
    if hidden:
        await app.console.type("anna.weber",
                               "incident report DE-OF-NC share=secretariat sev=2 Quiet one",
                               "member-de")
    await app.console.type("gisc-tokyo", "incident query CH-NC", "gisc-tokyo")
    refused = await app.console.type("gisc-tokyo", "incident query DE-OF-NC", "gisc-tokyo")
    assert refused.kind == "error"
    assert "WIS-SEC" not in refused.plain() and "Quiet" not in refused.plain()


# ----- consent checked when a message leaves ---------------------------------------------

PRINCIPAL = ("incident report DE-OF-NC share=principal-gisc sev=3 Anna Weber found a "
             "webshell on EDZW, the DWD cache")
SECRET_WORDS = ("Anna", "Weber", "webshell", "EDZW", "DWD", "DE-OF-NC", "Deutscher",
                "Germany", "Offenbach NC")


def seen_by(app: Any, contact: str) -> str:
    return "\n".join(render_text(r) for r in app.console.direct.get(contact, []))


def room_seen(app: Any, room: str) -> str:
    return "\n".join(render_text(r)
                     for r in app.console.rooms.get(app.directory.room(room).target, []))


async def test_narrowing_withdraws_the_queued_page_and_room_post(make_app: Any) -> None:
    app = await make_app()
    await app.console.type("anna.weber", PRINCIPAL, "member-de")
    # Nothing delivered yet: the page to GISC Offenbach's desk and its room post are queued.
    r = await confirmed(app.console, "anna.weber", "incident share WIS-SEC-2026-1 secretariat",
                        "member-de")
    assert r.kind != "error", r.plain()
    await app.outbox.drain()
    desk = seen_by(app, "gisc-offenbach")
    room = room_seen(app, "gisc-offenbach")
    for word in (*SECRET_WORDS, "WIS-SEC-2026-1"):
        assert word not in desk, word
    for word in SECRET_WORDS:
        assert word not in room, word
    assert "webshell" in room_seen(app, "secretariat")
    assert "webshell" in seen_by(app, "sec-desk")  # the Secretariat's page still goes


class Recorder:
    def __init__(self) -> None:
        self.sent: list[PageDelivery] = []

    async def send(self, row: PageDelivery) -> None:
        self.sent.append(row)


async def test_narrowing_withdraws_page_e_mails_and_webhooks(make_app: Any) -> None:
    app = await make_app(smtp_host="smtp.invalid", paging_webhook_url="http://127.0.0.1:9/h")
    await app.console.type("anna.weber", PRINCIPAL, "member-de")
    await confirmed(app.console, "anna.weber", "incident share WIS-SEC-2026-1 secretariat",
                    "member-de")
    rows = await app.store.tx(lambda s: list(s.exec(select(PageDelivery, Page).join(
        Page, col(Page.id) == PageDelivery.page_id)).all()))
    by_role = {(p.role, d.channel): d.status for d, p in rows}
    assert by_role[("gisc:Offenbach", "email")] == "withdrawn"
    assert by_role[("gisc:Offenbach", "webhook")] == "withdrawn"
    assert by_role[("secretariat", "email")] == "pending"
    recorder = Recorder()
    app.deliveries.senders = {"email": recorder, "webhook": recorder}
    await app.deliveries.drain()
    sent = json.dumps([r.payload for r in recorder.sent])
    assert recorder.sent and all(r.address != "ops@gisc-offenbach.example.org"
                                 for r in recorder.sent)
    assert "gisc:Offenbach" not in sent


async def test_anonymising_re_renders_the_queued_pages(make_app: Any) -> None:
    app = await make_app()
    await app.console.type("anna.weber", PRINCIPAL.replace("principal-gisc", "all-giscs"),
                           "member-de")
    await confirmed(app.console, "anna.weber",
                    "incident share WIS-SEC-2026-1 all-giscs anonymous", "member-de")
    await app.outbox.drain()
    tokyo = seen_by(app, "gisc-tokyo")
    assert "You are on call for GISC Tokyo" in tokyo and "ack P-" in tokyo
    assert "a WIS centre in the area of GISC Offenbach" in tokyo
    for word in SECRET_WORDS:
        assert word not in tokyo, word
    # The principal GISC still reads it named (its view did not change).
    assert "EDZW" in seen_by(app, "gisc-offenbach")


async def test_the_last_check_at_send_withdraws_a_row_claimed_before_narrowing(
        make_app: Any) -> None:
    """The worker loaded the room's rows, then the Member narrowed (another process): the
    check made just before the send reads the sharing now and withdraws."""
    app = await make_app()
    await app.console.type("anna.weber", PRINCIPAL, "member-de")

    def narrow(s: Any) -> None:
        inc = s.exec(select(Incident)).one()
        inc.share = "secretariat"
        s.add(inc)

    gate = app.outbox.may_deliver
    assert gate is not None

    async def narrowed_after_claim(row_id: int, room_key: str, reply: Any) -> bool:
        # The room is leased and its rows loaded: now the Member narrows.
        if room_key == "gisc-offenbach":
            await app.store.tx(narrow)
        return await gate(row_id, room_key, reply)

    app.outbox.may_deliver = narrowed_after_claim
    await app.outbox.drain()
    app.outbox.may_deliver = gate
    assert "webshell" not in room_seen(app, "gisc-offenbach")
    statuses = await app.store.tx(lambda s: {r.status for r in s.exec(
        select(OutboxRow).where(OutboxRow.room_key == "gisc-offenbach"))})
    assert statuses == {"withdrawn"}
    # After a restart nothing retries it either.
    await app.outbox.drain()
    assert "webshell" not in room_seen(app, "gisc-offenbach")


async def test_the_last_check_applies_to_page_deliveries_too(make_app: Any) -> None:
    app = await make_app(smtp_host="smtp.invalid")
    await app.console.type("anna.weber", PRINCIPAL, "member-de")

    def narrow(s: Any) -> None:
        inc = s.exec(select(Incident)).one()
        inc.share = "secretariat"
        s.add(inc)

    await app.store.tx(narrow)
    recorder = Recorder()
    app.deliveries.senders = {"email": recorder}
    await app.deliveries.drain()
    assert [r.contact_id for r in recorder.sent] == ["sec-desk"]


async def test_a_queued_lesson_loses_the_number_a_room_may_no_longer_read(
        make_app: Any) -> None:
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=group sev=1 Weak passwords",
                 "member-de")
    await c.type("anna.weber", "incident resolve WIS-SEC-2026-1 fixed", "member-de")
    await app.outbox.drain()
    before = len(c.rooms[app.directory.room("collaboration").target])
    r = await confirmed(c, "anna.weber", "lessons add WIS-SEC-2026-1 share=named Rotate keys "
                        "after staff changes", "member-de")
    assert r.kind != "error", r.plain()
    await confirmed(c, "anna.weber", "incident share WIS-SEC-2026-1 principal-gisc", "member-de")
    await app.outbox.drain()
    new = c.rooms[app.directory.room("collaboration").target][before:]
    lesson = [render_text(m) for m in new if m.kind == "lesson"]
    assert lesson and "Rotate keys" in lesson[0]
    assert "WIS-SEC-2026-1" not in "\n".join(lesson)


# ----- free-text review for anonymised rooms ----------------------------------------------

GROUP_ANON = ("incident report DE-OF-NC share=group anonymous sev=3 Anna Weber found a "
              "webshell on EDZW; call her on +49 69 8062 4400")
ANON_ROOMS = ("gisc-tokyo", "gisc-exeter", "area-tokyo", "collaboration")
# Hand-written: the Member's words, people, codes, identifiers, numbers.
MEMBER_WORDS = ("webshell", "Anna", "Weber", "EDZW", "8062", "4400", "DWD", "DE-OF-NC",
                "Germany", "Deutscher")


async def test_anonymised_rooms_read_no_free_text_until_the_member_confirms(
        make_app: Any, clock: Any) -> None:
    app = await make_app()
    c = app.console
    await c.type("anna.weber", GROUP_ANON, "member-de")
    await c.type("anna.weber", "incident update WIS-SEC-2026-1 Anna Weber reset the EDZW "
                 "keys", "member-de")
    await app.outbox.drain()
    for room in ANON_ROOMS:
        text = room_seen(app, room)
        assert "WIS-SEC-2026-1" in text and "Security incident severity 3" in text, room
        assert "until the affected Member confirms" in text
        for word in (*MEMBER_WORDS, "reset", "keys"):
            assert word not in text, (room, word)
    # The pages to other GISCs' desks and `incident show` there say no more.
    assert "webshell" not in seen_by(app, "gisc-tokyo")
    shown = (await c.type("gisc-tokyo", "incident show WIS-SEC-2026-1", "gisc-tokyo")).plain()
    assert "webshell" not in shown and "reset" not in shown and "EDZW" not in shown
    # Named rooms are not delayed.
    assert "webshell" in room_seen(app, "gisc-offenbach")
    assert "reset the EDZW keys" in room_seen(app, "gisc-offenbach")
    # The Member's room got the exact wording to review, per item.
    member = room_seen(app, "member-de")
    assert "review #1" in member and "review #2" in member
    assert "incident confirm WIS-SEC-2026-1 1" in member
    # The Member's own view lists what waits for its review.
    own = (await c.type("anna.weber", "incident show WIS-SEC-2026-1", "member-de")).plain()
    assert "Waiting for your review" in own and "#2 update" in own
    # A day later, nobody confirmed: still nothing.
    clock.now = clock.now + timedelta(days=1)
    await app.paging.tick()
    await app.outbox.drain()
    for room in ANON_ROOMS:
        assert "webshell" not in room_seen(app, room)


async def test_confirming_releases_the_reviewed_wording(make_app: Any) -> None:
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=all-giscs anonymous sev=2 "
                 "Phishing mails reached the operators", "member-de")
    await app.outbox.drain()
    assert "Phishing" not in room_seen(app, "gisc-tokyo")
    refused = await c.type("gisc-offenbach", "incident confirm WIS-SEC-2026-1 1",
                           "gisc-offenbach")
    assert refused.kind == "error" and "only the focal points of the affected Member" in \
        refused.plain()
    ok = await c.type("anna.weber", "incident confirm WIS-SEC-2026-1 1", "member-de")
    assert ok.kind != "error", ok.plain()
    assert "gisc-tokyo" in ok.plain()
    await app.outbox.drain()
    tokyo = room_seen(app, "gisc-tokyo")
    assert "summary released by the affected Member" in tokyo
    assert "Phishing mails reached the operators" in tokyo
    shown = (await c.type("gisc-tokyo", "incident show WIS-SEC-2026-1", "gisc-tokyo")).plain()
    assert "Phishing mails reached the operators" in shown
    again = await c.type("anna.weber", "incident confirm WIS-SEC-2026-1", "member-de")
    assert again.kind == "error" and "waiting" in again.plain()


async def test_the_member_may_write_its_own_wording(make_app: Any) -> None:
    app = await make_app()
    c = app.console
    await c.type("anna.weber", GROUP_ANON, "member-de")
    r = await c.type("anna.weber", "incident anon-text WIS-SEC-2026-1 1 A web shell was "
                     "found on a cache server and removed", "member-de")
    assert r.kind != "error", r.plain()
    await app.outbox.drain()
    collab = room_seen(app, "collaboration")
    assert "A web shell was found on a cache server and removed" in collab
    for word in MEMBER_WORDS:
        assert word not in collab, word


async def test_an_anonymous_lesson_waits_for_its_review(make_app: Any) -> None:
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=secretariat sev=1 Weak "
                 "passwords", "member-de")
    await c.type("anna.weber", "incident resolve WIS-SEC-2026-1 fixed", "member-de")
    await c.type("anna.weber", "lessons add WIS-SEC-2026-1 share=anonymous Anna Weber "
                 "rotated EDZW keys after staff left", "member-de")
    await app.outbox.drain()
    collab = room_seen(app, "collaboration")
    assert "Lesson learned" in collab and "rotated" not in collab and "EDZW" not in collab
    listed = (await c.type("gisc-tokyo", "lessons list", "collaboration")).plain()
    assert "rotated" not in listed
    # A search hit on unreviewed words would tell what the lesson says.
    hit = (await c.type("gisc-tokyo", "lessons search rotated", "collaboration")).plain()
    assert "L-1" not in hit
    member = room_seen(app, "member-de")
    assert "review #1" in member and "lesson" in member
    await c.type("anna.weber", "incident confirm WIS-SEC-2026-1", "member-de")
    await app.outbox.drain()
    collab = room_seen(app, "collaboration")
    # Released: exactly the wording the Member was shown and confirmed.
    lines = member.splitlines()
    shown = lines[lines.index(next(x for x in lines if "will read this lesson as:" in x)) + 1]
    assert "rotated" in shown and shown.strip() in collab
    for word in ("Anna", "Weber"):
        assert word not in collab, word


async def test_widening_to_anonymised_rooms_asks_for_reviews_of_earlier_text(
        make_app: Any) -> None:
    app = await make_app()
    c = app.console
    await c.type("anna.weber", PRINCIPAL, "member-de")
    await c.type("anna.weber", "incident update WIS-SEC-2026-1 Contained by Anna", "member-de")
    await confirmed(c, "anna.weber", "incident share WIS-SEC-2026-1 group anonymous", "member-de")
    await app.outbox.drain()
    member = room_seen(app, "member-de")
    assert "review #1" in member and "review #2" in member
    for room in ANON_ROOMS:
        text = room_seen(app, room)
        assert "webshell" not in text and "Contained" not in text, room


async def test_a_second_process_narrowing_is_honoured_after_a_restart(make_app: Any) -> None:
    """Process A queued the posts and stopped; process B (another wisbot on the same
    database) narrowed; a restarted A sends nothing the new sharing forbids."""
    first = await make_app()
    await first.console.type("anna.weber", PRINCIPAL, "member-de")
    await first.stop()
    second = await make_app()
    r = await confirmed(second.console, "sec-desk", "incident share WIS-SEC-2026-1 secretariat",
                        "secretariat")
    assert r.kind != "error", r.plain()
    await second.stop()
    restarted = await make_app()
    await restarted.outbox.drain()
    for word in SECRET_WORDS:
        assert word not in room_seen(restarted, "gisc-offenbach"), word
        assert word not in seen_by(restarted, "gisc-offenbach"), word
    assert "webshell" in room_seen(restarted, "secretariat")
