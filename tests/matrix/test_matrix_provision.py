"""`wisbot matrix provision`: from a directory to invite-only rooms on Synapse."""

from __future__ import annotations

import asyncio
from pathlib import Path

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
