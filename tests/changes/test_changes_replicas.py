"""A CAB meeting's agenda and reminder are posted once with two wisbot processes on one
PostgreSQL (two App instances, each with its own store and connections), even when both
run the job at the same moment (a split brain: ``elect=False``, both lead)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select

from tests.changes.conftest import change_directory
from tests.changes.test_changes_console import REQUEST
from tests.conftest import EXAMPLE
from wisbot.adapters.console import ConsoleAdapter
from wisbot.app import App
from wisbot.clock import FakeClock
from wisbot.directory import Directory
from wisbot.settings import Settings
from wisbot.store.tables import Notification


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("postgres_database")
    from tests.conftest import _truncate

    _truncate(url)
    return url


@pytest.fixture
async def two(pg_url: str, example_directory: Directory
              ) -> AsyncIterator[tuple[list[App], FakeClock]]:
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    directory = change_directory(example_directory)
    apps = [App(Settings(database_url=pg_url, directory=EXAMPLE, watch_enabled=False),
                directory=directory, clock=clock, adapters=[ConsoleAdapter(echo=False)],
                run_worker=False, elect=False) for _ in range(2)]
    for app in apps:
        await app.start()
    yield apps, clock
    for app in apps:
        await app.stop()


async def test_agenda_and_reminder_once_across_two_processes(two: Any) -> None:
    (a, b), clock = two
    await a.console.type("sec-maria", "change cab schedule 2026-03-03T08:00Z")
    await b.console.type("anna.weber", REQUEST)
    await a.console.type("sec-maria", "change accept CHG-2026-1 priority=high risk=low")
    await b.console.type("anna.weber", REQUEST)
    await b.console.type("cab.chair", "change accept CHG-2026-2 priority=low risk=low")
    ticks = [app.services.extra["changes"].tick() for app in (a, b) for _ in range(3)]
    await asyncio.gather(*ticks)
    clock.advance(hours=27)  # the meeting is over, nothing decided
    await asyncio.gather(*(app.services.extra["changes"].tick() for app in (a, b)
                           for _ in range(3)))
    kinds = await a.store.tx(lambda s: [n.kind for n in s.exec(select(Notification))])
    assert kinds.count("cab-agenda") == 1 and kinds.count("cab-reminder") == 1
    await a.outbox.drain()
    await b.outbox.drain()
    cab = "\n".join(app.console.transcript("cab") for app in (a, b))
    assert cab.count("agenda") == 1 and cab.count("left 2 changes undecided") == 1
