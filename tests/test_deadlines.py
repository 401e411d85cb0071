"""One slow peer delays only itself: a dripping SMTP server or webhook (real servers on
loopback, trickling one byte at a time so every single read succeeds in time) holds up only
its own page delivery; other pages' e-mails and POSTs go out while it hangs, and the slow
one is cut at its overall deadline, retried and finally delivered."""

from __future__ import annotations

import asyncio
import email
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from sqlmodel import select

from wisbot.store.paging_tables import PageDelivery

SLOW_MAIL = "ops@gisc-offenbach.example.org"
FAST_MAIL = "ops@gisc-tokyo.example.org"
DE_REPORT = "incident report DE-OF-NC share=principal-gisc sev=3 switch down"
JP_REPORT = "incident report JP-TK-NC share=principal-gisc sev=3 portal down"
DRIP = 0.2  # seconds between two bytes: far inside every per-read timeout


async def eventually(what: Callable[[], bool], within: float = 15.0) -> None:
    end = time.monotonic() + within
    while not what():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


class DrippingSmtp:
    """A minimal SMTP server on loopback. RCPT TO an address in ``slow`` is answered with
    an endless multi-line ``250-`` reply, one byte every ``DRIP`` seconds (aiosmtpd cannot
    trickle a reply, hence a raw server); everything else is answered at once."""

    def __init__(self, slow: set[str]) -> None:
        self.slow = slow
        self.messages: list[email.message.Message] = []
        self.dripping = 0
        self.cut = 0
        self.closing = False
        self.server: asyncio.Server | None = None

    def to(self, address: str) -> list[email.message.Message]:
        return [m for m in self.messages if m["To"] == address]

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.closing = True
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _drip(self, writer: asyncio.StreamWriter) -> None:
        self.dripping += 1
        try:
            while not self.closing:
                for byte in b"250-still thinking\r\n":
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(DRIP)
                    if writer.is_closing() or writer.transport.get_extra_info("socket") is None:
                        raise ConnectionResetError
        except (ConnectionError, OSError):
            self.cut += 1
        finally:
            self.dripping -= 1

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        try:
            say("220 localhost test ESMTP")
            await writer.drain()
            while True:
                line = (await reader.readline()).decode().strip()
                if not line:
                    return
                verb = line[:4].upper()
                if verb in ("EHLO", "HELO"):
                    say("250-localhost")
                    say("250 8BITMIME")
                elif verb == "RCPT":
                    address = line.split(":", 1)[1].strip().strip("<>")
                    if address in self.slow:
                        await self._drip(writer)
                        return
                    say("250 OK")
                elif verb == "DATA":
                    say("354 go ahead")
                    await writer.drain()
                    lines = []
                    while (chunk := await reader.readline()) not in (b".\r\n", b""):
                        lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                    self.messages.append(email.message_from_bytes(b"".join(lines)))
                    say("250 queued")
                elif verb == "QUIT":
                    say("221 bye")
                    await writer.drain()
                    return
                else:  # MAIL, RSET, NOOP
                    say("250 OK")
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def dripping_smtp() -> AsyncIterator[tuple[DrippingSmtp, int]]:
    server = DrippingSmtp({SLOW_MAIL})
    port = await server.start()
    yield server, port
    await server.close()


class DrippingHook:
    """A webhook receiver whose answer to a ``slow_role`` page is an endless body, one byte
    every ``DRIP`` seconds."""

    def __init__(self, slow_role: str) -> None:
        self.slow_role: str | None = slow_role
        self.posts: list[dict[str, Any]] = []
        self.dripping = 0
        self.cut = 0
        self.closing = False

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = json.loads(await request.read())
        if body.get("role") != self.slow_role:
            self.posts.append(body)
            return web.json_response({"ok": True})
        response = web.StreamResponse(status=200)
        response.content_type = "application/json"
        await response.prepare(request)
        self.dripping += 1
        try:
            while not self.closing:
                await response.write(b" ")
                await asyncio.sleep(DRIP)
        except (ConnectionError, OSError, asyncio.CancelledError):
            self.cut += 1
        finally:
            self.dripping -= 1
        return response


@pytest.fixture
async def dripping_hook() -> AsyncIterator[tuple[DrippingHook, str]]:
    hook = DrippingHook("gisc:Offenbach")
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield hook, f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    hook.closing = True
    await runner.cleanup()


async def _rows(app: Any, channel: str) -> list[PageDelivery]:
    return await app.store.tx(lambda s: list(s.exec(
        select(PageDelivery).where(PageDelivery.channel == channel)).all()))


async def test_dripping_smtp_server_does_not_delay_another_pages_email(
        make_app, clock, dripping_smtp):
    drip, port = dripping_smtp
    app = await make_app(smtp_host="127.0.0.1", smtp_port=port, smtp_timeout=30.0,
                         smtp_deadline=3.0)
    app.deliveries.poll_interval = 0.05
    app.deliveries.stop_grace = 0.1
    app.deliveries.start()
    await app.console.type("anna.weber", DE_REPORT, "member-de")
    app.deliveries.wake()
    await eventually(lambda: drip.dripping == 1)

    # A page raised while the Offenbach e-mail hangs goes out at once.
    await app.console.type("hiro.sato", JP_REPORT)
    app.deliveries.wake()
    await eventually(lambda: len(drip.to(FAST_MAIL)) == 1)
    assert drip.dripping == 1, "the fast e-mail should arrive while the slow one still hangs"
    assert drip.to(SLOW_MAIL) == []

    # The slow one is cut at its deadline and kept for a retry, not lost.
    await eventually(lambda: drip.cut == 1)
    await eventually(lambda: app.deliveries.in_flight == 0)
    rows = {r.address: r for r in await _rows(app, "email")}
    slow = rows[SLOW_MAIL]
    assert slow.status == "pending" and slow.attempts == 1
    assert "within 3 s (overall deadline)" in (slow.last_error or "")
    assert rows[FAST_MAIL].status == "delivered"

    drip.slow.clear()  # the server recovers; the running worker retries after its back-off
    clock.advance(seconds=6)
    app.deliveries.wake()
    await eventually(lambda: len(drip.to(SLOW_MAIL)) == 1)
    await eventually(lambda: app.deliveries.in_flight == 0)
    delivered = drip.to(SLOW_MAIL)
    assert len(delivered) == 1 and delivered[0]["Message-ID"] == f"<{slow.key}@wisbot>"
    assert {r.address: r.status for r in await _rows(app, "email")}[SLOW_MAIL] == "delivered"


async def test_dripping_webhook_does_not_delay_another_pages_post(
        make_app, clock, dripping_hook):
    hook, url = dripping_hook
    app = await make_app(paging_webhook_url=url, paging_webhook_timeout=30.0,
                         paging_webhook_deadline=3.0)
    app.deliveries.poll_interval = 0.05
    app.deliveries.stop_grace = 0.1
    app.deliveries.start()
    await app.console.type("anna.weber", DE_REPORT, "member-de")
    app.deliveries.wake()
    await eventually(lambda: hook.dripping == 1)

    await app.console.type("hiro.sato", JP_REPORT)
    app.deliveries.wake()
    await eventually(lambda: any(p["role"] == "gisc:Tokyo" for p in hook.posts))
    assert hook.dripping == 1, "the fast POST should arrive while the slow one still hangs"

    await eventually(lambda: app.deliveries.in_flight == 0)
    rows = {str(r.payload.get("role")): r for r in await _rows(app, "webhook")}
    slow = rows["gisc:Offenbach"]
    assert slow.status == "pending" and slow.attempts == 1
    assert "within 3 s (overall deadline)" in (slow.last_error or "")
    assert rows["gisc:Tokyo"].status == "delivered"

    hook.slow_role = None
    clock.advance(seconds=6)
    app.deliveries.wake()
    await eventually(lambda: any(p["role"] == "gisc:Offenbach" for p in hook.posts))
    await eventually(lambda: app.deliveries.in_flight == 0)
    assert {r.key: r.status for r in await _rows(app, "webhook")}[slow.key] == "delivered"


async def test_probe_sweep_with_a_dripping_endpoint_finishes_within_its_bound() -> None:
    """GISC Watch: one portal trickling its page a byte at a time fails at the probe's total
    timeout; the other centres are probed meanwhile, not after it."""
    from tests.probes.servers import serve
    from wisbot.probes.base import ProbeLimits, ProbeStatus, ProbeTarget, Service, sweep

    dripping = 0
    served_while_dripping: list[bool] = []

    async def slow(request: web.Request) -> web.StreamResponse:
        nonlocal dripping
        response = web.StreamResponse(status=200)
        response.content_type = "text/html"
        await response.prepare(request)
        dripping += 1
        try:
            await response.write(b"<html><body>")
            while True:
                await response.write(b" ")
                await asyncio.sleep(DRIP)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            dripping -= 1
        return response

    async def fast(request: web.Request) -> web.Response:
        await asyncio.sleep(0.3)
        served_while_dripping.append(dripping == 1)
        return web.Response(text="<html><body>WIS portal</body></html>",
                            content_type="text/html")

    web_app = web.Application()
    web_app.router.add_get("/slow", slow)
    web_app.router.add_get("/fast/{n}", fast)
    limits = ProbeLimits(connect_timeout=2.0, read_timeout=30.0, total_timeout=2.0)
    async with serve(web_app) as base:
        targets = [ProbeTarget("GISC Offenbach", Service.PORTAL, f"{base}/slow")]
        targets += [ProbeTarget(f"GISC {n}", Service.PORTAL, f"{base}/fast/{n}")
                    for n in range(6)]
        started = time.monotonic()
        results = await asyncio.wait_for(sweep(targets, concurrency=4, limits=limits), 30)
        elapsed = time.monotonic() - started
        await eventually(lambda: dripping == 0)  # the trickling connection was dropped
    assert results[0].status is ProbeStatus.FAIL
    assert "total timeout" in (results[0].reason or "")
    assert all(r.status is ProbeStatus.OK for r in results[1:])
    assert served_while_dripping == [True] * 6
    # bound: one total timeout (the other probes ran beside it) plus scheduling slack
    assert elapsed < limits.total_timeout + 3.0


async def test_webhook_outage_longer_than_max_attempts_loses_nothing(make_app, clock):
    """A paging service answering 503 (with Retry-After) for far more tries than
    max_attempts: the page is kept and delivered once it recovers; it becomes a dead letter
    only after paging_delivery_give_up_hours of outage."""
    state = {"down": True}
    posts: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        if state["down"]:
            return web.Response(status=503, headers={"Retry-After": "120"})
        posts.append(body)
        return web.json_response({"ok": True})

    web_app = web.Application()
    web_app.router.add_post("/hook", handle)
    from tests.probes.servers import serve

    async with serve(web_app) as base:
        app = await make_app(paging_webhook_url=f"{base}/hook", paging_delivery_max_attempts=2,
                             paging_delivery_give_up_hours=2)
        await app.console.type("sec-desk", "incident report KE-NC share=secretariat sev=3 x",
                               "secretariat")
        for _ in range(12):  # an hour of outage, six times max_attempts
            await app.deliveries.drain()
            clock.advance(minutes=5)
        (row,) = await _rows(app, "webhook")
        assert row.status == "pending" and row.attempts >= 12
        assert "503" in (row.last_error or "")
        state["down"] = False
        clock.advance(minutes=5)
        await app.deliveries.drain()
        assert len(posts) == 1
        (row,) = await _rows(app, "webhook")
        assert row.status == "delivered"

        # a second page meets an outage that outlasts the give-up time: then a dead letter
        state["down"] = True
        await app.console.type("sec-desk", "incident report KE-NC share=secretariat sev=3 y",
                               "secretariat")
        await app.deliveries.drain()
        first_try = {r.key for r in await _rows(app, "webhook") if r.status == "pending"}
        assert len(first_try) == 1
        clock.advance(minutes=61)
        await app.deliveries.drain()
        assert all(r.status == "pending" for r in await _rows(app, "webhook")
                   if r.key in first_try)
        clock.advance(minutes=60)
        await app.deliveries.drain()
        (dead,) = [r for r in await _rows(app, "webhook") if r.key in first_try]
        assert dead.status == "dead"


async def test_stopping_mid_send_releases_the_row_for_another_process(
        make_app, clock, dripping_smtp):
    """Shutdown while an e-mail hangs: the send is cancelled after the grace, its claim is
    released at once (no lease to wait out), and another worker sends it, once."""
    from wisbot.channels import DeliveryWorker, senders_from_settings

    drip, port = dripping_smtp
    app = await make_app(smtp_host="127.0.0.1", smtp_port=port, smtp_deadline=30.0)
    app.deliveries.poll_interval = 0.05
    app.deliveries.stop_grace = 0.2
    app.deliveries.start()
    await app.console.type("anna.weber", DE_REPORT, "member-de")
    app.deliveries.wake()
    await eventually(lambda: drip.dripping == 1)
    await asyncio.wait_for(app.deliveries.stop(), 5)
    await eventually(lambda: drip.dripping == 0)
    slow = next(r for r in await _rows(app, "email") if r.address == SLOW_MAIL)
    assert slow.status == "pending" and slow.claimed_by is None and slow.attempts == 0

    drip.slow.clear()
    other = DeliveryWorker(app.store, clock, senders_from_settings(app.settings))
    assert other.holder != app.deliveries.holder
    await other.drain()
    assert len(drip.to(SLOW_MAIL)) == 1
    slow = next(r for r in await _rows(app, "email") if r.address == SLOW_MAIL)
    assert slow.status == "delivered" and slow.attempts == 1


async def test_handover_and_case_file_mail_are_bounded_too(dripping_smtp):
    """The watch handover e-mail and the exchange case file use the same SMTP bound: a
    trickling server is dropped at smtp_deadline with a clear error."""
    from wisbot.services.exchange_mail import MailError, SmtpMailer
    from wisbot.services.mail import Mailer, SmtpDeadline
    from wisbot.settings import Settings

    drip, port = dripping_smtp
    settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_deadline=1.5)
    with pytest.raises(SmtpDeadline, match=r"within 1.5 s \(overall deadline\)"):
        await asyncio.wait_for(Mailer(settings).send(to=[SLOW_MAIL], cc=[], subject="HO-1",
                                                     body="handover"), 30)
    with pytest.raises(MailError, match=r"within 1.5 s \(overall deadline\)"):
        await asyncio.wait_for(SmtpMailer(settings).send(SLOW_MAIL, "WIS-NRT-2026-1",
                                                         "case file"), 30)
    await eventually(lambda: drip.dripping == 0)
    assert drip.cut == 2 and drip.messages == []
    await Mailer(settings).send(to=[FAST_MAIL], cc=[], subject="HO-2", body="handover")
    assert [m["Subject"] for m in drip.to(FAST_MAIL)] == ["HO-2"]
