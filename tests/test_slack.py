"""The Slack adapter end to end.

Slack is a hosted service, so these tests run slack-bolt's REAL request handling (signature
verification, slash-command, block_actions and Events API parsing, Socket Mode envelopes)
and post to a local fake of the Slack Web API (``tests/_fake_slack.py``: aiohttp on a
random loopback port, ``AsyncWebClient(base_url=...)`` pointed at it) that records every
call and can answer 429 with ``Retry-After`` or an error code, and implements Slack's
external file upload (``files.getUploadURLExternal``, the POST of the bytes to the upload_url
it hands out — on the fake itself —, ``files.completeUploadExternal``) so attachments are
really uploaded by slack_sdk's ``files_upload_v2``. Requests carry an
``X-Slack-Signature`` computed with the signing secret, as Slack computes it. The wisbot
side is the real App on SQLite (and PostgreSQL when configured), wired from settings the
way ``wisbot run`` wires it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import struct
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from pydantic import SecretStr
from sqlmodel import Session, select
from typer.testing import CliRunner

from tests._fake_slack import (
    BOT_USER,
    FakeSlack,
    block_actions_payload,
    sign,
    slack_directory,
    slack_id,
    slash_body,
)
from tests.conftest import EXAMPLE, ROOT
from tests.watch.conftest import MARCH, THREE, WIS2, FakeSweep, watch_directory
from wisbot.adapters.base import DeliveryError, RoomRef, UserRef
from wisbot.adapters.slack import SlackAdapter
from wisbot.app import App
from wisbot.clock import FakeClock
from wisbot.directory import Directory, parse_directory
from wisbot.reply import Attachment, ReplyBuilder, text_reply, user
from wisbot.settings import Settings
from wisbot.store.tables import OutboxRow

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
GISC_ROOMS = {f"gisc-{g}" for g in (
    "beijing", "brasilia", "casablanca", "exeter", "jeddah", "melbourne", "moscow",
    "new-delhi", "offenbach", "pretoria", "seoul", "tehran", "tokyo", "toulouse",
    "washington")}
ALL_ROOMS = {"secretariat", "member-de", "area-offenbach", "area-tokyo", "collaboration",
             *GISC_ROOMS}
EXPECTED = {
    "secretariat": {"secretariat", "member-de"},
    "principal-gisc": {"secretariat", "member-de", "gisc-offenbach"},
    "all-giscs": {"secretariat", "member-de", *GISC_ROOMS},
    "group": ALL_ROOMS,
}
"""The product contract's cascade table for an incident at DE-OF-NC (GISC Offenbach)."""


def C(room: str) -> str:
    return slack_id("C", room)


def U(contact: str) -> str:
    return slack_id("U", contact)


@dataclass
class Env:
    app: App
    fake: FakeSlack
    adapter: SlackAdapter
    http: aiohttp.ClientSession
    clock: FakeClock
    _n: int = 0

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.adapter.http_port}/slack/events"

    async def post(self, body: str, headers: dict[str, str]) -> tuple[int, str, float]:
        started = time.monotonic()
        async with self.http.post(self.events_url, data=body.encode(), headers=headers) as r:
            return r.status, await r.text(), time.monotonic() - started

    async def slash(self, who: str, room: str | None, command: str, text: str, *,
                    secret: str = SECRET, timestamp: int | None = None,
                    ) -> tuple[int, str, float]:
        """``who`` (a contact id, or a raw ``U…`` id) types ``command text`` in ``room``
        (a room key; None: the direct-message channel with the bot)."""
        self._n += 1
        body = slash_body(command, text, user=who if who.startswith("U") else U(who),
                          channel=C(room) if room else "DWISBOT",
                          response_url=self.fake.response_url(f"r{self._n}"))
        return await self.post(body, sign(secret, body, timestamp))

    async def reply_to(self, who: str, room: str | None, command: str, text: str
                       ) -> dict[str, Any]:
        """Run a slash command; the reply that came back through its response_url."""
        before = len(self.fake.responses)
        status, _, _ = await self.slash(who, room, command, text)
        assert status == 200
        responses = await self.fake.wait_responses(before + 1)
        return responses[before][1]

    async def event(self, event: dict[str, Any]) -> int:
        body = json.dumps({"token": "t", "team_id": "T1", "api_app_id": "AWISBOT",
                           "type": "event_callback", "event_id": f"Ev{time.time_ns()}",
                           "event_time": int(time.time()), "event": event})
        headers = {**sign(SECRET, body), "Content-Type": "application/json"}
        status, _, _ = await self.post(body, headers)
        return status


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    yield fake
    await fake.stop()


StartSlack = Callable[..., Any]


@pytest.fixture
async def start_slack(db_url: str, clock: FakeClock, fake_slack: FakeSlack
                      ) -> AsyncIterator[StartSlack]:
    """``env = await start_slack()``: the App built from settings with the Slack adapter
    (HTTP mode on a free loopback port, or Socket Mode) against the fake Slack."""
    apps: list[App] = []
    sessions: list[aiohttp.ClientSession] = []

    async def factory(directory: Directory | None = None, *, adapters: tuple[str, ...] = ("slack",),
                      mode: str = "http", **settings: Any) -> Env:
        s = Settings(database_url=db_url, directory=EXAMPLE, adapters=list(adapters),
                     slack_bot_token=SecretStr("xoxb-test-token"),
                     slack_app_token=SecretStr("xapp-test-token"),
                     slack_signing_secret=SecretStr(SECRET), slack_mode=mode,
                     slack_http_host="127.0.0.1", slack_http_port=0,
                     slack_api_base_url=fake_slack.api_url,
                     **{"slack_pace_seconds": 0.0, "slack_integrity_interval": 0, **settings})
        app = App(s, directory=directory or slack_directory(EXAMPLE), clock=clock,
                  run_worker=False)
        await app.start()
        apps.append(app)
        session = aiohttp.ClientSession()
        sessions.append(session)
        adapter = app.adapters["slack"]
        assert isinstance(adapter, SlackAdapter)
        return Env(app, fake_slack, adapter, session, clock)

    yield factory
    for session in sessions:
        await session.close()
    for app in reversed(apps):
        await app.stop()


def channels_to_rooms(directory: Directory, channels: set[str]) -> set[str]:
    """Bound rooms posted to; direct-message channels (``D…``: pages) are left out."""
    by_address = {r.target: r.key for r in directory.rooms}
    return {by_address[c] for c in channels if not c.startswith("D")}


def paged_contacts(directory: Directory, channels: set[str]) -> set[str]:
    by_user = {U(c.id): c.id for c in directory.contacts}
    return {by_user[c[1:]] for c in channels if c.startswith("D")}


def mrkdwn_texts(payload: Any) -> Iterator[str]:
    """Every string Slack would parse as mrkdwn: the ``text`` fallback and mrkdwn objects
    (plain_text objects are shown literally)."""
    if isinstance(payload, dict):
        if payload.get("type") == "plain_text":
            return
        for key, value in payload.items():
            if key == "text" and isinstance(value, str):
                yield value
            elif key == "blocks" and isinstance(value, str):
                yield from mrkdwn_texts(json.loads(value))
            else:
                yield from mrkdwn_texts(value)
    elif isinstance(payload, list):
        for item in payload:
            yield from mrkdwn_texts(item)


def blocks_of(post: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = post["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else blocks


# ----- slash commands and the cascade ----------

@pytest.mark.parametrize("level", list(EXPECTED))
async def test_signed_slash_command_is_acked_then_cascades_to_the_right_channels_only(
        start_slack: StartSlack, level: str) -> None:
    env = await start_slack()
    status, body, elapsed = await env.slash(
        "anna.weber", "member-de", "/incident",
        f"report DE-OF-NC share={level} sev=3 Suspicious logins on the cache")
    assert status == 200 and body == ""  # the ack: an empty 200, well within 3 s
    assert elapsed < 3.0
    (_, reply), = await env.fake.wait_responses(1)
    assert reply["response_type"] == "ephemeral"  # the caller's confirmation is theirs alone
    assert "WIS-SEC-2026-1" in reply["text"]
    assert not env.fake.posts()  # nothing is posted before the outbox delivers
    await env.app.outbox.drain()

    told = channels_to_rooms(env.app.directory, env.fake.posted_channels())
    assert told == EXPECTED[level]
    # Severity 3 pages the on-call focal points, by direct message, of the roles told only.
    paged = paged_contacts(env.app.directory, env.fake.posted_channels())
    assert "sec-desk" in paged
    gisc_desks = {c for c in paged if c.startswith("gisc-")}
    expected_desks = {"secretariat": set(), "principal-gisc": {"gisc-offenbach"}}.get(
        level, set(GISC_ROOMS))
    assert gisc_desks == expected_desks
    for quiet in ALL_ROOMS - EXPECTED[level]:
        assert not env.fake.attempts(C(quiet)), f"{quiet} must not be posted to"
    card = blocks_of(env.fake.posts(C("secretariat"))[0])
    # TLP 2.0: the label of the share level is the first token of the card, on every room.
    label = {"secretariat": "TLP:RED", "principal-gisc": "TLP:AMBER+STRICT",
             "all-giscs": "TLP:AMBER", "group": "TLP:GREEN"}[level]
    assert card[0]["type"] == "header" and card[0]["text"]["text"].startswith(
        f"{label} WIS-SEC-2026-1")
    for room in EXPECTED[level]:
        for post in env.fake.posts(C(room)):
            assert post["text"].lstrip("*").startswith(label + " "), (room, post["text"])
    fields = " ".join(f["text"] for f in card[1]["fields"])
    assert "Security incident severity 3 – Systems in the same security domain" in fields
    assert "*Recommended action*" in fields and "*Status*\nopen" in fields


async def test_a_missing_share_gets_the_usage_ephemerally_and_tells_no_one(
        start_slack: StartSlack) -> None:
    env = await start_slack()
    reply = await env.reply_to("anna.weber", "member-de", "/incident",
                               "report DE-OF-NC Suspicious logins")
    assert reply["response_type"] == "ephemeral"
    assert "missing share=" in reply["text"] and "Usage: incident report" in reply["text"]
    await env.app.outbox.drain()
    assert not env.fake.posts()


async def test_every_contract_slash_command_is_answered(start_slack: StartSlack) -> None:
    env = await start_slack()
    severity = await env.reply_to("anna.weber", None, "/severity", "")
    assert "Security incident severity 5" in severity["text"]
    watch = await env.reply_to("anna.weber", "member-de", "/watch", "")
    assert watch["response_type"] == "ephemeral"
    assert "GISC Watch is for GISC focal points" in watch["text"]  # a Member, not a watcher
    duty = await env.reply_to("gisc-tokyo", None, "/watch", "")
    assert "Duty GISC" in duty["text"]
    for command in ("/escalate", "/ack"):
        reply = await env.reply_to("anna.weber", "member-de", command, "")
        # Not yet in the registry: the dispatcher's usage answer, never bolt's silence.
        assert reply["response_type"] == "ephemeral"
        assert "unknown command" in reply["text"] or "Usage" in reply["text"]


async def test_unknown_slack_user_is_refused_with_an_ephemeral_message(
        start_slack: StartSlack, caplog: pytest.LogCaptureFixture) -> None:
    env = await start_slack()
    with caplog.at_level(logging.WARNING, "wisbot.adapters.slack"):
        reply = await env.reply_to("USTRANGER1", "member-de", "/incident",
                                   "report DE-OF-NC share=group A fake incident")
    assert reply["response_type"] == "ephemeral"
    assert "USTRANGER1 is not in the wisbot directory" in reply["text"]
    assert "USTRANGER1" in caplog.text
    await env.app.outbox.drain()
    assert not env.fake.posts()


async def test_bad_or_stale_signature_gets_401_and_runs_nothing(start_slack: StartSlack
                                                                ) -> None:
    env = await start_slack()
    text = "report DE-OF-NC share=group Forged report"
    status, _, _ = await env.slash("anna.weber", "member-de", "/incident", text,
                                   secret="not-the-signing-secret")
    assert status == 401
    stale = int(time.time()) - 10 * 60  # Slack's window is five minutes
    status, _, _ = await env.slash("anna.weber", "member-de", "/incident", text,
                                   timestamp=stale)
    assert status == 401
    body = slash_body("/incident", text, user=U("anna.weber"), channel=C("member-de"),
                      response_url=env.fake.response_url("x"))
    status, _, _ = await env.post(body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 401  # unsigned
    await asyncio.sleep(0.2)
    await env.app.outbox.drain()
    assert env.fake.responses == [] and env.fake.posts() == []
    # …and the same request, correctly signed, works: the 401s were the signature's doing.
    reply = await env.reply_to("anna.weber", "member-de", "/incident", text)
    assert "WIS-SEC-2026-1" in reply["text"]


async def test_mixed_deployment_reaches_slack_and_console_in_one_cascade(
        start_slack: StartSlack) -> None:
    directory = slack_directory(EXAMPLE, console_rooms=("secretariat", "gisc-tokyo"))
    env = await start_slack(directory, adapters=("console", "slack"))
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=all-giscs sev=2 Malware on a jump host")
    await env.app.outbox.drain()
    console = env.app.console
    assert "WIS-SEC-2026-1" in console.transcript("secretariat")
    assert "WIS-SEC-2026-1" in console.transcript("gisc-tokyo")
    told = channels_to_rooms(env.app.directory, env.fake.posted_channels())
    assert told == {"member-de", *GISC_ROOMS} - {"gisc-tokyo"}
    assert not env.fake.attempts(C("secretariat"))  # console rooms are not posted to Slack


async def test_direct_message_slash_command_has_no_room(start_slack: StartSlack) -> None:
    env = await start_slack()
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=secretariat Phishing wave")
    reply = await env.reply_to("anna.weber", None, "/incident", "show WIS-SEC-2026-1")
    assert "Phishing wave" in reply["text"]


# ----- the Acknowledge button ----------

async def test_acknowledge_button_runs_the_ack_command_for_the_clicking_user(
        start_slack: StartSlack) -> None:
    """A real page (severity 4 reaches GISC Offenbach's desk by direct message) carries an
    Acknowledge button; a stranger's click is refused, the desk's click acknowledges it."""
    env = await start_slack()
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=principal-gisc sev=4 Credentials stolen")
    await env.app.outbox.drain()
    desk_dm = "D" + U("gisc-offenbach")
    (posted,) = env.fake.posts(desk_dm)
    (button,) = next(b for b in blocks_of(posted) if b["type"] == "actions")["elements"]
    assert button["text"]["text"] == "Acknowledge" and button["value"].startswith("ack P-")
    page = button["value"].removeprefix("ack ")

    async def click(who: str, name: str) -> int:
        payload = block_actions_payload(user=who, channel=desk_dm, action=button,
                                        response_url=env.fake.response_url(name))
        body = urlencode({"payload": json.dumps(payload)})
        status, _, _ = await env.post(body, sign(SECRET, body))
        return status

    assert await click("USTRANGER1", "stranger") == 200
    refusal = (await env.fake.wait_responses(2))[1][1]
    assert refusal["response_type"] == "ephemeral" and "not in the wisbot directory" in \
        refusal["text"]
    assert await click(U("gisc-offenbach"), "desk") == 200
    responses = await env.fake.wait_responses(3)
    assert "acknowledged" in responses[2][1]["text"].lower()
    assert page in responses[2][1]["text"]
    assert responses[2][1]["replace_original"] is False
    evidence = await env.reply_to("sec-desk", "secretariat", "/incident",
                                  "evidence WIS-SEC-2026-1")
    assert "GISC Offenbach operations desk" in evidence["text"]


# ----- delivery: pacing, 429, errors ----------

async def test_429_pauses_the_bot_for_retry_after_and_the_outbox_waits_that_long(
        start_slack: StartSlack) -> None:
    """A 429 on one channel pauses every post of the bot for Retry-After (the limit is
    the bot's), then the same row goes out, without counting an attempt."""
    env = await start_slack()
    env.fake.rate_limited[C("gisc-offenbach")] = [1]
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=principal-gisc Brute force on SSH")
    started = time.monotonic()
    await env.app.outbox.drain()
    [limited, posted] = env.fake.attempts(C("gisc-offenbach"))
    assert posted.at - limited.at >= 1.0  # not before Retry-After
    # Posts already on their way when the 429 came may land just after it; none later.
    assert all(c.at < limited.at + 0.2 or c.at >= limited.at + 1.0
               for c in env.fake.calls if c.method == "chat.postMessage")
    assert time.monotonic() - started >= 1.0
    with Session(env.app.services.store.engine) as s:
        rows = list(s.exec(select(OutboxRow)))
    assert {r.status for r in rows} == {"delivered"}
    row = next(r for r in rows if r.room_key == "gisc-offenbach")
    assert row.attempts == 1 and row.failures == 1 and "rate limited" in (row.last_error or "")
    assert len(env.fake.posts(C("gisc-offenbach"))) == 1


async def test_adapter_send_turns_a_429_into_delivery_error_with_retry_after(
        start_slack: StartSlack) -> None:
    env = await start_slack()
    env.fake.rate_limited[C("secretariat")] = [30]
    with pytest.raises(DeliveryError) as caught:
        await env.adapter.send(RoomRef("slack", C("secretariat"), "secretariat"),
                               text_reply("hello"), key="k-429")
    assert caught.value.retry_after == 30 and not caught.value.permanent


@pytest.mark.parametrize(("code", "advice"), [
    ("channel_not_found", "check the room's address"),
    ("not_in_channel", "invite it"),
    ("is_archived", "unarchive"),
    ("token_revoked", "reinstall the app"),
    ("invalid_auth", "WISBOT_SLACK_BOT_TOKEN"),
])
async def test_lost_channel_errors_are_logged_clearly_reported_once_and_wait(
        start_slack: StartSlack, caplog: pytest.LogCaptureFixture, code: str,
        advice: str) -> None:
    """The bot cannot post there until the operator acts: the channel is reported once,
    its messages wait (retried slowly), and go out once the fix is made."""
    env = await start_slack(outbox_blocked_retry_seconds=600)
    env.fake.errors[C("gisc-offenbach")] = code
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=principal-gisc Brute force on SSH")
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "update WIS-SEC-2026-1 Second message")
    with caplog.at_level(logging.ERROR):
        await env.app.outbox.drain()
        env.clock.advance(seconds=600)
        await env.app.outbox.drain()
    assert len(env.fake.attempts(C("gisc-offenbach"))) == 2  # the head row, slowly
    with Session(env.app.services.store.engine) as s:
        rows = list(s.exec(select(OutboxRow).where(OutboxRow.room_key == "gisc-offenbach")))
    assert [r.status for r in rows] == ["pending", "pending"]
    assert all(r.attempts == 0 for r in rows)
    line = next(r.getMessage() for r in caplog.records if r.name == "wisbot.adapters.slack")
    assert code in line and advice in line and "gisc-offenbach" in line
    alerts = [p for p in env.fake.posts(C("secretariat")) if "no access" in p["text"]]
    assert len(alerts) == 1 and code in alerts[0]["text"]
    del env.fake.errors[C("gisc-offenbach")]
    env.clock.advance(seconds=600)
    await env.app.outbox.drain()
    texts = [p["text"] for p in env.fake.posts(C("gisc-offenbach"))]
    assert len(texts) == 2 and "Second message" in texts[1]


async def test_a_post_that_timed_out_is_found_by_its_metadata_not_posted_twice(
        start_slack: StartSlack) -> None:
    """Through slack-sdk against the local fake Slack: the post is accepted but its
    answer comes after the client's timeout. The retry finds it with
    conversations.history (include_all_metadata) by its delivery key instead of posting
    it again, both in the same process and in another process (a new App)."""
    env = await start_slack()
    env.adapter.timeout = 0.5
    env.fake.hang_after_post[C("gisc-offenbach")] = [2.0]
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=principal-gisc Brute force on SSH")
    await env.app.outbox.drain()
    with Session(env.app.services.store.engine) as s:
        row = s.exec(select(OutboxRow).where(OutboxRow.room_key == "gisc-offenbach")).one()
    assert row.status == "pending" and row.attempts == 0 and row.failures == 1
    assert len(env.fake.posts(C("gisc-offenbach"))) == 1  # it went out after all
    env.clock.advance(seconds=5)
    await env.app.outbox.drain()
    [post] = env.fake.posts(C("gisc-offenbach"))
    lookups = [c for c in env.fake.calls if c.method == "conversations.history"]
    assert lookups and all(c.params["channel"] == C("gisc-offenbach") for c in lookups)
    with Session(env.app.services.store.engine) as s:
        row = s.exec(select(OutboxRow).where(OutboxRow.room_key == "gisc-offenbach")).one()
    assert row.status == "delivered" and row.message_id == post["_ts"]
    # Another process (nothing in memory) retrying a row in doubt looks it up too.
    env.fake.hang_after_post[C("gisc-offenbach")] = [2.0]
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "update WIS-SEC-2026-1 Second message")
    await env.app.outbox.drain()
    assert len(env.fake.posts(C("gisc-offenbach"))) == 2
    second = await start_slack()
    second.adapter.timeout = 0.5
    env.clock.advance(seconds=5)
    await second.app.outbox.drain()
    assert len(env.fake.posts(C("gisc-offenbach"))) == 2
    with Session(env.app.services.store.engine) as s:
        rows = list(s.exec(select(OutboxRow).where(OutboxRow.room_key == "gisc-offenbach")))
    assert [r.status for r in rows] == ["delivered", "delivered"]
    # A direct message (a page) too: found in the direct conversation by its key.
    from wisbot.reply import text_reply
    from wisbot.services.notify import notify

    dm = "D" + U("gisc-offenbach")
    env.fake.hang_after_post[dm] = [2.0]
    now = env.clock()
    await second.app.services.store.tx(lambda s: notify(
        s, kind="test", now=now, incident_id=None, deliveries=[],
        direct=[("gisc-offenbach", text_reply("Page: answer now"))]))
    await second.app.outbox.drain()
    assert len(env.fake.posts(dm)) == 1
    third = await start_slack()
    third.adapter.timeout = 0.5
    env.clock.advance(seconds=5)
    await third.app.outbox.drain()
    assert len(env.fake.posts(dm)) == 1
    with Session(env.app.services.store.engine) as s:
        assert s.exec(select(OutboxRow).where(OutboxRow.room_key == "@gisc-offenbach")
                      ).one().status == "delivered"


async def test_pacing_is_one_message_per_interval_per_channel_in_parallel(
        start_slack: StartSlack) -> None:
    env = await start_slack(slack_pace_seconds=0.25)
    channels = [C("gisc-offenbach"), C("gisc-tokyo"), C("gisc-exeter")]

    async def three(channel: str) -> None:
        for i in range(3):
            await env.adapter.send(RoomRef("slack", channel), text_reply(f"m{i}"),
                                   key=f"{channel}-{i}")

    started = time.monotonic()
    await asyncio.gather(*(three(c) for c in channels))
    total = time.monotonic() - started
    for channel in channels:
        times = [c.at for c in env.fake.attempts(channel)]
        assert len(times) == 3
        assert all(b - a >= 0.24 for a, b in itertools.pairwise(times))
    assert 0.5 <= total < 1.5  # ~2 intervals, not 3 channels × 2 intervals


async def test_a_retried_key_is_not_posted_twice(start_slack: StartSlack) -> None:
    env = await start_slack()
    room = RoomRef("slack", C("secretariat"), "secretariat")
    first = await env.adapter.send(room, text_reply("once"), key="n1-secretariat")
    again = await env.adapter.send(room, text_reply("once"), key="n1-secretariat")
    assert first == again and len(env.fake.posts(C("secretariat"))) == 1


# ----- files: the watch chart ----------

def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A valid RGB PNG, made here (no image library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + bytes([30 * x % 256, 90, 200]) * 1 * width
                    for x in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def chart_reply(png: bytes) -> Any:
    b = ReplyBuilder("GISC Watch daily report", kind="watch")
    b.line("All services OK")
    b.attach(Attachment.from_bytes("chart.png", "image/png", png))
    return b.build()


async def test_a_reply_with_a_png_is_posted_then_the_file_uploaded_in_its_thread(
        start_slack: StartSlack) -> None:
    """The local fake Web API sees getUploadURLExternal, the POST of the bytes to its
    upload_url and completeUploadExternal for the message's channel and thread."""
    env = await start_slack()
    png = tiny_png()
    ref = await env.adapter.send(RoomRef("slack", C("secretariat"), "secretariat"),
                                 chart_reply(png), key="watch-daily-1-secretariat")
    (post,) = env.fake.posts(C("secretariat"))
    assert post["_ts"] == ref.id and "GISC Watch daily report" in post["text"]
    assert "Attached in this message's thread: chart.png" in post["text"]
    (shared,) = env.fake.files_in(C("secretariat"))
    assert shared.content == png and shared.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert shared.length == len(png)
    assert (shared.filename, shared.title, shared.thread_ts) == ("chart.png", "chart.png", ref.id)
    methods = [c.method for c in env.fake.calls if c.method.startswith(("files.", "upload"))]
    assert methods == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    assert env.fake.files == [shared]  # no other channel got a file
    # the same key again (an outbox retry after success): neither text nor file twice
    assert await env.adapter.send(RoomRef("slack", C("secretariat"), "secretariat"),
                                  chart_reply(png), key="watch-daily-1-secretariat") == ref
    assert len(env.fake.posts(C("secretariat"))) == 1 and len(env.fake.files) == 1


def slack_watch_directory(*, duty_room: bool) -> Directory:
    """The example directory on Slack with the watch contacts and scripted probe URLs;
    ``duty_room``: plus a ``duty`` channel on Slack."""
    d = watch_directory(slack_directory(EXAMPLE), services=THREE, wis2=WIS2)
    if not duty_room:
        return d
    data: dict[str, Any] = d.model_dump(mode="json")
    data["rooms"].append({"key": "duty", "role": "duty", "platform": "slack",
                          "address": C("duty"), "name": "GISC Watch duty"})
    return parse_directory(data, "slack watch test directory")


async def start_watch(start_slack: StartSlack, *, duty_room: bool) -> Env:
    env = await start_slack(slack_watch_directory(duty_room=duty_room), watch_enabled=False)
    sweep = FakeSweep()
    for gisc, figure in (("Tokyo", 10_000), ("Exeter", 9_800), ("Offenbach", 10_100)):
        sweep.set(gisc, "oaipmh", figure=figure)
    env.app.services.watch.sweeper = sweep
    await env.app.services.watch.import_roster(MARCH)
    return env


@pytest.mark.parametrize(("duty_room", "told"), [
    (True, {"duty"}),
    # no duty room: the GISC on watch (Tokyo) and Offenbach, which has not handed over yet
    (False, {"gisc-tokyo", "gisc-offenbach"}),
])
async def test_the_daily_watch_post_uploads_the_chart_to_the_watch_channels_only(
        start_slack: StartSlack, duty_room: bool, told: set[str]) -> None:
    """The daily run on the fake clock; Slack is the local fake Web API."""
    env = await start_watch(start_slack, duty_room=duty_room)
    outcome = await env.app.services.watch.daily()
    assert outcome is not None and outcome.reply is not None
    (chart,) = outcome.reply.attachments
    await env.app.outbox.drain()

    reports = [p for p in env.fake.posts() if "GISC Watch daily report" in p["text"]]
    assert channels_to_rooms(env.app.directory, {p["channel"] for p in reports}) == told
    assert len(reports) == len(told)
    shared = env.fake.files
    assert channels_to_rooms(env.app.directory, {f.channel for f in shared}) == told
    assert len(shared) == len(told)
    for f in shared:
        assert f.content == chart.content() and f.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(f.content) > 10_000 and f.title == "chart.png"
        (report,) = [p for p in reports if p["channel"] == f.channel]
        assert f.thread_ts == report["_ts"]  # in the thread of that channel's own post


@pytest.mark.parametrize("failure", ["complete", "upload"])
async def test_a_failed_upload_is_retried_by_the_outbox_without_reposting_the_text(
        start_slack: StartSlack, failure: str) -> None:
    """The local fake Web API fails completeUploadExternal (a Slack error) or the POST of
    the bytes (HTTP 500) once."""
    env = await start_watch(start_slack, duty_room=True)
    if failure == "complete":
        env.fake.complete_errors.append("internal_error")
    else:
        env.fake.upload_status.append(500)
    outcome = await env.app.services.watch.daily()
    assert outcome is not None and outcome.reply is not None
    await env.app.outbox.drain()

    def duty_row() -> OutboxRow:
        with Session(env.app.services.store.engine) as s:
            return s.exec(select(OutboxRow).where(OutboxRow.room_key == "duty")).one()

    row = duty_row()
    # Slack's internal_error and an HTTP 500 are Slack's failures: waits, not attempts.
    assert row.status == "pending" and row.attempts == 0 and row.failures == 1
    assert "chart.png" in (row.last_error or "")
    assert len(env.fake.posts(C("duty"))) == 1 and env.fake.files == []
    env.clock.advance(seconds=5)  # past the first backoff
    await env.app.outbox.drain()
    assert duty_row().status == "delivered"
    (post,) = env.fake.posts(C("duty"))  # the text exactly once
    assert len(env.fake.attempts(C("duty"))) == 1
    (shared,) = env.fake.files_in(C("duty"))
    assert shared.content == outcome.reply.attachments[0].content()
    assert shared.thread_ts == post["_ts"]
    asked = [c for c in env.fake.calls if c.method == "files.getUploadURLExternal"]
    assert len(asked) == 2  # the upload, and only the upload, was tried again


async def test_a_permanent_upload_error_dead_letters_after_one_post(
        start_slack: StartSlack) -> None:
    """``missing_scope`` from the local fake (the app was made before files:write)."""
    env = await start_slack()
    env.fake.complete_errors.append("missing_scope")
    with pytest.raises(DeliveryError) as caught:
        await env.adapter.send(RoomRef("slack", C("secretariat"), "secretariat"),
                               chart_reply(tiny_png()), key="k-scope")
    assert caught.value.permanent and "missing_scope" in str(caught.value)
    assert "chart.png" in str(caught.value)
    assert len(env.fake.posts(C("secretariat"))) == 1 and env.fake.files == []


# ----- injection ----------

INJECT = ("<!channel> <!here> <!everyone> <@U024BE7LH> <#C0123|general> "
          "<https://evil.example.org|click here> @here @channel @everyone & *bold*")


async def test_injection_in_every_text_argument_is_escaped(start_slack: StartSlack) -> None:
    env = await start_slack()
    steps = [
        ("anna.weber", "/incident", f"report DE-OF-NC share=group sev=1 {INJECT}"),
        ("anna.weber", "/incident", f"update WIS-SEC-2026-1 {INJECT}"),
        ("sec-desk", "/severity", f"WIS-SEC-2026-1 2 {INJECT}"),
        ("anna.weber", "/incident", f"resolve WIS-SEC-2026-1 {INJECT}"),
        ("anna.weber", "/lessons", f"add WIS-SEC-2026-1 share=named {INJECT}"),
        ("anna.weber", "/lessons", "confirm WIS-SEC-2026-1"),
        ("anna.weber", "/lessons", f"search {INJECT}"),
        ("anna.weber", "/incident", "report <!channel> share=group x"),  # unknown centre
        ("anna.weber", "/incident", "report DE-OF-NC share=<!here> x"),  # bad choice
        ("anna.weber", "/incident", "<!everyone> <@U024BE7LH>"),  # unknown sub-command
        ("anna.weber", "/incident", f"show \"{INJECT}\""),
    ]
    for who, command, text in steps:
        room = "secretariat" if who == "sec-desk" else "member-de"
        await env.reply_to(who, room, command, text)
    await env.app.outbox.drain()
    payloads: list[Any] = [body for _, body in env.fake.responses] + env.fake.posts()
    texts = [t for p in payloads for t in mrkdwn_texts(p)]
    assert len(env.fake.posts()) > 20 and len(env.fake.responses) == len(steps)
    joined = "\n".join(texts)
    for forbidden in ("<!", "<@", "<#", "<http"):
        assert forbidden not in joined
    assert not re.search(r"@(here|channel|everyone)\b", joined)
    # The text was not dropped: it arrives escaped, readable, mentions broken.
    assert joined.count("&lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;@U024BE7LH&gt;") \
        >= 10
    assert "@\u2060here" in joined and "&amp;" in joined
    for p in env.fake.posts():
        for block in blocks_of(p):
            for obj in [block.get("text"), *(block.get("fields") or [])]:
                if isinstance(obj, dict) and obj["type"] == "mrkdwn":
                    assert obj["verbatim"] is True


async def test_injection_in_rendered_cards_unit() -> None:
    from wisbot.adapters.slack_render import render_blocks, render_text

    b = ReplyBuilder("<!channel> title", kind="incident")
    b.field("Centre", "<@U1> & co").line(user(INJECT)).action("<!here>", "ack <!here>")
    reply = b.build()
    text = render_text(reply) + json.dumps([t for t in mrkdwn_texts(
        {"blocks": render_blocks(reply)})])
    assert "<!" not in text and "<@" not in text
    header = render_blocks(reply)[0]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"


# ----- room integrity ----------

async def test_stranger_in_a_closed_channel_holds_its_posts_and_alerts_the_secretariat(
        start_slack: StartSlack, fake_slack: FakeSlack) -> None:
    fake_slack.members[C("gisc-offenbach")] = [U("gisc-offenbach"), U("anna.weber"),
                                               "USTRANGER1"]
    env = await start_slack()
    assert env.app.holds == {"gisc-offenbach"}
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=principal-gisc Brute force on SSH")
    await env.app.outbox.drain()
    assert not env.fake.attempts(C("gisc-offenbach"))  # held, not sent, not dropped
    alert = next(p["text"] for p in env.fake.posts(C("secretariat"))
                 if "Room integrity" in p["text"])
    assert "gisc-offenbach" in alert and "USTRANGER1" in alert
    # A Member's focal point is outside a GISC room's audience (one rule for every room).
    assert f"{BOT_USER}" not in alert and U("anna.weber") in alert

    # The stranger leaves: the member_left_channel event re-checks and releases the room.
    env.fake.members[C("gisc-offenbach")] = [U("gisc-offenbach")]
    assert await env.event({"type": "member_left_channel", "user": "USTRANGER1",
                            "channel": C("gisc-offenbach"), "channel_type": "G",
                            "team": "T1"}) == 200
    await env.fake.wait_for(lambda: not env.app.holds)
    await env.app.outbox.drain()
    (post,) = env.fake.posts(C("gisc-offenbach"))
    assert "WIS-SEC-2026-1" in post["text"]


async def test_a_join_by_a_stranger_holds_the_channel(start_slack: StartSlack) -> None:
    env = await start_slack()
    assert env.app.holds == set()
    env.fake.members[C("area-tokyo")] = ["USTRANGER2"]
    assert await env.event({"type": "member_joined_channel", "user": "USTRANGER2",
                            "channel": C("area-tokyo"), "channel_type": "G",
                            "team": "T1"}) == 200
    await env.fake.wait_for(lambda: "area-tokyo" in env.app.holds)


async def test_public_channel_bound_as_closed_is_refused(start_slack: StartSlack,
                                                         fake_slack: FakeSlack) -> None:
    fake_slack.public = {C("collaboration"), C("area-tokyo")}
    directory = slack_directory(EXAMPLE, open_rooms=("area-tokyo",))
    env = await start_slack(directory)
    assert env.app.holds == {"collaboration"}  # area-tokyo is bound as open: allowed
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=group Defacement of the portal")
    await env.app.outbox.drain()
    assert not env.fake.attempts(C("collaboration"))
    assert env.fake.posts(C("area-tokyo"))
    alert = next(p["text"] for p in env.fake.posts(C("secretariat"))
                 if "Room integrity" in p["text"])
    assert "collaboration" in alert and "public channel" in alert


# ----- Socket Mode ----------

async def test_socket_mode_connects_and_runs_a_slash_command(start_slack: StartSlack) -> None:
    env = await start_slack(mode="socket")
    await env.fake.wait_for(lambda: env.fake.socket_connected)
    opened = [c for c in env.fake.calls if c.method == "apps.connections.open"]
    assert opened and opened[0].token == "xapp-test-token"
    payload = {"team_id": "T1", "channel_id": C("member-de"), "user_id": U("anna.weber"),
               "command": "/incident", "api_app_id": "AWISBOT",
               "text": "report DE-OF-NC share=principal-gisc sev=1 Spam relay",
               "response_url": env.fake.response_url("socket"), "trigger_id": "1.2.3"}
    envelope = await env.fake.push("slash_commands", payload)
    await env.fake.wait_for(lambda: any(a.get("envelope_id") == envelope
                                        for a in env.fake.socket_acks))
    (_, reply), = await env.fake.wait_responses(1)
    assert "WIS-SEC-2026-1" in reply["text"]
    await env.app.outbox.drain()
    assert channels_to_rooms(env.app.directory, env.fake.posted_channels()) == \
        EXPECTED["principal-gisc"]


# ----- manifest ----------

def test_manifest_cli_output_is_the_deployed_manifest() -> None:
    from wisbot.cli import app as cli

    result = CliRunner().invoke(cli, ["slack", "manifest"])
    assert result.exit_code == 0, result.output
    deployed = (ROOT / "deploy" / "slack-manifest.yaml").read_text(encoding="utf-8")
    assert result.output == deployed, ("deploy/slack-manifest.yaml is stale: run "
                                       "`wisbot slack manifest > deploy/slack-manifest.yaml`")


def test_manifest_declares_commands_scopes_socket_mode_and_interactivity() -> None:
    import yaml

    from wisbot.adapters.slack_manifest import build_manifest
    from wisbot.commands import build_registry

    registry = build_registry()
    manifest = build_manifest(registry)
    commands = [c["command"] for c in manifest["features"]["slash_commands"]]
    assert commands[:6] == ["/incident", "/severity", "/lessons", "/watch", "/escalate",
                            "/ack"]
    assert {f"/{name}" for name in registry.top_level()} <= set(commands)
    assert all(c["should_escape"] is False for c in manifest["features"]["slash_commands"])
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert {"commands", "chat:write", "channels:read", "groups:read", "files:write"} <= \
        set(manifest["oauth_config"]["scopes"]["bot"])
    assert "chat:write.public" not in manifest["oauth_config"]["scopes"]["bot"]
    http = build_manifest(registry, request_url="https://bot.example.org/slack/events")
    assert http["settings"]["socket_mode_enabled"] is False
    assert http["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    assert all(c["url"].endswith("/slack/events") for c in http["features"]["slash_commands"])
    yaml.safe_load(yaml.safe_dump(manifest))


async def test_direct_messages_open_a_dm_channel_and_post_there(start_slack: StartSlack
                                                                ) -> None:
    env = await start_slack()
    ref = await env.adapter.send_direct(UserRef("slack", U("gisc-tokyo")),
                                        text_reply("You are paged"), key="page-1-@gisc-tokyo")
    opened = [c for c in env.fake.calls if c.method == "conversations.open"]
    assert [c.params["users"] for c in opened] == [U("gisc-tokyo")]
    (post,) = env.fake.posts("D" + U("gisc-tokyo"))
    assert "You are paged" in post["text"] and ref.room == "D" + U("gisc-tokyo")


def test_missing_tokens_are_refused_with_the_setting_to_fix() -> None:
    from wisbot.adapters.slack import SlackConfig

    with pytest.raises(ValueError, match="WISBOT_SLACK_APP_TOKEN"):
        SlackAdapter(SlackConfig(bot_token="xoxb-x", mode="socket"))
    with pytest.raises(ValueError, match="WISBOT_SLACK_SIGNING_SECRET"):
        SlackAdapter(SlackConfig(bot_token="xoxb-x", mode="http"))
    with pytest.raises(ValueError, match="WISBOT_SLACK_BOT_TOKEN"):
        SlackAdapter.from_settings(Settings(adapters=["slack"]))


# ----- fail closed: a channel whose members cannot be read is held ----------

async def test_members_rate_limited_at_start_hold_the_channel_until_a_retry_passes(
        start_slack: StartSlack, fake_slack: FakeSlack) -> None:
    """``conversations.members`` answers 429 (twice) at start: the channel is held
    (api-error), asked again with backoff, and released once Slack answers. Slack through
    slack-bolt against the local fake (tests/_fake_slack.py)."""
    fake_slack.members_failures[C("gisc-offenbach")] = ["429", "429"]
    env = await start_slack()
    hold = env.app.holds.hold_of("gisc-offenbach")
    assert hold is not None and hold.reason == "api-error", hold
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=principal-gisc Brute force on SSH")
    await env.app.outbox.drain()
    assert not env.fake.attempts(C("gisc-offenbach"))  # held, not sent, not dropped
    reply = await env.reply_to("gisc-offenbach", "gisc-offenbach", "/incident",
                               "show WIS-SEC-2026-1")
    assert "on hold" in reply["text"] and "Brute force" not in reply["text"]
    await env.fake.wait_for(lambda: "gisc-offenbach" not in env.app.holds, within=20)
    await env.app.outbox.drain()
    (post,) = env.fake.posts(C("gisc-offenbach"))
    assert "WIS-SEC-2026-1" in post["text"]


async def test_members_failing_keep_the_channel_held(start_slack: StartSlack,
                                                     fake_slack: FakeSlack) -> None:
    """Slack through slack-bolt against the local fake: an API error that does not go
    away keeps the channel held; the other channels are served."""
    fake_slack.members_failures[C("gisc-tokyo")] = ["internal_error"] * 20
    env = await start_slack()
    assert env.app.holds == {"gisc-tokyo"}
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=group Brute force on SSH")
    await env.app.outbox.drain()
    assert not env.fake.attempts(C("gisc-tokyo"))
    assert env.fake.posts(C("gisc-exeter"))
    calls = len([c for c in env.fake.calls if c.method == "conversations.members"])
    await env.fake.wait_for(lambda: len([c for c in env.fake.calls if c.method ==
                                         "conversations.members"]) > calls, within=10)
    assert "gisc-tokyo" in env.app.holds


async def test_a_stranger_hold_survives_a_restart_and_is_not_reported_twice(
        start_slack: StartSlack, fake_slack: FakeSlack) -> None:
    """Slack through slack-bolt against the local fake: the hold is stored; the second
    process holds the channel from its first instant and does not alert again."""
    fake_slack.members[C("gisc-offenbach")] = [U("gisc-offenbach"), "USTRANGER1"]
    first = await start_slack()
    assert first.app.holds == {"gisc-offenbach"}
    await first.app.outbox.drain()
    await first.app.stop()
    second = await start_slack()
    assert second.app.holds == {"gisc-offenbach"}
    await second.reply_to("anna.weber", "member-de", "/incident",
                          "report DE-OF-NC share=principal-gisc Brute force on SSH")
    await second.app.outbox.drain()
    assert not fake_slack.attempts(C("gisc-offenbach"))
    alerts = [p for p in fake_slack.posts(C("secretariat")) if "Room integrity" in p["text"]]
    assert len(alerts) == 1
