"""E-mail pages through a real SMTP server (aiosmtpd on loopback), webhook pages to a local
HTTP receiver, Prometheus /metrics scraped, evidence and the annual report."""

from __future__ import annotations

import asyncio
import email
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from tests.helpers import confirmed, identifying_terms, leaks
from wisbot.adapters.console import render_text
from wisbot.cli import app as cli_app

ANON = ("incident report DE-OF-NC share=all-giscs sev=4 anonymous DWD message switch "
        "compromised through Anna Weber's account")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[email.message.Message]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[Inbox, int]]:
    inbox = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(inbox, hostname="localhost"),
                                      "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield inbox, port
    server.close()
    await server.wait_closed()


class Receiver:
    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0
        self.fail_status = 503

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=self.fail_status)
        self.posts.append((dict(request.headers), body))
        return web.json_response({"ok": True})


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield receiver, f"http://127.0.0.1:{port}/hook"
    await runner.cleanup()


async def test_email_and_webhook_pages_stay_anonymised_for_other_giscs(
        make_app, smtp, webhook, example_directory):
    inbox, port = smtp
    receiver, url = webhook
    app = await make_app(smtp_host="127.0.0.1", smtp_port=port, smtp_from="wisbot@example.org",
                         paging_webhook_url=url, paging_webhook_secret="s3cret")
    await app.console.type("anna.weber", ANON, "member-de")
    await app.deliveries.drain()
    terms = identifying_terms(example_directory, "DE")

    tokyo = inbox.to("ops@gisc-tokyo.example.org")
    assert len(tokyo) == 1
    body = tokyo[0].get_payload()
    assert "a WIS centre in the area of GISC Offenbach" in body
    assert leaks(tokyo[0]["Subject"] + body, terms) == []
    assert "ack P-" in body and tokyo[0]["Message-ID"].startswith("<P-")
    # The principal GISC and the Secretariat desk read it named.
    assert "DE-OF-NC" in inbox.to("ops@gisc-offenbach.example.org")[0].get_payload()
    assert "DE-OF-NC" in inbox.to("wis-security@example.org")[0].get_payload()

    hooks = {json.loads(b)["role"]: (h, b) for h, b in receiver.posts}
    assert set(hooks) == {"secretariat", *(f"gisc:{g.name}" for g in example_directory.giscs)}
    headers, raw = hooks["gisc:Tokyo"]
    assert leaks(raw.decode(), terms) == []
    signature = hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
    assert headers["X-Wisbot-Signature"] == f"sha256={signature}"
    assert headers["Idempotency-Key"].endswith(".0.webhook")
    assert json.loads(raw)["contacts"] == ["gisc-tokyo"]


async def test_failed_webhook_is_retried_then_dead_lettered(make_app, clock, webhook):
    """A 503 (an outage) is retried; a receiver that refuses (400) every try makes a dead
    letter after max_attempts."""
    receiver, url = webhook
    app = await make_app(paging_webhook_url=url, paging_delivery_max_attempts=3)
    await app.console.type("sec-desk", "incident report KE-NC share=secretariat sev=3 x",
                           "secretariat")
    receiver.fail_next = 1
    await app.deliveries.drain()
    assert receiver.posts == []
    clock.advance(seconds=6)  # first back-off: 5 s
    await app.deliveries.drain()
    assert len(receiver.posts) == 1
    receiver.fail_next = 10
    receiver.fail_status = 400
    clock.advance(minutes=15)
    await app.paging.tick()
    for _ in range(3):
        await app.deliveries.drain()
        clock.advance(minutes=10)
    assert len(receiver.posts) == 1
    evidence = render_text(await app.console.type("sec-desk", "incident evidence "
                                                  "WIS-SEC-2026-1 details", "secretariat"))
    assert "webhook: FAILED (dead letter)" in evidence
    assert "webhook: delivered" in evidence
    # The summary calls the failure out on its step's line.
    summary = render_text(await app.console.type("sec-desk", "incident evidence "
                                                 "WIS-SEC-2026-1", "secretariat"))
    assert "FAILED (dead letter): webhook" in summary


def _metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_endpoint_scraped(make_app, clock):
    app = await make_app(metrics_port=0)
    assert app.metrics.host == "127.0.0.1" and app.metrics.port != 0
    await app.console.type("anna.weber", "incident report DE-OF-NC share=principal-gisc sev=3 "
                           "x", "member-de")
    await app.console.type("anna.weber", "incident report DE-OF-NC share=principal-gisc sev=1 "
                           "y", "member-de")
    clock.advance(minutes=10)
    await app.console.type("gisc-offenbach", "ack P-1")
    async with httpx.AsyncClient() as client:
        response = await client.get(app.metrics.url)
    assert response.status_code == 200
    m = _metrics(response.text)
    assert m[("wisbot_open_incidents", (("severity", "3"),))] == 1
    assert m[("wisbot_open_incidents", (("severity", "1"),))] == 1
    assert m[("wisbot_pending_pages", ())] == 1
    assert m[("wisbot_time_to_acknowledge_seconds_count", ())] == 1
    assert m[("wisbot_time_to_acknowledge_seconds_bucket", (("le", "300.0"),))] == 0
    assert m[("wisbot_time_to_acknowledge_seconds_bucket", (("le", "900.0"),))] == 1
    assert m[("wisbot_time_to_acknowledge_seconds_sum", ())] == 600
    pending = m[("wisbot_outbox_depth", (("channel", "chat"),))]
    assert pending > 0
    await app.outbox.drain()
    async with httpx.AsyncClient() as client:
        m = _metrics((await client.get(app.metrics.url)).text)
    assert m[("wisbot_outbox_depth", (("channel", "chat"),))] == 0
    assert m[("wisbot_dead_letters", (("channel", "chat"),))] == 0
    assert m[("wisbot_adapter_connected", (("platform", "console"),))] == 1


async def _flow(app: Any, clock: Any) -> None:
    """Two incidents: one acknowledged in 10 min, one whose GISC page misses the target."""
    await app.console.type("anna.weber", "incident report DE-OF-NC share=principal-gisc sev=3 "
                           "a", "member-de")
    await app.outbox.drain()
    await app.paging.tick()
    clock.advance(minutes=10)
    await app.console.type("gisc-offenbach", "ack P-1")
    await app.console.type("sec-desk", "ack P-2")
    clock.advance(days=40)
    await app.console.type("hiro.sato", "incident report JP-TK-NC share=principal-gisc sev=5 "
                           "b")
    await app.outbox.drain()
    clock.advance(minutes=50)
    await app.paging.tick()
    await app.console.type("sec-maria", "ack P-4")
    clock.advance(minutes=20)
    await app.paging.tick()
    await app.outbox.drain()


async def test_evidence_shows_every_message_and_the_verdict(make_app, clock):
    app = await make_app()
    await _flow(app, clock)
    text = render_text(await app.console.type("sec-desk", "incident evidence WIS-SEC-2026-1 "
                                              "details", "secretariat"))
    assert "reported → gisc-offenbach (console): delivered" in text
    assert "P-1 · GISC Offenbach" in text and "acknowledged by GISC Offenbach operations " \
           "desk" in text and "(after 10 min)" in text and "target met" in text
    assert "@gisc-offenbach (direct): delivered" in text
    assert "1-hour target: met" in text
    second = render_text(await app.console.type("hiro.sato", "incident evidence "
                                                "WIS-SEC-2026-2"))
    assert "P-3 · GISC Tokyo" in second and "target missed" in second
    assert "reached the Secretariat step" in second
    assert "1-hour target: missed" in second
    refused = await app.console.type("gisc-tokyo", "incident evidence WIS-SEC-2026-1")
    assert refused.kind == "error" and "no incident WIS-SEC-2026-1 that you may see" in \
        render_text(refused)
    # A GISC that sees an incident named but is not its principal GISC gets no evidence.
    await confirmed(app.console, "anna.weber", "incident share WIS-SEC-2026-1 all-giscs",
                    "member-de")
    other = await app.console.type("gisc-tokyo", "incident evidence WIS-SEC-2026-1")
    assert other.kind == "error" and "for the WMO Secretariat" in render_text(other)


async def test_stats_and_annual_report_cli(make_app, clock, db_url, monkeypatch):
    app = await make_app()
    await _flow(app, clock)
    # Live figures are the Secretariat's (here in a direct chat) ...
    text = render_text(await app.console.type("sec-desk", "incident stats 2026"))
    assert "Incidents: 2" in text
    assert "Pages: 4, acknowledged 3, reached the Secretariat step 2, 1-hour target missed 1" \
        in text
    assert "Mar: 0 0 0 1 0 0" in text and "Apr: 0 0 0 0 0 1" in text
    assert "within 1 hour 75.0 %" in text  # 3 of 4 pages acknowledged in time
    assert "WIS-SEC" not in text and "DE-OF-NC" not in text  # aggregates only
    # ... a GISC gets the figures of the incidents it may see (Tokyo: its own one).
    mine = render_text(await app.console.type("gisc-tokyo", "incident stats 2026"))
    assert "incidents you may see here" in mine and "Incidents: 1" in mine, mine
    assert "Mar: 0 0 0 1 0 0" not in mine
    runner = CliRunner()
    result = runner.invoke(cli_app, ["report", "annual", "2026", "--format", "json",
                                     "--database-url", db_url])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["incidents"] == 2 and data["pages_target_missed"] == 1
    assert data["by_month"]["3"]["3"] == 1 and data["by_month"]["4"]["5"] == 1
    assert data["time_to_acknowledge"]["median_s"] == 600
    csv_out = runner.invoke(cli_app, ["report", "annual", "2026", "--format", "csv",
                                      "--database-url", db_url]).output
    assert "by_month,2026-04/sev5,1" in csv_out and "summary,incidents,2" in csv_out
    md = runner.invoke(cli_app, ["report", "annual", "2026", "--database-url", db_url]).output
    assert md.startswith("# WIS IT-security incident service — annual report 2026")
    bad = runner.invoke(cli_app, ["report", "annual", "2026", "--format", "xls",
                                  "--database-url", db_url])
    assert bad.exit_code == 2


async def test_annual_report_job_posts_once(make_app, clock):
    from wisbot.services.reports import post_annual_report

    app = await make_app()
    assert await post_annual_report(app.store, app.directory, clock, 2025) is True
    assert await post_annual_report(app.store, app.directory, clock, 2025) is False
    await app.outbox.drain()
    assert "Service report 2025" in render_text(app.console.rooms["collaboration"][0])
    assert len(app.console.rooms["secretariat"]) == 1


def test_cron_job_misfire_grace_is_deliberate():
    from wisbot.scheduler import ANNUAL_REPORT_GRACE, CronJobs

    jobs = CronJobs(annual_report=lambda year: None)
    job = jobs.scheduler.get_job("annual-report")
    assert job.misfire_grace_time == ANNUAL_REPORT_GRACE == 6 * 3600
    assert job.coalesce is True
    assert str(job.trigger) == "cron[month='1', day='1', hour='0', minute='10']"

