"""wisbot's own JIRA comments are not read back as a person's, even when the process died
between posting one and recording its id; a person's comment that merely carries a marker
is read back (tests/watch/test_redteam_round3_watch.py: the quoting reply). JIRA is
tests/_fake_jira.py, the local fake of exactly the Jira Data Center REST v2 endpoints
wisbot uses."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from tests._fake_jira import FakeJira
from tests.watch.test_jira import fake_jira, jira_app, mirror  # noqa: F401  (fixtures)
from wisbot.store.watch_tables import WatchTicketEvent


async def _read_back(app: Any) -> list[str]:
    return await app.store.tx(lambda s: [e.text for e in s.exec(select(WatchTicketEvent).where(
        WatchTicketEvent.ticket_id == 1, WatchTicketEvent.actor.startswith("jira:"))).all()])


async def test_own_comment_posted_before_a_crash_is_not_read_back(
        jira_app: Any, fake_jira: FakeJira) -> None:  # noqa: F811
    app = await jira_app()
    await app.console.type("watch-op", "watch ticket add Exeter Portal login times out",
                           "duty")
    await app.console.type("watch-op", "watch ticket 1 assign Exeter", "duty")
    r = await app.console.type("watch-op", "watch ticket 1 progress Restarting the portal",
                               "duty")
    assert r.kind != "error", r.plain()
    m = mirror(app)
    real = m._seen

    async def crash(*a: Any) -> None:
        raise RuntimeError("killed")

    m._seen = crash  # the comment reaches JIRA, its id is never recorded
    with pytest.raises(RuntimeError):
        await m.drain()
    m._seen = real
    issue = fake_jira.issues["WIS2IMS-1"]
    assert any("(wisbot W-1 #" in c["body"] for c in issue.comments)
    await m.poll()
    assert await _read_back(app) == []
    # a person's comment naming a marker of another ticket's change is theirs
    fake_jira.person_comments("WIS2IMS-1", "Same as before (wisbot W-9 #1)", "ukmo.duty",
                              "Met Office duty")
    await m.poll()
    assert await _read_back(app) == ["Same as before (wisbot W-9 #1)"]
