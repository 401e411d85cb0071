"""Signing in and web security, over HTTP against the real site (in process): cookie flags,
CSRF refusals, the security headers, no-store, rate limits, one-time links, sign-out and
``web logout-all``, the access log, the same 404 for everything hidden."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from typing import Any

import pytest
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from typer.testing import CliRunner

from tests.web.conftest import (
    MARIA,
    MARIA_EMAIL,
    OFFENBACH,
    OFFENBACH_EMAIL,
    chat_code,
    client_for,
    csrf_of,
    sign_in_by_chat,
    web_directory,
)
from wisbot.store.web_tables import WebLoginToken, WebSession
from wisbot.web.access import record_access
from wisbot.web.app import build_web_app
from wisbot.web.auth import WebAuth
from wisbot.web.server import build_site, site_routes

SESSION = "__Host-wisbot-session"


@pytest.fixture
async def site(make_app: Any) -> Any:
    app = await make_app(web_directory())
    return app, build_site(app)


def set_cookies(response: Any) -> dict[str, Any]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return {name: morsel for name, morsel in jar.items()}


async def test_headers_on_every_page(site: Any) -> None:
    _app, web = site
    async with client_for(web) as c:
        for path in ("/login", "/", "/no-such-page", "/access-log"):
            r = await c.get(path)
            csp = r.headers["content-security-policy"]
            assert "default-src 'self'" in csp, path
            assert "frame-ancestors 'none'" in csp, path
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
            assert r.headers["x-content-type-options"] == "nosniff", path
            assert r.headers["referrer-policy"] == "no-referrer", path
            assert r.headers["cache-control"] == "no-store", path
        page = await c.get("/login")
        assert "<script" not in page.text and "style=" not in page.text
        assert '<html lang="en" dir="ltr">' in page.text
        assert 'href="#main"' in page.text and '<label for="email">' in page.text
        css = await c.get("/static/wisbot.css")
        assert css.status_code == 200 and "no-store" not in css.headers.get(
            "cache-control", "")


async def test_cookie_flags_and_hashed_session(site: Any) -> None:
    app, web = site
    async with client_for(web) as c:
        reply = await app.console.type(MARIA, "web login")
        token = chat_code(reply)
        r = await c.post("/login/link", data={"token": token, "csrf": await csrf_of(c)})
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = set_cookies(r)[SESSION]
        assert cookie["secure"] and cookie["httponly"]
        assert cookie["samesite"].lower() == "lax" and cookie["path"] == "/"
        assert not cookie["domain"]
        csrf_cookie = set_cookies(await client_for(web).get("/login"))["__Host-wisbot-csrf"]
        assert csrf_cookie["secure"] and csrf_cookie["samesite"].lower() == "strict"
        home = await c.get("/")
        assert home.status_code == 200 and "Signed in as Maria Rossi" in home.text

    def rows(s: Any) -> list[WebSession]:
        return list(s.exec(select(WebSession)).all())

    stored = await app.store.tx(rows)
    assert len(stored) == 1 and stored[0].contact_id == MARIA
    assert cookie.value not in stored[0].id_hash  # only the hash is at rest
    links = await app.store.tx(lambda s: list(s.exec(select(WebLoginToken)).all()))
    assert all(token != row.token_hash for row in links)


async def test_dev_mode_cookies_without_secure(make_app: Any) -> None:
    app = await make_app(web_directory(), web_dev=True)
    web = build_site(app)
    async with client_for(web) as c:
        reply = await app.console.type(MARIA, "web login")
        r = await c.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
        r = await c.post("/login/link", data={"token": chat_code(reply), "csrf": csrf})
        cookie = set_cookies(r)["wisbot-session"]
        assert not cookie["secure"] and cookie["httponly"]


async def test_csrf_refused(site: Any) -> None:
    app, web = site
    async with client_for(web) as c:
        session = await sign_in_by_chat(app, c)
        good = await csrf_of(c)
        for data in ({}, {"csrf": ""}, {"csrf": "x" * 43}, {"csrf": good + "x"}):
            r = await c.post("/logout", data=data)
            assert r.status_code == 403, data
            assert "did not come from this site" in r.text
        # A JSON or text POST carries no form token: refused as well.
        r = await c.post("/logout", content=b"{}", headers={"content-type": "application/json"})
        assert r.status_code == 403
        assert (await c.get("/")).status_code == 200  # still signed in
        # Another site's page can post the form but not read or set the cookie.
        async with client_for(web) as stranger:
            r = await stranger.post("/logout", data={"csrf": good},
                                    headers={"cookie": f"{SESSION}={session}"})
            assert r.status_code == 403
        assert (await c.get("/")).status_code == 200
        r = await c.post("/logout", data={"csrf": good})
        assert r.status_code == 200 and "signed out" in r.text


async def test_oversized_form_refused(site: Any) -> None:
    _app, web = site
    async with client_for(web) as c:
        csrf = await csrf_of(c)
        r = await c.post("/login/email", data={"csrf": csrf, "email": "a" * (1024 * 1024)})
        assert r.status_code == 413 and "too large" in r.text


async def test_signout_revokes_the_session(site: Any) -> None:
    app, web = site
    async with client_for(web) as c:
        session = await sign_in_by_chat(app, c)
        assert (await c.get("/")).status_code == 200
        r = await c.post("/logout", data={"csrf": await csrf_of(c)})
        assert r.status_code == 200
    # The old cookie, replayed by someone who copied it, is dead on the server.
    async with client_for(web) as thief:
        r = await thief.get("/", headers={"cookie": f"{SESSION}={session}"})
        assert r.status_code == 303 and r.headers["location"] == "/login"


async def test_logout_all_from_chat_and_cli(site: Any) -> None:
    app, web = site
    phone, laptop, other = client_for(web), client_for(web), client_for(web)
    async with phone, laptop, other:
        await sign_in_by_chat(app, phone)
        await sign_in_by_chat(app, laptop)
        await sign_in_by_chat(app, other, OFFENBACH)
        reply = await app.console.type(MARIA, "web logout-all")
        assert "2 session(s) ended" in reply.plain()
        for c in (phone, laptop):
            assert (await c.get("/")).status_code == 303
        assert (await other.get("/")).status_code == 200  # someone else's: untouched
        # The operator's command, for a lost laptop.
        await sign_in_by_chat(app, laptop)
        result = CliRunner().invoke(
            __import__("wisbot.cli", fromlist=["app"]).app,
            ["web", "logout-all", MARIA, "--database-url", app.settings.database_url])
        assert result.exit_code == 0, result.output
        assert "1 web session(s) of sec-maria ended" in result.output
        assert (await laptop.get("/")).status_code == 303


async def test_page_button_signs_out_everywhere(site: Any) -> None:
    app, web = site
    one, two = client_for(web), client_for(web)
    async with one, two:
        await sign_in_by_chat(app, one)
        await sign_in_by_chat(app, two)
        home = await one.get("/")
        csrf = re.search(r'name="csrf" value="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]
        assert (await one.post("/logout", data={"csrf": csrf, "everywhere": "1"})
                ).status_code == 200
        assert (await two.get("/")).status_code == 303


async def test_web_login_only_in_the_direct_chat(site: Any) -> None:
    app, _web = site
    room = app.directory.rooms_with_role("secretariat")[0].key
    reply = await app.console.type(MARIA, "web login", room)
    assert "direct chat" in reply.plain()
    assert not re.search(r"[A-Za-z0-9_\-]{40,}", reply.plain())
    tokens = await app.store.tx(lambda s: list(s.exec(select(WebLoginToken)).all()))
    assert tokens == []


async def test_link_single_use_and_expiry(site: Any, clock: Any) -> None:
    app, web = site
    async with client_for(web) as c:
        token = chat_code(await app.console.type(MARIA, "web login"))
        # Opening the link (a mail scanner does) only shows the button.
        for _ in range(2):
            r = await c.get(f"/login/link/{token}")
            assert r.status_code == 200 and 'id="use-link"' in r.text
        csrf = await csrf_of(c)
        assert (await c.post("/login/link", data={"token": token, "csrf": csrf})
                ).status_code == 303
        replay = await c.post("/login/link", data={"token": token, "csrf": csrf})
        assert replay.status_code == 400 and "already used" in replay.text
        assert (await c.get(f"/login/link/{token}")).status_code == 400
        late = chat_code(await app.console.type(MARIA, "web login"))
        clock.advance(minutes=15, seconds=1)
        r = await c.post("/login/link", data={"token": late, "csrf": csrf})
        assert r.status_code == 400
        forged = await c.post("/login/link", data={"token": "A" * 43, "csrf": csrf})
        assert forged.status_code == 400


async def test_new_sign_in_ends_the_old_session(site: Any) -> None:
    app, web = site
    async with client_for(web) as c:
        first = await sign_in_by_chat(app, c)
        second = await sign_in_by_chat(app, c, OFFENBACH)
        assert first != second
        assert "GISC Offenbach" in (await c.get("/")).text
    async with client_for(web) as copy:
        r = await copy.get("/", headers={"cookie": f"{SESSION}={first}"})
        assert r.status_code == 303


async def test_session_expires(site: Any, clock: Any) -> None:
    app, web = site
    async with client_for(web) as c:
        await sign_in_by_chat(app, c)
        clock.advance(hours=app.settings.web_session_hours, seconds=1)
        assert (await c.get("/")).status_code == 303


async def test_rate_limits(site: Any) -> None:
    app, web = site
    # Per identity: a sixth e-mail to one address within 15 minutes is refused, from
    # whichever address it comes.
    for i in range(5):
        async with client_for(web, f"203.0.113.{i}") as c:
            r = await c.post("/login/email", data={"email": OFFENBACH_EMAIL,
                                                   "csrf": await csrf_of(c)})
            assert r.status_code == 200
    async with client_for(web, "203.0.113.99") as c:
        r = await c.post("/login/email", data={"email": OFFENBACH_EMAIL.upper(),
                                               "csrf": await csrf_of(c)})
        assert r.status_code == 429 and "Too many" in r.text
    # Per IP: 20 attempts, then refused, whatever the identity; another IP still may.
    async with client_for(web, "192.0.2.1") as c:
        csrf = await csrf_of(c)
        codes = [(await c.post("/login/link", data={"token": f"guess{i}" * 8, "csrf": csrf})
                  ).status_code for i in range(21)]
        assert codes[:20] == [400] * 20 and codes[20] == 429
    async with client_for(web, "192.0.2.2") as c:
        await sign_in_by_chat(app, c)


async def test_same_answer_for_unknown_address(make_app: Any, smtp: Any) -> None:
    inbox, port = smtp
    app = await make_app(web_directory(), smtp_host="127.0.0.1", smtp_port=port,
                         web_base_url="https://wisbot.example.org")
    web = build_site(app)
    async with client_for(web) as c:
        known = await c.post("/login/email", data={"email": MARIA_EMAIL,
                                                   "csrf": await csrf_of(c)})
        unknown = await c.post("/login/email", data={"email": "mallory@example.net",
                                                     "csrf": await csrf_of(c)})
        assert known.status_code == unknown.status_code == 200
        assert known.text == unknown.text
        mail = (await inbox.wait_for(MARIA_EMAIL))[0]
        link = inbox.link(mail)
        assert link.startswith("https://wisbot.example.org/login/link/")
        assert [m["To"] for m in inbox.messages] == [MARIA_EMAIL]
        token = link.rsplit("/", 1)[1]
        csrf = await csrf_of(c)
        assert (await c.post("/login/link", data={"token": token, "csrf": csrf})
                ).status_code == 303
        assert "Maria Rossi" in (await c.get("/")).text
        assert (await c.post("/login/link", data={"token": token, "csrf": csrf})
                ).status_code == 400


async def opened(request: Request) -> PlainTextResponse:
    ref = request.path_params["ref"]
    if request.state.caller is None:
        return PlainTextResponse("", status_code=404)
    await record_access(request, "incident", ref)
    return PlainTextResponse(ref)


async def test_access_log_is_the_secretariats(make_app: Any) -> None:
    app = await make_app(web_directory())
    auth = WebAuth(app)
    app.services.extra["web_auth"] = auth
    web = build_web_app(app, [Route("/incident/{ref}", opened), *site_routes()],
                        authenticate=auth.authenticate)
    async with client_for(web, "198.51.100.20") as gisc, client_for(web) as sec:
        await sign_in_by_chat(app, gisc, OFFENBACH)
        await sign_in_by_chat(app, sec, MARIA)
        assert (await gisc.get("/incident/WIS-SEC-2026-0042")).status_code == 200
        log = await sec.get("/access-log")
        assert log.status_code == 200
        assert "GISC Offenbach operations desk (gisc-offenbach)" in log.text
        assert "WIS-SEC-2026-0042" in log.text and "/incident/WIS-SEC-2026-0042" in log.text
        filtered = await sec.get("/access-log", params={"contact": MARIA})
        assert "WIS-SEC-2026-0042" not in filtered.text
        # Anyone else: the same 404 as an address that does not exist.
        hidden = await gisc.get("/access-log")
        missing_page = await gisc.get("/no-such-page")
        assert hidden.status_code == missing_page.status_code == 404
        assert hidden.text == missing_page.text
        assert "WIS-SEC-2026-0042" not in hidden.text
        async with client_for(web) as nobody:
            assert (await nobody.get("/access-log")).text == (
                await nobody.get("/no-such-page")).text


async def test_person_language_and_rtl(site: Any) -> None:
    app, web = site
    async with client_for(web) as c:
        await sign_in_by_chat(app, c, OFFENBACH)
        await app.console.type(OFFENBACH, "language ar")
        home = await c.get("/")
        assert '<html lang="ar" dir="rtl">' in home.text
        assert "Signed in as" not in home.text  # translated
    async with client_for(web) as anonymous:
        page = await anonymous.get("/login", headers={"accept-language": "fr-CH, en;q=0.5"})
        assert '<html lang="fr" dir="ltr">' in page.text


async def test_refusals_in_the_readers_language(site: Any) -> None:
    _app, web = site
    async with client_for(web) as c:
        c.headers["accept-language"] = "fr"
        r = await c.post("/login/matrix", data={"server": "evil.example", "token": "x",
                                                "csrf": await csrf_of(c)})
        assert r.status_code == 400
        assert "Connexion Matrix refusée : wisbot n’accepte pas les connexions" in r.text
        r = await c.post("/login/link", data={"token": "x", "csrf": "wrong" * 5})
        assert r.status_code == 403 and "Ce formulaire a expiré" in r.text
