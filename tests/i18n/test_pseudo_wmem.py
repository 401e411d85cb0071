"""The pseudo-locale through WIS2 monitoring events, the operations calendar, Global Monitor
alerts and the WIS2 IMS mirror: a WMEM ticket with its follow-up, recovery and close
proposal; an outage declared, refused and listed; critical, error (alone and grouped),
warning and resolved alerts; a JIRA reminder and changes read back from the fake JIRA.
Anything wisbot wrote in English outside ⟦…⟧ escaped the catalogs.

Events are handed to the service's own receiving function, alerts to the alert service
(no broker, no HTTP). What may stay unmarked is written by hand below (never derived from
the code): the example WMEMs' and alerts' own words, centre-ids, severities, the WIS2 IMS
words, ids and names.

And a Chinese duty room reads the same in Chinese, while an English GISC room reads
English."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests._fake_jira import FakeJira
from tests.helpers import room_text
from tests.i18n.test_pseudo_rest import everything, problems
from tests.watch.conftest import MARCH, THREE, watch_directory
from tests.watch.test_alerts import load
from tests.watch.test_alerts_grouping import _errors
from tests.watch.test_jira import PAT, fake_jira, jira_directory  # noqa: F401 (fixture)
from tests.wmem.conftest import WIS2M, event, raw
from wisbot import i18n
from wisbot.adapters.console import render_text
from wisbot.directory import Directory, parse_directory

VIA = "broker test"

# Written by hand: the example WMEMs' and alerts' own words (quoted as they came), the
# centre-ids and WIS 2.0 service ids of the test directory, WMEM severities, alert names,
# the fake JIRA's keys and people.
KEPT = [
    r"\b(ca-eccc-msc-global-discovery-catalogue|de-dwd-global-broker|fr-meteofrance|"
    r"ma-marocmeteo-global-monitor|de-dwd|jp-jma|br-inmet|ke-kmd)\b",
    "WIS2 Node disconnected from all Global Brokers!",
    r"\bgb-dwd\b", r"\bgdc-eccc\b", r"\bgc-jma\b", r"\bwis2\.\w[\w-]*",
    r"\b(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b", r"\bWMEM\b", r"\bWIS2IMS-\d+\b",
    r"\bGISC [A-Z][a-z]+\b", "Global Monitor", r"\bGlobal (Broker|Cache|Discovery "
    r"Catalogue)s?\b", r"\bWIS 2\.0\b", r"\bIMS\b", "Watch Operator", "HAN Xinqiang",
    "watch-op", r"\balertmanager\b", r"\bwmem_publish\b", r"\bcentre_id\b", r"monitor/a/wis2/\S+",
    # the events' and alerts' own titles and summaries
    "Metadata archive is older than 24 hours", "Metadata archive is now 36 hours old",
    "Metadata archive refreshed", "Archive still stale", "Scheduled maintenance",
    "Download errors above 10 %", r"\bDownload_errors\b", "broker software upgrade",
    "Disconnected WIS2 Node from all Global Brokers", "No data from centre in any Global Cache",
    r"\bdisconnectedwis2node\w+\b", r"\bNo_data\b",
]


@pytest.fixture(autouse=True)
def english_default() -> Iterator[None]:
    yield
    i18n.set_default("en")


def left(replies: list[Any]) -> list[tuple[list[str], str]]:
    """English wisbot wrote outside ⟦…⟧, once this file's KEPT words are set aside."""
    return problems(replies, KEPT)


def _directory(example: Directory, duty_language: str | None = None,
               jira: bool = False) -> Directory:
    base = jira_directory(example) if jira else watch_directory(
        example, duty_room=True, services=THREE, wis2=WIS2M)
    data: dict[str, Any] = base.model_dump(mode="json")
    if jira:
        data["wis2"] = WIS2M
    for room in data["rooms"]:
        if room["key"] == "duty" and duty_language:
            room["language"] = duty_language
    return parse_directory(data, "<i18n monitoring test directory>")


@pytest.fixture
def monitoring_app(make_app: Any, example_directory: Directory, fake_sweep: Any) -> Any:
    async def factory(duty_language: str | None = None, **settings: Any) -> Any:
        settings.setdefault("watch_enabled", False)
        app = await make_app(_directory(example_directory, duty_language), **settings)
        app.services.watch.sweeper = fake_sweep
        await app.services.watch.import_roster(MARCH)
        return app

    return factory


@pytest.fixture
def fake_sweep() -> Any:
    from tests.watch.conftest import FakeSweep

    return FakeSweep()


async def _monitoring_events(app: Any, clock: Any) -> None:
    """A CRITICAL WMEM about a Global Service, its follow-ups and recovery; a recovery
    heard before its failure; an outage notice by someone else than the service."""
    w = app.wmem
    alert = event("gc-alert-report")
    assert await w.receive_bytes(raw(alert), "", VIA) == "ticket"
    again = event("gc-alert-report", data_ref=alert["id"], data_severity="ERROR")
    again["data"]["content"]["title"] = "Metadata archive is now 36 hours old"
    assert await w.receive_bytes(raw(again), "", VIA) == "update"
    stale = event("gc-alert-report", data_ref=alert["id"], data_severity="WARNING")
    stale["data"]["content"]["title"] = "Archive still stale"
    assert await w.receive_bytes(raw(stale), "", VIA) == "update"
    ok = event("gc-alert-report", data_ref=alert["id"], data_severity="INFO")
    ok["data"]["content"]["title"] = "Metadata archive refreshed"
    assert await w.receive_bytes(raw(ok), "", VIA) == "recovery"
    # the recovery first (the live stream ahead of a catch-up), then its failure
    down = event("gm-report")
    back = event("gm-report", data_ref=down["id"], data_severity="INFO")
    assert await w.receive_bytes(raw(back), "", VIA) == "summary"
    assert await w.receive_bytes(raw(down), "", VIA) == "ticket"
    now = clock()
    notice = event("gs-outage", subject="de-dwd-global-broker", source="jp-jma")
    notice["data"]["time"]["interval"] = [
        (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        (now + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert await w.receive_bytes(raw(notice), "", VIA) == "outage"


async def _outage_commands(app: Any) -> list[Any]:
    c = app.console
    typed = [
        "watch outage nowhere 2026-03-05 2026-03-06 x",
        "watch outage gb-dwd 2026-03-06 2026-03-05 x",
        "watch outage gb-dwd tomorrow 2026-03-05 x",
        "watch outage gb-dwd 2026-03-05",
        "watch outage de-dwd-global-brokr 2026-03-05 2026-03-06 x",
        "watch outage gb-dwd 2026-03-05 2026-03-20 x",
        "watch outage gb-dwd 2026-03-05T09:00Z 2026-03-05T11:00Z broker software upgrade",
        "watch outage gb-dwd 2026-03-06T09:00Z 2026-03-06T10:00Z ''",
        "watch outages",
    ]
    replies = [await c.type("watch-op", text, "duty") for text in typed]
    kinds = [r.kind for r in replies]
    assert kinds[:6] == ["error"] * 6 and "error" not in kinds[6:], kinds
    replies.append(await c.type("anna.weber", "watch outages", "member-de"))  # not allowed
    assert replies[-1].kind == "error", replies[-1].plain()
    return replies


async def _alerts(app: Any, clock: Any) -> None:
    alerts = app.alerts_jira.alerts
    firing = load("alertmanager_firing.json")  # critical: de-dwd and jp-jma
    assert (await alerts.receive(firing)).opened == [3, 4]
    mixed = load("alertmanager_mixed.json")  # an error and a warning
    assert (await alerts.receive(mixed)).posted == 1
    resolved_error = load("alertmanager_mixed.json")
    for a in resolved_error["alerts"]:
        a["status"] = "resolved"
        a["endsAt"] = "2026-03-02T10:00:00.000Z"
    await alerts.receive(resolved_error)
    await alerts.receive(_errors("firing", ["br-inmet", "ke-kmd", "jp-jma"]))
    await alerts.receive(_errors("resolved", ["br-inmet", "ke-kmd", "jp-jma"]))
    resolved = load("alertmanager_firing.json")  # resolved critical: the close proposal
    resolved["alerts"] = [{**resolved["alerts"][0], "status": "resolved",
                           "endsAt": "2026-03-02T09:40:00.000Z"}]
    assert (await alerts.receive(resolved)).noted == [3]
    await app.console.type("watch-op", "watch ticket 3 done fixed", "duty")
    again = load("alertmanager_firing.json")  # fires again after Done: reopened
    again["alerts"] = [{**again["alerts"][0], "startsAt": "2026-03-02T12:00:00.000Z",
                        "fingerprint": "feedfacefeedface"}]
    assert (await alerts.receive(again)).reopened == [3]
    assert await alerts.digest() == 2  # the warning, firing and resolved


async def test_pseudo_locale_monitoring_events_outages_and_alerts(
        monitoring_app: Any, clock: Any) -> None:
    app = await monitoring_app()
    i18n.set_default("qps")
    await _monitoring_events(app, clock)
    replies = await _outage_commands(app)
    await _alerts(app, clock)
    await app.outbox.drain()
    posts = everything(app)
    shown = "\n".join(render_text(r) for r in posts)
    for words in ("reported by", "follow-up from", "recovery reported by",
                  "before the failure reached", "Planned outage in the operations calendar",
                  "Global Monitor error alerts firing", "alert resolved – close proposed",
                  "reopened: the alert fires again", "Global Monitor warnings",
                  "not the service's own notice"):
        assert words in shown or words in "\n".join(r.plain() for r in replies), words
    found = left(replies + posts)
    assert not found, found[:5]


async def test_pseudo_locale_jira_reminder_and_read_back(
        make_app: Any, example_directory: Directory, fake_jira: FakeJira,  # noqa: F811
        clock: Any) -> None:
    app = await make_app(_directory(example_directory, jira=True), watch_enabled=False,
                         jira_url=fake_jira.url, jira_token=PAT, jira_timeout_s=2.0)
    await app.services.watch.import_roster(MARCH)
    i18n.set_default("qps")
    mirror = app.alerts_jira.mirror
    await app.alerts_jira.alerts.receive(load("alertmanager_firing.json"))
    await mirror.tick(poll=True)
    clock.advance(days=15)
    assert await app.services.watch.remind_stalled() == [1, 2]
    await mirror.tick(poll=False)
    assert "Reminder from the GISC Watch on duty" in \
        fake_jira.issues["WIS2IMS-1"].comments[-1]["body"]  # WIS2 IMS reads English
    fake_jira.person_assigns("WIS2IMS-1", "ukmo.gisc")
    fake_jira.person_moves("WIS2IMS-1", "IN PROGRESS")
    fake_jira.person_comments("WIS2IMS-1", "DWD broker credentials renewed")
    assert await mirror.poll() == 3
    report = await app.console.type("gisc-tokyo", "watch report", "gisc-tokyo")
    await app.outbox.drain()
    posts = everything(app)
    text = "\n".join(json.dumps(r.title, ensure_ascii=False) for r in posts)
    assert "reminder: no activity for 15 days" in text, text
    assert "assigned in WIS2 IMS (WIS2IMS-1)" in text and "comment in WIS2 IMS" in text
    found = left([report, *posts])
    assert not found, found[:5]


async def test_a_chinese_duty_room_reads_monitoring_posts_in_chinese(
        monitoring_app: Any, clock: Any) -> None:
    app = await monitoring_app(duty_language="zh")
    await _monitoring_events(app, clock)
    ok = await app.console.type("watch-op", "watch outage gb-dwd 2026-03-05T09:00Z "
                                "2026-03-05T11:00Z broker software upgrade", "duty")
    cal = await app.console.type("watch-op", "watch outages", "duty")
    await app.alerts_jira.alerts.receive(_errors("firing", ["br-inmet", "ke-kmd"]))
    await app.outbox.drain()
    duty = room_text(app, "duty")
    # written by hand: the Chinese drafts' words
    for words in ("报告 ERROR：Metadata archive is now 36 hours old",
                  "来自 ca-eccc-msc-global-discovery-catalogue 的后续消息",
                  "报告已恢复（Metadata archive refreshed）",
                  "在故障到达 wisbot 之前报告已恢复",
                  "运行日历中的计划中断", "由 Watch Operator 公布",
                  "Global Monitor 错误告警触发（2）", "中心（2）：br-inmet, ke-kmd",
                  "来自 ca-eccc-msc-global-discovery-catalogue 的 CRITICAL："):
        assert words in duty, (words, duty)
    assert "reported by" not in duty and "follow-up from" not in duty
    # the command's answers are the room's language too
    assert "在该时段内" in ok.plain() and "未发布（wmem_publish 已关闭）" in ok.plain()
    assert "并非该服务自身的通知" in cal.plain() and "当前" not in cal.plain()
    # a GISC room without a language reads English: the area GISC of ca-… (Washington)
    washington = room_text(app, "gisc-washington")
    assert "recovery reported by ca-eccc-msc-global-discovery-catalogue" in washington
    assert "follow-up from" in washington and "报告" not in washington


async def test_an_arabic_duty_room_reads_arabic_with_latin_codes_isolated(
        monitoring_app: Any, clock: Any) -> None:
    app = await monitoring_app(duty_language="ar")
    await _monitoring_events(app, clock)
    await app.console.type("watch-op", "watch outage gb-dwd 2026-03-05T09:00Z "
                           "2026-03-05T11:00Z broker software upgrade", "duty")
    await app.outbox.drain()
    # what the message holds (the console shows an isolate as U+FFFD)
    posts = ["\n".join([r.title or "", *("".join(x.text for x in line) for line in r.lines)])
             for r in app.console.rooms.get("duty", [])]
    fsi, pdi = i18n.FSI, i18n.PDI
    # written by hand: the Arabic drafts' words around the isolated codes and severity
    assert any(f"أبلغ {fsi}ca-eccc-msc-global-discovery-catalogue{pdi} عن {fsi}ERROR{pdi}" in p
               for p in posts), posts
    assert any("انقطاع مخطط في تقويم العمليات" in p and
               f"{fsi}de-dwd-global-broker{pdi}" in p for p in posts), posts
