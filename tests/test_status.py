"""``wisbot status`` (CLI, text and JSON) and ``wisbot status`` in chat, on SQLite and
PostgreSQL: what the operations tables and the queues hold is what an operator reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from tests import test_slack as _slack
from tests.conftest import EXAMPLE
from wisbot.adapters.console import render_text
from wisbot.cli import app as cli
from wisbot.clock import FakeClock
from wisbot.store.ops_tables import JobRun, LeaderLease, Replica, RoomHold
from wisbot.store.tables import OutboxRow

fake_slack = _slack.fake_slack  # the Slack tests' fixtures, shared
start_slack = _slack.start_slack

SEVERE = "incident report DE-OF-NC share=principal-gisc sev=3 Phishing at DWD operators"


@pytest.fixture
def clock() -> FakeClock:
    """Today: ``wisbot status`` reads the real clock, the rows are written on this one."""
    return FakeClock(datetime.now(UTC))


async def _seed(app: Any, clock: Any) -> None:
    """A severe report (pages), a dead letter, a held room, the leader lease, two
    replicas (one gone quiet) and a finished daily job, as the other parts write them."""
    await app.console.type("anna.weber", SEVERE, "member-de")
    await app.outbox.drain()
    now = clock()

    def work(s: Any) -> None:
        s.add(OutboxRow(key="dead-1", room_key="gisc-tokyo", platform="console",
                        payload={}, status="dead", attempts=8, next_attempt_at=now,
                        created_at=now - timedelta(hours=2), last_error="gone"))
        s.add(OutboxRow(key="late-1", room_key="gisc-tokyo", platform="console",
                        payload={}, status="pending", next_attempt_at=now,
                        created_at=now - timedelta(minutes=7)))
        s.add(RoomHold(room_key="area-tokyo", reason="stranger",
                       detail="@mallory:evil.example is in the room",
                       since=now - timedelta(minutes=3)))
        s.add(LeaderLease(name="singletons", holder="p-aaaa", epoch=4,
                          until=now + timedelta(seconds=20), host="node-a"))
        s.add(Replica(holder="p-aaaa", host="node-a", pid=101, role="leader",
                      started_at=now - timedelta(hours=5), seen_at=now - timedelta(seconds=2)))
        s.add(Replica(holder="p-bbbb", host="node-b", pid=202, role="follower",
                      started_at=now - timedelta(hours=5), seen_at=now - timedelta(minutes=9)))
        s.add(JobRun(job="exchange-daily", period="2026-03-01", holder="p-bbbb",
                     started_at=now - timedelta(hours=28), status="failed", detail="timeout"))
        s.add(JobRun(job="exchange-daily", period="2026-03-02", holder="p-aaaa",
                     started_at=now - timedelta(hours=4), finished_at=now - timedelta(hours=4),
                     status="ok"))

    await app.store.tx(work)


def _invoke(db_url: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["status", "--directory", str(EXAMPLE), "--database-url",
                                    db_url, *args])


async def test_cli_status_shows_what_the_tables_hold(make_app, clock, db_url):
    app = await make_app()
    await _seed(app, clock)
    result = _invoke(db_url)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Leader (singletons): p-aaaa on node-a, epoch 4" in out
    assert "p-aaaa leader on node-a pid 101" in out
    assert "p-bbbb follower on node-b pid 202" in out and "presumed gone" in out
    assert "Dead letters: 1" in out
    assert "pending 1" in out
    assert "area-tokyo — stranger: @mallory:evil.example is in the room" in out
    # The severe report paged the Offenbach desk and the Secretariat desk: step 1 is the
    # repeat 15 minutes on.
    pages = [line for line in out.splitlines() if line.strip().startswith("P-")]
    assert len(pages) == 2, out
    assert any("gisc:Offenbach: paging GISC Offenbach operations desk; next: repeat in 1"
               in p for p in pages), pages
    # who heads the Secretariat chain depends on the hour (a follow-the-sun rotation)
    assert any("for secretariat: paging " in p and "; next: repeat in 1" in p
               for p in pages), pages
    job = next(line for line in out.splitlines() if "exchange-daily" in line)
    assert "last 2026-03-02 ok 4 h 0 min ago" in job and "by p-aaaa" in job and "next " in job
    assert "failed" not in job  # the day before's run is not the last one
    assert "secretariat: Maria Rossi → WMO Secretariat 24/7 desk" in out


async def test_cli_status_json(make_app, clock, db_url):
    app = await make_app()
    await _seed(app, clock)
    result = _invoke(db_url, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["dead_letters"] == 1
    assert data["outbox"]["dead"] == 1 and data["outbox"]["pending"] == 1
    assert data["oldest_pending_age_s"] > 0
    assert [h["room_key"] for h in data["holds"]] == ["area-tokyo"]
    assert {p["role"]: p["next_action"] for p in data["pages"]} == {
        "gisc:Offenbach": "repeat", "secretariat": "repeat"}
    assert all(p["next_due_at"] for p in data["pages"])
    jobs = {j["job"]: j for j in data["jobs"]}
    assert jobs["exchange-daily"]["last_status"] == "ok"
    assert datetime.fromisoformat(jobs["exchange-daily"]["next_at"]) > datetime.now(UTC) - \
        timedelta(days=1)
    assert jobs["watch-daily"]["last_started_at"] is None
    assert [r["alive"] for r in data["replicas"]] == [True, False]
    assert data["leaders"][0]["epoch"] == 4
    assert data["oncall"]["member:DE"] == ["anna.weber"]


def test_cli_status_on_an_unmigrated_database_says_so(tmp_path):
    result = CliRunner().invoke(cli, ["status", "--directory", str(EXAMPLE), "--database-url",
                                      f"sqlite:///{tmp_path}/empty.db"])
    assert result.exit_code == 2
    assert "wisbot db upgrade" in result.output


async def test_chat_status_for_the_secretariat(make_app, clock):
    app = await make_app()
    await _seed(app, clock)
    reply = await app.console.type("sec-maria", "wisbot status")
    text = render_text(reply)
    assert reply.private and reply.kind != "error", text
    assert "Adapters (this process): console connected" in text
    assert "Dead letters: 1" in text
    assert "area-tokyo — stranger" in text
    assert "P-1" in text and "next: repeat" in text
    in_room = await app.console.type("sec-desk", "wisbot status", "secretariat")
    assert "Dead letters: 1" in render_text(in_room)


@pytest.mark.parametrize(("who", "room"), [
    ("anna.weber", None),            # a Member's focal point
    ("anna.weber", "member-de"),
    ("gisc-offenbach", "gisc-offenbach"),
    ("sec-maria", "collaboration"),  # the Secretariat where others read
])
async def test_chat_status_refusal_reveals_nothing(make_app, clock, who, room):
    app = await make_app()
    await _seed(app, clock)
    reply = await app.console.type(who, "wisbot status", room)
    text = render_text(reply)
    assert reply.kind == "error" and reply.private
    for secret in ("area-tokyo", "mallory", "p-aaaa", "node-a", "Dead letters", "P-1",
                   "Maria Rossi", "exchange-daily", "1"):
        assert secret not in text, (secret, text)


async def test_slash_wisbot_status_on_slack(start_slack: Any) -> None:
    """Through slack-bolt against the local fake Slack (tests/_fake_slack.py): Slack keeps
    ``/status`` for itself, so the operator command is ``/wisbot status``; the answer is
    ephemeral, and a Member's focal point is refused without a word of the state."""
    env = await start_slack()
    reply = await env.reply_to("sec-maria", None, "/wisbot", "status")
    assert reply["response_type"] == "ephemeral"
    assert "Adapters (this process): slack connected" in reply["text"], reply["text"]
    assert "Dead letters: 0" in reply["text"]
    refused = await env.reply_to("anna.weber", None, "/wisbot", "status")
    assert refused["response_type"] == "ephemeral"
    assert "is for the WMO Secretariat" in refused["text"]
    assert "Dead letters" not in refused["text"] and "slack" not in refused["text"]


async def test_the_cli_reads_the_time_from_the_database(make_app):
    """Leases are written on the database's clock; status compares them with the same."""
    from wisbot.services.status import database_now

    app = await make_app()
    before = datetime.now(UTC)
    db_now = await app.store.tx(database_now)
    after = datetime.now(UTC)
    assert db_now.tzinfo is not None
    # the test database runs on this machine: same clock, within the round trip
    assert before - timedelta(seconds=2) <= db_now <= after + timedelta(seconds=2)
