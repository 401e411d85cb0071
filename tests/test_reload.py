"""Reloading the directory in a running bot (SIGHUP, ``wisbot reload``): a valid file is
put in place everywhere at once, a bad one is refused with its problems and changes
nothing, and nothing queued is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import select

from tests.conftest import EXAMPLE, ROOT
from wisbot.adapters.base import AdapterHost
from wisbot.adapters.console import render_text
from wisbot.directory import load_directory
from wisbot.errors import DirectoryError
from wisbot.store.tables import OutboxRow

REPORT = "incident report DE-OF-NC share=principal-gisc sev=2 Odd logins on the switch"


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _example() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return data


def _with_kenya_room(data: dict[str, Any]) -> dict[str, Any]:
    data["rooms"].append({"key": "member-ke", "role": "member:KE", "platform": "console",
                          "name": "Kenya focal points"})
    return data


def _holders(app: Any) -> dict[str, Any]:
    """Every place the running bot keeps the directory, listed by hand."""
    s = app.services
    out = {"app": app.directory, "services": s.directory, "incidents": s.incidents.directory,
           "lessons": s.lessons.directory, "watch": s.watch.directory,
           "exchange": s.exchange.directory, "paging": s.paging.directory,
           "dispatcher": app.dispatcher.directory, "outbox": app.outbox.directory}
    for name, adapter in app.adapters.items():
        for attr in vars(adapter).values():
            if isinstance(attr, AdapterHost):
                out[f"{name} host"] = attr.directory
    return out


class HostAwareConsole:
    """A console adapter that binds the host, as the Matrix adapter does."""

    def __init__(self) -> None:
        from wisbot.adapters.console import ConsoleAdapter

        self.inner = ConsoleAdapter(echo=False)
        self.platform = self.inner.platform
        self.host: AdapterHost | None = None
        self.checked = 0

    def bind(self, host: AdapterHost) -> None:
        self.host = host

    async def check_rooms(self) -> None:
        self.checked += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_valid_file_replaces_the_directory_everywhere(make_app, tmp_path):
    adapter = HostAwareConsole()
    app = await make_app(adapters=[adapter])
    old = app.directory
    assert {id(d) for d in _holders(app).values()} == {id(old)}
    refused = await adapter.inner.type("wanjiru.kamau", "severity", "member-ke")
    assert refused.kind == "error"  # not a bound room yet
    changes = await app.reload_directory(_write(tmp_path / "d.yaml",
                                                _with_kenya_room(_example())))
    assert changes == ["rooms: added member-ke"]
    new = app.directory
    assert new is not old and new.room("member-ke").role == "member:KE"
    holders = _holders(app)
    assert "console host" in holders
    assert {k for k, d in holders.items() if d is not new} == set()
    # the new room is served: a command typed there is answered and a report reaches it
    reply = await adapter.inner.type("wanjiru.kamau", "incident report KE-NC share=secretariat "
                                     "sev=1 Test", "member-ke")
    assert reply.kind != "error", render_text(reply)
    await app.outbox.drain()
    assert adapter.inner.rooms["member-ke"]
    await _settle()
    assert adapter.checked == 1  # audiences may have changed: rooms checked again


async def _settle() -> None:
    import asyncio

    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.parametrize(("breakage", "says"), [
    (lambda text: text + "\n  - [unclosed", "not valid YAML"),
    (lambda text: text.replace("principal_gisc: Offenbach", "principal_gisc: Ofenbach", 1),
     "unknown GISC 'Ofenbach' (did you mean 'Offenbach'?)"),
    (lambda text: text.replace("- key: secretariat\n  role: secretariat",
                               "- key: secretariat\n  role: collaboration", 1),
     "no room has role 'secretariat'"),
])
async def test_a_bad_file_is_refused_and_the_old_directory_stays(make_app, tmp_path, breakage,
                                                                says):
    app = await make_app()
    old = app.directory
    bad = tmp_path / "bad.yaml"
    bad.write_text(breakage(EXAMPLE.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(DirectoryError) as caught:
        await app.reload_directory(bad)
    assert says in str(caught.value)
    assert str(bad) in str(caught.value)
    assert all(d is old for d in _holders(app).values())
    reply = await app.console.type("anna.weber", REPORT, "member-de")
    assert reply.kind != "error"


async def test_a_missing_file_is_refused(make_app, tmp_path):
    app = await make_app()
    old = app.directory
    with pytest.raises(DirectoryError, match="cannot read"):
        await app.reload_directory(tmp_path / "gone.yaml")
    assert app.directory is old


async def test_queued_messages_survive_a_reload(make_app, tmp_path, db_url):
    app = await make_app()
    await app.console.type("anna.weber", REPORT, "member-de")

    def pending(s: Any) -> list[tuple[str, str]]:
        return sorted((r.room_key, r.key) for r in s.exec(
            select(OutboxRow).where(OutboxRow.status == "pending")).all())

    queued = await app.store.tx(pending)
    assert len(queued) >= 3
    await app.reload_directory(_write(tmp_path / "d.yaml", _with_kenya_room(_example())))
    assert await app.store.tx(pending) == queued
    await app.outbox.drain()
    told = {room: len(replies) for room, replies in app.console.rooms.items()}
    assert told == {room: 1 for room, _ in queued}


async def test_a_file_that_drops_a_room_with_queued_messages_is_refused(make_app, tmp_path):
    app = await make_app()
    await app.console.type("anna.weber", REPORT, "member-de")
    data = _example()
    data["rooms"] = [r for r in data["rooms"] if r["key"] != "gisc-offenbach"]
    with pytest.raises(DirectoryError, match="room 'gisc-offenbach' has 1 message"):
        await app.reload_directory(_write(tmp_path / "d.yaml", data))
    assert app.directory.room("gisc-offenbach")
    await app.outbox.drain()
    assert len(app.console.rooms["gisc-offenbach"]) == 1
    # once delivered, the room may go
    assert await app.reload_directory(tmp_path / "d.yaml") == ["rooms: removed gisc-offenbach"]


async def test_a_file_that_breaks_a_setting_is_refused(make_app, tmp_path):
    app = await make_app(watch_escalation_contact="sec-maria")
    data = _example()
    data["contacts"] = [c for c in data["contacts"] if c["id"] != "sec-maria"]
    for chain in data["oncall"].values():
        chain[:] = [c for c in chain if c != "sec-maria"]
    for rot in data["oncall_rotations"]:
        rot["contacts"] = [c for c in rot["contacts"] if c != "sec-maria"]
    with pytest.raises(DirectoryError, match="WISBOT_WATCH_ESCALATION_CONTACT"):
        await app.reload_directory(_write(tmp_path / "d.yaml", data))
    assert app.directory.contact("sec-maria")


async def test_reload_in_chat(make_app, tmp_path, monkeypatch):
    app = await make_app()
    path = _write(tmp_path / "d.yaml", _with_kenya_room(_example()))
    app.settings = app.settings.model_copy(update={"directory": path})
    old = app.directory
    refused = await app.console.type("anna.weber", "wisbot reload")
    assert refused.kind == "error" and "member-ke" not in render_text(refused)
    assert app.directory is old
    reply = await app.console.type("sec-maria", "wisbot reload")
    assert "Directory reloaded" in render_text(reply) and "added member-ke" in render_text(reply)
    assert app.directory is not old and app.directory.room("member-ke")
    path.write_text("members: [", encoding="utf-8")
    reply = await app.console.type("sec-maria", "wisbot reload", "secretariat")
    text = render_text(reply)
    assert reply.kind == "error" and "not valid YAML" in text and "keeps the directory" in text
    assert app.directory.room("member-ke")


def test_sighup_reloads_a_running_bot(tmp_path):
    """A real ``wisbot run``: SIGHUP with a new room, then with a broken file; the process
    logs both and keeps running, then stops cleanly on SIGTERM."""
    directory = _write(tmp_path / "directory.yaml", _example())
    db = f"sqlite:///{tmp_path}/wisbot.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WISBOT_DATABASE_URL": db,
           "WISBOT_DIRECTORY": str(directory), "WISBOT_ADAPTERS": "console",
           "WISBOT_AUTO_MIGRATE": "true", "WISBOT_WATCH_ENABLED": "false",
           "WISBOT_LOG_LEVEL": "INFO"}
    log = tmp_path / "stderr.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "wisbot", "run"], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err)
    try:
        _wait_for(log, "wisbot running with console", proc)
        _write(directory, _with_kenya_room(_example()))
        proc.send_signal(signal.SIGHUP)
        _wait_for(log, "SIGHUP: directory reloaded: rooms: added member-ke", proc)
        directory.write_text("rooms: [", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        _wait_for(log, "SIGHUP: directory not reloaded, the one in use stays", proc)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert load_directory(EXAMPLE)  # the example itself was never touched


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(encoding="utf-8", errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not logged:\n{log.read_text(errors='replace')[-3000:]}")
