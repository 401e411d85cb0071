"""Leader election through the database: the lease row, its fencing epoch, takeover after
the holder stops renewing, self-fencing, the clock-skew refusal, and the App's two parts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlmodel import Session, select

from tests.conftest import EXAMPLE
from wisbot.adapters.console import ConsoleAdapter
from wisbot.app import App
from wisbot.leader import ClockSkew, Leadership
from wisbot.scheduler import JobRuns
from wisbot.settings import Settings
from wisbot.store.engine import Store, make_engine
from wisbot.store.ops_tables import JobRun, LeaderLease, Replica


class Events:
    def __init__(self) -> None:
        self.log: list[tuple[str, float, Any]] = []

    async def elected(self, epoch: int) -> None:
        self.log.append(("elected", time.monotonic(), epoch))

    async def deposed(self, reason: str) -> None:
        self.log.append(("deposed", time.monotonic(), reason))

    def at(self, what: str) -> list[float]:
        return [t for w, t, _ in self.log if w == what]


def elector(url: str, events: Events, **kw: Any) -> Leadership:
    kw.setdefault("lease", 1.5)
    kw.setdefault("renew", 0.25)
    return Leadership(url, on_elected=events.elected, on_deposed=events.deposed, **kw)


def lease_row(url: str) -> LeaderLease:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            row = s.get(LeaderLease, "wisbot")
            assert row is not None
            return row
    finally:
        engine.dispose()


def replicas(url: str) -> dict[str, str]:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return {r.holder: r.role for r in s.exec(select(Replica)).all()}
    finally:
        engine.dispose()


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("postgres_database")
    from tests.conftest import _truncate

    _truncate(url)
    return url


async def test_a_single_replica_leads_at_once_on_both_databases(db_url: str) -> None:
    events = Events()
    a = elector(db_url, events)
    await a.start()
    try:
        assert a.is_leader and a.epoch == 1
        assert [w for w, _, _ in events.log] == ["elected"]
        row = lease_row(db_url)
        assert row.holder == a.holder and row.epoch == 1
        # "leader" for others only once its leader's part runs (the app says so)
        assert replicas(db_url) == {a.holder: "starting"}
        a.ready = True
        deadline = time.monotonic() + 5
        while replicas(db_url) != {a.holder: "leader"}:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        await a.stop()
    assert [w for w, _, _ in events.log] == ["elected", "deposed"]
    assert lease_row(db_url).holder == ""  # handed over at once
    assert replicas(db_url) == {}


async def test_takeover_after_the_holder_stops_renewing(pg_url: str) -> None:
    ea, eb = Events(), Events()
    a, b = elector(pg_url, ea), elector(pg_url, eb)
    await a.start()
    await b.start()
    try:
        assert a.is_leader and not b.is_leader
        await asyncio.sleep(1.0)  # a renews: b stays a follower past one lease period
        assert a.is_leader and not b.is_leader and eb.log == []
        assert replicas(pg_url) == {a.holder: "starting", b.holder: "follower"}
        frozen = time.monotonic()
        a.paused = True  # partitioned: a cannot renew any more
        deadline = time.monotonic() + 10
        while not b.is_leader:
            assert time.monotonic() < deadline, "the follower never took over"
            await asyncio.sleep(0.05)
        took = eb.at("elected")[0] - frozen
        assert took <= a.lease + 2 * a.renew + 0.5, took
        # a fenced itself before its lease could run out, hence before b took over
        assert ea.at("deposed") and ea.at("deposed")[0] < eb.at("elected")[0]
        assert not a.is_leader
        row = lease_row(pg_url)
        assert row.holder == b.holder and row.epoch == 2 and b.epoch == 2
        a.paused = False
        await asyncio.sleep(1.0)  # a comes back: it stays a follower, b keeps the lead
        assert not a.is_leader and b.is_leader and lease_row(pg_url).epoch == 2
    finally:
        await a.stop()
        await b.stop()


async def test_a_clean_stop_hands_over_without_waiting_for_the_lease(pg_url: str) -> None:
    ea, eb = Events(), Events()
    a = elector(pg_url, ea, lease=30.0, renew=0.25)
    b = elector(pg_url, eb, lease=30.0, renew=0.25)
    await a.start()
    await b.start()
    try:
        stopped = time.monotonic()
        await a.stop()
        while not b.is_leader:
            assert time.monotonic() - stopped < 5, "b waited for the 30 s lease"
            await asyncio.sleep(0.05)
        assert b.epoch == 2
    finally:
        await b.stop()


async def test_sqlite_serves_one_process_which_always_leads(sqlite_url: str) -> None:
    ea, eb = Events(), Events()
    a = elector(sqlite_url, ea)
    await a.start()
    b = elector(sqlite_url, eb)
    await b.start()  # a process started after a crash does not wait for the old lease
    try:
        assert b.is_leader and b.epoch == 2
    finally:
        await b.stop()
        await a.stop()


async def test_a_clock_off_by_more_than_the_bound_refuses_to_start(pg_url: str) -> None:
    events = Events()
    a = elector(pg_url, events, max_skew=5.0, wall=lambda: time.time() + 30)
    with pytest.raises(ClockSkew, match=r"30\.\d s ahead of the database's.*NTP"):
        await a.start()
    assert events.log == []
    b = elector(pg_url, events, max_skew=5.0, wall=lambda: time.time() - 4)
    await b.start()  # within the bound
    try:
        assert b.is_leader and b.skew is not None and 3 < b.skew < 5
    finally:
        await b.stop()


async def test_a_clock_that_drifts_away_gives_up_the_lead(pg_url: str) -> None:
    events = Events()
    offset = [0.0]
    a = elector(pg_url, events, skew_every=0.2, wall=lambda: time.time() + offset[0])
    await a.start()
    try:
        assert a.is_leader
        offset[0] = 60.0
        deadline = time.monotonic() + 5
        while a.is_leader:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert events.log[-1][2] == "clock skew"
        assert lease_row(pg_url).holder == ""  # another replica may lead at once
        offset[0] = 0.0
        deadline = time.monotonic() + 5
        while not a.is_leader:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        await a.stop()


async def test_a_deposed_leader_runs_no_job(pg_url: str) -> None:
    ea, eb = Events(), Events()
    a, b = elector(pg_url, ea), elector(pg_url, eb)
    await a.start()
    await b.start()
    store = Store(pg_url)
    ran: list[str] = []

    async def job() -> None:
        ran.append("x")

    try:
        runs_a = JobRuns(store, holder=a.holder, fence=a.holds)
        runs_b = JobRuns(store, holder=b.holder, fence=b.holds)
        assert await runs_b.run("watch-daily", "2026-12-01", job) == "skipped"  # not leader
        assert await runs_a.run("watch-daily", "2026-12-01", job) == "ok"
        a.paused = True
        deadline = time.monotonic() + 10
        while not b.is_leader:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        a.is_leader = True  # a stale leader that has not noticed yet: the epoch fences it
        assert await runs_a.run("watch-daily", "2026-12-02", job) == "skipped"
        a.is_leader = False
        assert await runs_b.run("watch-daily", "2026-12-02", job) == "ok"
        assert ran == ["x", "x"]
        rows = await store.tx(lambda s: s.exec(select(JobRun)).all())
        assert {(r.period, r.holder, r.status) for r in rows} == {
            ("2026-12-01", a.holder, "ok"), ("2026-12-02", b.holder, "ok")}
    finally:
        store.close()
        await a.stop()
        await b.stop()


def _settings(url: str, **kw: Any) -> Settings:
    return Settings(database_url=url, directory=EXAMPLE, watch_enabled=False,
                    leader_lease_seconds=1.5, leader_renew_seconds=0.25, **kw)


async def test_two_apps_one_leads_and_the_other_takes_over(pg_url: str,
                                                          example_directory: Any) -> None:
    apps = [App(_settings(pg_url), directory=example_directory,
                adapters=[ConsoleAdapter(echo=False)], run_worker=True) for _ in range(2)]
    for app in apps:
        await app.start()
    first, second = apps
    try:
        assert first.leading and first.cron is not None
        assert not second.leading and second.cron is None
        # the follower serves the outbox: a command answered there is delivered
        reply = await second.console.type("anna.weber", "help", "member-de")
        assert reply.plain()
        stopped = time.monotonic()
        await first.stop()
        while not second.leading:
            assert time.monotonic() - stopped < 5
            await asyncio.sleep(0.05)
        assert second.cron is not None and "annual-report" in second.cron.jobs()
    finally:
        await first.stop()
        await second.stop()


async def test_app_start_refuses_a_skewed_clock_with_a_clear_error(
        pg_url: str, example_directory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import wisbot.leader

    monkeypatch.setattr(wisbot.leader, "measure_skew", lambda store, wall: (120.0, 0.01))
    app = App(_settings(pg_url, max_clock_skew=2.0), directory=example_directory,
              adapters=[ConsoleAdapter(echo=False)], run_worker=True)
    with pytest.raises(ClockSkew, match="WISBOT_MAX_CLOCK_SKEW"):
        await app.start()
    assert app.store is None  # everything started was taken down again


class SplitConsole(ConsoleAdapter):
    """A console whose inbound side is a singleton, like Matrix sync: the follower only
    sends, and never to the room standing for an E2E room (``secretariat`` here)."""

    def __init__(self) -> None:
        super().__init__(echo=False)
        self.inbound = False
        self.outbound = False

    async def start_outbound(self) -> None:
        self.outbound = True

    async def start(self, dispatch: Any) -> None:
        await super().start(dispatch)
        self.inbound = True

    async def stop_inbound(self) -> None:
        self.dispatch = None
        self.inbound = False

    async def stop(self) -> None:
        await self.stop_inbound()
        self.outbound = False

    def follower_sends(self, room: Any) -> bool:
        return room is not None and room.key != "secretariat"


async def test_the_follower_sends_what_it_may_and_the_leader_the_rest(
        pg_url: str, example_directory: Any) -> None:
    adapters = [SplitConsole(), SplitConsole()]
    apps = [App(_settings(pg_url, outbox_poll_interval=0.1), directory=example_directory,
                adapters=[a], run_worker=True) for a in adapters]
    for app in apps:
        await app.start()
    first, second = apps
    try:
        assert [(a.inbound, a.outbound) for a in adapters] == [(True, True), (False, True)]
        with pytest.raises(RuntimeError):  # no chat inbound on the follower
            await second.console.type("anna.weber", "help", "member-de")
        await first.outbox.stop()  # the leader's worker is busy elsewhere: the follower's runs
        reply = await first.console.type(
            "anna.weber", "incident report DE-OF-NC share=group sev=2 Split", "member-de")
        assert reply.ref
        deadline = time.monotonic() + 10
        while "collaboration" not in second.console.rooms:
            assert time.monotonic() < deadline, "the follower did not deliver"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert "secretariat" not in second.console.rooms  # left for the leader
        assert "member-de" in second.console.rooms
        await first.stop()
        assert adapters[0].inbound is False
        deadline = time.monotonic() + 10
        while "secretariat" not in second.console.rooms:
            assert time.monotonic() < deadline, "the new leader did not deliver the rest"
            await asyncio.sleep(0.05)
        assert second.leading and adapters[1].inbound
        assert [r.ref for r in second.console.rooms["secretariat"]] == [reply.ref]
    finally:
        for app in apps:
            await app.stop()


async def test_a_leader_part_that_cannot_start_fails_the_start_with_its_error(
        sqlite_url: str, example_directory: Any) -> None:
    class Refused(SplitConsole):
        async def start(self, dispatch: Any) -> None:
            raise ValueError("the homeserver refused the login")

    adapter = Refused()
    app = App(_settings(sqlite_url), directory=example_directory, adapters=[adapter],
              run_worker=True)
    with pytest.raises(ValueError, match="refused the login"):
        await app.start()
    assert app.store is None and not adapter.outbound
    assert lease_row(sqlite_url).holder == ""  # not left holding the lease


class Partition:
    """A TCP relay in front of PostgreSQL that can go silent (a network partition: the
    connections stay open, nothing gets through) and come back."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.server: asyncio.Server | None = None
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _client(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        await self.flowing.wait()
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        for task in (asyncio.create_task(self._pipe(reader, up_writer)),
                     asyncio.create_task(self._pipe(up_reader, writer))):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        self.flowing.set()
        if self.server is not None:
            self.server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def test_a_leader_cut_off_from_the_database_fences_itself_before_the_takeover(
        pg_url: str) -> None:
    from sqlalchemy.engine import make_url

    u = make_url(pg_url)
    relay = Partition(u.host or "127.0.0.1", u.port or 5432)
    await relay.start()
    via_relay = u.set(host="127.0.0.1", port=relay.port).render_as_string(
        hide_password=False)
    ea, eb = Events(), Events()
    a = elector(via_relay, ea, lease=3.0, renew=0.5)
    b = elector(pg_url, eb, lease=3.0, renew=0.5)
    try:
        await a.start()
        await b.start()
        assert a.is_leader and not b.is_leader
        await asyncio.sleep(1.0)
        relay.flowing.clear()  # the partition: a's renewals hang
        cut = time.monotonic()
        deadline = cut + 15
        while not b.is_leader:
            assert time.monotonic() < deadline, "the follower never took over"
            await asyncio.sleep(0.05)
        assert ea.at("deposed"), "the cut-off leader did not stop its singletons"
        fenced, took = ea.at("deposed")[0] - cut, eb.at("elected")[0] - cut
        assert fenced < took, (fenced, took)  # never two leaders at once
        assert fenced <= a.lease - a.fence_margin + a.renew + 0.5, fenced
        assert took <= a.lease + 2 * a.renew + 1.0, took
        relay.flowing.set()  # the network heals: a stays a follower
        await asyncio.sleep(2.0)
        assert not a.is_leader and b.is_leader and lease_row(pg_url).epoch == 2
    finally:
        relay.flowing.set()
        await a.stop()
        await b.stop()
        await relay.stop()
