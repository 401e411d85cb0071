"""The pages in a real browser: headless Chromium (the distribution's package) driven by
Selenium through chromedriver, against uvicorn serving the web app on a free loopback
port. Signs in through the authenticate seam (a cookie naming the contact; real sign-in
is web-core's), opens the register, follows an incident by keyboard and by click, reads
the watch board, downloads the annual report. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.requests import Request

from tests._services import missing
from tests.web.pages_fixture import directory, world
from wisbot.directory import Contact
from wisbot.web.app import build_web_app
from wisbot.web.pages import page_routes

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def _browser_paths() -> tuple[str, str]:
    browser = next((p for p in map(shutil.which, CHROMIUM) if p), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing("headless Chromium and chromedriver are needed (apt install chromium "
                "chromium-driver)")
    assert browser is not None and driver is not None
    return browser, driver


def _driver(downloads: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = _browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--window-size=1280,900", "--lang=en"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    return chrome


def _cookie_login(app: Any):  # type: ignore[no-untyped-def]
    async def authenticate(request: Request) -> Contact | None:
        who = request.cookies.get("test-contact")
        return None if who is None else app.directory.contact(who)
    return authenticate


def _walk(base: str, downloads: Path) -> dict[str, Any]:
    """The browser's part (blocking): returns what it read."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    ARTIFACTS.mkdir(exist_ok=True)
    chrome = _driver(downloads)
    seen: dict[str, Any] = {}
    try:
        chrome.get(f"{base}/incidents")
        seen["signed_out"] = chrome.find_element(By.TAG_NAME, "h1").text
        chrome.add_cookie({"name": "test-contact", "value": "tokyo-desk", "path": "/"})
        chrome.get(f"{base}/incidents")
        chrome.save_screenshot(str(ARTIFACTS / "pages-register.png"))
        seen["register"] = chrome.find_element(By.TAG_NAME, "main").text
        # Keyboard: tab to the incident's link and follow it with Enter.
        body = chrome.find_element(By.TAG_NAME, "body")
        for _ in range(40):
            body.send_keys(Keys.TAB) if chrome.switch_to.active_element == body else \
                chrome.switch_to.active_element.send_keys(Keys.TAB)
            if chrome.switch_to.active_element.text == "WIS-SEC-2026-1":
                break
        seen["focused"] = chrome.switch_to.active_element.text
        chrome.switch_to.active_element.send_keys(Keys.ENTER)
        seen["incident_url"] = chrome.current_url
        seen["incident"] = chrome.find_element(By.TAG_NAME, "main").text
        chrome.save_screenshot(str(ARTIFACTS / "pages-incident.png"))
        chrome.get(f"{base}/watch")
        seen["watch"] = chrome.find_element(By.TAG_NAME, "main").text
        seen["svg"] = len(chrome.find_elements(By.CSS_SELECTOR, "figure svg"))
        chrome.save_screenshot(str(ARTIFACTS / "pages-watch.png"))
        chrome.set_window_size(390, 844)  # a phone
        chrome.get(f"{base}/incidents")
        seen["phone_width"] = chrome.execute_script("return window.innerWidth")
        chrome.save_screenshot(str(ARTIFACTS / "pages-register-phone.png"))
        chrome.set_window_size(1280, 900)
        chrome.get(f"{base}/reports/annual/2026")
        seen["report"] = chrome.find_element(By.TAG_NAME, "main").text
        chrome.save_screenshot(str(ARTIFACTS / "pages-annual.png"))
        chrome.find_element(By.LINK_TEXT, "CSV").click()
        deadline = time.monotonic() + 20
        target = downloads / "wis-it-security-2026.csv"
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        seen["csv"] = target.read_text(encoding="utf-8") if target.exists() else None
        chrome.add_cookie({"name": "test-contact", "value": "layla.haddad", "path": "/"})
        chrome.get(f"{base}/incidents")
        seen["ar_dir"] = chrome.find_element(By.TAG_NAME, "html").get_attribute("dir")
        chrome.save_screenshot(str(ARTIFACTS / "pages-register-ar.png"))
    finally:
        chrome.quit()
    return seen


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_register_incident_watch_and_report_in_a_browser(make_app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _browser_paths()
    pytest.importorskip("selenium")
    app = await make_app(directory())
    await world(app)
    web = build_web_app(app, page_routes(), authenticate=_cookie_login(app))
    server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off"))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(200):  # up to 10 s, never a hang
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        seen = await asyncio.to_thread(_walk, f"http://127.0.0.1:{port}", downloads)
    finally:
        server.should_exit = True
        await serving
    assert seen["signed_out"] == "Sign in"
    assert "Incidents that you may see: 1" in seen["register"]
    assert "a WIS centre in the area of GISC Offenbach" in seen["register"]
    assert seen["focused"] == "WIS-SEC-2026-1"
    assert seen["incident_url"].endswith("/incidents/WIS-SEC-2026-1")
    assert "Timeline" in seen["incident"] and "mail relay" in seen["incident"]
    assert "EDZW" not in seen["incident"] and "Anna" not in seen["incident"]
    assert "On watch: GISC Tokyo" in seen["watch"] and seen["svg"] == 1
    assert "SRU search times out since 06:00" in seen["watch"]
    assert seen["phone_width"] <= 400
    assert "Incidents per month and severity" in seen["report"]
    assert seen["csv"] is not None and "2026" in seen["csv"], seen["csv"]
    assert seen["ar_dir"] == "rtl"
    for name in ("register", "incident", "watch", "register-phone", "annual", "register-ar"):
        assert (ARTIFACTS / f"pages-{name}.png").stat().st_size > 1000
