"""An on-call contact that no page can reach: warned at start and by `directory check`,
skipped at once by the pager (recorded), and alerts name the directory fix.

The deployment is the example directory's shape on Matrix (tests/reach_fixture.py): its
first Secretariat contact, sec-desk, has no Matrix user id."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from tests.reach_fixture import NO_CHAT, MatrixLike, matrix_shaped, mxid, room_id
from wisbot.adapters.console import render_text
from wisbot.cli import app as cli
from wisbot.directory import load_directory
from wisbot.domain.reach import unreachable_oncall
from wisbot.store.paging_tables import Page, PageStep
from wisbot.store.tables import OutboxRow, TimelineEntry

SEVERE = "incident report DE-OF-NC share=principal-gisc sev=3 Phishing mails to operators"
# Written by hand: the directory key an operator must add, and the advice that misled.
FIX = "add `chat: {matrix: '@name:example.org'}` to contact sec-desk"
WRONG_ADVICE = "room binding"


@pytest.fixture
def shaped(tmp_path: Path) -> Path:
    return matrix_shaped(tmp_path / "directory.yaml")


async def _app(make_app: Any, path: Path, **settings: Any) -> tuple[Any, MatrixLike]:
    adapter = MatrixLike()
    app = await make_app(load_directory(path), adapters=[adapter], **settings)
    return app, adapter


async def _report(app: Any, adapter: MatrixLike) -> None:
    await adapter.type(mxid("anna.weber"), SEVERE, room_id("member-de"))
    await app.outbox.drain()


def _pages_to(adapter: MatrixLike, contact: str) -> list[str]:
    return [render_text(r) for r in adapter.direct.get(mxid(contact), [])]


def test_unreachable_oncall_names_only_the_contact_without_a_channel(shaped: Path) -> None:
    gaps = unreachable_oncall(load_directory(shaped), {"matrix"}, email=False)
    assert [(g.contact.id, g.role) for g in gaps] == [("sec-desk", "secretariat")]
    line = gaps[0].line()
    assert "WMO Secretariat 24/7 desk" in line and "no Matrix user id" in line
    assert FIX in line
    # The example on the console: everyone has a console identity, nothing to warn about.
    from tests.reach_fixture import EXAMPLE
    assert unreachable_oncall(load_directory(EXAMPLE), {"console"}, email=False) == []
    # With page e-mail on, the desk's e-mail reaches it.
    assert unreachable_oncall(load_directory(shaped), {"matrix"}, email=True) == []


def test_directory_check_warns_per_unreachable_oncall_contact(shaped: Path) -> None:
    result = CliRunner(env={"COLUMNS": "200", "WISBOT_SMTP_HOST": ""}).invoke(
        cli, ["directory", "check", str(shaped)])
    assert result.exit_code == 0, result.output
    warns = [ln for ln in result.output.splitlines() if ln.startswith("WARN")]
    assert len(warns) == 1, result.output
    assert "sec-desk" in warns[0] and "secretariat" in warns[0] and FIX in warns[0]


def test_directory_check_of_the_console_example_does_not_warn() -> None:
    from tests.reach_fixture import EXAMPLE

    result = CliRunner(env={"COLUMNS": "200", "WISBOT_SMTP_HOST": ""}).invoke(
        cli, ["directory", "check", str(EXAMPLE)])
    assert result.exit_code == 0 and "WARN" not in result.output, result.output


async def test_start_warns_once_per_unreachable_oncall_contact(make_app, shaped, caplog):
    with caplog.at_level(logging.WARNING):
        await _app(make_app, shaped)
    lines = [r.getMessage() for r in caplog.records if "on-call" in r.getMessage()]
    assert len(lines) == 1 and "sec-desk" in lines[0] and FIX in lines[0], lines


async def test_page_skips_the_unreachable_contact_at_once(make_app, shaped, clock):
    app, adapter = await _app(make_app, shaped)
    await _report(app, adapter)
    # No 30-minute wait: the second Secretariat contact has the page from the first step.
    assert len(_pages_to(adapter, "sec-maria")) == 1
    assert "P-" in _pages_to(adapter, "sec-maria")[0]
    pages = await app.store.tx(lambda s: s.exec(select(Page).where(
        Page.role == "secretariat")).all())
    assert len(pages) == 1 and pages[0].pos == 1
    # Nothing was queued for the desk: no dead letter to wait for.
    rows = await app.store.tx(lambda s: s.exec(select(OutboxRow).where(
        OutboxRow.room_key == f"@{NO_CHAT}")).all())
    assert rows == []
    steps = await app.store.tx(lambda s: s.exec(select(PageStep).where(
        PageStep.page_id == pages[0].id, PageStep.seq == 0)).all())
    assert steps[0].contacts == ["sec-maria"]
    assert steps[0].skipped and steps[0].skipped[0]["contact"] == NO_CHAT
    skips = await app.store.tx(lambda s: s.exec(select(TimelineEntry).where(
        TimelineEntry.kind == "page-skipped")).all())
    assert len(skips) == 1
    assert "sec-desk skipped (no Matrix user id)" in skips[0].text
    assert "sec-maria paged at once" in skips[0].text
    # The GISC page is not affected.
    assert len(_pages_to(adapter, "gisc-offenbach")) == 1
    # Later steps go on with the reachable contact: the repeat, then the exhausted chain.
    clock.advance(minutes=15)
    await app.paging.tick()
    await app.outbox.drain()
    assert len(_pages_to(adapter, "sec-maria")) == 2
    clock.advance(minutes=15)
    await app.paging.tick()
    await app.outbox.drain()
    assert len(_pages_to(adapter, "sec-maria")) == 3
    assert _pages_to(adapter, NO_CHAT) == []
    # The service evidence shows who was skipped and why.
    evidence = render_text(await adapter.type(mxid("sec-maria"), "incident evidence "
                                              "WIS-SEC-2026-1"))
    assert "skipped sec-desk (no Matrix user id)" in evidence


async def test_odd_week_next_step_skips_back_to_the_reachable_contact(make_app, shaped, clock):
    clock.now += timedelta(days=7)  # the rotation puts sec-maria first, the desk second
    app, adapter = await _app(make_app, shaped)
    await _report(app, adapter)
    assert len(_pages_to(adapter, "sec-maria")) == 1
    clock.advance(minutes=30)
    await app.paging.tick()
    await app.outbox.drain()
    # "next" would be the desk: nobody can reach it, so the chain goes on with sec-maria.
    assert len(_pages_to(adapter, "sec-maria")) == 3  # page, repeat, next
    assert "WMO Secretariat" in render_text(await adapter.type(
        mxid("sec-maria"), "ack WIS-SEC-2026-1"))


async def test_nobody_reachable_alerts_the_secretariat_with_the_fix(make_app, tmp_path, clock):
    path = matrix_shaped(tmp_path / "d.yaml", without=("sec-desk", "sec-maria"))
    app, adapter = await _app(make_app, path)
    await _report(app, adapter)
    alerts = [render_text(r) for r in adapter.rooms.get(room_id("secretariat"), [])
              if r.kind == "alert"]
    assert len(alerts) == 1, alerts
    assert "nobody on call can be reached" in alerts[0]
    assert FIX in alerts[0] and "to contact sec-maria" in alerts[0]
    assert WRONG_ADVICE not in alerts[0]


async def test_dead_letter_to_a_contact_names_the_directory_fix(make_app, shaped, clock):
    """A direct message queued for a contact without an address (a page queued before a
    directory reload took the id away, say) dead-letters with the directory fix."""
    from wisbot.outbox import _fix_for

    app, _adapter = await _app(make_app, shaped)
    text = _fix_for(app.directory, f"@{NO_CHAT}", ("matrix",))
    assert FIX in text and WRONG_ADVICE not in text
    assert WRONG_ADVICE in _fix_for(app.directory, "secretariat", ("matrix",))


# ----- across a restart and with two processes ------------------------------------------

def _reach_proc(db_url: str, start: str, t0: float, factor: float, log: Path,
                directory: Path) -> Any:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    return subprocess.Popen(
        [sys.executable, "-m", "tests.paging_proc", db_url, start, str(t0), str(factor),
         str(log), str(directory), "matrix"], cwd=root, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(root)})


async def _reports(db_url: str, directory: Path, clock: Any, n: int) -> None:
    from wisbot.app import App
    from wisbot.settings import Settings

    adapter = MatrixLike()
    app = App(Settings(database_url=db_url, directory=directory),
              directory=load_directory(directory), clock=clock, adapters=[adapter],
              run_worker=False)
    await app.start()
    try:
        for i in range(n):
            await adapter.type(mxid("anna.weber"), f"{SEVERE} {i}", room_id("member-de"))
    finally:
        await app.stop()


def _check_skips(db_url: str, log: Path, n: int) -> None:
    """Each Secretariat page skipped the desk exactly at its first step and at the
    exhausted 'next' step, once each, whichever process fired it; nothing went to it."""
    from sqlmodel import Session

    from tests.test_paging_procs import _check_exactly_once
    from wisbot.store.engine import make_engine

    _check_exactly_once(db_url, log, 2 * n)
    engine = make_engine(db_url)
    with Session(engine) as s:
        skips = s.exec(select(TimelineEntry).where(TimelineEntry.kind == "page-skipped")).all()
        assert len(skips) == 2 * n, [e.text for e in skips]
        sec = s.exec(select(Page).where(Page.role == "secretariat")).all()
        steps = s.exec(select(PageStep).where(
            PageStep.page_id.in_([p.id for p in sec]))).all()  # type: ignore[union-attr]
        skipped = sorted(st.seq for st in steps if st.skipped)
        assert skipped == sorted([0, 2] * n)
        assert all(NO_CHAT not in st.contacts for st in steps)
    engine.dispose()
    sent = log.read_text()
    assert f"@{mxid(NO_CHAT)}" not in sent and f"@{mxid('sec-maria')}" in sent


@pytest.mark.timeout(120)
def test_skips_fire_once_across_a_sigkill_and_restart(sqlite_url, tmp_path):
    import asyncio
    import signal
    import time

    from sqlmodel import Session

    from wisbot.clock import FakeClock
    from wisbot.store.engine import make_engine

    directory = matrix_shaped(tmp_path / "directory.yaml")
    clock = FakeClock()
    n = 15
    asyncio.run(_reports(sqlite_url, directory, clock, n))
    log = tmp_path / "sent.log"
    factor = 600.0
    first = _reach_proc(sqlite_url, clock.now.isoformat(), 0.0, factor, log, directory)
    mark = Path(f"{log}.t0")
    deadline = time.time() + 60
    while not mark.exists() and time.time() < deadline:
        time.sleep(0.02)
    t0 = float(mark.read_text())
    engine = make_engine(sqlite_url)
    deadline = time.time() + 30
    while time.time() < deadline:
        with Session(engine) as s:
            if s.exec(select(PageStep).where(PageStep.seq == 1,
                                             PageStep.status == "fired")).first():
                break
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    engine.dispose()
    while (time.time() - t0) * factor < 33 * 60:
        time.sleep(0.05)
    second = _reach_proc(sqlite_url, clock.now.isoformat(), t0, factor, log, directory)
    _out, err = second.communicate(timeout=90)
    assert second.returncode == 0, err[-3000:]
    _check_skips(sqlite_url, log, n)


@pytest.mark.timeout(120)
def test_two_processes_on_postgres_skip_once(request, tmp_path):
    import asyncio
    import time

    from tests.conftest import _truncate
    from wisbot.clock import FakeClock

    url = request.getfixturevalue("postgres_database")
    _truncate(url)
    directory = matrix_shaped(tmp_path / "directory.yaml")
    clock = FakeClock()
    n = 20
    asyncio.run(_reports(url, directory, clock, n))
    log = tmp_path / "sent.log"
    t0 = time.time()
    procs = [_reach_proc(url, clock.now.isoformat(), t0, 1200.0, log, directory)
             for _ in range(2)]
    for p in procs:
        _out, err = p.communicate(timeout=90)
        assert p.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
    _check_skips(url, log, n)
