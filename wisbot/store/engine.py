"""Engine, sessions and the one way services touch the database.

Repositories are plain functions on a synchronous ``Session``; :meth:`Store.tx` runs one
of them inside one transaction on a worker thread, so the event loop never blocks and a
use case costs one thread hop, not one per statement.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from wisbot.errors import NotMigrated

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def normalise_url(url: str) -> str:
    """``postgresql://`` → the psycopg 3 driver, which is what wisbot ships with."""
    u = make_url(url)
    if u.get_backend_name() == "postgresql" and u.get_driver_name() in ("psycopg2", ""):
        u = u.set(drivername="postgresql+psycopg")
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


class Encoded(str):
    """A JSON document already serialised: stored as is, not encoded again (one cascade
    writes the same message to many rows)."""


def _json_dumps(value: Any) -> str:
    if isinstance(value, Encoded):
        return str(value)
    return json.dumps(value)


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               json_serializer=_json_dumps)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # Autocommit at the driver: SQLAlchemy then issues BEGIN itself (below).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front, so two processes never both read
            # a counter and then fail to upgrade their lock.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True,
                         json_serializer=_json_dumps)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def describe_revision(revision: str | None) -> str:
    """``0010 (deadlines)``: the id and the first line of the migration's docstring."""
    if revision is None:
        return "none (empty database)"
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    try:
        rev = script.get_revision(revision)
    except Exception:
        return f"{revision} (unknown to this wisbot: a newer version migrated it)"
    doc = (rev.doc or "").strip() if rev is not None else ""
    name = doc.split("(")[0].strip() if doc else ""
    return f"{revision} ({name})" if name else revision


def revisions_behind(current: str | None) -> int | None:
    """How many migrations ``db upgrade`` would apply; None when ``current`` is unknown."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    try:
        return sum(1 for _ in script.iterate_revisions(head, current or "base"))
    except Exception:
        return None


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


class Store:
    """The database, reached through :meth:`tx`."""

    def __init__(self, url: str, *, workers: int | None = None) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self.sqlite = is_sqlite(self.url)
        # SQLite has one writer at a time: one thread avoids lock waits inside a process.
        n = workers or (1 if self.sqlite else min(8, (os.cpu_count() or 2) * 2))
        self._pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="wisbot-db")

    def check_migrated(self) -> None:
        head = head_revision()
        current = current_revision(self.engine)
        if current != head:
            where = make_url(self.url).render_as_string(hide_password=True)
            raise NotMigrated(
                f"the database {where} is at schema revision {current or 'none'}, "
                f"this wisbot needs {head}: run `wisbot db upgrade` first"
            )

    async def tx(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one transaction; commit on return, roll back on error."""
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()
        return await loop.run_in_executor(self._pool, functools.partial(ctx.run, self.run, fn))

    def run(self, fn: Callable[[Session], T]) -> T:
        for attempt in range(5):
            try:
                with Session(self.engine, expire_on_commit=False) as session, session.begin():
                    return fn(session)
            except OperationalError as exc:
                # SQLite may still report a lock under heavy multi-process load.
                if self.sqlite and "locked" in str(exc).lower() and attempt < 4:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.engine.dispose()
