"""Web facility benchmark; each line: ``name: value unit (ratio=X vs baseline)``.

Every page request looks its session up in the database (any replica may serve it):

1. ``web_signed_in_page_p95``: p95 latency of a signed-in page (``/``: session lookup by
   hash, the person's language, the template) with 10,000 live sessions and 10,000
   recent sign-in attempts stored, against the baseline of the same stack serving
   ``/static/wisbot.css`` (no database);
2. ``web_sign_in_p95``: p95 of a whole sign-in (rate-limit count, one-time code used up,
   session written), against the same baseline.

Target: a signed-in page under 20 ms p95 on SQLite, so the pages' own work (the register,
the board) dominates. ``WISBOT_TEST_POSTGRES_URL`` set: the same on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import create_engine, insert, text  # noqa: E402

from tests.web.conftest import MARIA, web_directory  # noqa: E402
from wisbot.adapters.console import ConsoleAdapter  # noqa: E402
from wisbot.app import App  # noqa: E402
from wisbot.settings import Settings  # noqa: E402
from wisbot.store.engine import normalise_url, upgrade  # noqa: E402
from wisbot.store.web_tables import WebLoginAttempt, WebSession  # noqa: E402
from wisbot.web.auth import digest, new_secret  # noqa: E402
from wisbot.web.server import build_site  # noqa: E402

N = 10_000
ROUNDS = 300


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] * 1000


def fill(url: str) -> None:
    now = datetime.now(UTC)
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(insert(WebSession), [
            {"id_hash": digest(new_secret()), "contact_id": f"c{i % 500}", "method": "email",
             "created_at": now, "expires_at": now + timedelta(hours=12), "revoked_at": None}
            for i in range(N)])
        conn.execute(insert(WebLoginAttempt), [
            {"key": f"ip:10.0.{i // 250}.{i % 250}", "at": now} for i in range(N)])
    engine.dispose()


async def measure(url: str, label: str) -> None:
    fill(url)
    settings = Settings(database_url=url, directory=ROOT / "deploy/directory.example.yaml",
                        web_login_limit_ip=10 * ROUNDS)
    async with App(settings, directory=web_directory(), adapters=[ConsoleAdapter(echo=False)],
                   run_worker=False) as app:
        site = build_site(app)
        transport = httpx.ASGITransport(app=site, client=("198.51.100.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="https://b.test") as c:
            page = await c.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]

            async def sign_in() -> float:
                code = re.findall(r"[A-Za-z0-9_\-]{40,}",
                                  (await app.console.type(MARIA, "web login")).plain())[-1]
                start = time.perf_counter()
                r = await c.post("/login/link", data={"token": code, "csrf": csrf})
                elapsed = time.perf_counter() - start
                assert r.status_code == 303, r.text
                return elapsed

            logins = [await sign_in() for _ in range(ROUNDS // 3)]

            async def timed(path: str) -> float:
                start = time.perf_counter()
                r = await c.get(path)
                elapsed = time.perf_counter() - start
                assert r.status_code == 200, (path, r.status_code)
                return elapsed

            for _ in range(20):  # warm up
                await timed("/")
                await timed("/static/wisbot.css")
            pages, static = [], []
            for _ in range(ROUNDS):
                pages.append(await timed("/"))
                static.append(await timed("/static/wisbot.css"))
    base = p95(static)
    print(f"web_signed_in_page_p95_{label}: {p95(pages):.2f} ms "
          f"(ratio={p95(pages) / base:.2f} vs baseline)")
    print(f"web_sign_in_p95_{label}: {p95(logins):.2f} ms "
          f"(ratio={p95(logins) / base:.2f} vs baseline)")
    print(f"   baseline (static file through the same stack): {base:.2f} ms p95")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        asyncio.run(measure(url, "sqlite"))
    pg = os.environ.get("WISBOT_TEST_POSTGRES_URL")
    if pg:
        admin = create_engine(normalise_url(pg), isolation_level="AUTOCOMMIT")
        name = f"wisbot_bench_web_{os.getpid()}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            from sqlalchemy.engine import make_url

            url = make_url(normalise_url(pg)).set(database=name).render_as_string(
                hide_password=False)
            upgrade(url)
            asyncio.run(measure(url, "postgres"))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
