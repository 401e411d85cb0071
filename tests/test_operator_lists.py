"""Issue 12, items 3 and 5: `incident list` says what it lists and tells incidents apart;
messages say what to type next."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from wisbot.adapters.console import render_text

SUMMARIES = (
    "Phishing mails with a fake WIS portal login reached operators of the message switch",
    "Port scans of the FTP server from one address block",
    "Ransomware note found on a forecaster workstation, isolated",
)
# Written by hand: what an anonymised room must never read of Germany's incident.
FORBIDDEN = ("DWD", "Germany", "German", "Anna", "Weber", "EDZW", "DE-OF-NC", "8062")


async def _three_at_one_centre(c) -> None:  # type: ignore[no-untyped-def]
    for i, summary in enumerate(SUMMARIES):
        r = await c.type("anna.weber", f"incident report DE-OF-NC share=principal-gisc "
                         f"sev={i + 1} {summary}", "member-de")
        assert r.kind == "incident", r.plain()



def _untag(text: str) -> str:
    """Drop the TLP label that leads every incident line (tested in test_tlp.py)."""
    return re.sub(r"(?m)^TLP:[A-Z+]+ ", "", text)

async def test_list_heading_default_open_and_summaries(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await _three_at_one_centre(c)
    await c.type("anna.weber", "incident resolve WIS-SEC-2026-2 Blocked", "member-de")
    listed = _untag((await c.type("anna.weber", "incident list", "member-de")).plain())
    lines = listed.splitlines()
    assert lines[0] == "Open incidents you may see here"
    assert "WIS-SEC-2026-2" not in listed, "a resolved incident is not open"
    # Each line tells the incident apart by its summary, on one line, shortened.
    one = next(line for line in lines if line.startswith("WIS-SEC-2026-1 · open · "
                                                         "severity 1 · DE-OF-NC, Germany · "))
    assert "Phishing mails with a fake WIS portal login" in one and one.endswith("…")
    assert "message switch" not in one
    three = next(line for line in lines if line.startswith("WIS-SEC-2026-3 · open"))
    assert "Ransomware note found on a forecaster" in three
    assert len(lines) == 3
    for which in ("resolved", "closed"):
        r = await c.type("anna.weber", f"incident list {which}", "member-de")
        assert r.kind != "error", r.plain()
        text = _untag(r.plain())
        assert text.splitlines()[0] == "Resolved or closed incidents you may see here"
        assert "WIS-SEC-2026-2 · resolved" in text and "Port scans of the FTP server" in text
        assert "WIS-SEC-2026-1" not in text
    every = _untag((await c.type("anna.weber", "incident list all", "member-de")).plain())
    assert every.splitlines()[0] == "All incidents you may see here"
    assert all(f"WIS-SEC-2026-{n} ·" in every for n in (1, 2, 3))


async def test_list_sev_means_at_least(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await _three_at_one_centre(c)
    text = _untag((await c.type("anna.weber", "incident list sev=2 centre=de-of-nc",
                                "member-de")).plain())
    assert text.splitlines()[0] == \
        "Open incidents (at DE-OF-NC, severity ≥ 2) you may see here"
    assert "WIS-SEC-2026-1 ·" not in text
    assert "WIS-SEC-2026-2 · open · severity 2" in text
    assert "WIS-SEC-2026-3 · open · severity 3" in text
    usage = (await c.type("anna.weber", "incident list help")).plain()
    assert "sev=2 lists severity 2 and above" in usage
    assert "closed: the same as resolved" in usage
    bad = await c.type("anna.weber", "incident list shut")
    assert bad.kind == "error" and "open, resolved, closed, all" in bad.plain()


async def test_list_summary_in_anonymised_room_is_the_reviewed_wording(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=group anonymous sev=2 "
                 "DWD mail relay EDZW abused; Anna Weber took calls on +49 69 8062 0 all night",
                 "member-de")
    before = (await c.type("gisc-tokyo", "incident list", "gisc-tokyo")).plain()
    assert "WIS-SEC-2026-1 · open · severity 2 · a WIS centre in the area of GISC " \
           "Offenbach" in before
    assert "(summary not yet cleared for anonymised rooms)" in before
    assert "mail relay" not in before
    # The Member sees the redacted wording in its room and confirms it.
    await c.type("anna.weber", "incident confirm WIS-SEC-2026-1", "member-de")
    after = (await c.type("gisc-tokyo", "incident list", "gisc-tokyo")).plain()
    assert "mail relay" in after
    for word in FORBIDDEN:
        assert word.lower() not in after.lower(), word
    # The same list in the Member's own room is named.
    own = (await c.type("anna.weber", "incident list", "member-de")).plain()
    assert "DWD mail relay EDZW abused" in own


async def test_share_after_the_summary_is_taken(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    r = await c.type("anna.weber", "incident report DE-OF-NC Odd logins at night "
                     "share=principal-gisc sev=3", "member-de")
    assert r.kind == "incident", r.plain()
    shown = (await c.type("anna.weber", "incident show 1", "member-de")).plain()
    assert "Summary: Odd logins at night\n" in shown + "\n"
    assert "Shared: principal-gisc" in shown and "severity 3" in shown
    # In the middle of the text it is ambiguous: the error says where it goes.
    r = await c.type("anna.weber", "incident report DE-OF-NC Odd share=group logins",
                     "member-de")
    assert r.kind == "error"
    assert "missing share=: put share= before the summary" in r.plain()
    await app.outbox.drain()
    assert "Odd share=group" not in c.transcript("secretariat")


async def test_resolving_twice_hints_reopen(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=secretariat Phishing")
    await c.type("anna.weber", "incident resolve WIS-SEC-2026-1 done")
    r = await c.type("anna.weber", "incident resolve WIS-SEC-2026-1")
    assert r.kind == "error"
    assert "`incident reopen WIS-SEC-2026-1 <why>`" in r.plain()


async def test_short_incident_numbers_and_parse_errors(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=secretariat Phishing")
    for short in ("1", "#1", "2026-1", "SEC-2026-1", "wis-sec-2026-1"):
        r = await c.type("anna.weber", f"incident show {short}")
        assert r.kind == "incident", (short, r.plain())
        assert _untag(r.plain()).startswith("WIS-SEC-2026-1 – details")
    bad = await c.type("anna.weber", "incident show one")
    assert bad.kind == "error"
    assert not bad.plain().startswith("Refused")
    assert "'one' is not an incident number" in bad.plain()
    # `ack 1` could mean page P-1: it asks rather than guess.
    ack = await c.type("anna.weber", "ack 1")
    assert ack.kind == "error" and "(or P-1 for a page)" in ack.plain()
    assert "WIS-SEC-2026-1" in ack.plain()
    # A short number of an incident one may not see reads as a missing one.
    hidden = await c.type("gisc-tokyo", "incident show 1", "gisc-tokyo")
    missing = await c.type("gisc-tokyo", "incident show 99", "gisc-tokyo")
    assert hidden.plain().replace("-1 ", "-N ") == missing.plain().replace("-99 ", "-N ")


async def test_unknown_centre_lists_candidates_and_centres_command(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    r = await c.type("anna.weber", "incident report DE-NC share=secretariat x", "member-de")
    assert r.kind == "error"
    assert "unknown centre 'DE-NC'" in r.plain()
    assert "'DE-OF-NC'" in r.plain() and "'DE-GISC'" in r.plain()
    r = await c.type("anna.weber", "incident report QQ share=secretariat x", "member-de")
    assert "unknown centre 'QQ'" in r.plain()
    assert "`incident centres <Member>`" in r.plain()
    r = await c.type("anna.weber", "incident report DWD share=secretariat x", "member-de")
    assert "Germany's centres: DE-GISC, DE-OF-NC" in r.plain()
    listed = await c.type("anna.weber", "incident centres DWD")
    assert render_text(listed).splitlines()[0] == "Centres of Germany (DE)"
    assert "DE-OF-NC · DWD National Centre Offenbach · NC · principal GISC Offenbach" in \
        listed.plain()
    by_centre = (await c.type("anna.weber", "incident centres ke-nc")).plain()
    assert "Centres of Kenya (KE)" in by_centre
    nobody = await c.type("anna.weber", "incident centres Germny")
    assert nobody.kind == "error" and "unknown Member 'Germny'" in nobody.plain()
    assert "did you mean 'Germany'" in nobody.plain()
    # `incident query` names the candidates too, and takes a Member's name.
    r = await c.type("hiro.sato", "incident query Germny")
    assert r.kind == "error" and "unknown centre or Member 'Germny'" in r.plain()
    assert "'Germany'" in r.plain()
    r = await c.type("hiro.sato", "incident query Germany")
    assert r.kind != "error" and "Q-1" in r.plain()


def test_cli_directory_centres() -> None:
    from typer.testing import CliRunner

    from tests.conftest import EXAMPLE
    from wisbot.cli import app as cli_app

    ok = CliRunner().invoke(cli_app, ["directory", "centres", "DWD", "--directory",
                                      str(EXAMPLE)])
    assert ok.exit_code == 0, ok.output
    assert "Centres of Germany (DE)" in ok.output and "DE-OF-NC" in ok.output
    assert "KE-NC" not in ok.output
    bad = CliRunner().invoke(cli_app, ["directory", "centres", "Germny", "--directory",
                                       str(EXAMPLE)])
    assert bad.exit_code != 0 and "did you mean 'Germany'" in bad.output


async def _group_incident(app) -> None:  # type: ignore[no-untyped-def]
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=group sev=2 Phishing wave",
                 "member-de")
    await c.type("anna.weber", "incident update WIS-SEC-2026-1 Mail gateway rule added",
                 "member-de")


async def test_evidence_one_line_per_event_and_details_on_request(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    await _group_incident(app)
    await app.outbox.drain()
    rooms_told = len(app.directory.rooms) - 1  # every room but the working group
    r = await app.console.type("sec-desk", "incident evidence 1", "secretariat")
    text = render_text(r)
    assert f"reported → {rooms_told} rooms, all delivered within 0 s" in text
    assert f"update → {rooms_told} rooms, all delivered within 0 s" in text
    assert "gisc-tokyo" not in text, "the summary names no room that was served"
    assert "`incident evidence WIS-SEC-2026-1 details`" in text
    for line in text.splitlines():
        assert len(line) <= 78, f"wraps in two: {line!r}"
    for form in ("details", "--all", "all"):
        full = render_text(await app.console.type("sec-desk", f"incident evidence 1 {form}",
                                                  "secretariat"))
        assert "reported → gisc-tokyo (console): delivered" in full
        assert full.count("gisc-tokyo (console)") == 2  # the report and the update
        for line in full.splitlines():
            assert len(line) <= 78, f"wraps in two: {line!r}"


async def test_evidence_calls_out_failures_and_pending(make_app) -> None:  # type: ignore[no-untyped-def]
    """A room's dead letter and a room still waiting are named on their event's line."""
    from sqlmodel import Session, select

    from wisbot.store.tables import OutboxRow

    app = await make_app()
    await _group_incident(app)
    await app.outbox.drain()

    def fail_two(session: Session) -> None:
        for key, status in (("gisc-tokyo", "dead"), ("area-tokyo", "pending")):
            row = session.exec(select(OutboxRow).where(OutboxRow.room_key == key)
                               .order_by(OutboxRow.id)).first()
            assert row is not None
            row.status, row.delivered_at = status, None
            session.add(row)

    await app.store.tx(fail_two)
    text = render_text(await app.console.type("sec-desk", "incident evidence 1",
                                              "secretariat"))
    rooms_told = len(app.directory.rooms) - 1
    reported = next(line for line in text.splitlines() if " reported → " in line)
    assert f"{rooms_told} rooms: {rooms_told - 2} delivered within 0 s" in reported
    assert "FAILED (dead letter): gisc-tokyo" in reported
    assert "not yet delivered: area-tokyo" in reported
    assert "1-hour target: pending" in text


async def test_annual_counts_the_highest_severity_and_says_so(make_app, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from wisbot.cli import app as cli_app

    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=secretariat sev=3 Phishing",
                 "member-de")
    for level in (5, 2):
        r = await c.type("sec-desk", f"severity 1 {level} reassessed", "secretariat")
        assert r.kind == "incident", r.plain()
    text = render_text(await c.type("sec-desk", "incident stats"))
    assert "By severity: 0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 1 (counted by the highest " \
           "severity each reached (3 → 5 → 2 counts as 5))" in text
    assert "Mar: 0 0 0 0 0 1" in text
    # The CLI defaults to this year (the real clock's), as chat does.
    result = CliRunner().invoke(cli_app, ["report", "annual", "--format", "json",
                                          "--database-url", db_url])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["severity_counted_by"] == "highest"
    assert data["year"] == datetime.now(UTC).year
    if data["year"] == clock().year:
        assert data["by_severity"] == {"0": 0, "1": 0, "2": 0, "3": 0, "4": 0, "5": 1}
    md = CliRunner().invoke(cli_app, ["report", "annual", str(clock().year),
                                      "--database-url", db_url])
    assert "Incidents are counted by the highest severity each reached" in md.output


async def test_severity_of_a_resolved_incident_is_refused_not_cascaded(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=principal-gisc sev=2 Phishing",
                 "member-de")
    await c.type("anna.weber", "incident resolve 1 Cleaned up", "member-de")
    await app.outbox.drain()
    before = c.transcript("gisc-offenbach")
    r = await c.type("sec-desk", "severity WIS-SEC-2026-1 4 late finding", "secretariat")
    assert r.kind == "error"
    assert "WIS-SEC-2026-1 is resolved: reopen it first (`incident reopen WIS-SEC-2026-1 " \
           "<why>`)" in r.plain()
    await app.outbox.drain()
    assert c.transcript("gisc-offenbach") == before, "nothing is cascaded"
    shown = (await c.type("anna.weber", "incident show 1", "member-de")).plain()
    assert "· severity" not in shown and "late finding" not in shown


async def test_pager_running_says_what_it_measures(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    """wisbot first ran at 09:00 on 2 March, and again at 11:00: 2 of the 3 hours since it
    first ran had a pager up; the year's other hours are not held against it."""
    app = await make_app()
    await app.paging.tick()
    clock.advance(hours=2)
    await app.paging.tick()
    text = render_text(await app.console.type("sec-desk", "incident stats"))
    line = next(line for line in text.splitlines() if line.startswith("Pager running"))
    assert "2 of the 3 hours since wisbot first ran in 2026 (02 Mar 09:00 UTC): 66.7 %" in line
    assert "hours in which a wisbot process was up to send pages" in text
    assert "Hours covered" not in text


def test_migration_0012_backfills_the_highest_severity(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An incident raised 3 → 5 → 2 before the column existed counts as 5 after upgrade."""
    import json

    from sqlalchemy import create_engine, text

    from wisbot.store.engine import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0011")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO incident (id, number, year, seq, centre, member, principal_gisc, "
            "share, anonymous, severity, status, summary, reported_by, created_at, "
            "updated_at) VALUES (1, 'WIS-SEC-2026-1', 2026, 1, 'DE-OF-NC', 'DE', "
            "'Offenbach', 'secretariat', 0, 2, 'open', 'x', 'anna.weber', "
            "'2026-03-02 09:00:00', '2026-03-02 09:00:00'), (2, 'WIS-SEC-2026-2', 2026, 2, "
            "'KE-NC', 'KE', 'Offenbach', 'secretariat', 0, 1, 'open', 'y', 'sec-desk', "
            "'2026-03-02 09:00:00', '2026-03-02 09:00:00')"))
        for data, kind in (({"severity": 3}, "reported"), ({"from": 3, "to": 5}, "severity"),
                           ({"from": 5, "to": 2}, "severity")):
            conn.execute(text("INSERT INTO timeline (incident_id, at, actor, kind, text, data) "
                              "VALUES (1, '2026-03-02 09:00:00', 'sec-desk', :k, '', :d)"),
                         {"k": kind, "d": json.dumps(data)})
    engine.dispose()
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, highest_severity FROM incident")).all())
    engine.dispose()
    assert rows == {1: 5, 2: 1}


async def test_demo_panels_follow_the_told_order_and_no_page_is_left(sqlite_url) -> None:  # type: ignore[no-untyped-def]
    import io
    import re

    from rich.console import Console
    from sqlalchemy import create_engine, text

    from wisbot.demo import run_demo

    buf = io.StringIO()
    await run_demo(Console(file=buf, width=100, color_system=None), database_url=sqlite_url)
    out = buf.getvalue()
    # The widest "Told, in order" list (the share to the group), as the reply printed it.
    replies = out.split("Told, in order:")
    widest = max(replies[1:], key=lambda part: part.count("(gisc:"))
    told = re.findall(r"│\s+([a-z-]+) \((?:secretariat|member:|gisc:|area:|collaboration)",
                      widest.split("╰")[0])
    assert len(told) == 20
    section = out.split("What each room received")[1]
    titles = re.findall(r"╭─+ ([a-z-]+) · (named|anonymised|not told) · (\d+) messages? ─",
                        section)
    assert [key for key, _, _ in titles][:len(told)] == told
    assert [key for key, how, _ in titles if how == "not told"] == ["working-group"]
    for role in ("gisc:", "area:", "member:", "secretariat · secretariat",
                 "collaboration · collaboration"):
        assert not re.search(rf"╭─+ [^\n]*{re.escape(role)}", section), role
    assert "Every page was acknowledged; none is left open." in out
    assert "next: try `wisbot shell --as anna.weber --room member-de`" in out
    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        unacked = conn.execute(text("SELECT count(*) FROM page WHERE acked_at IS NULL")).scalar()
        pages = conn.execute(text("SELECT count(*) FROM page")).scalar()
    engine.dispose()
    assert pages and unacked == 0


async def test_highest_severity_holds_with_two_processes_at_once(make_app) -> None:  # type: ignore[no-untyped-def]
    """Two wisbot processes on one database change the severity at the same moment: the
    highest one reached is kept whichever commits last."""
    import asyncio

    from sqlmodel import Session, select

    from wisbot.store.tables import Incident

    one, two = await make_app(), await make_app()
    await one.console.type("anna.weber", "incident report DE-OF-NC share=secretariat sev=3 "
                           "Phishing", "member-de")
    a, b = await asyncio.gather(
        one.console.type("sec-desk", "severity 1 5 worse", "secretariat"),
        two.console.type("anna.weber", "severity 1 4 a bit worse", "member-de"))
    assert a.kind == b.kind == "incident", (a.plain(), b.plain())

    def read(session: Session) -> tuple[int, int | None]:
        inc = session.exec(select(Incident)).one()
        return inc.severity, inc.highest_severity

    current, highest = await two.store.tx(read)
    assert current in (4, 5) and highest == 5
    await one.console.type("sec-desk", "severity 1 1 false alarm", "secretariat")
    assert (await one.store.tx(read)) == (1, 5)
    text = render_text(await two.console.type("sec-desk", "incident stats"))
    assert "By severity: 0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 1" in text


async def test_evidence_names_messages_withdrawn_by_a_narrowing(make_app) -> None:  # type: ignore[no-untyped-def]
    """Narrowed before the outbox sent the report: the withdrawn rooms are named."""
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=all-giscs sev=2 Phishing",
                 "member-de")
    await c.type("anna.weber", "incident share 1 principal-gisc", "member-de")
    await app.outbox.drain()
    text = render_text(await c.type("sec-desk", "incident evidence 1", "secretariat"))
    reported = next(line for line in text.splitlines() if " reported → " in line)
    assert "withdrawn (sharing narrowed): gisc-beijing" in reported
    assert "and 9 more" in reported  # 14 other GISCs: five named, the rest counted
    assert "gisc-offenbach" not in reported
    # A withdrawn message was never due: the report reached every room still told.
    assert "1-hour target: met (notified in 0 s)" in text
