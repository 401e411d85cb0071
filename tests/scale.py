"""A directory at WMO scale, generated deterministically: 193 Members, the 15 GISCs and
their rooms (one room per Member, per GISC and per GISC area, the Secretariat, the
collaboration facility and the working group: 226 rooms).

It is the example directory (deploy/directory.example.yaml, 21 rooms) grown with invented
Members: ``scale_directory_data()`` for the YAML-shaped data, ``scale_directory()`` for
the validated Directory. Used by tests/test_scale.py and benchmarks/.
"""

from __future__ import annotations

import copy
import itertools
import string
from pathlib import Path
from typing import Any

import yaml

from wisbot.directory import Directory, parse_directory

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "deploy" / "directory.example.yaml"
MEMBERS = 193


def example_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return data


def _codes(taken: set[str]) -> list[str]:
    pairs = ("".join(p) for p in itertools.product(string.ascii_uppercase, repeat=2))
    return [c for c in pairs if c not in taken]


def scale_directory_data(members: int = MEMBERS, *, platform: str = "console"
                         ) -> dict[str, Any]:
    """The example grown to ``members`` Members, each with a national centre, a lead focal
    point on call for it and a room; every GISC gets its area room. Rooms keep the
    example's platform unless ``platform`` is not console (then every room is on it, with
    no address: ready for ``wisbot matrix provision``)."""
    data = copy.deepcopy(example_data())
    giscs = [g["name"] for g in data["giscs"]]
    taken = {m["code"] for m in data["members"]}
    room_keys = {r["key"] for r in data["rooms"]}
    new = _codes(taken)[:max(0, members - len(data["members"]))]
    for i, code in enumerate(new):
        low = code.lower()
        gisc = giscs[i % len(giscs)]
        data["members"].append({"code": code, "name": f"Republic of {code}land",
                                "aliases": [f"{code}MET"]})
        data["centres"].append({"code": f"{code}-NC", "name": f"{code}MET national centre",
                                "member": code, "principal_gisc": gisc, "kind": "NC",
                                "identifiers": [f"{low}-{low}met"]})
        data["contacts"].append({"id": f"fp.{low}", "name": f"Focal Point {code}land",
                                 "email": f"fp@{low}met.example.org",
                                 "roles": [f"member:{code}"], "lead": True,
                                 "chat": {"matrix": f"@fp.{low}:example.org"}})
        data["oncall"][f"member:{code}"] = [f"fp.{low}"]
    for m in data["members"]:
        key = f"member-{m['code'].lower()}"
        if key not in room_keys:
            data["rooms"].append({"key": key, "role": f"member:{m['code']}",
                                  "platform": "console", "name": f"{m['name']} focal points"})
    for g in giscs:
        key = "area-" + g.lower().replace(" ", "-")
        if key not in room_keys:
            data["rooms"].append({"key": key, "role": f"area:{g}", "platform": "console",
                                  "name": f"GISC {g} area"})
    if platform != "console":
        for room in data["rooms"]:
            room["platform"] = platform
            room.pop("address", None)
    return data


def scale_directory(members: int = MEMBERS) -> Directory:
    return parse_directory(scale_directory_data(members), "<scale directory>")


def main() -> None:
    """``python -m tests.scale > directory.yaml`` writes the generated file."""
    print(yaml.safe_dump(scale_directory_data(), sort_keys=False, allow_unicode=True), end="")


if __name__ == "__main__":
    main()
