"""Reading WMEMs tolerantly and writing them strictly; topics; service-level arithmetic.
The hostile messages are written here by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.wmem.conftest import FIXTURES, event, example, raw
from wisbot.domain import wmem
from wisbot.domain.watch import Impact
from wisbot.domain.wmem import Refused

T0 = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("wmem-*.json")), ids=lambda p: p.stem)
def test_every_published_example_parses_and_passes_the_schema(path: object) -> None:
    ev = wmem.parse(path.read_bytes())  # type: ignore[attr-defined]
    assert ev.schema_errors == ()
    assert ev.severity in wmem.SEVERITIES and ev.subject and ev.title


def test_what_the_examples_mean() -> None:
    gs = wmem.parse(raw(example("gs-outage")))
    assert gs.is_outage and gs.interval == (datetime(2025, 11, 15, 9, tzinfo=UTC),
                                            datetime(2025, 11, 15, 9, 30, tzinfo=UTC))
    open_start = wmem.parse(raw(example("wis2node-outage2")))
    assert open_start.is_outage and open_start.interval is not None
    assert open_start.interval[0] is None
    logs = wmem.parse(raw(example("scgc-logs")))
    assert not logs.is_outage and logs.links == ("https://example.org/logs.txt",)
    gm = wmem.parse(raw(example("gm-report")))
    assert gm.failing and gm.subject == "fr-meteofrance"
    assert wmem.service_kind("ca-eccc-msc-global-discovery-catalogue") == "gdc"
    assert wmem.service_kind("fr-meteofrance") is None
    assert wmem.impact_for("CRITICAL", True) is Impact.VERY_HIGH
    assert wmem.impact_for("ERROR", True) is Impact.HIGH
    assert wmem.impact_for("CRITICAL", False) is Impact.HIGH
    assert wmem.impact_for("ERROR", False) is Impact.MEDIUM
    assert wmem.impact_for("WARNING", True) is None


def test_drift_is_read_type_suffix_and_top_level_links() -> None:
    doc = event("gc-404-report", type="int.wmo.wis.wme.event.gdc-alert")
    doc["links"] = [{"href": "https://gdc.example.org/report/42", "rel": "alternate"}]
    del doc["data"]["content"]
    ev = wmem.parse(raw(doc))
    assert ev.links == ("https://gdc.example.org/report/42",)
    assert ev.schema_errors == ()  # checked as if written to the schema


def test_hostile_messages_are_refused_with_a_reason() -> None:
    big = event("gm-report")
    big["data"]["content"]["description"] = "x" * 9000
    cases = {
        "too-large": raw(big),
        "broken-json": b'{"id": "a", "type": "int.wmo.wis.wme.event", "data": {',
        "not-an-object": b'["int.wmo.wis.wme.event"]',
        "wrong-type": raw(event("gm-report", type="int.wmo.wis.wnm.notification")),
        "no-id": raw(event("gm-report", id="")),
        "bad-severity": raw(event("gm-report", data_severity="FATAL")),
        "no-data": raw(event("gm-report", data="CRITICAL")),
    }
    assert len(cases["too-large"]) > 8192
    for reason, payload in cases.items():
        with pytest.raises(Refused) as exc:
            wmem.parse(payload)
        assert exc.value.reason == reason


def test_topics_four_and_five_levels() -> None:
    assert wmem.topic_subject("monitor/a/wis2/ca-eccc-msc") == "ca-eccc-msc"
    assert wmem.topic_subject("monitor/a/wis2/fr-meteofrance-global-monitor/ca-eccc-msc") \
        == "ca-eccc-msc"
    assert wmem.topic_subject("origin/a/wis2/ca-eccc-msc") is None
    assert wmem.topic_subject("monitor/a/wis2/a/b/c") is None
    doc = event("gm-report")
    del doc["subject"]
    assert wmem.parse(raw(doc), "monitor/a/wis2/ma-marocmeteo-global-monitor/ke-kmd") \
        .subject == "ke-kmd"
    assert wmem.publish_topic("de-dwd") == "monitor/a/wis2/de-dwd"


def test_built_messages_are_strict_and_small() -> None:
    doc = wmem.build(source="de-dwd", subject="de-dwd-global-broker", severity="INFO",
                     title="Planned outage", now=T0, ref="6da24af0-b19f-4106-b583-73cc25a4435d",
                     interval=(T0, T0 + timedelta(hours=2)), subtype="planned-outage")
    body = wmem.encode(doc)
    back = json.loads(body)
    assert back["data"]["time"]["interval"] == ["2026-03-02T00:00:00Z", "2026-03-02T02:00:00Z"]
    assert wmem.schema_errors(back) == ()
    assert wmem.parse(body).ref == "6da24af0-b19f-4106-b583-73cc25a4435d"
    for bad, word in ((dict(doc, type="int.wmo.wis.wme.event.x"), "type"),
                      (dict(doc, subject="GISC Offenbach"), "subject"),
                      (dict(doc, time="2026-03-02 00:00"), "time"),
                      (dict(doc, data=dict(doc["data"], severity="FATAL")), "severity")):
        with pytest.raises(ValueError, match=word):
            wmem.encode(bad)
    huge = wmem.build(source="de-dwd", subject="de-dwd", severity="ERROR", title="t",
                      description="y" * 1900, now=T0)
    huge["data"]["content"]["extra"] = "z" * 7000
    with pytest.raises(ValueError, match="8192"):
        wmem.encode(huge)


def test_service_level_counts_planned_outage_apart() -> None:
    lo, hi = T0, T0 + timedelta(days=10)
    samples = [(T0 - timedelta(hours=1), True),  # state carried in from before lo
               (T0 + timedelta(days=2), False), (T0 + timedelta(days=2, hours=6), True)]
    outage = [(T0 + timedelta(days=5), T0 + timedelta(days=5, hours=12))]
    level = wmem.service_level("gb", samples, outage, lo, hi)
    assert level.down_s == 6 * 3600
    assert level.planned_s == 12 * 3600
    assert level.unknown_s == 0
    assert level.availability == pytest.approx(1 - 6 / (240 - 12))
    assert level.meets is False
    assert "BELOW the 99.5 % target" in level.words()
    assert "planned outage 12.0 h not counted" in level.words()
    fine = wmem.service_level("gb", [(T0, True), (T0 + timedelta(days=9), False),
                                     (T0 + timedelta(days=9, minutes=30), True)], [], lo, hi)
    assert fine.meets is True
    unseen = wmem.service_level("gb", [], [], lo, hi)
    assert unseen.availability is None and unseen.unknown_s == 240 * 3600
