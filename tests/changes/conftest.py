"""Change-management fixtures: the example directory plus two CAB members, a CAB room,
a duty room and Global Services (WIS 2.0) for the planned-outage announcement.

Clock: FakeClock's default, Monday 2026-03-02 09:00 UTC."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from wisbot.directory import Directory, parse_directory

CAB_CONTACTS = [
    {"id": "cab.chair", "name": "Ingrid Solberg", "email": "ingrid.solberg@example.org",
     "roles": ["cab"]},
    {"id": "cab.expert", "name": "Tomás Oyarzún", "email": "t.oyarzun@example.org",
     "roles": ["cab", "gisc:Tokyo"]},
    {"id": "watch-op", "name": "Watch Operator", "email": "watch@example.org",
     "roles": ["watch"]},
]
WIS2 = {"gb-dwd": {"kind": "broker", "url": "mqtt://gb-dwd.invalid:8883",
                   "centre_id": "de-dwd-global-broker"},
        "gdc-eccc": {"kind": "gdc", "url": "http://gdc-eccc.invalid/",
                     "centre_id": "ca-eccc-msc-global-discovery-catalogue"}}


def change_directory(base: Directory, *, cab_room: bool = True) -> Directory:
    data: dict[str, Any] = base.model_dump(mode="json")
    data["contacts"] = [*data["contacts"], *CAB_CONTACTS]
    rooms = [{"key": "duty", "role": "duty", "platform": "console", "name": "Duty"}]
    if cab_room:
        rooms.append({"key": "cab", "role": "cab", "platform": "console",
                      "name": "Change advisory board"})
    data["rooms"] = [*data["rooms"], *rooms]
    data["wis2"] = WIS2
    return parse_directory(data, "<change test directory>")


@pytest.fixture
def change_app(make_app: Any, example_directory: Directory) -> Any:
    async def factory(*, cab_room: bool = True, **settings: Any) -> Any:
        settings.setdefault("watch_enabled", False)
        return await make_app(change_directory(example_directory, cab_room=cab_room),
                              **settings)

    return factory


async def cab_meeting(app: Any, clock: Any) -> None:
    """Schedule a CAB meeting an hour ahead, post its agenda (the changes accepted so far)
    and move the clock to it: changes are authorised only there."""
    at = clock.now + timedelta(hours=1)
    await app.console.type("sec-maria", f"change cab schedule {at:%Y-%m-%dT%H:%MZ}")
    await app.services.extra["changes"].post_agendas()
    clock.advance(hours=1)
