"""The outbox under faults that end: rate limits and outages wait without consuming
attempts, giving up is time-based, a room the bot lost is reported once and waits,
dead letters are listed, shown, resent and discarded from the command line, and the
dead-letter alert takes another path than the failing one. Fenced leases: a send that
outlives its lease is cancelled and the room taken over, with nothing sent twice."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import select
from typer.testing import CliRunner

from tests.conftest import EXAMPLE
from wisbot.adapters.base import DeliveryError, MessageRef, RoomRef, UserRef
from wisbot.adapters.console import ConsoleAdapter
from wisbot.cli import app as cli
from wisbot.directory import parse_directory
from wisbot.ids import Platform
from wisbot.outbox import Due, Fenced
from wisbot.reply import Reply, text_reply
from wisbot.services.notify import notify
from wisbot.store.tables import OutboxRow

runner = CliRunner(env={"COLUMNS": "200"})


class Scripted(ConsoleAdapter):
    """The console, whose sends to a room fail as scripted (one exception per try)."""

    def __init__(self) -> None:
        super().__init__(echo=False)
        self.script: defaultdict[str, list[BaseException]] = defaultdict(list)
        self.tries: list[tuple[str, str, float]] = []

    async def send(self, room: RoomRef, reply: Reply, *, key: str) -> MessageRef:
        self.tries.append((room.address, key, time.monotonic()))
        if self.script[room.address]:
            raise self.script[room.address].pop(0)
        return await super().send(room, reply, key=key)


async def _rows(app: Any, room_key: str) -> list[OutboxRow]:
    return await app.store.tx(lambda s: list(s.exec(
        select(OutboxRow).where(OutboxRow.room_key == room_key).order_by(OutboxRow.id)).all()))


async def _enqueue(app: Any, room_key: str, *texts: str) -> None:
    room = app.directory.room(room_key)
    now = app.clock()
    for text in texts:
        await app.store.tx(lambda s, t=text: notify(s, kind="test", now=now, incident_id=None,
                                                    deliveries=[(room, text_reply(t))]))


def _said(app: Any, room: str) -> list[str]:
    return [r.plain() for r in app.console.rooms.get(room, [])]


def unreachable() -> DeliveryError:
    return DeliveryError("homeserver unreachable: ConnectionRefusedError()", transient=True)


async def test_rate_limits_and_outages_wait_without_consuming_attempts(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    c = Scripted()
    app = await make_app(adapters=[c])
    # 20 failures (more than the old 8-attempt limit), of both kinds, over 20 hours.
    c.script["gisc-tokyo"] = [unreachable() for _ in range(12)] + [
        DeliveryError("M_LIMIT_EXCEEDED", retry_after=0.01) for _ in range(8)]
    await _enqueue(app, "gisc-tokyo", "first", "second")
    for _ in range(30):
        await app.outbox.drain()
        clock.advance(hours=1)
    assert _said(app, "gisc-tokyo") == ["first", "second"]
    first, second = await _rows(app, "gisc-tokyo")
    assert first.status == second.status == "delivered"
    assert first.failures == 20
    assert first.attempts == 1 and second.attempts == 1  # only the send that went through


async def test_give_up_is_time_based(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    c = Scripted()
    app = await make_app(adapters=[c], outbox_give_up_hours=6, outbox_backoff_max=60)
    c.script["gisc-tokyo"] = [unreachable() for _ in range(10_000)]
    await _enqueue(app, "gisc-tokyo", "Tsunami drill")
    for _ in range(5 * 60 + 50):  # 5 h 50 min of an outage, tried every minute
        await app.outbox.drain()
        clock.advance(minutes=1)
    [row] = await _rows(app, "gisc-tokyo")
    assert row.status == "pending" and row.failures > 300 and row.attempts == 0
    assert "Delivery failed" not in "".join(_said(app, "secretariat"))
    clock.advance(minutes=15)
    await app.outbox.drain()
    [row] = await _rows(app, "gisc-tokyo")
    assert row.status == "dead"
    alert = "\n".join(_said(app, "secretariat"))
    assert "Delivery failed: dead letter" in alert and row.key in alert
    assert "Tsunami" not in alert  # the alert names the room, never the content


async def test_permanent_error_gives_up_at_once_and_later_rows_go_on(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    c = Scripted()
    app = await make_app(adapters=[c])
    c.script["gisc-tokyo"] = [DeliveryError("M_TOO_LARGE event too large", permanent=True)]
    await _enqueue(app, "gisc-tokyo", "huge", "small")
    await app.outbox.drain()
    huge, small = await _rows(app, "gisc-tokyo")
    assert (huge.status, huge.attempts) == ("dead", 1)
    assert small.status == "delivered" and _said(app, "gisc-tokyo") == ["small"]


async def test_a_rate_limit_pauses_the_whole_adapter_then_sends_one_at_a_time(make_app) -> None:  # type: ignore[no-untyped-def]
    """One 429 pauses every room on that bot until retry-after; the rooms do not all
    retry at the same instant (one 429, not one per room)."""
    c = Scripted()
    app = await make_app(adapters=[c])
    c.script["secretariat"] = [DeliveryError("M_LIMIT_EXCEEDED", retry_after=0.5)]
    await app.console.type("anna.weber", "incident report DE-OF-NC share=group Phishing",
                           "member-de")
    await app.console.type("anna.weber", "incident update WIS-SEC-2026-1 More", "member-de")
    await app.outbox.drain()
    limited_at = next(t for room, _, t in c.tries if room == "secretariat")
    after = [(room, t) for room, _, t in c.tries if t > limited_at + 0.1]
    assert len(after) >= 15
    # Sends already past the gate when the 429 came go on; none starts during the pause.
    assert all(t >= limited_at + 0.5 for _, t in after), "a room was sent to during the pause"
    assert sum(1 for room, _, _ in c.tries if room == "secretariat") == 3  # one 429
    rows = await app.store.tx(lambda s: list(s.exec(select(OutboxRow)).all()))
    assert {r.status for r in rows} == {"delivered"}
    assert max(r.attempts for r in rows) == 1


async def test_lost_room_is_reported_once_and_its_queue_waits(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    c = Scripted()
    app = await make_app(adapters=[c], outbox_blocked_retry_seconds=600,
                         outbox_give_up_hours=0.5)  # a lost room waits longer than that
    forbidden = [DeliveryError("M_FORBIDDEN User not in room", no_access=True)
                 for _ in range(20)]
    c.script["gisc-tokyo"] = forbidden
    await _enqueue(app, "gisc-tokyo", "one", "two", "three")
    started = time.monotonic()
    for _ in range(6):  # an hour: retried every 10 minutes, not every row at once
        await app.outbox.drain()
        clock.advance(minutes=10)
    assert time.monotonic() - started < 30  # no 127 s per message
    tries = [key for room, key, _ in c.tries if room == "gisc-tokyo"]
    assert len(tries) == 6 and len(set(tries)) == 1  # only the head row is tried
    rows = await _rows(app, "gisc-tokyo")
    assert [r.status for r in rows] == ["pending"] * 3
    assert all(r.attempts == 0 for r in rows)
    alerts = [t for t in _said(app, "secretariat") if "no access" in t]
    assert len(alerts) == 1 and "gisc-tokyo" in alerts[0] and "M_FORBIDDEN" in alerts[0]
    c.script["gisc-tokyo"].clear()  # the bot is invited back
    clock.advance(minutes=10)
    await app.outbox.drain()
    assert _said(app, "gisc-tokyo") == ["one", "two", "three"]
    # lost again later: reported again (a new episode), once
    c.script["gisc-tokyo"] = [DeliveryError("not_in_channel", no_access=True)] * 3
    await _enqueue(app, "gisc-tokyo", "four")
    for _ in range(3):
        await app.outbox.drain()
        clock.advance(minutes=10)
    assert len([t for t in _said(app, "secretariat") if "no access" in t]) == 2


class Recorder:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, *, to: list[str], cc: list[str], subject: str, body: str) -> str:
        self.sent.append({"to": to, "subject": subject, "body": body})
        return "<id@test>"


async def test_dead_letter_in_the_secretariat_room_is_mailed(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    """The failing path is the Secretariat's only room: the alert goes by e-mail to the
    Secretariat contacts instead."""
    c = Scripted()
    app = await make_app(adapters=[c])
    mail = Recorder()
    app.outbox.mailer = mail
    c.script["secretariat"] = [DeliveryError("bad event", permanent=True)]
    await _enqueue(app, "secretariat", "Ransomware at a GISC")
    await app.outbox.drain()
    await asyncio.sleep(0.05)
    [sent] = mail.sent
    assert sorted(sent["to"]) == ["maria.rossi@example.org", "wis-security@example.org"]
    assert "dead letter" in sent["body"] and "Ransomware" not in sent["body"]


class OtherPlatform(Scripted):
    platform = Platform("matrix")


async def test_dead_letter_alert_goes_through_another_adapter(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["rooms"].append({"key": "secretariat-matrix", "role": "secretariat",
                          "platform": "matrix", "address": "!sec:example.org"})
    directory = parse_directory(data, "test")
    c, m = Scripted(), OtherPlatform()
    app = await make_app(directory, adapters=[c, m])
    mail = Recorder()
    app.outbox.mailer = mail
    c.script["gisc-tokyo"] = [DeliveryError("bad event", permanent=True)]
    await _enqueue(app, "gisc-tokyo", "x")
    await app.outbox.drain()
    assert any("dead letter" in r.plain() for r in m.rooms["!sec:example.org"])
    assert mail.sent == []


def _cli(db_url: str, *args: str) -> Any:
    return runner.invoke(cli, ["outbox", *args, "--database-url", db_url,
                               "--directory", str(EXAMPLE)])


async def test_dead_letters_from_the_command_line(make_app, db_url: str, clock) -> None:  # type: ignore[no-untyped-def]
    c = Scripted()
    app = await make_app(adapters=[c])
    c.script["gisc-tokyo"] = [DeliveryError("bad event", permanent=True) for _ in range(2)]
    await _enqueue(app, "gisc-tokyo", "Secret one", "Secret two", "fine")
    await app.outbox.drain()
    one, two, fine = await _rows(app, "gisc-tokyo")
    assert (one.status, two.status, fine.status) == ("dead", "dead", "delivered")

    listed = await asyncio.to_thread(_cli, db_url, "list", "--status", "dead")
    assert listed.exit_code == 0, listed.output
    assert one.key in listed.output and two.key in listed.output
    assert fine.key not in listed.output and "Secret" not in listed.output
    shown = await asyncio.to_thread(_cli, db_url, "show", str(one.id))
    assert shown.exit_code == 0, shown.output
    assert "gisc-tokyo" in shown.output and "bad event" in shown.output
    assert "Secret one" not in shown.output  # the content only on request
    content = await asyncio.to_thread(_cli, db_url, "show", str(one.id), "--content")
    assert "Secret one" in content.output
    missing = await asyncio.to_thread(_cli, db_url, "show", "999999")
    assert missing.exit_code != 0 and "999999" in missing.output

    discarded = await asyncio.to_thread(_cli, db_url, "discard", str(two.id))
    assert discarded.exit_code == 0, discarded.output
    retried = await asyncio.to_thread(_cli, db_url, "retry", "--all-dead", "--room",
                                      "gisc-tokyo")
    assert retried.exit_code == 0, retried.output and "1" in retried.output
    await app.outbox.drain()
    assert _said(app, "gisc-tokyo") == ["fine", "Secret one"]
    statuses = [r.status for r in await _rows(app, "gisc-tokyo")]
    assert statuses == ["delivered", "discarded", "delivered"]
    again = await asyncio.to_thread(_cli, db_url, "retry", str(fine.id))
    assert again.exit_code != 0 and "not a dead letter" in again.output


# ----- fenced leases ------------------------------------------------------------------

class Chat:
    """One chat platform that two wisbot processes send to."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str, str]] = []  # (room, key, text)


class Shared(ConsoleAdapter):
    """A console adapter posting to a shared :class:`Chat`. ``hang``: rooms where a send
    hangs before (or, with ``after=True``, after) reaching the platform."""

    def __init__(self, chat: Chat, *, hang: set[str] = frozenset(),  # type: ignore[assignment]
                 after: bool = False, lookup: bool = False) -> None:
        super().__init__(echo=False)
        self.chat = chat
        self.hang = hang
        self.after = after
        self.lookup = lookup
        self.release = asyncio.Event()
        self.hanging = asyncio.Event()
        self.cancelled = 0

    async def send(self, room: RoomRef, reply: Reply, *, key: str) -> MessageRef:
        if room.address in self.hang and not self.after:
            await self._hang()
        self.chat.posts.append((room.address, key, reply.plain()))
        if room.address in self.hang and self.after:
            await self._hang()
        return MessageRef(self.platform, room.address, f"m{len(self.chat.posts)}")

    async def _hang(self) -> None:
        self.hanging.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise

    async def send_direct(self, user: UserRef, reply: Reply, *, key: str) -> MessageRef:
        raise AssertionError("not used")


class FindingShared(Shared):
    """Looks a key up on the platform (as Slack does with message metadata)."""

    found: dict[str, MessageRef]

    async def find_sent(self, room: RoomRef | UserRef, key: str) -> MessageRef | None:
        if isinstance(room, UserRef):
            return None
        for n, (address, k, _) in enumerate(self.chat.posts):
            if address == room.address and k == key:
                self.found = {**getattr(self, "found", {}),
                              key: MessageRef(self.platform, address, f"m{n + 1}")}
                return self.found[key]
        return None

    async def send(self, room: RoomRef, reply: Reply, *, key: str) -> MessageRef:
        known = getattr(self, "found", {}).get(key)
        return known if known is not None else await super().send(room, reply, key=key)


def _broken_heartbeat(app: Any) -> None:
    def renew(session: Any, pairs: Any) -> Any:
        raise ConnectionError("the database is unreachable from this process")

    app.outbox._renew = renew


async def test_send_outliving_its_lease_is_cancelled_and_the_room_taken_over(make_app) -> None:  # type: ignore[no-untyped-def]
    chat = Chat()
    a_adapter = Shared(chat, hang={"gisc-tokyo"})
    a = await make_app(adapters=[a_adapter], outbox_lease_seconds=1.0)
    b = await make_app(adapters=[Shared(chat)], outbox_lease_seconds=1.0)
    await _enqueue(a, "gisc-tokyo", "one", "two", "three")
    _broken_heartbeat(a)  # process A can no longer renew: its lease must not be trusted
    serving = asyncio.create_task(a.outbox.drain())
    await asyncio.wait_for(a_adapter.hanging.wait(), 10)
    await b.outbox.drain()
    assert chat.posts == [], "B took a room whose lease is valid"
    await asyncio.wait_for(serving, 10)  # A gives up the send at its trusted time
    assert a_adapter.cancelled == 1
    await asyncio.sleep(0.5)  # the lease expires on the database's clock
    await b.outbox.drain()
    a_adapter.release.set()
    await a.outbox.drain()
    assert [(room, text) for room, _, text in chat.posts] == [
        ("gisc-tokyo", "one"), ("gisc-tokyo", "two"), ("gisc-tokyo", "three")]
    rows = await _rows(b, "gisc-tokyo")
    assert [r.status for r in rows] == ["delivered"] * 3


async def test_takeover_after_an_unknown_outcome_finds_the_message_and_fences_the_mark(
        make_app) -> None:  # type: ignore[no-untyped-def]
    """A's send reached the platform, then A stalled past its lease: B looks the message
    up by its key instead of posting it again, and A's late delivered mark is refused."""
    chat = Chat()
    a_adapter = FindingShared(chat, hang={"gisc-tokyo"}, after=True)
    a = await make_app(adapters=[a_adapter], outbox_lease_seconds=1.0)
    b = await make_app(adapters=[FindingShared(chat)], outbox_lease_seconds=1.0)
    await _enqueue(a, "gisc-tokyo", "one", "two")
    _broken_heartbeat(a)
    serving = asyncio.create_task(a.outbox.drain())
    await asyncio.wait_for(a_adapter.hanging.wait(), 10)
    stale = a.outbox.leases["gisc-tokyo"]
    await asyncio.wait_for(serving, 10)
    await asyncio.sleep(0.5)
    await b.outbox.drain()
    assert [text for _, _, text in chat.posts] == ["one", "two"]  # no duplicate
    first = (await _rows(b, "gisc-tokyo"))[0]
    assert first.status == "delivered" and first.message_id == "m1"
    due = Due(id=first.id or 0, key=first.key, room_key=first.room_key,
              reply=text_reply("one"), attempts=0, next_attempt_at=first.next_attempt_at)
    with pytest.raises(Fenced):
        await a.outbox._marker.mark(stale, due, MessageRef(Platform("console"), "x", "late"))
    assert (await _rows(b, "gisc-tokyo"))[0].message_id == "m1"


async def test_leases_use_the_database_clock(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    """A process clock hours ahead (the FakeClock) neither expires other leases nor
    stretches its own."""
    chat = Chat()
    a_adapter = Shared(chat, hang={"gisc-tokyo"})
    a = await make_app(adapters=[a_adapter], outbox_lease_seconds=2.0)
    b = await make_app(adapters=[Shared(chat)], outbox_lease_seconds=2.0)
    await _enqueue(a, "gisc-tokyo", "one")
    serving = asyncio.create_task(a.outbox.drain())
    await asyncio.wait_for(a_adapter.hanging.wait(), 10)
    clock.advance(hours=3)
    await b.outbox.drain()
    assert chat.posts == []
    a_adapter.release.set()
    await asyncio.wait_for(serving, 10)
    assert [text for _, _, text in chat.posts] == ["one"]


def test_settings_have_no_attempt_limit_any_more(tmp_path: Path) -> None:
    from wisbot.settings import Settings

    s = Settings(database_url="sqlite://", outbox_max_attempts=3)
    assert s.outbox_give_up_hours == 24.0 and s.outbox_lease_seconds <= 10


async def test_a_send_whose_mark_failed_is_looked_up_before_it_is_sent_again(make_app) -> None:  # type: ignore[no-untyped-def]
    """The database fails the delivered mark after the platform took the message: the
    lease is left to expire (not released), so the next try treats the row as in doubt
    and finds it instead of posting it twice."""
    chat = Chat()
    app = await make_app(adapters=[FindingShared(chat)], outbox_lease_seconds=1.0)
    await _enqueue(app, "gisc-tokyo", "one", "two")
    marker = app.outbox._marker
    real = marker._apply
    failures = [ConnectionError("the database went away during the mark")]

    def flaky(session: Any, *, batch: Any) -> Any:
        if failures:
            raise failures.pop()
        return real(session, batch=batch)

    marker._apply = flaky
    await app.outbox.drain()
    assert [text for _, _, text in chat.posts] == ["one"]
    await app.outbox.drain()
    assert [text for _, _, text in chat.posts] == ["one"], "the room's lease was kept"
    await asyncio.sleep(1.1)
    await app.outbox.drain()
    assert [text for _, _, text in chat.posts] == ["one", "two"]
    assert [r.status for r in await _rows(app, "gisc-tokyo")] == ["delivered", "delivered"]
