"""What counts as a closed Matrix room (``wisbot.services.integrity``): the settings
provisioning writes pass; each weakening an operator could make is reported."""

from __future__ import annotations

from typing import Any

import pytest

from wisbot.services.integrity import closed_power_levels, weak_settings

BOT = "@wisbot:example.org"
SEC = "@maria.rossi:example.org"
DESK = "@of.desk:example.org"


def check(power: dict[str, Any], **settings: Any) -> list[str]:
    args = {"join_rule": "invite", "history_visibility": "joined",
            "guest_access": "forbidden", **settings}
    return weak_settings(bot=BOT, moderators={SEC}, power=power, **args)


@pytest.mark.parametrize("privileged", [False, True])
def test_provisioned_settings_are_closed(privileged: bool) -> None:
    power = closed_power_levels(BOT, [SEC], creator_privileged=privileged)
    assert (BOT in power["users"]) is not privileged  # room version 12: creators unlisted
    assert check(power) == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"invite": 0}, "everyone (power 0) can invite"),
    ({"users_default": 50}, "everyone (power 50) can kick"),
    ({"users": {BOT: 100, DESK: 50}}, f"{DESK} (power 50) can kick"),
    ({"users": {BOT: 100, SEC: 100}}, f"{SEC} (power 100) can invite, change settings"),
    ({"state_default": 0}, "can change settings"),
    ({"events": {"m.room.history_visibility": 0}}, "can change settings"),
])
def test_weaker_power_levels_are_reported(change: dict[str, Any], expected: str) -> None:
    power = {**closed_power_levels(BOT, [SEC]), **change}
    assert any(expected in w for w in check(power)), check(power)


@pytest.mark.parametrize(("setting", "value"), [
    ("join_rule", "public"), ("history_visibility", "shared"),
    ("history_visibility", "world_readable"), ("guest_access", "can_join"),
])
def test_weaker_room_settings_are_reported(setting: str, value: str) -> None:
    weak = check(closed_power_levels(BOT, [SEC]), **{setting: value})
    assert len(weak) == 1 and repr(value) in weak[0], weak
