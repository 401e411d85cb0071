"""The summary report: the template's table and footer, Global Services figures at start
and end of the period, ticket activity; in chat, Markdown and CSV (CLI)."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner


async def _period_with_tickets(app: Any, fake: Any, clock: Any) -> None:
    w = app.services.watch
    fake.set("gb-one", "broker", figure=5200)
    fake.set("gdc-one", "gdc", figure=41_000)
    await w.run("daily")  # 02/03: the start figures
    await app.console.type("watch-op", "watch ticket add Offenbach OAI provider not active",
                           "gisc-tokyo")
    await app.console.type("watch-op", "watch ticket 1 done Provider restarted", "gisc-tokyo")
    for svc in ("oaipmh", "sru"):
        fake.set("Exeter", svc, "fail", reason="timeout")
    await w.run("manual", "Exeter")  # ticket 2, by the probes
    fake.set("Exeter", "oaipmh", "ok", figure=100)
    await w.run("manual", "Exeter")  # partially open
    await app.console.type("watch-op", "watch ticket add Tokyo GISC Tokyo unreachable "
                           "impact=very-high", "gisc-tokyo")
    await app.console.type("watch-op", "watch ticket 3 assign gisc-tokyo", "gisc-tokyo")
    clock.advance(days=10)  # 12/03: the end figures
    fake.set("gb-one", "broker", figure=4100)
    fake.set("gdc-one", "gdc", "fail", reason="HTTP 503")
    await w.run("daily")


async def test_report_table_footer_figures_and_activity(watch_app: Any, fake_sweep: Any,
                                                        clock: Any) -> None:
    app = await watch_app(duty_room=True)
    await _period_with_tickets(app, fake_sweep, clock)
    rep = await app.services.watch.report()
    assert (rep.start, rep.end) == (date(2026, 3, 1), date(2026, 3, 12))
    md = rep.markdown()
    assert "| ID | date | GISC | result | status | reporter |" in md
    assert "| 1 | 02/03/2026 | GISC Offenbach | OAI provider not active | closed | Watch " \
           "Operator |" in md
    assert "| 2 | 02/03/2026 | GISC Exeter | OAI-PMH provider not active (timeout); SRU search " \
           "not active (timeout) | partially open | wisbot (GISC Watch probes) |" in md
    assert "| 3 | 02/03/2026 | GISC Tokyo | GISC Tokyo unreachable | open | Watch Operator |" in md
    assert "Duty GISC: GISC Tokyo; watch period from 01/03/2026 to 12/03/2026" in md
    assert "| Global Broker gb-one | 5,200 (ok, 02/03 09:00) | 4,100 (ok, 12/03 09:00) |" in md
    assert "| Global Discovery Catalogue gdc-one | 41,000 (ok, 02/03 09:00) | unreachable " \
           "(12/03 09:00) |" in md
    assert rep.activity == {"opened": 4, "assigned": 1, "closed": 1, "reminders sent": 0,
                            "still open": 3}
    # (4 opened: the three above and the gdc-one ticket of the last daily run)


async def test_report_in_chat_and_bad_dates(watch_app: Any, fake_sweep: Any,
                                            clock: Any) -> None:
    app = await watch_app(duty_room=True)
    await _period_with_tickets(app, fake_sweep, clock)
    reply = await app.console.type("gisc-tokyo", "watch report 01/03/2026 2026-03-05",
                                   "gisc-tokyo")
    text = reply.plain()
    assert reply.title == "GISC Watch report 01/03/2026 – 05/03/2026"
    assert "2 | 02/03/2026 | GISC Exeter |" in text and "partially open" in text
    assert "Global Broker gb-one: 5,200 (ok, 02/03 09:00) → 5,200 (ok, 02/03 09:00)" in text
    bad = await app.console.type("gisc-tokyo", "watch report 2026-03-05 2026-03-01", "gisc-tokyo")
    assert bad.kind == "error" and "ends (2026-03-01) before it starts" in bad.plain()
    worse = await app.console.type("gisc-tokyo", "watch report yesterday", "gisc-tokyo")
    assert worse.kind == "error" and "is not a date" in worse.plain()


def test_cli_report_markdown_and_csv(sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
                                     tmp_path: Path) -> None:
    from tests.conftest import EXAMPLE
    from wisbot.cli import app

    from .conftest import MARCH

    monkeypatch.setenv("WISBOT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("WISBOT_DIRECTORY", str(EXAMPLE))
    roster = tmp_path / "roster.csv"
    roster.write_text(MARCH, encoding="utf-8")
    assert CliRunner().invoke(app, ["roster", "import", str(roster)]).exit_code == 0
    md = CliRunner().invoke(app, ["watch", "report", "--from", "2026-03-01", "--to",
                                  "2026-03-15"])
    assert md.exit_code == 0, md.output
    assert "| ID | date | GISC | result | status | reporter |" in md.output
    assert "Duty GISC: GISC Tokyo; watch period from 01/03/2026 to 15/03/2026" in md.output
    out = CliRunner().invoke(app, ["watch", "report", "--from", "2026-03-01", "--to",
                                   "2026-03-15", "--format", "csv"])
    assert out.exit_code == 0, out.output
    rows = list(csv.reader(io.StringIO(out.output)))
    assert rows[0] == ["ID", "date", "GISC", "result", "status", "reporter"]
    assert ["duty GISC", "GISC Tokyo"] in rows
    assert ["watch period", "01/03/2026", "15/03/2026"] in rows
    bad = CliRunner().invoke(app, ["watch", "report", "--format", "pdf"])
    assert bad.exit_code == 2 and "md or csv" in bad.output
