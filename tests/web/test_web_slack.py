"""Sign in with Slack (OpenID Connect).

Slack is a hosted service: these tests run wisbot's real HTTP calls against a local fake of
exactly the endpoints it uses — ``/openid/connect/authorize`` (the person's consent, which
redirects back with a code), ``/api/openid.connect.token`` (code → ID token, form-encoded,
with the client secret) and ``/api/openid.connect.userInfo`` (Bearer access token) — an
aiohttp server on a free loopback port. State and nonce are checked.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from aiohttp import web

from tests.web.conftest import MARIA_SLACK, client_for, web_directory
from wisbot.web.server import build_site

CLIENT_ID = "1234.5678"
CLIENT_SECRET = "s3cret-of-the-app"
TEAM = "T0WMO"
BASE = "https://wisbot.example.org"


def jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'RS256', 'kid': 'k1'})}.{part(claims)}.c2lnbmF0dXJl"


@dataclass
class FakeSlackOidc:
    user: str = MARIA_SLACK
    team: str = TEAM
    wrong_nonce: bool = False
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    async def authorize(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        self.calls.append(("authorize", q))
        code = secrets.token_hex(8)
        self.codes[code] = q
        raise web.HTTPFound(q["redirect_uri"] + "?" + urlencode({"code": code,
                                                                 "state": q["state"]}))

    async def token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.calls.append(("openid.connect.token", form))
        asked = self.codes.pop(form.get("code", ""), None)
        if asked is None or form.get("client_secret") != CLIENT_SECRET or \
                form.get("client_id") != CLIENT_ID or \
                form.get("redirect_uri") != asked["redirect_uri"]:
            return web.json_response({"ok": False, "error": "invalid_code"})
        access = "xoxp-" + secrets.token_hex(8)
        self.tokens[access] = (self.user, self.team)
        nonce = "another" if self.wrong_nonce else asked["nonce"]
        return web.json_response({"ok": True, "access_token": access, "token_type": "Bearer",
                                  "id_token": jwt({
                                      "iss": "https://slack.com", "aud": CLIENT_ID,
                                      "sub": self.user, "nonce": nonce,
                                      "https://slack.com/user_id": self.user,
                                      "https://slack.com/team_id": self.team})})

    async def userinfo(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        self.calls.append(("openid.connect.userInfo", {"authorization": header}))
        found = self.tokens.get(header.removeprefix("Bearer "))
        if found is None:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response({"ok": True, "sub": found[0],
                                  "https://slack.com/user_id": found[0],
                                  "https://slack.com/team_id": found[1],
                                  "name": "Maria Rossi"})

    def called(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)


@pytest.fixture
async def slack_oidc() -> AsyncIterator[tuple[FakeSlackOidc, web.AppRunner]]:
    fake = FakeSlackOidc()
    app = web.Application()
    app.router.add_get("/openid/connect/authorize", fake.authorize)
    app.router.add_post("/api/openid.connect.token", fake.token)
    app.router.add_post("/api/openid.connect.userInfo", fake.userinfo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield fake, runner
    await runner.cleanup()


@pytest.fixture
async def slack_site(make_app: Any, slack_oidc: Any) -> Any:
    fake, _runner = slack_oidc
    app = await make_app(web_directory(), web_slack_client_id=CLIENT_ID,
                         web_slack_client_secret=CLIENT_SECRET, web_slack_team_id=TEAM,
                         web_slack_api_url=fake.url, web_base_url=BASE)
    return app, build_site(app), fake


async def start(c: httpx.AsyncClient, fake: FakeSlackOidc) -> tuple[str, dict[str, str]]:
    """The browser presses "Sign in with Slack", then consents at Slack: the callback
    path wisbot is sent back to, and the authorize query."""
    r = await c.get("/login/slack")
    assert r.status_code == 303, r.text
    to = urlsplit(r.headers["location"])
    assert f"{to.scheme}://{to.netloc}" == fake.url
    query = {k: v[0] for k, v in parse_qs(to.query).items()}
    async with httpx.AsyncClient() as slack:
        back = await slack.get(r.headers["location"])
    assert back.status_code == 302
    callback = back.headers["location"]
    assert callback.startswith(BASE + "/login/slack/callback?")
    return callback.removeprefix(BASE), query


async def test_sign_in_with_slack(slack_site: Any) -> None:
    _app, site, fake = slack_site
    async with client_for(site) as c:
        callback, query = await start(c, fake)
        assert query["client_id"] == CLIENT_ID and query["scope"] == "openid"
        assert query["team"] == TEAM and query["redirect_uri"] == BASE + "/login/slack/callback"
        assert len(query["state"]) >= 40 and len(query["nonce"]) >= 40
        assert query["state"] != query["nonce"]
        r = await c.get(callback)
        assert r.status_code == 303, r.text
        assert "Signed in as Maria Rossi" in (await c.get("/")).text
        # The same consent, replayed (a copied URL): the state is used up.
        replay = await c.get(callback)
        assert replay.status_code == 400
    assert fake.called("openid.connect.token") == 1
    assert fake.called("openid.connect.userInfo") == 1


async def test_state_mismatch_refused(slack_site: Any) -> None:
    _app, site, fake = slack_site
    async with client_for(site) as c:
        callback, query = await start(c, fake)
        forged = callback.replace(query["state"], "x" * len(query["state"]))
        r = await c.get(forged)
        assert r.status_code == 400 and "not started in this browser" in r.text
        # Someone else's browser: it never had the state cookie.
        async with client_for(site) as other:
            r = await other.get(callback)
            assert r.status_code == 400
            assert (await other.get("/")).status_code == 303
    assert fake.called("openid.connect.token") == 0  # refused before Slack was asked


async def test_nonce_mismatch_refused(slack_site: Any) -> None:
    _app, site, fake = slack_site
    fake.wrong_nonce = True
    async with client_for(site) as c:
        callback, _query = await start(c, fake)
        r = await c.get(callback)
        assert r.status_code == 400 and "did not match" in r.text
        assert (await c.get("/")).status_code == 303


async def test_other_workspace_and_stranger_refused(slack_site: Any) -> None:
    _app, site, fake = slack_site
    fake.team = "T0OTHER"
    async with client_for(site) as c:
        callback, _query = await start(c, fake)
        r = await c.get(callback)
        assert r.status_code == 400 and "workspace" in r.text
    fake.team, fake.user = TEAM, "U0STRANGER"
    async with client_for(site) as c:
        callback, _query = await start(c, fake)
        r = await c.get(callback)
        assert r.status_code == 403 and "not in wisbot&#39;s directory" in r.text


async def test_slack_down_then_back(slack_site: Any) -> None:
    app, site, fake = slack_site
    async with client_for(site) as c:
        callback, _query = await start(c, fake)
        real = fake.url
        app_settings = app.settings
        app_settings.web_slack_api_url = "http://127.0.0.1:9"  # nothing listens there
        r = await c.get(callback)
        assert r.status_code == 400 and "could not be reached" in r.text
        app_settings.web_slack_api_url = real
        callback, _query = await start(c, fake)
        assert (await c.get(callback)).status_code == 303


async def test_not_configured(make_app: Any) -> None:
    app = await make_app(web_directory())
    async with client_for(build_site(app)) as c:
        assert "/login/slack" not in (await c.get("/login")).text
        assert (await c.get("/login/slack")).status_code == 404
