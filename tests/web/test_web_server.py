"""The server for real: inside ``wisbot run``'s App when enabled, ``wisbot web`` as a second
process on the same database (sessions and rate limits shared), and a browser signing in
by an e-mail link (aiosmtpd) and signing out."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ROOT
from tests.web.conftest import (
    MARIA,
    MARIA_EMAIL,
    OFFENBACH_EMAIL,
    chat_code,
    click_and_load,
    screenshot,
    text_at,
    web_directory,
    web_directory_data,
)
from wisbot.web.server import WebServer

SESSION = "wisbot-session"  # dev mode (plain http on loopback): no __Host- prefix


async def csrf_over_http(c: httpx.AsyncClient) -> str:
    r = await c.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert found, r.text
    return found.group(1)


async def test_run_serves_the_web_when_enabled(make_app: Any) -> None:
    app = await make_app(web_directory(), web_enabled=True, web_port=0, web_dev=True)
    assert app.web is not None and app.web.url
    url = app.web.url
    async with httpx.AsyncClient(base_url=url) as c:
        r = await c.get("/login")
        assert r.status_code == 200 and "Sign in" in r.text
        assert r.headers["cache-control"] == "no-store"
        assert "server" not in r.headers  # uvicorn's banner is off
    await app.stop()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=url) as c:
            await c.get("/login")


async def test_dev_mode_refused_off_loopback(make_app: Any) -> None:
    app = await make_app(web_directory(), web_dev=True)
    with pytest.raises(ValueError, match="loopback only"):
        WebServer(app, host="0.0.0.0", port=0)


def start_wisbot_web(db_url: str, directory: Path) -> tuple[subprocess.Popen[str], str]:
    """``wisbot web`` as its own process on the same database."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WISBOT_WEB_DEV": "1",
           "WISBOT_LOG_LEVEL": "WARNING", "WISBOT_DIRECTORY": str(directory)}
    env.pop("WISBOT_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "wisbot", "web", "--port", "0", "--database-url", db_url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        found = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if found:
            return proc, found.group(1)
    proc.wait(10)
    raise AssertionError("wisbot web did not start: " + "".join(seen))


async def test_two_processes_share_sessions_and_limits(make_app: Any, db_url: str,
                                                       clock: Any, tmp_path: Path) -> None:
    clock.now = datetime.now(UTC)  # the other process reads the real clock
    directory = tmp_path / "directory.yaml"
    directory.write_text(yaml.safe_dump(web_directory_data(), allow_unicode=True))
    app = await make_app(web_directory(), web_dev=True)
    here = WebServer(app, host="127.0.0.1", port=0)
    url_a = await here.start()
    proc, url_b = await asyncio.to_thread(start_wisbot_web, db_url, directory)
    try:
        async with httpx.AsyncClient(base_url=url_a) as a, \
                httpx.AsyncClient(base_url=url_b) as b:
            token = chat_code(await app.console.type(MARIA, "web login"))
            r = await a.post("/login/link", data={"token": token,
                                                  "csrf": await csrf_over_http(a)})
            assert r.status_code == 303
            session = a.cookies[SESSION]
            # The proxy sends the next request to the other process: same person.
            b.cookies.set(SESSION, session)
            home = await b.get("/")
            assert home.status_code == 200 and "Maria Rossi" in home.text
            # The link is used up for the other process too.
            again = await b.post("/login/link", data={"token": token,
                                                      "csrf": await csrf_over_http(b)})
            assert again.status_code == 400
            # Signing out on one signs out on both.
            assert (await b.post("/logout", data={"csrf": await csrf_over_http(b)})
                    ).status_code == 200
            assert (await a.get("/")).status_code == 303
            # Rate limits are counted in the database: five e-mails through one process,
            # the sixth through the other is refused.
            for _ in range(5):
                assert (await a.post("/login/email", data={
                    "email": OFFENBACH_EMAIL, "csrf": await csrf_over_http(a)})
                        ).status_code == 200
            r = await b.post("/login/email", data={"email": OFFENBACH_EMAIL,
                                                   "csrf": await csrf_over_http(b)})
            assert r.status_code == 429
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 20)
        if proc.stdout is not None:
            proc.stdout.close()
        await here.stop()
    assert proc.returncode == 0


async def test_browser_signs_in_by_email_link(make_app: Any, smtp: Any,
                                              db_url: str, request: Any) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the browser run once, on SQLite")
    browser = request.getfixturevalue("browser")
    from selenium.webdriver.common.by import By

    inbox, port = smtp
    app = await make_app(web_directory(), web_dev=True, smtp_host="127.0.0.1",
                         smtp_port=port)
    server = WebServer(app, host="127.0.0.1", port=0)
    url = await server.start()
    app.settings.web_base_url = url  # e-mailed links need the configured address
    try:
        def ask() -> str:
            browser.get(url + "/")
            assert browser.current_url == url + "/login"
            screenshot(browser, "web-login")
            # Keyboard only: the skip link is the first stop.
            from selenium.webdriver.common.keys import Keys

            browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
            focused = browser.switch_to.active_element.get_attribute("href")
            assert focused is not None and focused.endswith("#main")
            browser.find_element(By.ID, "email").send_keys(MARIA_EMAIL)
            click_and_load(browser, "#email-form button")
            return text_at(browser, "h1")

        assert await asyncio.to_thread(ask) == "Check your e-mail"
        link = inbox.link((await inbox.wait_for(MARIA_EMAIL))[0])
        assert link.startswith(url + "/login/link/")

        def follow() -> tuple[str, str, str]:
            browser.get(link)
            click_and_load(browser, "#use-link")
            who = text_at(browser, "#whoami")
            screenshot(browser, "web-email-signed-in")
            click_and_load(browser, "form.signout button")
            after = text_at(browser, "h1")
            browser.get(link)  # the link again: used up
            used = text_at(browser, "h1")
            return who, after, used

        who, after, used = await asyncio.to_thread(follow)
        assert who == "Signed in as Maria Rossi"
        assert after == "Signed out"
        assert used == "Link not valid"
    finally:
        await server.stop()
