"""`wisbot matrix provision`: from a directory to invite-only rooms on Synapse."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.matrix.conftest import PEOPLE, directory_data
from tests.matrix.synapse import Synapse
from wisbot.cli import app
from wisbot.directory import load_directory


def test_provision_creates_invite_only_rooms_and_writes_ids_back(
        synapse: Synapse, tmp_path: Path) -> None:
    regs = {p: synapse.register(f"{p}-prov-{tmp_path.name[-6:]}") for p in PEOPLE}
    data = directory_data({p: r.user_id for p, r in regs.items()}, encrypted=("member-de",))
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    env = {"WISBOT_MATRIX_HOMESERVER": synapse.url, "WISBOT_MATRIX_USER_ID": regs["bot"].user_id,
           "WISBOT_MATRIX_PASSWORD": regs["bot"].password}
    result = CliRunner().invoke(app, ["matrix", "provision", "--directory", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "7 room(s) created" in result.output
    assert "room 7/7" in result.output  # progress, room by room
    assert not list(tmp_path.glob("*.bak")), "no backup file beside the directory"
    state = yaml.safe_load((tmp_path / "directory.yaml.matrix-rooms.yaml").read_text())
    assert len(state) == 7
    d = load_directory(path)  # valid, every Matrix room now has its id
    ids = {r.key: r.address for r in d.rooms}
    assert all(a and a.startswith("!") for a in ids.values())
    # again: nothing to do, nothing changed
    again = CliRunner().invoke(app, ["matrix", "provision", "--directory", str(path)], env=env)
    assert again.exit_code == 0 and "nothing to do" in again.output
    assert {r.key: r.address for r in load_directory(path).rooms} == ids

    async def check() -> None:
        from nio import AsyncClient

        c = AsyncClient(synapse.url, regs["bot"].user_id)
        c.restore_login(regs["bot"].user_id, regs["bot"].device_id, regs["bot"].access_token)
        try:
            rule = await c.room_get_state_event(ids["gisc-tokyo"], "m.room.join_rules")
            assert rule.content["join_rule"] == "invite"
            hist = await c.room_get_state_event(ids["gisc-tokyo"], "m.room.history_visibility")
            # a member reads only what was posted after their own join
            assert hist.content["history_visibility"] == "joined"
            guests = await c.room_get_state_event(ids["gisc-tokyo"], "m.room.guest_access")
            assert guests.content["guest_access"] == "forbidden"
            power = (await c.room_get_state_event(ids["gisc-tokyo"],
                                                  "m.room.power_levels")).content
            # only the bot invites or changes settings; the Secretariat may remove people
            assert power["invite"] == 100 and power["state_default"] == 100
            assert power["kick"] == power["ban"] == power["redact"] == 50
            assert power["users_default"] == 0
            assert power["users"].get(regs["sec"].user_id) == 50
            assert power["users"].get(regs["tk"].user_id, 0) == 0
            enc = await c.room_get_state_event(ids["member-de"], "m.room.encryption")
            assert enc.content["algorithm"] == "m.megolm.v1.aes-sha2"
            plain = await c.room_get_state_event(ids["gisc-tokyo"], "m.room.encryption")
            assert getattr(plain, "status_code", None) == "M_NOT_FOUND"
            members = await c.joined_members(ids["gisc-tokyo"])
            assert [m.user_id for m in members.members] == [regs["bot"].user_id]
            state = await c.room_get_state(ids["gisc-tokyo"])
            invited = {e["state_key"] for e in state.events if e["type"] == "m.room.member"
                       and e["content"]["membership"] == "invite"}
            assert invited == {regs["tk"].user_id}  # the GISC's own desk, nobody else
        finally:
            await c.close()

    asyncio.run(check())


def _env(synapse: Synapse, reg: Any) -> dict[str, str]:
    return {"WISBOT_MATRIX_HOMESERVER": synapse.url, "WISBOT_MATRIX_USER_ID": reg.user_id,
            "WISBOT_MATRIX_ACCESS_TOKEN": reg.access_token,
            "WISBOT_MATRIX_DEVICE_ID": reg.device_id}


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` on a read-only bind mount (as a container mounts the configuration)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a read-only bind mount needs root and mount(8)")
    done = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount: {done.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True,
                       capture_output=True)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


async def _joined_rooms(synapse: Synapse, reg: Any) -> list[str]:
    from nio import AsyncClient

    c = AsyncClient(synapse.url, reg.user_id)
    c.restore_login(reg.user_id, reg.device_id, reg.access_token)
    try:
        return list((await c.joined_rooms()).rooms)
    finally:
        await c.close()


def test_provision_killed_half_way_in_a_read_only_folder_is_finished_by_a_rerun(
        synapse: Synapse, tmp_path: Path) -> None:
    """The compose layout: the directory on a read-only mount. A run killed after three
    rooms (SIGKILL, a real process) has left their ids in the state file; the re-run makes
    the other four, makes none twice, writes no file beside the directory and prints the
    rooms to paste."""
    regs = {p: synapse.register(f"{p}-ro-{tmp_path.name[-6:]}") for p in PEOPLE}
    data = directory_data({p: r.user_id for p, r in regs.items()})
    config = tmp_path / "config"
    config.mkdir()
    path = config / "directory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, **_env(synapse, regs["bot"]), "PYTHONUNBUFFERED": "1",
           "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "wisbot", "matrix", "provision", "--directory", str(path)]
    with read_only(config):
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if "room 3/7" in line:
                proc.kill()
                break
        proc.wait()
        proc.stdout.close()
        assert any("room 3/7" in s for s in seen), "".join(seen)
        state = work / "directory.yaml.matrix-rooms.yaml"
        first = yaml.safe_load(state.read_text())
        assert 2 <= len(first) <= 3, first
        again = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                               timeout=300)
        assert again.returncode == 0, again.stdout + again.stderr
        out = again.stdout
        assert "cannot write" in out and "room" in out
        ids = yaml.safe_load(state.read_text())
        assert set(ids) == {r["key"] for r in data["rooms"]}
        assert {k: ids[k] for k in first} == first  # the first run's rooms, kept
        for room_id in ids.values():
            assert room_id in out  # printed, to paste into the directory
        assert sorted(p.name for p in config.iterdir()) == ["directory.yaml"]
    assert sorted(asyncio.run(_joined_rooms(synapse, regs["bot"]))) == sorted(ids.values())


def test_provision_waits_out_the_default_room_creation_limit(
        synapse_default_limits: Synapse, tmp_path: Path) -> None:
    """Synapse's default limits (10 rooms at once, then one a minute): eleven rooms are
    all made, the run says that it waits and never fails on a 429."""
    synapse = synapse_default_limits
    regs = {p: synapse.register(f"{p}-lim-{tmp_path.name[-6:]}") for p in PEOPLE}
    data = directory_data({p: r.user_id for p, r in regs.items()})
    for n in range(4):
        data["rooms"].append({"key": f"extra-{n}", "role": "member:DE", "platform": "matrix",
                              "name": f"Germany extra {n}"})
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = CliRunner().invoke(app, ["matrix", "provision", "--directory", str(path)],
                                env=_env(synapse, regs["bot"]))
    assert result.exit_code == 0, result.output
    assert "room 11/11" in result.output
    assert "rate limited by the homeserver" in result.output
    d = load_directory(path)
    assert len({r.address for r in d.rooms}) == 11
