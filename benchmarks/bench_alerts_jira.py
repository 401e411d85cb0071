"""Global Monitor alerts in, WIS2 IMS mirror out, on SQLite.

1. ``alerts.ingest``: 200 Alertmanager notifications of 25 alerts (5,000 alerts over 100
   centres: 10 % critical, 30 % error, 60 % warning), received through AlertService (the
   HTTP layer is aiohttp's). Baseline, measured in the same run: the same 200
   notifications again, all repeats (the receipt lookup alone).
2. ``jira.mirror``: 300 ticket changes (100 tickets opened, assigned, moved) mirrored to
   the local fake Jira Data Center API (tests/_fake_jira.py). Baseline: as many plain
   ``GET /search`` calls to the same fake, so the ratio is wisbot's cost per change over
   one HTTP round trip.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from tests._fake_jira import FakeJira  # noqa: E402
from wisbot.adapters.console import ConsoleAdapter  # noqa: E402
from wisbot.app import App  # noqa: E402
from wisbot.clock import FakeClock  # noqa: E402
from wisbot.directory import load_directory, parse_directory  # noqa: E402
from wisbot.domain.watch import TicketState  # noqa: E402
from wisbot.services.context import Caller  # noqa: E402
from wisbot.settings import Settings  # noqa: E402
from wisbot.store.engine import upgrade  # noqa: E402
from wisbot.store.watch_tables import WatchTicket  # noqa: E402

EXAMPLE = ROOT / "deploy" / "directory.example.yaml"
COUNTRIES = ["de", "jp", "fr", "gb", "br", "us", "cn", "au", "za", "in"]


def directory() -> Any:
    data = load_directory(EXAMPLE).model_dump(mode="json")
    data["rooms"].append({"key": "duty", "role": "duty", "platform": "console"})
    data["contacts"].append({"id": "watch-op", "name": "Watch Operator", "roles": ["watch"]})
    for g in data["giscs"]:
        g["jira_account"] = f"{g['name'].lower()}.gisc"
    return parse_directory(data)


def notifications() -> list[dict[str, Any]]:
    out = []
    n = 0
    for i in range(200):
        alerts = []
        for _ in range(25):
            sev = "critical" if n % 10 == 0 else "error" if n % 10 < 4 else "warning"
            centre = f"{COUNTRIES[n % 10]}-centre{(n // 10) % 10}"
            alerts.append({
                "status": "firing",
                "labels": {"alertname": f"rule_{sev}_{n % 7}", "centre_id": centre,
                           "severity": sev},
                "annotations": {"summary": f"{sev} condition {n % 7}"},
                "startsAt": "2026-03-02T08:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{n:016x}"})
            n += 1
        out.append({"version": "4", "status": "firing", "receiver": "wisbot",
                    "groupKey": f"g{i}", "alerts": alerts})
    return out


async def main() -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    fake = FakeJira(token="pat", users=tuple(f"{g.name.lower()}.gisc"
                                             for g in load_directory(EXAMPLE).giscs))
    await fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        s = Settings(database_url=url, directory=EXAMPLE, watch_enabled=False,
                     jira_url=fake.url, jira_token="pat")
        app = App(s, directory=directory(), clock=clock,
                  adapters=[ConsoleAdapter(echo=False)], run_worker=False)
        await app.start()
        alerts = app.alerts_jira.alerts
        docs = notifications()
        t0 = time.perf_counter()
        for d in docs:
            await alerts.receive(d)
        fresh = time.perf_counter() - t0
        t0 = time.perf_counter()
        for d in docs:
            await alerts.receive(d)
        repeats = time.perf_counter() - t0
        print(f"alerts.ingest: {5000 / fresh:.0f} alerts/s (5000 alerts, {fresh:.2f} s; "
              f"repeats {repeats:.2f} s) (ratio={fresh / repeats:.2f} vs baseline)")

        mirror = app.alerts_jira.mirror
        assert mirror is not None
        await mirror.tick(poll=False)  # the alert tickets, not measured
        w = app.services.watch
        caller = Caller(contact=app.directory.contact("watch-op"),
                        room=app.directory.room("duty"), platform="console",
                        roles=frozenset({"watch"}))
        ids = []
        for i in range(100):
            await w.add_ticket(caller, "Exeter", f"Finding {i}")
        ids = await app.store.tx(lambda s: list(s.exec(select(WatchTicket.id).where(
            col(WatchTicket.finding).startswith("Finding "))).all()))
        for i, n in enumerate(ids):
            await w.assign_ticket(caller, n, "Exeter")
            await w.move_ticket(caller, n, TicketState.PROGRESS, f"step {i}")
        t0 = time.perf_counter()
        done = await mirror.tick(poll=False)
        took = time.perf_counter() - t0
        assert done == 300, done
        async with httpx.AsyncClient(base_url=fake.url,
                                     headers={"Authorization": "Bearer pat"}) as c:
            t0 = time.perf_counter()
            for _ in range(300):
                await c.get("/rest/api/2/search", params={"jql": 'project = "WIS2IMS"',
                                                          "maxResults": 1})
            raw = time.perf_counter() - t0
        print(f"jira.mirror: {300 / took:.0f} changes/s (300 changes, {took:.2f} s; 300 "
              f"plain HTTP calls {raw:.2f} s) (ratio={took / raw:.2f} vs baseline)")
        await app.stop()
    await fake.stop()


if __name__ == "__main__":
    asyncio.run(main())
