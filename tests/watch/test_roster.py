"""Roster: the official CSV as published, duty GISC from the UTC date, gaps, overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.helpers import room_text
from wisbot.domain.watch import (
    RosterError,
    gaps,
    next_period,
    parse_roster_csv,
    period_at,
    with_override,
)

from .conftest import FIXTURES, p, roster_csv

KNOWN = {"toulouse": "Toulouse", "beijing": "Beijing", "brasilia": "Brasilia",
         "new delhi": "New Delhi", "offenbach": "Offenbach", "jeddah": "Jeddah",
         "tokyo": "Tokyo", "exeter": "Exeter", "moscow": "Moscow", "tehran": "Tehran"}


def resolve(name: str) -> str:
    import unicodedata

    key = "".join(c for c in unicodedata.normalize("NFKD", name)
                  if not unicodedata.combining(c)).lower().removeprefix("gisc-")
    if key not in KNOWN:
        raise LookupError(f"unknown GISC {name!r}")
    return KNOWN[key]


def test_official_format_with_its_slips_imports_with_warnings() -> None:
    text = (FIXTURES / "roster_official_format.csv").read_text(encoding="utf-8")
    got = parse_roster_csv(text, resolve)
    names = [x.gisc for x in got.periods]
    assert names[:4] == ["Toulouse", "Beijing", "Brasilia", "New Delhi"]  # BOM, accent, space
    offenbach = got.periods[4]
    assert (offenbach.start, offenbach.end) == (date(2026, 6, 16), date(2026, 6, 30))
    moscow = next(x for x in got.periods if x.gisc == "Moscow")
    assert moscow.start == date(2027, 1, 1)  # "2026-01-01" after a period ending 2026-12-31
    joined = "\n".join(got.warnings)
    assert "2026-06-31 does not exist" in joined
    assert "the year looks mistyped" in joined
    assert "no duty GISC from 2026-06-01 to 2026-06-15" in joined
    assert "no duty GISC from 2026-08-01 to 2026-12-15" in joined


def test_unknown_gisc_overlap_and_bad_header_are_refused_with_the_line() -> None:
    with pytest.raises(RosterError) as e:
        parse_roster_csv(roster_csv([("GISC-Atlantis", "2026-01-01", "2026-01-15")]), resolve)
    assert "line 2: unknown GISC 'GISC-Atlantis'" in str(e.value)
    with pytest.raises(RosterError) as e:
        parse_roster_csv(roster_csv([("GISC-Tokyo", "2026-01-01", "2026-01-20"),
                                     ("GISC-Exeter", "2026-01-16", "2026-01-31")]), resolve)
    assert "line 3: 2026-01-16–2026-01-31 overlaps line 2" in str(e.value)
    with pytest.raises(RosterError) as e:
        parse_roster_csv("name,from,to\nGISC-Tokyo,2026-01-01,2026-01-15\n", resolve)
    assert "header must be gisc_name,start_date,end_date" in str(e.value)


def test_period_boundaries_are_utc_days() -> None:
    periods = [p("Toulouse", "2025-04-01", "2025-04-15"), p("Beijing", "2025-04-16", "2025-04-30")]
    last = datetime(2025, 4, 15, 23, 59, 59, tzinfo=UTC)
    assert period_at(periods, last).gisc == "Toulouse"  # type: ignore[union-attr]
    assert period_at(periods, last + timedelta(seconds=1)).gisc == "Beijing"  # type: ignore[union-attr]
    # 08:00 in Tokyo on the 16th is still the 15th in UTC
    tokyo = timezone(timedelta(hours=9))
    assert period_at(periods, datetime(2025, 4, 16, 8, 0, tzinfo=tokyo)).gisc == "Toulouse"  # type: ignore[union-attr]
    assert periods[0].ends_at == datetime(2025, 4, 16, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        period_at(periods, datetime(2025, 4, 16))


def test_gaps_and_next_period_skip_the_gap() -> None:
    periods = [p("Tokyo", "2026-01-01", "2026-01-15"), p("Exeter", "2026-02-01", "2026-02-15")]
    assert gaps(periods) == [(date(2026, 1, 16), date(2026, 1, 31))]
    assert period_at(periods, datetime(2026, 1, 20, tzinfo=UTC)) is None
    assert next_period(periods, date(2026, 1, 15)).gisc == "Exeter"  # type: ignore[union-attr]


def test_override_splits_and_trims() -> None:
    periods = [p("Tokyo", "2026-03-01", "2026-03-15"), p("Exeter", "2026-03-16", "2026-03-31")]
    out = with_override(periods, p("Seoul", "2026-03-10", "2026-03-20"))
    assert [(x.gisc, x.start.day, x.end.day) for x in out] == [
        ("Tokyo", 1, 9), ("Seoul", 10, 20), ("Exeter", 21, 31)]
    inside = with_override(periods, p("Seoul", "2026-03-05", "2026-03-07"))
    assert [(x.gisc, x.start.day, x.end.day) for x in inside] == [
        ("Tokyo", 1, 4), ("Seoul", 5, 7), ("Tokyo", 8, 15), ("Exeter", 16, 31)]


async def test_watch_roster_shows_the_year_and_marks_now(watch_app: Any) -> None:
    app = await watch_app()
    reply = await app.console.type("gisc-tokyo", "watch roster 2026", "gisc-tokyo")
    text = reply.plain()
    assert "01/03/2026 – 15/03/2026  GISC Tokyo  ◀ now" in text
    assert "GISC Brasilia" in text


async def test_roster_set_is_secretariat_only_and_announced(watch_app: Any) -> None:
    app = await watch_app()
    refused = await app.console.type("gisc-tokyo", "watch roster set 2026-03-10 2026-03-15 Seoul",
                                     "gisc-tokyo")
    assert refused.kind == "error" and "only the WMO Secretariat" in refused.plain()
    ok = await app.console.type("sec-desk", "watch roster set 2026-03-10 2026-03-15 Seoul",
                                "secretariat")
    assert ok.kind != "error", ok.plain()
    await app.outbox.drain()
    assert "GISC Seoul is on duty from 10/03/2026 to 15/03/2026" in room_text(app, "gisc-seoul")
    periods = await app.services.watch.periods()
    assert [(x.gisc, x.start.day, x.end.day) for x in periods if x.start.month == 3] == [
        ("Tokyo", 1, 9), ("Seoul", 10, 15), ("Exeter", 16, 31)]


async def test_in_a_roster_gap_nobody_is_on_duty_and_the_secretariat_gets_the_post(
        watch_app: Any, clock: Any, fake_sweep: Any) -> None:
    app = await watch_app(roster=roster_csv([("GISC-Tokyo", "2026-02-01", "2026-02-28"),
                                             ("GISC-Exeter", "2026-03-10", "2026-03-31")]))
    summary = await app.console.type("sec-desk", "watch", "secretariat")
    assert "none: the roster has no period for 2026-03-02 (next: GISC Exeter from 10/03/2026)" \
        in summary.plain()
    await app.services.watch.run("daily")
    await app.outbox.drain()
    assert "GISC Watch daily report – 2026-03-02" in room_text(app, "secretariat")
    assert room_text(app, "gisc-exeter") == ""


def test_cli_imports_the_official_file(sqlite_url: str, tmp_path: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import EXAMPLE
    from wisbot.cli import app

    monkeypatch.setenv("WISBOT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("WISBOT_DIRECTORY", str(EXAMPLE))
    result = CliRunner().invoke(app, ["roster", "import",
                                      str(FIXTURES / "roster_official_format.csv")])
    assert result.exit_code == 0, result.output
    assert "imported 10 periods" in result.output
    assert "does not exist" in result.output  # the warnings are shown
    bad = tmp_path / "bad.csv"
    bad.write_text(roster_csv([("GISC-Atlantis", "2026-01-01", "2026-01-15")]))
    result = CliRunner().invoke(app, ["roster", "import", str(bad)])
    assert result.exit_code == 2
    assert "Atlantis" in result.output


def test_directory_cross_checks_watch_urls(example_directory: Any) -> None:
    from wisbot.directory import parse_directory
    from wisbot.errors import DirectoryError

    data = example_directory.model_dump(mode="json")
    data["giscs"][0]["services"]["oia"] = "https://x.example.org/oai"
    data["giscs"][1]["services"]["sru"] = "ftp://x.example.org/sru"
    data["wis2"] = {"gb-x": {"kind": "brokr", "url": "mqtt://gb"}, "gc-x": {"kind": "cache"}}
    with pytest.raises(DirectoryError) as e:
        parse_directory(data, "d.yaml")
    problems = e.value.problems
    assert "giscs[0] (name 'Beijing').services.oia: unknown service; use oaipmh, sru, portal, " \
           "wismon" in problems
    assert "giscs[1] (name 'Brasilia').services.sru: 'ftp://x.example.org/sru' is not an " \
           "http(s) URL" in problems
    assert "wis2.gb-x.kind: 'brokr' is not one of gdc, broker, cache, monitor" in problems
    assert "wis2.gc-x.url: missing" in problems
