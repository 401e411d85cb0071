"""GISC Watch fixtures: a directory with watch contacts (and optionally a duty room and
real probe URLs), a fake sweeper that returns scripted results on the fake clock, a
roster written in the official file's format."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from wisbot.directory import Directory, parse_directory
from wisbot.domain.watch import Period
from wisbot.probes.base import ProbeResult, ProbeStatus, ProbeTarget

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"

EXTRA_CONTACTS = [
    {"id": "watch-op", "name": "Watch Operator", "email": "watch@example.org",
     "roles": ["watch"]},
    {"id": "et-chair", "name": "ET-WISOP Chair", "email": "chair@example.org",
     "roles": ["watch"]},
]


def watch_directory(base: Directory, *, duty_room: bool = False,
                    services: dict[str, dict[str, str]] | None = None,
                    wis2: dict[str, dict[str, str]] | None = None) -> Directory:
    """The example directory plus watch contacts; ``services`` replaces GISCs' probe URLs
    (GISCs not named get none, so only the named ones are probed)."""
    data: dict[str, Any] = base.model_dump(mode="json")
    data["contacts"] = [*data["contacts"], *EXTRA_CONTACTS]
    if duty_room:
        data["rooms"] = [*data["rooms"], {"key": "duty", "role": "duty", "platform": "console",
                                          "name": "GISC Watch duty"}]
    if services is not None:
        for g in data["giscs"]:
            g["services"] = services.get(g["name"], {})
    if wis2 is not None:
        data["wis2"] = wis2
    return parse_directory(data, "<watch test directory>")


def roster_csv(periods: Sequence[tuple[str, str, str]]) -> str:
    """Rows in the official format: ``("GISC-Tokyo", "2026-03-01", "2026-03-15")``."""
    return "gisc_name,start_date,end_date\n" + "".join(f"{g},{a},{b}\n" for g, a, b in periods)


# the test clock starts 2026-03-02 09:00 UTC (FakeClock's default)
MARCH = roster_csv([
    ("GISC-Offenbach", "2026-02-16", "2026-02-28"),
    ("GISC-Tokyo", "2026-03-01", "2026-03-15"),
    ("GISC-Exeter", "2026-03-16", "2026-03-31"),
    ("GISC-Brasília", "2026-04-01", "2026-04-15"),
    ("GISC-Seoul", "2026-04-16", "2026-04-30"),
])


class FakeSweep:
    """Stands in for ``wisbot.probes.base.sweep``: ``plan[(centre, service)]`` is a
    (status, figure, reason) or missing (OK, no figure)."""

    def __init__(self) -> None:
        self.plan: dict[tuple[str, str], tuple[ProbeStatus, float | None, str | None]] = {}
        self.calls: list[list[ProbeTarget]] = []

    def set(self, centre: str, service: str, status: str = "ok", figure: float | None = None,
            reason: str | None = None) -> None:
        self.plan[(centre, service)] = (ProbeStatus(status), figure, reason)

    async def __call__(self, targets: Sequence[ProbeTarget], *, now: Callable[[], Any],
                       **_: Any) -> list[ProbeResult]:
        self.calls.append(list(targets))
        out = []
        for t in targets:
            status, figure, reason = self.plan.get((t.centre, t.service.value),
                                                   (ProbeStatus.OK, None, None))
            out.append(ProbeResult(t.centre, t.service, t.url, status,
                                   None if status is ProbeStatus.FAIL else 42.0, figure,
                                   reason, now(), {}))
        return out


THREE = {
    "Tokyo": {"oaipmh": "http://tokyo.invalid/oai", "sru": "http://tokyo.invalid/sru",
              "portal": "http://tokyo.invalid/"},
    "Exeter": {"oaipmh": "http://exeter.invalid/oai", "sru": "http://exeter.invalid/sru",
               "portal": "http://exeter.invalid/"},
    "Offenbach": {"oaipmh": "http://offenbach.invalid/oai",
                  "portal": "http://offenbach.invalid/"},
}
WIS2 = {"gb-one": {"kind": "broker", "url": "mqtt://gb-one.invalid:1883"},
        "gb-two": {"kind": "broker", "url": "mqtt://gb-two.invalid:1883"},
        "gdc-one": {"kind": "gdc", "url": "http://gdc.invalid/"}}


@pytest.fixture
def fake_sweep() -> FakeSweep:
    return FakeSweep()


@pytest.fixture
def watch_app(make_app: Any, example_directory: Directory, fake_sweep: FakeSweep) -> Any:
    """``app = await watch_app(duty_room=False)``: an App whose probes are scripted and whose
    roster is :data:`MARCH`."""

    async def factory(*, duty_room: bool = False, roster: str | None = MARCH,
                      **settings: Any) -> Any:
        d = watch_directory(example_directory, duty_room=duty_room, services=THREE, wis2=WIS2)
        settings.setdefault("watch_enabled", False)
        app = await make_app(d, **settings)
        app.services.watch.sweeper = fake_sweep
        if roster:
            await app.services.watch.import_roster(roster)
        return app

    return factory


def p(gisc: str, a: str, b: str) -> Period:
    return Period(date.fromisoformat(a), date.fromisoformat(b), gisc)
