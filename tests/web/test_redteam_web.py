"""Red team, round 4 (redteam2): the web facility over HTTP against the real site (in
process). Each test is a finding, written failing (xfail strict) and passing since its fix. The
attacker's host name and forbidden words are written here by hand."""

from __future__ import annotations

from typing import Any

import httpx

from tests.web.conftest import MARIA_EMAIL, csrf_of, web_directory
from wisbot.web.server import build_site

ATTACKER = "mallory-collects-links.example.net"


async def test_emailed_link_never_points_at_the_requests_host(make_app: Any,
                                                              smtp: Any) -> None:
    inbox, port = smtp
    app = await make_app(web_directory(), smtp_host="127.0.0.1", smtp_port=port)
    assert app.settings.web_base_url is None  # the default deployment
    web = build_site(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(
            app=web, client=("198.51.100.66", 40000)), base_url=f"https://{ATTACKER}",
            follow_redirects=False) as c:
        r = await c.post("/login/email", data={"email": MARIA_EMAIL,
                                               "csrf": await csrf_of(c)})
        assert r.status_code == 200
    mails = await inbox.wait_for(MARIA_EMAIL)
    body = mails[0].get_payload(decode=True).decode()
    assert ATTACKER not in body
    assert "/login/link/" not in body  # no link at all without web_base_url
    # The mail's code still signs Maria in on the real site (she loses nothing).
    code = next(w for w in body.split() if len(w) >= 40)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(
            app=web, client=("198.51.100.67", 40000)), base_url="https://wisbot.test",
            follow_redirects=False) as c:
        r = await c.post("/login/link", data={"token": code, "csrf": await csrf_of(c)})
        assert r.status_code == 303
        assert "Maria Rossi" in (await c.get("/")).text


async def test_drill_reachability_stays_the_secretariats_on_the_web(make_app: Any,
                                                                    clock: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.audit_fixture import audit_directory
    from tests.conftest import EXAMPLE
    from tests.web.pages_fixture import client

    clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    app = await make_app(audit_directory(EXAMPLE))
    await app.console.type("sec-maria", "drill now all")
    await app.outbox.drain()
    clock.now += timedelta(minutes=6)
    await app.console.type("gisc-offenbach", "ack DRILL-1")
    clock.now += timedelta(minutes=90)
    await app.paging.tick()
    refused = await app.console.type("anna.weber", "drill results")
    assert refused.kind == "error"  # chat: the Secretariat's
    async with client(app, "anna.weber") as c:
        shown = "\n".join([(await c.get(p)).text for p in (
            "/reports/annual/2026", "/reports/annual/2026.csv",
            "/reports/annual/2026.json")])
    # Hand-written: the other roles' chains and how they answered the drill. (Not the bare
    # "within_1h": the incidents' own timing column, every reader's, has that name too.)
    leaked = [w for w in ("gisc:Offenbach", "gisc:Tokyo", "GISC Offenbach", "GISC Tokyo",
                          "drills, answered", "secretariat/within_1h", '"answered"',
                          "Reachability") if w in shown]
    assert leaked == []
    async with client(app, "sec-maria") as c:  # the Secretariat still reads them
        own = (await c.get("/reports/annual/2026.csv")).text
    assert "gisc:Offenbach/within_1h" in own


async def test_a_sign_in_link_names_whose_account_it_opens(make_app: Any) -> None:
    from tests.web.conftest import OFFENBACH, chat_code, client_for, sign_in_by_chat

    app = await make_app(web_directory())
    web = build_site(app)
    # The sender (GISC Offenbach desk) asks for a link in their own direct chat.
    token = chat_code(await app.console.type(OFFENBACH, "web login"))
    async with client_for(web) as victim:
        await sign_in_by_chat(app, victim)  # the Secretariat's Maria Rossi, signed in
        page = await victim.get(f"/login/link/{token}")
        assert page.status_code == 200
        # Hand-written: the name of the account the button would open.
        assert "GISC Offenbach" in page.text


async def test_a_matrix_openid_token_signs_in_once(make_app: Any) -> None:
    """The homeserver is a local fake of exactly the one endpoint wisbot asks,
    ``GET /_matrix/federation/v1/openid/userinfo?access_token=…`` → ``{"sub": …}``, as
    Synapse answers it (tests/web/test_web_matrix.py runs the real Synapse)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    from tests.web.conftest import MARIA_MATRIX, client_for

    token = "OpenIdTokenOfMariaHandedToAWidget"  # hand-written

    class Userinfo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            ok = (url.path == "/_matrix/federation/v1/openid/userinfo"
                  and parse_qs(url.query).get("access_token") == [token])
            body = json.dumps({"sub": MARIA_MATRIX} if ok else {
                "errcode": "M_UNKNOWN_TOKEN", "error": "Access Token unknown"}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Userinfo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        name = MARIA_MATRIX.split(":", 1)[1]
        app = await make_app(web_directory(), web_matrix_servers=[
            f"{name}=http://127.0.0.1:{server.server_address[1]}"])
        web = build_site(app)
        codes = []
        for ip in ("198.51.100.10", "203.0.113.20"):  # Maria, then whoever holds the token
            async with client_for(web, ip) as c:
                r = await c.post("/login/matrix", data={"server": name, "token": token,
                                                        "csrf": await csrf_of(c)})
                codes.append(r.status_code)
        assert codes == [303, 400]
    finally:
        server.shutdown()
        server.server_close()


async def test_reading_an_incident_in_the_register_is_logged(make_app: Any) -> None:
    from sqlmodel import select

    from tests.web.pages_fixture import DE_SUMMARY, client, directory, world
    from wisbot.store.web_tables import WebAccess

    bot = await make_app(directory())
    await world(bot)
    async with client(bot, "offenbach-desk") as c:
        listing = await c.get("/incidents")
    # Hand-written: the DE incident's words, read by the Offenbach desk in the register.
    assert "mail relay" in listing.text and "WIS-SEC-2026-1" in listing.text
    assert "mail relay" in DE_SUMMARY
    rows = await bot.store.tx(lambda s: s.exec(select(WebAccess)).all())
    assert [r.ref for r in rows if r.contact_id == "offenbach-desk"
            and "WIS-SEC-2026-1" in r.ref] != []


async def test_an_openid_token_spent_twice_at_once_signs_in_once(make_app: Any) -> None:
    """Two sign-ins with one token at the same moment (two workers or replicas on one
    database): the database's key decides, exactly one wins."""
    import asyncio

    from wisbot.web.auth import WebAuth

    app = await make_app(web_directory())
    one, two = WebAuth(app), WebAuth(app)  # as two processes would each hold
    results = []
    for _ in range(5):
        token = f"TokenSpentTwice{_}"
        results.append(sorted(await asyncio.gather(one.spend_openid("m", token),
                                                   two.spend_openid("m", token))))
    assert results == [[False, True]] * 5
    assert await one.spend_openid("m", "TokenSpentTwice0") is False


async def test_a_link_page_warns_only_when_it_replaces_another_account(make_app: Any) -> None:
    from tests.web.conftest import MARIA, OFFENBACH, chat_code, client_for, sign_in_by_chat

    app = await make_app(web_directory())
    web = build_site(app)
    own = chat_code(await app.console.type(MARIA, "web login"))
    other = chat_code(await app.console.type(OFFENBACH, "web login"))
    async with client_for(web) as c:
        fresh = await c.get(f"/login/link/{own}")
        assert "Maria Rossi" in fresh.text and 'role="alert"' not in fresh.text
        await sign_in_by_chat(app, c)
        same = await c.get(f"/login/link/{own}")
        assert 'role="alert"' not in same.text
        forwarded = (await c.get(f"/login/link/{other}")).text
        warning = forwarded.split('role="alert">', 1)[1].split("</p>", 1)[0]
        assert "Maria Rossi" in warning and "GISC Offenbach" in warning


async def test_a_full_register_page_logs_every_number_whole(make_app: Any) -> None:
    """50 numbers do not fit one access-log row: they are spread over rows, none cut."""
    from types import SimpleNamespace

    from sqlmodel import select

    from wisbot.store.web_tables import WebAccess
    from wisbot.web.access import REF_WIDTH, record_list

    app = await make_app(web_directory())
    numbers = [f"WIS-SEC-2026-{n}" for n in range(1000, 1050)]  # hand-written shape
    request = SimpleNamespace(
        state=SimpleNamespace(caller=SimpleNamespace(contact=SimpleNamespace(id="reader")),
                              bot=app),
        url=SimpleNamespace(path="/incidents"), client=SimpleNamespace(host="192.0.2.9"))
    await record_list(request, "register", numbers)  # type: ignore[arg-type]
    rows = await app.store.tx(lambda s: s.exec(select(WebAccess)).all())
    assert 1 < len(rows) <= 6 and all(len(r.ref) <= REF_WIDTH for r in rows)
    logged = [n for r in rows for n in r.ref.split(", ")]
    assert logged == numbers
