"""Shared fixtures.

``db_url`` runs a test on SQLite and, when ``WISBOT_TEST_POSTGRES_URL`` is set, again on
PostgreSQL: each test gets a freshly migrated, empty database.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests._services import missing
from wisbot.adapters.console import ConsoleAdapter
from wisbot.app import App
from wisbot.clock import FakeClock
from wisbot.directory import Directory, load_directory
from wisbot.settings import Settings
from wisbot.store.engine import normalise_url, upgrade

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "deploy" / "directory.example.yaml"
PG_ENV = "WISBOT_TEST_POSTGRES_URL"
# CLI output is read as text: a wide console, whatever terminal (or none, under xdist) runs us.
os.environ.setdefault("COLUMNS", "200")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        missing(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1/test)")
    admin = create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    name = f"wisbot_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        missing(f"cannot create a database on {base}: {exc}")
    url = make_url(normalise_url(base)).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'")).scalars().all()
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                              + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "wisbot.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    _truncate(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "wisbot.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def example_directory() -> Directory:
    return load_directory(EXAMPLE)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


MakeApp = Callable[..., Any]


@pytest.fixture
async def make_app(db_url: str, example_directory: Directory,
                   clock: FakeClock) -> AsyncIterator[MakeApp]:
    """``app = await make_app()``: an App on the test database with a quiet console;
    the outbox worker is not started (tests call ``app.outbox.drain()``)."""
    apps: list[App] = []

    async def factory(directory: Directory | None = None, *, run_worker: bool = False,
                      adapters: list[Any] | None = None, **settings: Any) -> App:
        s = Settings(database_url=db_url, directory=EXAMPLE, **settings)
        app = App(s, directory=directory or example_directory, clock=clock,
                  adapters=adapters if adapters is not None else [ConsoleAdapter(echo=False)],
                  run_worker=run_worker)
        await app.start()
        apps.append(app)
        return app

    yield factory
    for app in reversed(apps):
        await app.stop()


# Under pytest-xdist (`make test` runs two workers) the local Mosquitto is one shared broker:
# tests that publish or subscribe on its fixed WIS2 topics run on one worker, one after the other.
_BROKER_WORDS = ("1883", "mosquitto", "aiomqtt", "paho", "wmem", "mqtt://")
_broker_files: dict[Path, bool] = {}


def _uses_broker(path: Path) -> bool:
    if path not in _broker_files:
        try:
            text_ = path.read_text("utf-8").lower()
        except OSError:
            text_ = ""
        _broker_files[path] = any(w in text_ for w in _BROKER_WORDS)
    return _broker_files[path]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        module = Path(str(item.fspath))
        local_conftest = module.parent / "conftest.py"  # broker fixtures live in these
        if _uses_broker(module) or (module.parent != root and _uses_broker(local_conftest)):
            item.add_marker(pytest.mark.xdist_group("mosquitto"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """End the run with what the skips were (PostgreSQL runs, missing services)."""
    from tests._skip_summary import terminal_summary

    terminal_summary(terminalreporter)
