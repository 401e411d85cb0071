"""A real Synapse for the Matrix tests, people who read their own syncs, and a small
directory whose rooms are provisioned on that Synapse for each test."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from tests._services import missing
from tests.matrix.synapse import Registered, Synapse

SYNC_FILTER = {"room": {"timeline": {"limit": 200}}, "presence": {"types": []}}


def _require_synapse() -> None:
    import importlib.util

    # Only located, not imported: Synapse runs as its own process (importing it here
    # would pull Twisted's deprecation warnings into the test process).
    if importlib.util.find_spec("synapse") is None:
        missing("Matrix tests need matrix-synapse in the test venv: "
                "pip install matrix-synapse")
    try:
        import nio  # noqa: F401
    except ImportError:
        missing("Matrix tests need matrix-nio: pip install 'wisbot[matrix,e2e]'")


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """Synapse with relaxed rate limits (the cascade and load tests)."""
    _require_synapse()
    server = Synapse(tmp_path_factory.mktemp("synapse"), relaxed=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def synapse_default_limits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """Synapse with its default rate limits."""
    _require_synapse()
    server = Synapse(tmp_path_factory.mktemp("synapse-default"), relaxed=False)
    server.start()
    yield server
    server.stop()


class Person:
    """A directory member's own Matrix client: what they read comes from their sync."""

    def __init__(self, server: Synapse, reg: Registered, store: Path | None = None) -> None:
        from nio import AsyncClient, AsyncClientConfig

        if store is not None:
            store.mkdir(parents=True, exist_ok=True)
        self.reg = reg
        self.user_id = reg.user_id
        cfg = AsyncClientConfig(encryption_enabled=store is not None, store_sync_tokens=False,
                                max_limit_exceeded=0, max_timeouts=5)
        self.client = AsyncClient(server.url, reg.user_id, device_id=reg.device_id,
                                  store_path=str(store) if store else "", config=cfg)
        self.client.restore_login(reg.user_id, reg.device_id, reg.access_token)
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.since: str | None = None

    async def sync(self, timeout_ms: int = 0) -> None:
        from nio import MegolmEvent, SyncResponse

        resp = await self.client.sync(timeout=timeout_ms, sync_filter=SYNC_FILTER,
                                      since=self.since)
        assert isinstance(resp, SyncResponse), resp
        self.since = resp.next_batch
        for room_id, join in resp.rooms.join.items():
            for ev in join.timeline.events:
                src = dict(ev.source)
                if isinstance(ev, MegolmEvent):
                    src["undecrypted"] = True
                elif getattr(ev, "decrypted", False):
                    src = {**src, "content": ev.source.get("content", {}),
                           "decrypted": True}
                self.events.setdefault(room_id, []).append(src)
        for room_id in resp.rooms.invite:
            await self.client.join(room_id)
        if self.client.olm is not None:
            if self.client.should_upload_keys:
                await self.client.keys_upload()
            if self.client.should_query_keys:
                await self.client.keys_query()
            if self.client.should_claim_keys:
                await self.client.keys_claim(self.client.get_users_for_key_claiming())
            await self.client.send_to_device_messages()

    async def join_invites(self) -> None:
        await self.sync()
        await self.sync()

    async def say(self, room_id: str, text: str, **extra: Any) -> str:
        from nio import RoomSendResponse

        content = {"msgtype": "m.text", "body": text, **extra}
        resp = await self.client.room_send(room_id, "m.room.message", content,
                                           ignore_unverified_devices=True)
        assert isinstance(resp, RoomSendResponse), resp
        return str(resp.event_id)

    async def react(self, room_id: str, event_id: str, key: str = "✅") -> None:
        await self.client.room_send(room_id, "m.reaction", {"m.relates_to": {
            "rel_type": "m.annotation", "event_id": event_id, "key": key}})

    def notices(self, room_id: str, sender: str) -> list[dict[str, Any]]:
        """The contents of the messages ``sender`` posted in ``room_id``: ``m.notice``,
        and ``m.text`` (a page, which must notify)."""
        out = []
        for ev in self.events.get(room_id, []):
            c = ev.get("content", {})
            if ev.get("sender") == sender and ev.get("type") == "m.room.message" \
                    and c.get("msgtype") in ("m.notice", "m.text"):
                out.append({**c, "event_id": ev.get("event_id")})
        return out

    def read(self, room_id: str, sender: str) -> str:
        return "\n\n".join(c["body"] for c in self.notices(room_id, sender))

    async def wait_for(self, room_id: str, sender: str, predicate: Callable[[str], bool],
                       within: float = 20.0) -> str:
        deadline = time.monotonic() + within
        while True:
            text = self.read(room_id, sender)
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.user_id} never read the expected text in "
                                     f"{room_id}; read:\n{text}")
            await self.sync(timeout_ms=1000)

    async def close(self) -> None:
        await self.client.close()


PEOPLE = ("bot", "sec", "of", "tk", "ex", "anna", "stranger")


def directory_data(ids: dict[str, str], *, encrypted: tuple[str, ...] = ()) -> dict[str, Any]:
    """A small closed user group on Matrix: the Secretariat, three GISCs, Germany."""
    def room(key: str, role: str, name: str) -> dict[str, Any]:
        return {"key": key, "role": role, "platform": "matrix", "name": name,
                "encrypted": key in encrypted}

    return {
        "members": [{"code": "DE", "name": "Germany", "aliases": ["DWD"]},
                    {"code": "JP", "name": "Japan"}, {"code": "GB", "name": "United Kingdom"}],
        "centres": [
            {"code": "DE-OF-NC", "name": "DWD National Centre Offenbach", "member": "DE",
             "principal_gisc": "Offenbach"},
            {"code": "JP-GISC", "name": "JMA (GISC Tokyo)", "member": "JP",
             "principal_gisc": "Tokyo", "kind": "GISC"},
            {"code": "GB-GISC", "name": "Met Office (GISC Exeter)", "member": "GB",
             "principal_gisc": "Exeter", "kind": "GISC"},
        ],
        "giscs": [{"name": "Offenbach", "member": "DE"}, {"name": "Tokyo", "member": "JP"},
                  {"name": "Exeter", "member": "GB"}],
        "contacts": [
            {"id": "sec-desk", "name": "WMO Secretariat desk", "roles": ["secretariat"],
             "chat": {"matrix": ids["sec"]}},
            {"id": "gisc-offenbach", "name": "GISC Offenbach desk", "roles": ["gisc:Offenbach"],
             "chat": {"matrix": ids["of"]}},
            {"id": "gisc-tokyo", "name": "GISC Tokyo desk", "roles": ["gisc:Tokyo"],
             "chat": {"matrix": ids["tk"]}},
            {"id": "gisc-exeter", "name": "GISC Exeter desk", "roles": ["gisc:Exeter"],
             "chat": {"matrix": ids["ex"]}},
            {"id": "anna.weber", "name": "Anna Weber", "roles": ["member:DE"], "lead": True,
             "chat": {"matrix": ids["anna"]}},
        ],
        "rooms": [
            room("secretariat", "secretariat", "WMO Secretariat"),
            room("member-de", "member:DE", "Germany focal points"),
            room("gisc-offenbach", "gisc:Offenbach", "GISC Offenbach"),
            room("gisc-tokyo", "gisc:Tokyo", "GISC Tokyo"),
            room("gisc-exeter", "gisc:Exeter", "GISC Exeter"),
            room("area-offenbach", "area:Offenbach", "GISC Offenbach area"),
            room("collaboration", "collaboration", "Collaboration"),
        ],
    }


@dataclass
class World:
    server: Synapse
    regs: dict[str, Registered]
    people: dict[str, Person]
    directory: Any
    data: dict[str, Any]
    rooms: dict[str, str]
    db_url: str
    tmp: Path
    apps: list[Any] = field(default_factory=list)

    @property
    def bot(self) -> str:
        return self.regs["bot"].user_id

    def adapter(self, **kw: Any) -> Any:
        from wisbot.adapters.matrix import MatrixAdapter

        reg = self.regs["bot"]
        kw.setdefault("store_path", self.tmp / "bot-store")
        kw.setdefault("sync_timeout", 5.0)
        return MatrixAdapter(self.server.url, reg.user_id, password=reg.password,
                             device_id="WISBOT", **kw)

    async def as_bot(self) -> Any:
        """The bot's account on its registration device: the only one with the power to
        invite or change settings in a provisioned room (what a misused bot account or a
        homeserver admin could do). Close it after use."""
        from nio import AsyncClient

        reg = self.regs["bot"]
        admin = AsyncClient(self.server.url, reg.user_id)
        admin.restore_login(reg.user_id, reg.device_id, reg.access_token)
        return admin

    async def invite_stranger(self, room_key: str, who: str = "stranger") -> None:
        admin = await self.as_bot()
        try:
            resp = await admin.room_invite(self.rooms[room_key], self.regs[who].user_id)
            assert getattr(resp, "status_code", None) is None, resp
        finally:
            await admin.close()

    async def app(self, *, adapters: list[Any] | None = None, clock: Any = None,
                  run_worker: bool = True, directory: Any = None, elect: bool | None = None,
                  **settings: Any) -> Any:
        from wisbot.app import App
        from wisbot.clock import utcnow
        from wisbot.settings import Settings

        settings.setdefault("outbox_poll_interval", 0.2)
        settings.setdefault("outbox_backoff_base", 0.2)
        settings.setdefault("outbox_backoff_max", 2.0)
        s = Settings(database_url=self.db_url, directory=self.tmp / "directory.yaml",
                     **settings)
        app = App(s, directory=directory or self.directory, clock=clock or utcnow,
                  adapters=adapters if adapters is not None else [self.adapter()],
                  run_worker=run_worker, elect=elect)
        await app.start()
        self.apps.append(app)
        return app

    async def stop(self, app: Any) -> None:
        await app.stop()
        self.apps.remove(app)

    async def delivered(self, app: Any, within: float = 30.0) -> None:
        """Wait until the outbox has nothing pending (every send accepted)."""
        from wisbot.store.tables import OutboxRow

        deadline = time.monotonic() + within
        while True:
            pending = await app.store.tx(lambda s: s.exec(
                select(OutboxRow).where(OutboxRow.status == "pending")).all())
            if not pending:
                return
            if time.monotonic() > deadline:
                left = [(r.room_key, r.last_error) for r in pending]
                raise AssertionError(f"still pending: {left}")
            app.outbox.wake()
            await asyncio.sleep(0.1)


async def make_world(server: Synapse, tmp: Path, db_url: str, *,
                     encrypted: tuple[str, ...] = (), e2e_people: tuple[str, ...] = ()) -> World:
    import yaml
    from nio import AsyncClient

    from wisbot.adapters.matrix import provision
    from wisbot.directory import parse_directory

    suffix = secrets.token_hex(3)
    regs = {p: server.register(f"{p}-{suffix}") for p in PEOPLE}
    ids = {p: r.user_id for p, r in regs.items()}
    data = directory_data(ids, encrypted=encrypted)
    bot = AsyncClient(server.url, ids["bot"])
    bot.restore_login(ids["bot"], regs["bot"].device_id, regs["bot"].access_token)
    try:
        rooms = await provision(bot, data)
    finally:
        await bot.close()
    (tmp / "directory.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    directory = parse_directory(data)
    people = {p: Person(server, regs[p], tmp / f"store-{p}" if p in e2e_people else None)
              for p in PEOPLE if p != "bot"}
    for p in people.values():
        await p.join_invites()
    return World(server, regs, people, directory, data, rooms, db_url, tmp)


async def _world(server: Synapse, tmp: Path, db_url: str) -> AsyncIterator[World]:
    w = await make_world(server, tmp, db_url)
    yield w
    for app in reversed(w.apps):
        await app.stop()
    for p in w.people.values():
        await p.close()


@pytest.fixture
async def world(synapse: Synapse, tmp_path: Path, sqlite_url: str) -> AsyncIterator[World]:
    """Users, rooms and a directory on Synapse; wisbot's database on SQLite."""
    async for w in _world(synapse, tmp_path, sqlite_url):
        yield w


@pytest.fixture
async def world_db(synapse: Synapse, tmp_path: Path, db_url: str) -> AsyncIterator[World]:
    """Like ``world``, once on SQLite and once on PostgreSQL (when
    WISBOT_TEST_POSTGRES_URL is set): the cascade and restart tests run on both."""
    async for w in _world(synapse, tmp_path, db_url):
        yield w
