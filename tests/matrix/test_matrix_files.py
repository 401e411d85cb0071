"""Files (the watch chart) on the real Synapse: the notice, then an ``m.image`` replying to
it whose bytes a member downloads with their own client; encrypted in an E2EE room; the
daily watch post to the duty room; retries and resends send nothing twice."""

from __future__ import annotations

import asyncio
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from tests.matrix.conftest import Person, World, make_world
from tests.matrix.synapse import Synapse
from tests.watch.conftest import THREE, WIS2, FakeSweep, roster_csv, watch_directory
from wisbot.adapters.base import DeliveryError, RoomRef
from wisbot.clock import FakeClock
from wisbot.directory import parse_directory
from wisbot.reply import Attachment, Reply, ReplyBuilder
from wisbot.store.tables import OutboxRow

# the three GISCs of the Matrix test directory; the fake clock starts 2026-03-02 09:00 UTC
ROSTER = roster_csv([("GISC-Offenbach", "2026-02-16", "2026-02-28"),
                     ("GISC-Tokyo", "2026-03-01", "2026-03-15"),
                     ("GISC-Exeter", "2026-03-16", "2026-03-31")])


def tiny_png(width: int = 5, height: int = 7) -> bytes:
    """A valid RGB PNG, made here (no image library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + bytes([30 * y % 256, 90, 200]) * width for y in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def chart_reply(png: bytes, *extra: Attachment) -> Reply:
    b = ReplyBuilder("GISC Watch daily report", kind="watch")
    b.line("All services OK")
    b.attach(Attachment.from_bytes("chart.png", "image/png", png))
    for a in extra:
        b.attach(a)
    return b.build()


def bot_messages(person: Person, room_id: str, bot: str, msgtype: str) -> list[dict[str, Any]]:
    """Contents (with ``event_id``) of the bot's messages of ``msgtype`` as ``person``
    read them."""
    out = []
    for ev in person.events.get(room_id, []):
        c = ev.get("content", {})
        if ev.get("sender") == bot and ev.get("type") == "m.room.message" \
                and c.get("msgtype") == msgtype:
            out.append({**c, "event_id": ev.get("event_id"), "decrypted": ev.get("decrypted")})
    return out


async def read_until(person: Person, room_id: str, bot: str, msgtype: str, count: int,
                     within: float = 30.0) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        await person.sync(timeout_ms=500)
        got = bot_messages(person, room_id, bot, msgtype)
        if len(got) >= count:
            return got
        if loop.time() > deadline:
            raise AssertionError(f"{person.user_id} read {len(got)} {msgtype} in {room_id}, "
                                 f"not {count}")


async def download(person: Person, mxc: str) -> bytes:
    """The member's own client fetches the media."""
    from nio import DownloadError

    resp = await person.client.download(mxc)
    assert not isinstance(resp, DownloadError), resp
    body = resp.body
    assert isinstance(body, bytes)
    return body


async def test_a_reply_with_a_png_reaches_the_room_as_a_notice_and_an_image(
        world: World) -> None:
    app = await world.app()
    sec, room, bot = world.people["sec"], world.rooms["secretariat"], world.bot
    png = tiny_png()
    other = Attachment.from_bytes("table.csv", "text/csv", b"gisc,records\nTokyo,10000\n")
    ref = await app.adapters["matrix"].send(RoomRef("matrix", room, "secretariat"),
                                            chart_reply(png, other), key="watch-daily-1-sec")
    (image,) = await read_until(sec, room, bot, "m.image", 1)
    (notice,) = bot_messages(sec, room, bot, "m.notice")
    (csv,) = bot_messages(sec, room, bot, "m.file")
    assert notice["event_id"] == ref.id
    assert "GISC Watch daily report" in notice["body"]
    assert "Attached below: chart.png, table.csv" in notice["body"]
    assert image["body"] == "chart.png"
    assert image["m.relates_to"] == {"m.in_reply_to": {"event_id": ref.id}}
    assert image["info"] == {"mimetype": "image/png", "size": len(png), "w": 5, "h": 7}
    assert image["url"].startswith("mxc://") and "file" not in image
    assert await download(sec, image["url"]) == png
    assert csv["body"] == "table.csv" and csv["info"] == {"mimetype": "text/csv",
                                                          "size": other.size}
    assert csv["m.relates_to"] == {"m.in_reply_to": {"event_id": ref.id}}
    assert await download(sec, csv["url"]) == other.content()
    # the same key again (an outbox retry after success): nothing twice
    again = await app.adapters["matrix"].send(RoomRef("matrix", room, "secretariat"),
                                              chart_reply(png, other), key="watch-daily-1-sec")
    assert again == ref
    await sec.sync(timeout_ms=1000)
    assert len(bot_messages(sec, room, bot, "m.notice")) == 1
    assert len(bot_messages(sec, room, bot, "m.image")) == 1
    assert len(bot_messages(sec, room, bot, "m.file")) == 1


async def test_in_an_encrypted_room_the_member_decrypts_the_uploaded_chart(
        synapse: Synapse, tmp_path: Path, sqlite_url: str) -> None:
    from nio.crypto import ENCRYPTION_ENABLED
    from nio.crypto.attachments import decrypt_attachment

    if not ENCRYPTION_ENABLED:
        pytest.fail("matrix-nio was installed without its e2e extra (wisbot[e2e])")
    world = await make_world(synapse, tmp_path, sqlite_url, encrypted=("member-de",),
                             e2e_people=("anna",))
    try:
        app = await world.app(adapters=[world.adapter(e2e=True)])
        anna, room, bot = world.people["anna"], world.rooms["member-de"], world.bot
        await anna.sync()
        png = tiny_png(9, 4)
        ref = await app.adapters["matrix"].send(RoomRef("matrix", room, "member-de"),
                                                chart_reply(png), key="watch-daily-2-de")
        (image,) = await read_until(anna, room, bot, "m.image", 1)
        (notice,) = bot_messages(anna, room, bot, "m.notice")
        assert notice["event_id"] == ref.id and image["decrypted"] and notice["decrypted"]
        assert image["m.relates_to"] == {"m.in_reply_to": {"event_id": ref.id}}
        assert "url" not in image, "an encrypted room's event carries file, not url"
        f = image["file"]
        assert f["url"].startswith("mxc://") and f["v"] == "v2"
        assert f["key"]["alg"] == "A256CTR" and f["iv"] and f["hashes"]["sha256"]
        assert image["info"] == {"mimetype": "image/png", "size": len(png), "w": 9, "h": 4}
        ciphertext = await download(anna, f["url"])
        assert ciphertext != png  # the homeserver holds only the encrypted bytes
        plain = decrypt_attachment(ciphertext, f["key"]["k"], f["hashes"]["sha256"], f["iv"])
        assert plain == png
    finally:
        for a in reversed(world.apps):
            await a.stop()
        for p in world.people.values():
            await p.close()


async def watch_world_app(world: World, clock: FakeClock, **settings: Any) -> Any:
    """The world's directory with a ``duty`` room on Matrix (provisioned on Synapse, GISC
    Offenbach's desk on watch duty and in it), scripted probes and a March roster."""
    from nio import AsyncClient

    from wisbot.adapters.matrix import provision

    data = watch_directory(world.directory, services=THREE, wis2=WIS2).model_dump(mode="json")
    for c in data["contacts"]:
        if c["id"] == "gisc-offenbach":
            c["roles"] = [*c["roles"], "watch"]
    data["rooms"].append({"key": "duty", "role": "duty", "platform": "matrix",
                          "name": "GISC Watch duty"})
    reg = world.regs["bot"]
    bot = AsyncClient(world.server.url, reg.user_id)
    bot.restore_login(reg.user_id, reg.device_id, reg.access_token)
    try:
        made = await provision(bot, data)
    finally:
        await bot.close()
    world.rooms["duty"] = made["duty"]
    await world.people["of"].join_invites()
    directory = parse_directory(data, "<matrix watch directory>")
    app = await world.app(clock=clock, directory=directory, watch_enabled=False, **settings)
    sweep = FakeSweep()
    for gisc, figure in (("Tokyo", 10_000), ("Exeter", 9_800), ("Offenbach", 10_100)):
        sweep.set(gisc, "oaipmh", figure=figure)
    app.services.watch.sweeper = sweep
    await app.services.watch.import_roster(ROSTER)
    return app


async def test_the_daily_watch_post_delivers_the_chart_to_the_matrix_duty_room(
        world: World) -> None:
    """The real daily run on a fake clock; the post goes through the outbox to Synapse."""
    clock = FakeClock()
    app = await watch_world_app(world, clock)
    outcome = await app.services.watch.daily()
    assert outcome is not None and outcome.reply is not None
    (chart,) = outcome.reply.attachments
    await world.delivered(app)
    of, duty, bot = world.people["of"], world.rooms["duty"], world.bot
    (image,) = await read_until(of, duty, bot, "m.image", 1)
    (notice,) = bot_messages(of, duty, bot, "m.notice")
    assert "GISC Watch daily report" in notice["body"]
    assert image["m.relates_to"]["m.in_reply_to"]["event_id"] == notice["event_id"]
    got = await download(of, image["url"])
    assert got == chart.content() and got[:8] == b"\x89PNG\r\n\x1a\n" and len(got) > 10_000
    assert image["info"]["size"] == len(got) and image["info"]["w"] > 100
    # the duty room only: no GISC room got the chart
    for key in ("gisc-tokyo", "gisc-offenbach", "secretariat"):
        reader = world.people["of" if key == "gisc-offenbach" else
                              "tk" if key == "gisc-tokyo" else "sec"]
        await reader.sync()
        assert not bot_messages(reader, world.rooms[key], bot, "m.image")


async def test_a_failed_upload_is_retried_without_duplicating_the_notice(
        world: World) -> None:
    """The homeserver is unreachable for the first upload (a transport error from the
    media request): the outbox row stays pending, the retry sends only the image."""
    from aiohttp.client_exceptions import ClientConnectionError

    clock = FakeClock()
    app = await watch_world_app(world, clock)
    adapter = app.adapters["matrix"]
    client = adapter.client
    real_upload = client.upload
    uploads: list[str] = []

    async def flaky_upload(*args: Any, **kwargs: Any) -> Any:
        uploads.append(kwargs.get("filename", ""))
        if len(uploads) == 1:
            raise ClientConnectionError("connection reset by the media repository")
        return await real_upload(*args, **kwargs)

    client.upload = flaky_upload  # type: ignore[method-assign]
    outcome = await app.services.watch.daily()
    assert outcome is not None and outcome.reply is not None

    def duty_row(session: Any) -> OutboxRow:
        return session.exec(select(OutboxRow).where(OutboxRow.room_key == "duty")).one()

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    # A connection error waits without consuming an attempt: look for the recorded failure.
    while (row := await app.store.tx(duty_row)).last_error is None:
        assert loop.time() < deadline, "the first delivery was never attempted"
        await asyncio.sleep(0.1)
    assert row.status == "pending"
    assert "upload chart.png" in (row.last_error or "")
    clock.advance(seconds=5)  # past the first backoff
    await world.delivered(app)
    assert (await app.store.tx(duty_row)).status == "delivered"
    of, duty, bot = world.people["of"], world.rooms["duty"], world.bot
    (image,) = await read_until(of, duty, bot, "m.image", 1)
    await of.sync(timeout_ms=1000)
    notices = bot_messages(of, duty, bot, "m.notice")
    assert len(notices) == 1, [n["body"][:60] for n in notices]
    assert len(bot_messages(of, duty, bot, "m.image")) == 1
    assert image["m.relates_to"]["m.in_reply_to"]["event_id"] == notices[0]["event_id"]
    assert await download(of, image["url"]) == outcome.reply.attachments[0].content()
    assert uploads == ["chart.png", "chart.png"]


async def test_a_resend_after_a_crash_is_deduplicated_by_the_homeserver(world: World) -> None:
    """A new adapter (no memory of the first delivery, same device) sends the same key
    again: the transaction ids make Synapse answer with the events it already has."""
    first = await world.app(run_worker=False)
    sec, room, bot = world.people["sec"], world.rooms["secretariat"], world.bot
    png = tiny_png()
    target = RoomRef("matrix", room, "secretariat")
    ref = await first.adapters["matrix"].send(target, chart_reply(png), key="crash-1-sec")
    await world.stop(first)
    second = await world.app(run_worker=False)
    assert await second.adapters["matrix"].send(target, chart_reply(png),
                                                 key="crash-1-sec") == ref
    await read_until(sec, room, bot, "m.image", 1)
    await sec.sync(timeout_ms=1000)
    assert len(bot_messages(sec, room, bot, "m.notice")) == 1
    assert len(bot_messages(sec, room, bot, "m.image")) == 1


async def test_a_permanent_upload_error_is_a_permanent_delivery_error() -> None:
    """The one choke point classifies the upload's ``(response, keys)`` answer."""
    from nio import UploadError

    from wisbot.adapters.matrix import MatrixAdapter

    adapter = MatrixAdapter("http://127.0.0.1:9", "@bot:wisbot.test", password="x")

    async def too_large() -> tuple[Any, None]:
        return UploadError("File is too large", "M_TOO_LARGE"), None

    async def limited() -> tuple[Any, None]:
        return UploadError("Slow down", "M_LIMIT_EXCEEDED", retry_after_ms=1500), None

    with pytest.raises(DeliveryError) as caught:
        await adapter._call("upload chart.png to !r:x", too_large())
    assert caught.value.permanent and "M_TOO_LARGE" in str(caught.value)
    assert "upload chart.png" in str(caught.value)
    with pytest.raises(DeliveryError) as caught:
        await adapter._call("upload chart.png to !r:x", limited())
    assert not caught.value.permanent and caught.value.retry_after == 1.5
