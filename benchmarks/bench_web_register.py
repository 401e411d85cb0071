"""The incident register page with 10,000 incidents, on SQLite and PostgreSQL.

Load: 10,000 incidents over the example directory's 20 centres, every share level, a
third anonymous with a confirmed wording, mixed severities, statuses and RSIT classes,
written straight to the database. Measured in the same run, for the Secretariat (reads
all 10,000, named) and GISC Tokyo's desk (named, anonymised or hidden by the one rule):

* ``GET /incidents`` through the ASGI app (the first page of 50, the count of all the
  person may see), p95 of 40 requests;
* the baseline: the same person's ``incident list all`` in chat (the service's list
  Reply of every incident they may see), p95 of 5 calls.

Target: the register under 200 ms p95. The ratio is the page against the chat list.
PostgreSQL: ``WISBOT_BENCH_POSTGRES_URL`` or ``WISBOT_TEST_POSTGRES_URL``; without it only
SQLite is measured (and the run says so).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import create_engine, make_url, text  # noqa: E402
from sqlmodel import Session  # noqa: E402
from starlette.requests import Request  # noqa: E402

from wisbot.adapters.console import ConsoleAdapter  # noqa: E402
from wisbot.app import App  # noqa: E402
from wisbot.directory import Contact  # noqa: E402
from wisbot.domain.audience import person_roles  # noqa: E402
from wisbot.services.context import Caller  # noqa: E402
from wisbot.settings import Settings  # noqa: E402
from wisbot.store.engine import normalise_url, upgrade  # noqa: E402
from wisbot.store.tables import Incident  # noqa: E402
from wisbot.web.app import build_web_app  # noqa: E402
from wisbot.web.pages import page_routes  # noqa: E402

N = int(os.environ.get("BENCH_N", "10000"))
PAGE_ROUNDS, CHAT_ROUNDS = 40, 5
SHARES = ("secretariat", "principal-gisc", "all-giscs", "group")
RSIT = (None, "fraud/phishing", "intrusions/system-compromise", "availability/dos")
WHO = ("sec-desk", "gisc-tokyo")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def seeder(app: App) -> Callable[[Session], None]:
    """The work that writes the incidents (one transaction)."""
    centres = list(app.directory.centres)
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def work(session: Session) -> None:
        for i in range(N):
            c = centres[i % len(centres)]
            at = start + timedelta(minutes=45 * i)
            anonymous = i % 3 == 0
            session.add(Incident(
                number=f"WIS-SEC-2026-{i + 1}", year=2026, seq=i + 1, centre=c.code,
                member=c.member, principal_gisc=c.principal_gisc,
                share=SHARES[(i // 3) % len(SHARES)], anonymous=anonymous,
                severity=i % 6, highest_severity=i % 6,
                status=("open", "resolved", "closed")[i % 3],
                summary=f"relay {i} at {c.code}: phishing mails with a fake portal login "
                        "reached operators of the message switch",
                anon_summary=(f"relay {i}: phishing mails with a fake portal login reached "
                              "operators") if anonymous else None,
                reported_by="sec-desk", created_at=at, updated_at=at, rsit=RSIT[i % 4]))
    return work


async def measure(url: str) -> dict[str, tuple[float, float, int]]:
    upgrade(url)
    settings = Settings(database_url=url, directory=ROOT / "deploy" / "directory.example.yaml")
    out: dict[str, tuple[float, float, int]] = {}
    async with App(settings, adapters=[ConsoleAdapter(echo=False)], run_worker=False) as app:
        assert app.store is not None
        await app.store.tx(seeder(app))

        async def authenticate(request: Request) -> Contact | None:
            return app.directory.contact(request.headers["x-bench-contact"])

        web = build_web_app(app, page_routes(), authenticate=authenticate)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web),
                                     base_url="http://wisbot.bench") as client:
            for who in WHO:
                contact = app.directory.contact(who)
                caller = Caller(contact=contact, room=None, platform="web",
                                roles=person_roles(app.directory, contact))
                pages: list[float] = []
                for _ in range(PAGE_ROUNDS):
                    t0 = time.perf_counter()
                    r = await client.get("/incidents", headers={"x-bench-contact": who})
                    pages.append(time.perf_counter() - t0)
                    assert r.status_code == 200, r.text[:500]
                shown = int(r.text.split("Incidents that you may see: ")[1].split("<")[0])
                chats: list[float] = []
                for _ in range(CHAT_ROUNDS):
                    t0 = time.perf_counter()
                    reply = await app.services.incidents.list(caller, "all")
                    chats.append(time.perf_counter() - t0)
                assert len(reply.lines) == shown, (len(reply.lines), shown)
                out[who] = (p95(pages), p95(chats), shown)
    return out


def postgres_url() -> tuple[str, Any, str] | None:
    base = os.environ.get("WISBOT_BENCH_POSTGRES_URL") or os.environ.get(
        "WISBOT_TEST_POSTGRES_URL")
    if not base:
        return None
    admin = create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    name = f"wisbot_bench_web_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_url(base)).set(database=name).render_as_string(
        hide_password=False)
    return url, admin, name


def report(db: str, results: dict[str, tuple[float, float, int]]) -> None:
    for who, (page, chat, shown) in results.items():
        print(f"# {db} {who}: {shown} incidents shown; chat list p95 {chat * 1000:.1f} ms",
              flush=True)
        print(f"web_register_{N}_{db}_{who}: {page * 1000:.1f} ms p95 "
              f"(ratio={page / chat:.3f} vs baseline)", flush=True)
        if page > 0.2:
            print(f"# {db} {who}: above the 200 ms target", flush=True)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report("sqlite", asyncio.run(measure(f"sqlite:///{tmp}/web.db")))
    pg = postgres_url()
    if pg is None:
        print("# postgres: skipped (set WISBOT_BENCH_POSTGRES_URL to measure it)")
        return 0
    url, admin, name = pg
    try:
        report("postgres", asyncio.run(measure(url)))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
