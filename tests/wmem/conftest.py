"""WIS2 monitoring event fixtures: the published WMEM examples (copied into fixtures/ from
wmo-im/wis2-monitoring-events, commit 676cd0d), a directory whose Global Services carry
their centre-ids, an App with scripted probes, and a builder of events from the examples."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.watch.conftest import MARCH, THREE, FakeSweep, watch_directory
from wisbot.directory import Directory

FIXTURES = Path(__file__).parent / "fixtures"
WIS2M = {
    "gb-dwd": {"kind": "broker", "url": "mqtt://gb-dwd.invalid:1883",
               "centre_id": "de-dwd-global-broker"},
    "gdc-eccc": {"kind": "gdc", "url": "http://gdc-eccc.invalid/",
                 "centre_id": "ca-eccc-msc-global-discovery-catalogue"},
    "gc-jma": {"kind": "cache", "url": "http://gc-jma.invalid/x"},
}
OTHER_GISC_ROOMS = ["gisc-beijing", "gisc-seoul", "gisc-exeter", "gisc-brasilia",
                    "gisc-toulouse", "collaboration"]


def example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / f"wmem-{name}.json").read_text("utf-8"))
    return doc


def event(name: str, **changes: Any) -> dict[str, Any]:
    """A published example with a fresh id; ``data_<key>`` changes ``data``."""
    doc = copy.deepcopy(example(name))
    doc["id"] = str(uuid.uuid4())
    for key, value in changes.items():
        if key.startswith("data_"):
            doc["data"][key[5:]] = value
        else:
            doc[key] = value
    return doc


def raw(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


@pytest.fixture
def fake_sweep() -> FakeSweep:
    return FakeSweep()


@pytest.fixture
def wmem_app(make_app: Any, example_directory: Directory, fake_sweep: FakeSweep) -> Any:
    async def factory(*, duty_room: bool = True, **settings: Any) -> Any:
        d = watch_directory(example_directory, duty_room=duty_room, services=THREE,
                            wis2=WIS2M)
        settings.setdefault("watch_enabled", False)
        app = await make_app(d, **settings)
        app.services.watch.sweeper = fake_sweep
        await app.services.watch.import_roster(MARCH)
        return app

    return factory
