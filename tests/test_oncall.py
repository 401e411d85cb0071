"""On-call chains: rotations across DST and the UTC day boundary, overrides, directory
checks, and `/escalate oncall`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLE
from wisbot.adapters.console import render_text
from wisbot.directory import load_directory, parse_directory
from wisbot.domain.paging import FollowTheSun, Override, Weekly, resolve_chain
from wisbot.errors import DirectoryError


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Monday 2026-03-23 is the first hand-over; Europe/Zurich moves to CEST on Sun 2026-03-29.
GENEVA = Weekly(("sec-desk", "sec-maria"), date(2026, 3, 23), time(9, 0), "Europe/Zurich")


def test_weekly_handover_stays_at_local_time_across_dst():
    # Winter: 09:00 CET is 08:00 UTC.
    assert GENEVA.on_call(utc(2026, 3, 23, 7, 59)) is None  # before the first hand-over
    assert GENEVA.on_call(utc(2026, 3, 23, 8, 0)) == "sec-desk"
    # Summer: the next Monday's 09:00 CEST is 07:00 UTC, not 08:00.
    assert GENEVA.on_call(utc(2026, 3, 30, 6, 59)) == "sec-desk"
    assert GENEVA.on_call(utc(2026, 3, 30, 7, 0)) == "sec-maria"
    assert GENEVA.next_change(utc(2026, 3, 25, 12, 0)) == utc(2026, 3, 30, 7, 0)
    # And back in October (CEST → CET on 2026-10-25): 09:00 local is 08:00 UTC again.
    assert GENEVA.on_call(utc(2026, 10, 26, 7, 30)) == GENEVA.on_call(utc(2026, 10, 25, 12))
    assert GENEVA.on_call(utc(2026, 10, 26, 8, 0)) != GENEVA.on_call(utc(2026, 10, 26, 7, 59))


SUN = FollowTheSun(((time(22, 0), "tokyo"), (time(6, 0), "offenbach"), (time(14, 0), "washington")))


def test_follow_the_sun_wraps_across_midnight_utc():
    assert SUN.on_call(utc(2026, 12, 31, 23, 59)) == "tokyo"
    assert SUN.on_call(utc(2027, 1, 1, 0, 0)) == "tokyo"  # year boundary too
    assert SUN.on_call(utc(2027, 1, 1, 5, 59)) == "tokyo"
    assert SUN.on_call(utc(2027, 1, 1, 6, 0)) == "offenbach"
    assert SUN.on_call(utc(2027, 1, 1, 13, 59)) == "offenbach"
    assert SUN.on_call(utc(2027, 1, 1, 14, 0)) == "washington"
    assert SUN.on_call(utc(2027, 1, 1, 21, 59)) == "washington"
    assert SUN.next_change(utc(2026, 12, 31, 23, 0)) == utc(2027, 1, 1, 6, 0)
    assert SUN.next_change(utc(2026, 12, 31, 21, 0)) == utc(2026, 12, 31, 22, 0)


def test_overrides_come_first_then_rotation_then_chain():
    holiday = Override("maria", utc(2026, 12, 24), utc(2026, 12, 27))
    chain = ["desk", "maria"]
    assert resolve_chain(utc(2026, 12, 23, 12), chain, [], [holiday]) == ["desk", "maria"]
    assert resolve_chain(utc(2026, 12, 25, 12), chain, [], [holiday]) == ["maria", "desk"]
    assert resolve_chain(utc(2026, 12, 27), chain, [], [holiday]) == ["desk", "maria"]
    assert resolve_chain(utc(2027, 1, 1, 3), ["x"], [SUN]) == ["tokyo", "x"]


def _data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return data


def test_example_directory_with_rotations_is_valid():
    d = load_directory(EXAMPLE)
    assert d.oncall_rotations, "the example documents a rotation"
    data = _data()
    data.pop("oncall_rotations", None)
    assert parse_directory(data).oncall_rotations == ()  # the old format still loads


def test_directory_rejects_bad_rotations_with_clear_errors():
    data = _data()
    data["oncall_rotations"] = [
        {"role": "secretariat", "kind": "weekly", "contacts": ["sec-desk", "sec-mario"],
         "start": "2026-13-01", "timezone": "Europe/Genf"},
        {"role": "gisc:Tokyo", "kind": "follow-the-sun",
         "shifts": [{"start": "25:00", "contact": "gisc-tokyo"},
                    {"start": "06:00", "contact": "anna.weber"}]},
    ]
    data["oncall_overrides"] = [{"role": "secretariat", "contact": "sec-maria",
                                 "start": "2026-12-27", "end": "2026-12-24"}]
    with pytest.raises(DirectoryError) as exc:
        parse_directory(data, "dir.yaml")
    problems = "\n".join(exc.value.problems)
    assert "oncall_rotations[0] (role 'secretariat').contacts[1]: unknown contact " \
           "'sec-mario' (did you mean 'sec-maria'" in problems
    assert "'2026-13-01' is not a date" in problems
    assert "unknown time zone 'Europe/Genf'" in problems
    assert "shifts[0].start: '25:00' is not a time of day" in problems
    assert "contact 'anna.weber' is on call for gisc:Tokyo but does not hold that role" \
        in problems
    assert "oncall_overrides[0]: end '2026-12-24' must be after start" in problems


async def test_escalate_oncall_shows_now_and_next(make_app, clock, example_directory):
    data = _data()
    data["oncall_rotations"] = [{"role": "secretariat", "kind": "weekly",
                                 "contacts": ["sec-maria", "sec-desk"], "start": "2026-02-23",
                                 "handover": "09:00", "timezone": "Europe/Zurich"}]
    app = await make_app(parse_directory(data))
    clock.now = utc(2026, 3, 4, 12, 0)  # week 2 of the rotation: sec-desk
    text = render_text(await app.console.type("sec-maria", "escalate oncall secretariat"))
    assert "now (2026-03-04 12:00 UTC): WMO Secretariat 24/7 desk (sec-desk) → Maria Rossi" \
        in text
    assert "next from 2026-03-09 08:00 UTC: Maria Rossi (sec-maria) → WMO Secretariat" in text
    mine = render_text(await app.console.type("gisc-tokyo", "escalate oncall"))
    assert "GISC Tokyo (gisc:Tokyo)" in mine and "gisc-tokyo" in mine
    bad = await app.console.type("gisc-tokyo", "escalate oncall Tokio")
    assert bad.kind == "error" and "did you mean" in render_text(bad)


async def test_override_command_changes_who_is_paged(make_app, clock):
    app = await make_app()
    refused = await app.console.type("gisc-tokyo", "escalate override secretariat gisc-tokyo "
                                     "now 2026-03-03T09:00")
    assert refused.kind == "error" and "only the WMO Secretariat" in render_text(refused)
    wrong = await app.console.type("sec-desk", "escalate override gisc:Tokyo anna.weber now "
                                   "2026-03-03T09:00")
    assert wrong.kind == "error" and "does not hold the role" in render_text(wrong)
    ok = render_text(await app.console.type("sec-desk", "escalate override secretariat "
                                            "sec-maria now 2026-03-03T09:00 desk training"))
    assert "O-1" in ok and "Maria Rossi (sec-maria) is first on call" in ok
    await app.console.type("anna.weber", "incident report DE-OF-NC share=principal-gisc sev=3 "
                           "x", "member-de")
    await app.outbox.drain()
    assert len(app.console.direct["sec-maria"]) == 1
    assert "sec-desk" not in app.console.direct
    listed = render_text(await app.console.type("sec-desk", "escalate override list"))
    assert "O-1 · secretariat · Maria Rossi" in listed and "desk training" in listed
    await app.console.type("sec-desk", "escalate override remove O-1")
    clock.advance(minutes=1)
    text = render_text(await app.console.type("sec-desk", "escalate oncall secretariat"))
    assert "now (2026-03-02 09:01 UTC): WMO Secretariat 24/7 desk (sec-desk) → Maria" in text
