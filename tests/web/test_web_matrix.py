"""Signing in with Matrix against a real Synapse: the person's client asks its homeserver
for an OpenID token (``/_matrix/client/v3/user/{userId}/openid/request_token``), wisbot
verifies it at the homeserver's federation userinfo endpoint and maps the Matrix id to the
directory contact. Forged, expired and foreign tokens are refused; a homeserver that is
down is said so, and works again when it is back."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests._services import missing
from tests.matrix.synapse import SERVER_NAME, Registered, Synapse
from tests.web.conftest import (
    MARIA_MATRIX,
    click_and_load,
    client_for,
    csrf_of,
    screenshot,
    text_at,
    web_directory,
)
from wisbot.web.server import WebServer, build_site


@pytest.fixture(scope="module")
def synapse_openid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    import importlib.util

    if importlib.util.find_spec("synapse") is None:
        missing("Matrix sign-in tests need matrix-synapse in the test venv")
    server = Synapse(tmp_path_factory.mktemp("synapse-web"), relaxed=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def people(synapse_openid: Synapse) -> dict[str, Registered]:
    """Maria (in the directory as @maria:wisbot.test) and a stranger (not in it)."""
    return {"maria": synapse_openid.register("maria"),
            "stranger": synapse_openid.register("stranger")}


async def openid_token(server: Synapse, who: Registered) -> dict[str, Any]:
    """What the person's own client obtains from its homeserver."""
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{server.url}/_matrix/client/v3/user/{who.user_id}/openid/request_token",
            headers={"Authorization": f"Bearer {who.access_token}"}, json={})
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture
async def matrix_site(make_app: Any, synapse_openid: Synapse) -> Any:
    app = await make_app(web_directory(), web_matrix_servers=[
        f"{SERVER_NAME}={synapse_openid.url}"])
    return app, build_site(app)


async def post_token(c: httpx.AsyncClient, server: str, token: str) -> httpx.Response:
    return await c.post("/login/matrix", data={"server": server, "token": token,
                                               "csrf": await csrf_of(c)})


async def test_matrix_token_signs_in(matrix_site: Any, synapse_openid: Synapse,
                                     people: dict[str, Registered]) -> None:
    _app, site = matrix_site
    assert people["maria"].user_id == MARIA_MATRIX
    token = await openid_token(synapse_openid, people["maria"])
    assert token["matrix_server_name"] == SERVER_NAME
    async with client_for(site) as c:
        r = await post_token(c, token["matrix_server_name"], token["access_token"])
        assert r.status_code == 303, r.text
        assert "Signed in as Maria Rossi" in (await c.get("/")).text


async def test_forged_expired_and_foreign_tokens_refused(
        matrix_site: Any, synapse_openid: Synapse, people: dict[str, Registered]) -> None:
    _app, site = matrix_site
    async with client_for(site) as c:
        forged = await post_token(c, SERVER_NAME, "ThisIsNotATokenSynapseGave")
        assert forged.status_code == 400 and "refused" in forged.text
        # A real token from a homeserver wisbot was not told to believe.
        token = await openid_token(synapse_openid, people["maria"])
        elsewhere = await post_token(c, "evil.example", token["access_token"])
        assert elsewhere.status_code == 400
        assert "not one wisbot accepts" in elsewhere.text
        # Expired, as Synapse itself judges it (its token table, its clock).
        expired = await openid_token(synapse_openid, people["maria"])
        with sqlite3.connect(synapse_openid.root / "homeserver.db") as db:
            changed = db.execute("UPDATE open_id_tokens SET ts_valid_until_ms = 1 "
                                 "WHERE token = ?", (expired["access_token"],)).rowcount
        assert changed == 1
        r = await post_token(c, SERVER_NAME, expired["access_token"])
        assert r.status_code == 400 and "refused" in r.text
        # A real person the directory does not know.
        stranger = await openid_token(synapse_openid, people["stranger"])
        r = await post_token(c, SERVER_NAME, stranger["access_token"])
        assert r.status_code == 403
        assert (await c.get("/")).status_code == 303  # none of these signed anyone in


async def test_homeserver_down_then_back(matrix_site: Any, synapse_openid: Synapse,
                                         people: dict[str, Registered]) -> None:
    _app, site = matrix_site
    token = await openid_token(synapse_openid, people["maria"])
    await asyncio.to_thread(synapse_openid.stop)
    try:
        async with client_for(site) as c:
            r = await post_token(c, SERVER_NAME, token["access_token"])
            assert r.status_code == 400 and "could not be reached" in r.text
    finally:
        await asyncio.to_thread(synapse_openid.start)
    async with client_for(site) as c:
        r = await post_token(c, SERVER_NAME, token["access_token"])
        assert r.status_code == 303, r.text


async def test_browser_signs_in_with_a_matrix_token(
        make_app: Any, synapse_openid: Synapse, people: dict[str, Registered],
        db_url: str, request: Any) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the browser run once, on SQLite")
    browser = request.getfixturevalue("browser")
    from selenium.webdriver.common.by import By

    app = await make_app(web_directory(), web_dev=True,
                         web_matrix_servers=[f"{SERVER_NAME}={synapse_openid.url}"])
    server = WebServer(app, host="127.0.0.1", port=0)
    url = await server.start()
    token = await openid_token(synapse_openid, people["maria"])
    try:
        def sign_in_and_out() -> tuple[str, str, str]:
            browser.get(url + "/login")
            browser.find_element(By.ID, "server").send_keys(token["matrix_server_name"])
            browser.find_element(By.ID, "token").send_keys(token["access_token"])
            click_and_load(browser, "#matrix-form button")
            who = text_at(browser, "#whoami")
            screenshot(browser, "web-matrix-signed-in")
            click_and_load(browser, "form.signout button")
            after = text_at(browser, "h1")
            browser.get(url + "/")
            return who, after, browser.current_url

        who, after, landed = await asyncio.to_thread(sign_in_and_out)
        assert who == "Signed in as Maria Rossi"
        assert after == "Signed out"
        assert landed == url + "/login"
    finally:
        await server.stop()
