"""Red-team findings (round against a9cc296): each test shows one way to break wisbot.
Forbidden words are written here by hand. Each is xfail(strict): it fails while the
finding stands."""

from __future__ import annotations

from typing import Any

import pytest

from tests import test_slack as _test_slack
from tests._fake_slack import FakeSlack
from tests.helpers import confirmed
from wisbot.adapters.console import render_text

# The Slack fixtures (the app against the fake Slack Web API).
fake_slack = _test_slack.fake_slack
start_slack = _test_slack.start_slack


def direct_text(app: Any, who: str) -> str:
    return "\n\n".join(render_text(r) for r in app.console.direct.get(who, []))


def room_all(app: Any, key: str) -> str:
    room = app.directory.room(key)
    return "\n\n".join(render_text(r) for r in app.console.rooms.get(room.target, []))


def meet_at(monkeypatch: Any, owner: Any, name: str, *, after: bool = False,
            parties: int = 2) -> None:
    """Two transactions (database threads) wait for each other at ``owner.name``: both
    have read what they check before either writes (the interleaving a busy moment gives,
    made certain)."""
    import threading

    barrier = threading.Barrier(parties, timeout=5)
    real = getattr(owner, name)

    def meet() -> None:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not after:
            meet()
        out = real(*args, **kwargs)
        if after:
            meet()
        return out

    monkeypatch.setattr(owner, name, wrapper)


async def test_override_reason_of_another_role_is_shown_to_a_stranger(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    r = await c.type("anna.weber", "escalate override member:DE anna.weber now 2026-03-20 "
                     "Anna Weber in hospital, call +49 69 8062 4411", None)
    assert "override set" in r.plain(), r.plain()
    r = await c.type("hiro.sato", "escalate override list", None)
    text = r.plain()
    assert "hospital" not in text and "8062" not in text and "Anna Weber" not in text, text


async def test_secretariat_anonymous_lesson_tells_the_group_of_a_secretariat_only_incident(
        make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=secretariat sev=2 "
                 "Intrusion on the message switch", "member-de")
    await c.type("anna.weber", "incident resolve WIS-SEC-2026-1 cleaned", "member-de")
    r = await c.type("sec-maria",
                     "lessons add WIS-SEC-2026-1 share=anonymous Patch the switch", None)
    assert "recorded" in r.plain(), r.plain()
    await app.outbox.drain()
    text = room_all(app, "collaboration")
    assert "Offenbach" not in text and "L-1" not in text, text


@pytest.mark.parametrize("command", [
    "ack P-99999999999999999999999",
    "escalate override remove O-99999999999999999999999",
    "escalate override remove O-²",
    "ack P-²",
    "incident list all sev=²",
    "severity WIS-SEC-2026-1 ²",
    "watch ticket ²",
    "watch ticket 99999999999999999999999",
    "incident stats ²",
])
async def test_bad_numbers_do_not_crash(make_app, command: str) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    r = await app.console.type("sec-maria", command, None)
    assert "error id" not in r.plain().lower() and "internal" not in r.plain().lower(), \
        r.plain()


@pytest.mark.xfail(strict=True, reason="finding 4: incident numbers are one sequence over all "
                   "incidents, so the first number a GISC sees gives away the number (and "
                   "timing) of every hidden incident reported before it")
async def test_a_hidden_incident_number_is_given_away_by_the_next_number(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=secretariat sev=2 "
                 "Intrusion kept to the Secretariat", "member-de")
    await c.type("hiro.sato", "incident report JP-TK-NC share=all-giscs sev=2 Phishing", None)
    await app.outbox.drain()
    text = room_all(app, "gisc-tokyo")
    assert "WIS-SEC-2026-" in text, text  # Tokyo reads the one it may see
    r = await c.type("gisc-tokyo", "incident list all", None)
    assert r.plain().count("WIS-SEC-") == 1, r.plain()  # Tokyo may see exactly one
    # ... and its number must not count the hidden one before it.
    assert "WIS-SEC-2026-2" not in text + r.plain(), text


async def test_escalate_repeated_records_a_missed_target_at_once(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=all-giscs anonymous sev=4 "
                 "Ransomware", "member-de")
    # a GISC that is not the incident's principal one may not escalate it at all
    r = await c.type("gisc-tokyo", "escalate WIS-SEC-2026-1 please", None)
    assert "escalated" not in r.plain() and "may escalate" in r.plain(), r.plain()
    # the principal GISC may, one step per page; typed again at once, nothing more fires
    r = await c.type("gisc-offenbach", "escalate WIS-SEC-2026-1 please", None)
    assert "escalated" in r.plain(), r.plain()
    for _ in range(3):
        r = await c.type("gisc-offenbach", "escalate WIS-SEC-2026-1 please", None)
        assert "next is possible from" in r.plain(), r.plain()
    # five minutes apart, every step may be fired early, but the hour is not over
    for _ in range(5):
        clock.advance(minutes=6)
        r = await c.type("sec-maria", "escalate WIS-SEC-2026-1 please", None)
        assert "escalated" in r.plain(), r.plain()
    assert "before its 1-hour target ends" in r.plain(), r.plain()
    await app.outbox.drain()
    r = await c.type("sec-maria", "incident evidence WIS-SEC-2026-1", None)
    text = r.plain()
    assert "missed" not in text, text  # nobody waited an hour: nothing was missed
    assert "target missed" not in room_all(app, "secretariat")


async def test_reopened_severe_incident_is_paged_again(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=principal-gisc sev=4 "
                 "Ransomware", "member-de")
    await app.outbox.drain()
    await c.type("anna.weber", "incident resolve WIS-SEC-2026-1 contained", "member-de")
    clock.advance(minutes=16)
    await app.paging.tick()  # the pages learn the incident is resolved and stop
    await c.type("anna.weber", "incident reopen WIS-SEC-2026-1 it is back, spreading",
                 "member-de")
    await app.outbox.drain()
    before = len(app.console.direct.get("gisc-offenbach", []))
    clock.advance(minutes=16)
    await app.paging.tick()
    await app.outbox.drain()
    clock.advance(minutes=16)
    await app.paging.tick()
    await app.outbox.drain()
    after = app.console.direct.get("gisc-offenbach", [])
    assert len(after) > before, [render_text(r) for r in after]


async def test_escalate_on_a_resolved_incident_pages_someone(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=principal-gisc sev=2 "
                 "Odd logins", "member-de")
    await c.type("anna.weber", "incident resolve WIS-SEC-2026-1 looked fine", "member-de")
    r = await c.type("anna.weber", "escalate WIS-SEC-2026-1 it is back, worse", None)
    await app.outbox.drain()
    paged = [render_text(x) for who in ("sec-desk", "sec-maria")
             for x in app.console.direct.get(who, [])]
    if "now pages the WMO Secretariat" in r.plain():
        assert paged, r.plain()  # it says it pages: someone must be paged
    else:
        assert "resolved" in r.plain(), r.plain()  # or it says why it does not


async def test_pages_stop_when_severity_drops_below_threshold(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=secretariat sev=4 Ransomware?",
                 "member-de")
    r = await c.type("anna.weber", "severity WIS-SEC-2026-1 1 false alarm, a test file",
                     "member-de")
    assert "1" in r.plain(), r.plain()
    await app.outbox.drain()
    for _ in range(5):
        clock.advance(minutes=15)
        await app.paging.tick()
    await app.outbox.drain()
    assert "target missed" not in room_all(app, "secretariat"), room_all(app, "secretariat")


async def test_oncall_chain_of_another_member_is_shown_to_a_stranger(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    r = await app.console.type("hiro.sato", "escalate oncall member:DE", None)
    text = r.plain()
    assert "Anna Weber" not in text and "anna.weber" not in text, text


async def test_two_simultaneous_escalations_page_the_secretariat_once(make_app, db_url,
                                                                      monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from wisbot.services.paging import PagingService

    if db_url.startswith("sqlite"):
        pytest.skip("replicas and concurrent transactions run on PostgreSQL")
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=principal-gisc sev=2 "
                 "Odd logins", "member-de")
    meet_at(monkeypatch, PagingService, "_open_page")
    await asyncio.gather(
        c.type("anna.weber", "escalate WIS-SEC-2026-1 getting worse", None),
        c.type("gisc-offenbach", "escalate WIS-SEC-2026-1 we see it too", None))
    await app.outbox.drain()
    pages = [render_text(x) for x in app.console.direct.get("sec-desk", [])]
    assert len(pages) == 1, pages


async def test_two_simultaneous_lessons_are_both_recorded(make_app, db_url,
                                                          monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    import wisbot.services.lessons as lessons

    if db_url.startswith("sqlite"):
        pytest.skip("concurrent transactions run on PostgreSQL")
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=group anonymous sev=2 "
                 "Phishing", "member-de")
    await c.type("anna.weber", "incident resolve WIS-SEC-2026-1 done", "member-de")
    meet_at(monkeypatch, lessons, "request_review")
    replies = await asyncio.gather(
        c.type("anna.weber", "lessons add WIS-SEC-2026-1 share=anonymous Train staff", None),
        c.type("sec-maria", "lessons add WIS-SEC-2026-1 share=anonymous Filter mail", None))
    texts = [r.plain() for r in replies]
    assert all("recorded" in t for t in texts), texts


async def test_simultaneous_queries_respect_the_limit(make_app, db_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from wisbot.services.incidents import IncidentService

    if db_url.startswith("sqlite"):
        pytest.skip("concurrent transactions run on PostgreSQL")
    app = await make_app(query_limit=1)
    c = app.console
    meet_at(monkeypatch, IncidentService, "_check_query_rate", after=True)
    replies = await asyncio.gather(c.type("hiro.sato", "incident query DE-OF-NC", None),
                                   c.type("hiro.sato", "incident query CH-NC", None))
    opened = [r.plain() for r in replies if "query opened" in r.plain()]
    assert len(opened) <= 1, opened


async def test_a_review_confirmed_twice_at_once_is_released_once(make_app, db_url,
                                                                 monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    import wisbot.services.incidents as incidents

    if db_url.startswith("sqlite"):
        pytest.skip("concurrent transactions run on PostgreSQL")
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=group anonymous sev=2 "
                 "Phishing mails to operators", "member-de")
    await app.outbox.drain()
    meet_at(monkeypatch, incidents, "release")
    await asyncio.gather(c.type("anna.weber", "incident confirm WIS-SEC-2026-1 1", None),
                         c.type("anna.weber", "incident confirm WIS-SEC-2026-1 1",
                                "member-de"))
    await app.outbox.drain()
    text = room_all(app, "collaboration")
    assert text.count("summary released by the affected Member") == 1, text


async def test_a_simultaneous_resolve_is_told_once(make_app, db_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from wisbot.services.incidents import IncidentService

    if db_url.startswith("sqlite"):
        pytest.skip("concurrent transactions run on PostgreSQL")
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=principal-gisc sev=2 "
                 "Phishing mails to operators", "member-de")
    await app.outbox.drain()
    meet_at(monkeypatch, IncidentService, "_may_change")
    replies = await asyncio.gather(
        c.type("anna.weber", "incident resolve WIS-SEC-2026-1 mails blocked", "member-de"),
        c.type("gisc-offenbach", "incident resolve WIS-SEC-2026-1 filters updated", None))
    await app.outbox.drain()
    text = room_all(app, "gisc-offenbach")
    assert text.count("WIS-SEC-2026-1 – resolved") == 1, [r.plain() for r in replies]


async def test_published_annual_figures_do_not_count_hidden_incidents(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=secretariat sev=4 "
                 "Kept to the Secretariat", "member-de")
    clock.now = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    await app._post_annual_report(2026)
    await app.outbox.drain()
    text = room_all(app, "collaboration")
    assert "Service report 2026" in text, text
    assert "Incidents: 0" in text, text  # the collaboration room may see none of 2026
    r = await c.type("gisc-tokyo", "incident stats 2026", None)
    assert "Incidents: 0" in r.plain(), r.plain()


class _Matrix:
    """A stand-in for the Matrix adapter of the production process: records direct
    messages; ``down`` makes every send fail as an outage does."""

    platform = "matrix"

    def __init__(self) -> None:
        self.direct: dict[str, list[Any]] = {}
        self.down = False

    async def start(self, dispatch: Any) -> None:
        self.dispatch = dispatch

    async def stop(self) -> None:
        pass

    async def send(self, room: Any, reply: Any, *, key: str) -> Any:
        from wisbot.adapters.base import DeliveryError, MessageRef

        if self.down:
            raise DeliveryError("homeserver unreachable", transient=True)
        return MessageRef(platform="matrix", room=room.address, id=key)

    async def send_direct(self, user: Any, reply: Any, *, key: str) -> Any:
        from wisbot.adapters.base import DeliveryError, MessageRef

        if self.down:
            raise DeliveryError("homeserver unreachable", transient=True)
        self.direct.setdefault(user.address, []).append(reply)
        return MessageRef(platform="matrix", room=user.address, id=key)

    async def room_members(self, room: Any) -> set[Any]:
        return set()


async def test_an_operator_shell_does_not_swallow_pages_meant_for_matrix(
        make_app, example_directory, clock) -> None:  # type: ignore[no-untyped-def]
    from wisbot.adapters.console import ConsoleAdapter
    from wisbot.directory import parse_directory

    data = example_directory.model_dump(mode="json")
    for contact in data["contacts"]:
        contact.setdefault("chat", {})
        contact["chat"] = {**(contact["chat"] or {}),
                           "matrix": f"@{contact['id']}:wmo.example.org"}
    directory = parse_directory(data, "example with Matrix identities")
    matrix = _Matrix()
    production = await make_app(directory, adapters=[ConsoleAdapter(echo=False), matrix])
    # The homeserver is down for a while: the Secretariat's page waits in the outbox.
    matrix.down = True
    await production.console.type("anna.weber", "incident report DE-OF-NC share=secretariat "
                                  "sev=4 Ransomware on the EDZW relay", "member-de")
    await production.outbox.drain()
    # An operator opens `wisbot shell` on the same database to look around, as the CLI does.
    clock.advance(minutes=2)
    shell_console = ConsoleAdapter(echo=False)
    shell = await make_app(directory, adapters=[shell_console])
    await shell_console.type("sec-maria", "incident list", None)
    await shell.outbox.drain()
    # The homeserver is back; production delivers what is still queued.
    matrix.down = False
    clock.advance(minutes=5)
    await production.outbox.drain()
    got = [render_text(r) for who in matrix.direct for r in matrix.direct[who]]
    assert any("WIS-SEC-2026-1" in t and "needs your response" in t for t in got), got
    printed = [render_text(r) for who in shell_console.direct for r in shell_console.direct[who]]
    assert not any("EDZW" in t for t in printed), printed  # nothing for others on the shell


async def test_the_secretariat_cannot_name_a_member_to_the_group_without_its_consent(
        make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    r = await c.type("sec-maria", "incident report DE-OF-NC share=group sev=2 Reported to us "
                     "by a partner CERT", None)
    await app.outbox.drain()
    text = room_all(app, "collaboration")
    assert "DE-OF-NC" not in text and "Germany" not in text, (r.plain(), text)
    # the Secretariat is told why; Germany's own room reads it and may widen it
    assert "recorded as secretariat, not group" in " ".join(r.plain().split()), r.plain()
    assert "partner CERT" in room_all(app, "member-de")
    r = await confirmed(c, "anna.weber", "incident share WIS-SEC-2026-1 group", "member-de")
    await app.outbox.drain()
    assert "DE-OF-NC" in room_all(app, "collaboration"), r.plain()


async def test_a_working_group_member_may_sit_in_the_working_group_room(
        start_slack, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    fake_slack.members[_test_slack.C("working-group")] = [_test_slack.U("gisc-exeter")]
    env = await start_slack()
    assert "working-group" not in env.app.holds, env.app.holds


async def test_a_slack_answer_survives_a_failed_response_url(start_slack) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from tests._fake_slack import sign, slash_body

    env = await start_slack()
    broken = env.fake.response_url("r-lost").replace("/respond/", "/broken/")
    body = slash_body("/incident", "report DE-OF-NC share=principal-gisc sev=2 Phishing",
                      user=_test_slack.U("anna.weber"), channel=_test_slack.C("member-de"),
                      response_url=broken)
    status, _, _ = await env.post(body, sign(_test_slack.SECRET, body))
    assert status == 200
    await asyncio.sleep(2)
    await env.app.outbox.drain()
    # the work was done: the Secretariat's channel was told
    assert any("WIS-SEC-2026-1" in p["text"]
               for p in env.fake.posts(_test_slack.C("secretariat")))
    answers = [b for _, b in env.fake.responses]
    answers += [p for p in env.fake.posts() if str(p.get("channel", "")).startswith("D")]
    assert any("WIS-SEC-2026-1" in str(a) for a in answers), answers
