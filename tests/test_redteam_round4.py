"""Red team, round 4 (redteam2): the ICT operations commands (changes and the CAB, KEDB,
incident models, audits, continuity drills). Each test is a finding, written failing (xfail
strict) and passing since its fix. Forbidden words are written here by hand."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from tests.changes.conftest import cab_meeting, change_directory
from tests.helpers import room_text
from wisbot.store.wmem_tables import WmemOutage, WmemOutgoing

# A Global Service change whose what= says more than an outsider may read.
SECRET_WHAT = "Patch the unauthenticated ACL bypass on broker port 8883"
BROKER_REQUEST = (f'change request DE-GISC what="{SECRET_WHAT}" '
                  'why="Vendor advisory" who="DWD web operations" when=2026-03-10T08:00Z '
                  'until=2026-03-10T10:00Z how="Rolling restart" '
                  'risk="Short gap" impact="Broker paused" cost="One person-day" '
                  'service=gb-dwd')
# Hand-written: the change's number and what it fixes are for its audience only
# (docs/changes.md: the duty room gets the answer of a change that does not exist).
CHANGE_FORBIDDEN = ("ACL bypass", "unauthenticated", "CHG-2026-1", "Patch the")


async def _say(app: Any, who: str, text: str, room: str | None = None) -> str:
    return str((await app.console.type(who, text, room)).plain())


async def test_global_service_change_outage_tells_outsiders_nothing_of_the_change(
        make_app: Any, example_directory: Any, clock: Any) -> None:
    app = await make_app(change_directory(example_directory), watch_enabled=False,
                         wmem_publish=True, wmem_centre_id="de-dwd",
                         wmem_publish_brokers=["mqtt://127.0.0.1:9"])
    await app.wmem_workers.stop()
    assert "CHG-2026-1 recorded" in await _say(app, "gisc-offenbach", BROKER_REQUEST)
    # the duty room may not read the change itself
    assert "no change CHG-2026-1 that you may see" in await _say(
        app, "watch-op", "change show CHG-2026-1")
    await _say(app, "sec-maria", "change accept CHG-2026-1 priority=high risk=medium")
    await cab_meeting(app, clock)
    assert "planned outage" in await _say(app, "cab.chair", "change decide CHG-2026-1 "
                                                            "authorise")
    await app.outbox.drain()
    (outage,) = await app.store.tx(lambda s: s.exec(select(WmemOutage)).all())
    queued = await app.store.tx(lambda s: s.exec(select(WmemOutgoing)).all())
    outsiders = "\n".join([room_text(app, "duty"), await _say(app, "watch-op",
                                                              "watch outages"),
                           outage.text, *(str(q.payload) for q in queued)])
    leaked = [w for w in CHANGE_FORBIDDEN if w.casefold() in outsiders.casefold()]
    assert leaked == []


def _alias_bomb(depth: int) -> str:
    """A models file whose fields are YAML aliases nesting ``10**depth`` strings (a few
    lines of text; depth 9 is the classic "billion laughs")."""
    lines = ['a0: &a0 ["ransomware"]']
    for i in range(1, depth + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append(f"models:\n- {{key: *a{depth}, title: t, class: *a{depth}, "
                 f"severity: *a{depth}, why: w, checklist: [x]}}")
    return "\n".join(lines)


def test_hostile_models_file_gets_a_short_error() -> None:
    from wisbot.domain.incident_models import parse_models
    from wisbot.errors import DirectoryError

    with pytest.raises(DirectoryError) as err:
        parse_models(_alias_bomb(5), "hostile-models.yaml")
    assert len(str(err.value)) < 10_000


async def test_drill_pages_never_enter_the_paging_metrics(make_app: Any, clock: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.audit_fixture import audit_directory
    from tests.conftest import EXAMPLE
    from wisbot.metrics import WisbotCollector

    clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    app = await make_app(audit_directory(EXAMPLE))
    collector = WisbotCollector(app.store, lambda: {})
    before = await app.store.tx(collector._snapshot)
    assert "DRILL-1 started" in await _say(app, "sec-maria", "drill now all")
    await app.outbox.drain()
    during = await app.store.tx(collector._snapshot)
    clock.now += timedelta(minutes=4)
    await _say(app, "gisc-offenbach", "ack DRILL-1")
    after = await app.store.tx(collector._snapshot)
    assert (during["pages"], after["tta"]) == (before["pages"], before["tta"])


OWN_REQUEST = ('change request JP-GISC what="Swap the GISC Tokyo cache disks" '
               'why="Disk wear" who="GISC Tokyo operations" when=2026-03-10T08:00Z '
               'until=2026-03-10T10:00Z how="One node at a time" risk="Cache misses" '
               'impact="Slower cache" cost="One person-day"')


async def test_a_change_is_authorised_only_at_a_cab_meeting_and_not_by_its_requester(
        make_app: Any, example_directory: Any, clock: Any) -> None:
    app = await make_app(change_directory(example_directory), watch_enabled=False)
    # cab.expert is on the CAB and a GISC Tokyo focal point: requests for JP-GISC ...
    assert "CHG-2026-1 recorded" in await _say(app, "cab.expert", OWN_REQUEST)
    assert "accepted" in await _say(app, "sec-maria", "change accept CHG-2026-1 "
                                                      "priority=high risk=low")
    assert "No CAB meeting is scheduled" in await _say(app, "sec-maria", "change cab")
    # ... and authorises it alone, outside any meeting.
    decided = await _say(app, "cab.expert", "change decide CHG-2026-1 authorise")
    assert "authorised" not in decided, decided
    # At a meeting whose agenda lists it, still not by its requester; another member may.
    await cab_meeting(app, clock)
    decided = await _say(app, "cab.expert", "change decide CHG-2026-1 authorise")
    assert "requested by you or your centre" in decided, decided
    assert "authorised" in await _say(app, "cab.chair", "change decide CHG-2026-1 authorise")


AUDIT_CONDITION = "rotate the leaked operator VPN keys"  # hand-written, the report's words


async def test_audit_report_is_not_the_auditors_once_recorded(make_app: Any,
                                                              clock: Any) -> None:
    from datetime import UTC, datetime

    from tests.audit_fixture import audit_directory
    from tests.conftest import EXAMPLE

    clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    app = await make_app(audit_directory(EXAMPLE))
    assert "AUD-1" in await _say(app, "anna.weber", "audit request DE-OF-NC remote "
                                 "https://example.org/self-assessment.pdf", "member-de")
    await _say(app, "sec-maria", "audit team AUD-1 lead=ines.duarte expert=kofi.mensah")
    await _say(app, "ines.duarte", "audit assess AUD-1")
    await _say(app, "ines.duarte", "audit satisfied AUD-1")
    await _say(app, "ines.duarte", "audit schedule AUD-1 2026-12-03")
    clock.now = datetime(2026, 12, 3, 8, 30, tzinfo=UTC)
    await _say(app, "ines.duarte", "audit meeting AUD-1 opening")
    clock.now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    await _say(app, "ines.duarte", "audit meeting AUD-1 closing")
    done = await _say(app, "ines.duarte", f'audit report AUD-1 outcome=conditions '
                      f'conditions="{AUDIT_CONDITION}" Weakness: shared VPN keys.')
    assert "Post-audit report recorded" in done, done
    assert AUDIT_CONDITION in await _say(app, "anna.weber", "audit show AUD-1")
    expert = await _say(app, "kofi.mensah", "audit show AUD-1")
    assert AUDIT_CONDITION not in expert and "with conditions" not in expert, expert


async def test_an_auditor_of_unknown_region_is_not_taken_as_from_elsewhere(
        make_app: Any, clock: Any) -> None:
    from datetime import UTC, datetime

    from tests.audit_fixture import audit_data, audit_directory
    from tests.conftest import EXAMPLE

    data = audit_data(EXAMPLE)
    for member in data["members"]:
        if member["code"] == "CH":  # Switzerland: Region VI, not recorded here
            member.pop("region", None)
    clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    app = await make_app(audit_directory(EXAMPLE, data))
    assert "AUD-1" in await _say(app, "anna.weber", "audit request DE-OF-NC remote "
                                 "https://example.org/self-assessment.pdf", "member-de")
    team = await _say(app, "sec-maria", "audit team AUD-1 lead=lena.huber expert=kofi.mensah")
    assert "cannot audit" in team, team


async def test_re_setting_the_schedule_does_not_drill_twice(make_app: Any,
                                                            clock: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.audit_fixture import audit_directory
    from tests.conftest import EXAMPLE
    from wisbot.store.audit_tables import DrillRun

    clock.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    app = await make_app(audit_directory(EXAMPLE))
    await _say(app, "sec-maria", "drill schedule 2026-12-07T09:00Z every=30")
    clock.now = datetime(2026, 12, 7, 9, 1, tzinfo=UTC)
    assert await app.services.extra["continuity"].run_due() > 0
    # The Secretariat moves to a quarterly rhythm, same first drill, a few minutes later.
    clock.now += timedelta(minutes=4)
    await _say(app, "sec-maria", "drill schedule 2026-12-07T09:00Z every=90")
    clock.now += timedelta(minutes=10)
    await app.services.extra["continuity"].run_due()
    runs = await app.store.tx(lambda s: s.exec(select(DrillRun)).all())
    assert len(runs) == 1, [r.slot for r in runs]
