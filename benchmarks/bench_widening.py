"""Widening question benchmark at WMO scale; each line: ``name: value unit (ratio=X vs
baseline)``.

``incident share <id> group`` first counts the rooms and organisations that would read
the incident (``services.widening.incident_reach``: the cascade audience, then who may
sit in those rooms). Baseline: the cascade audience alone (``services.incidents.audience``,
which every share change computes anyway). Directory: 193 Members (two centres, three people and a
room each), 15 GISCs (a desk, a room and an area room each), the Secretariat and the
collaboration room: about 600 people in 225 rooms.

Target: the question is answered well under a second (it runs once per widening, in the
store's worker thread).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wisbot.directory import Directory, parse_directory  # noqa: E402
from wisbot.domain.confidentiality import Exposure, Share  # noqa: E402
from wisbot.services.incidents import audience  # noqa: E402
from wisbot.services.widening import incident_reach  # noqa: E402

ROUNDS = 5
N_MEMBERS = 193


def wmo_directory() -> Directory:
    giscs = [f"Gisc{k:02d}" for k in range(15)]
    members, centres, contacts, rooms = [], [], [], []
    for i in range(N_MEMBERS):
        code = f"M{i:03d}"
        members.append({"code": code, "name": f"Memberland {i}"})
        for j in range(2):
            centres.append({"code": f"{code}-C{j}", "name": f"Centre {i} {j}", "member": code,
                            "principal_gisc": giscs[i % 15]})
        contacts += [{"id": f"p{i}-{p}", "name": f"Person {i} {p}",
                      "roles": [f"member:{code}"]} for p in range(3)]
        rooms.append({"key": f"member-{i}", "role": f"member:{code}", "platform": "console"})
    for g in giscs:
        contacts.append({"id": f"desk-{g}", "name": f"{g} desk", "roles": [f"gisc:{g}"]})
        rooms += [{"key": f"gisc-{g}", "role": f"gisc:{g}", "platform": "console"},
                  {"key": f"area-{g}", "role": f"area:{g}", "platform": "console"}]
    contacts.append({"id": "sec", "name": "Secretariat", "roles": ["secretariat"]})
    rooms += [{"key": "secretariat", "role": "secretariat", "platform": "console"},
              {"key": "collaboration", "role": "collaboration", "platform": "console"}]
    return parse_directory({"members": members, "centres": centres,
                            "giscs": [{"name": g} for g in giscs], "contacts": contacts,
                            "rooms": rooms})


def best(fn: object) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    d = wmo_directory()
    centre = d.centres[0]
    exp = Exposure(centre.member, centre.principal_gisc, Share.GROUP, True)
    base = best(lambda: audience(d, exp))
    reach = best(lambda: incident_reach(d, exp))
    words = incident_reach(d, exp).words()
    print(f"# {len(d.contacts)} contacts, {len(d.rooms)} rooms: {words}")
    print(f"widening_question: {reach * 1000:.1f} ms (ratio={reach / base:.1f} vs baseline)")


if __name__ == "__main__":
    main()
