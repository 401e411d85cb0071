"""The web facility under test: a directory with chat identities, the site in process
(httpx over ASGI) or served on a free loopback port (uvicorn), a real SMTP server
(aiosmtpd) and a real headless Chromium (Selenium)."""

from __future__ import annotations

import asyncio
import email
import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.smtp import SMTP, Envelope

from tests._services import missing
from tests.conftest import EXAMPLE, ROOT
from wisbot.directory import Directory, parse_directory

ARTIFACTS = ROOT / "test-artifacts"

# Written by hand: who signs in with what.
MARIA = "sec-maria"
MARIA_EMAIL = "maria.rossi@example.org"
MARIA_MATRIX = "@maria:wisbot.test"
MARIA_SLACK = "U0MARIA"
OFFENBACH = "gisc-offenbach"
OFFENBACH_EMAIL = "ops@gisc-offenbach.example.org"


def web_directory_data(matrix: dict[str, str] | None = None) -> dict[str, Any]:
    """The example directory, with chat identities for the people who sign in."""
    data = yaml.safe_load(EXAMPLE.read_text())
    chats = {MARIA: {"matrix": MARIA_MATRIX, "slack": MARIA_SLACK},
             OFFENBACH: {"matrix": "@offenbach:wisbot.test", "slack": "U0OFFENBACH"}}
    for contact_id, mxid in (matrix or {}).items():
        chats.setdefault(contact_id, {})["matrix"] = mxid
    for contact in data["contacts"]:
        if contact["id"] in chats:
            contact["chat"] = {**contact.get("chat", {}), **chats[contact["id"]]}
    return data


def web_directory(matrix: dict[str, str] | None = None) -> Directory:
    return parse_directory(web_directory_data(matrix), "web-test")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))  # type: ignore[arg-type]
        return "250 OK"

    async def wait_for(self, address: str, n: int = 1, within: float = 10) -> list[Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            found = [m for m in self.messages if m["To"] == address]
            if len(found) >= n:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"no e-mail to {address} within {within} s")

    @staticmethod
    def link(message: Any) -> str:
        body = message.get_payload(decode=True).decode()
        found = re.search(r"(https?://\S+/login/link/\S+)", body)
        assert found, body
        return found.group(1)


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


def client_for(site: Any, ip: str = "198.51.100.7") -> httpx.AsyncClient:
    """A browser-like client over ASGI: https, so Secure cookies are kept and sent."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=site, client=(ip, 40000)),
                             base_url="https://wisbot.test", follow_redirects=False)


async def csrf_of(client: httpx.AsyncClient) -> str:
    """Open the sign-in page as a browser would; the CSRF value its forms carry."""
    r = await client.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert found, r.text
    return found.group(1)


def chat_code(reply: Any) -> str:
    """The one-time code of a ``web login`` answer."""
    text = reply.plain()
    found = re.findall(r"[A-Za-z0-9_\-]{40,}", text)
    assert found, text
    return str(found[-1])


async def sign_in_by_chat(app: Any, client: httpx.AsyncClient, who: str = MARIA) -> str:
    """``web login`` in the direct chat, the code pasted on the page; the session cookie."""
    reply = await app.console.type(who, "web login")
    token = chat_code(reply)
    r = await client.post("/login/link", data={"token": token,
                                               "csrf": await csrf_of(client)})
    assert r.status_code == 303, r.text
    return str(r.cookies.get("__Host-wisbot-session") or "")


# ----- the browser ----------------------------------------------------------------------

@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium (the Debian package) driven by Selenium."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (os.path.exists(chromium) and os.path.exists(driver_path)):
        missing("browser tests need chromium and chromedriver "
                "(apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--window-size=412,915", "--lang=en"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def click_and_load(driver: Any, css: str) -> None:
    """Click a button that submits a form and wait for the next page to load."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, css).click()
    WebDriverWait(driver, 30).until(ec.staleness_of(old))
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def text_at(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    element = WebDriverWait(driver, 30).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css)))
    return str(element.text)
