"""Redactor benchmark at WMO scale; each line: ``name: value unit (ratio=X vs baseline)``.

A directory of 193 Members (two centres each, with identifiers, three people each with
e-mail and phone). The anonymised text of one incident (a 1 KB summary written with the
Member's names, identifiers, plurals, possessives and phone numbers) is redacted:

1. ``redact_cached``: through ``redactor_for`` (one Redactor per Member per loaded
   directory), against the baseline of building the Redactor for every text (what each
   rendering did before the cache);
2. ``redactor_build``: the one-off cost of building one Member's Redactor (its own
   terms; the people of every Member are one shared Redactor, ``people_build``), against
   building one Redactor of all its terms.

Target: redacting a summary well under 1 ms, so a cascade to 225 rooms (every view
rendered once per visibility) spends no noticeable time on it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wisbot.directory import Directory, parse_directory  # noqa: E402
from wisbot.domain.confidentiality import Redactor  # noqa: E402
from wisbot.services.render import (  # noqa: E402
    identifying_terms,
    member_terms,
    people_terms,
    redactor_for,
)

N_MEMBERS = 193


def wmo_directory() -> Directory:
    giscs = [f"Gisc{k:02d}" for k in range(15)]
    members, centres, contacts = [], [], []
    for i in range(N_MEMBERS):
        code = f"M{i:03d}"
        members.append({"code": code, "name": f"Memberland {i}",
                        "aliases": [f"NMHS{i}", f"Wetterdienst{i}"]})
        for j in range(2):
            centres.append({"code": f"{code}-C{j}", "name": f"Centre {i} {j}", "member": code,
                            "principal_gisc": giscs[i % 15],
                            "identifiers": [f"E{i:03d}{j}", f"m{i}-c{j}"]})
        for p in range(3):
            contacts.append({"id": f"p{i}-{p}", "name": f"Person{i} Family{i}x{p}",
                             "email": f"p{p}@nmhs{i}.example.org",
                             "phone": f"+{i % 90 + 10} 69 {i:03d} {p}",
                             "roles": [f"member:{code}"]})
    contacts.append({"id": "sec", "name": "Secretariat", "roles": ["secretariat"]})
    return parse_directory({
        "members": members, "centres": centres, "giscs": [{"name": g} for g in giscs],
        "contacts": contacts,
        "rooms": [{"key": "secretariat", "role": "secretariat", "platform": "console"}]})


TEXT = ("NMHS7s mail relay and NMHS7's firewall (E0071 switch, m7-c1 broker) were hit; "
        "Person7 Family7x0 on +17 69 007 0 or p0@nmhs7.example.org coordinates; "
        "Memberland 7’s CERT informed. ") * 5


def rate(fn: object, seconds: float = 2.0) -> float:
    assert callable(fn)
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    directory = wmo_directory()
    redactor_for(directory, "M007")  # warm the cache
    redacted = redactor_for(directory, "M007")(TEXT)
    assert "NMHS7" not in redacted and "Family7x0" not in redacted, redacted
    base = rate(lambda: Redactor(identifying_terms(directory, "M007"))(TEXT))
    cached = rate(lambda: redactor_for(directory, "M007")(TEXT))
    print(f"redact_cached: {cached:.0f} texts/s (ratio={cached / base:.3f} vs baseline)")
    print(f"redact_cached_ms: {1000 / cached:.3f} ms (ratio={base / cached:.3f} vs baseline)")
    people = Redactor(people_terms(directory))
    own = member_terms(directory, "M007")
    build = 1000 / rate(lambda: Redactor(own, shared=people), 1.0)
    whole = 1000 / rate(lambda: Redactor(identifying_terms(directory, "M007")), 1.0)
    shared = 1000 / rate(lambda: Redactor(people_terms(directory)), 1.0)
    print(f"redactor_build: {build:.3f} ms (ratio={build / whole:.3f} vs baseline)")
    print(f"people_build: {shared:.3f} ms (ratio={shared / whole:.3f} vs baseline)")


if __name__ == "__main__":
    main()
