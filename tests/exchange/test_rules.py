"""WMO Core 1.3 field parsing, WIS2 records, the pure exchange rules, directory checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from lxml import etree

from tests.conftest import EXAMPLE
from wisbot.directory import parse_directory
from wisbot.domain.exchange import (
    Figure,
    Stage,
    Thresholds,
    check_transition,
    offer_reason,
    reminders_due,
    review_flags,
    tally,
)
from wisbot.errors import DirectoryError, InvalidState
from wisbot.probes.wmocore import RecordRejected, parse_core, parse_wcmp2

from .records import core_record, gts_id


def parse(xml: str):  # type: ignore[no-untyped-def]
    return parse_core(etree.fromstring(xml.encode()))


@pytest.mark.parametrize("scope", ["GlobalExchange", "RegionalExchange", "OriginatingCentre"])
@pytest.mark.parametrize("thesaurus", [
    "WMO_DistributionScopeCode",
    "WMO_DistributionScopeCode (WMO Core Metadata Profile 1.3)",
    "wmo_distributionscopecode, code table 17 of the Manual on WIS",
])
@pytest.mark.parametrize("anchor", [False, True])
def test_scope_from_each_encoding(scope: str, thesaurus: str, anchor: bool) -> None:
    rec = parse(core_record(gts_id("SMDL01EDZW"), "SYNOP", scope, thesaurus=thesaurus,
                            anchor=anchor))
    assert rec.scope == scope
    assert rec.identifier == gts_id("SMDL01EDZW")
    assert rec.licence == "WMOEssential" and rec.gts_category == "GTSPriority2"
    assert rec.centre_keys[0] == "EDZW" and rec.originator == "Deutscher Wetterdienst"
    assert rec.datestamp == "2026-03-01T06:00:00Z"


def test_anchor_with_a_label_uses_the_code_in_its_href() -> None:
    xml = core_record(gts_id("SMDL01EDZW"), "SYNOP", anchor=True).replace(
        ">GlobalExchange</gmx:Anchor>", ">Global exchange via WIS</gmx:Anchor>")
    assert parse(xml).scope == "GlobalExchange"


@pytest.mark.parametrize(("xml", "code", "words"), [
    (core_record(gts_id("SMDL01EDZW"), "x", None), "missing-scope", "no keyword from a"),
    (core_record(gts_id("SMDL01EDZW"), "x", ["GlobalExchange", "RegionalExchange"]),
     "two-scope-terms", "GlobalExchange, RegionalExchange"),
    (core_record(gts_id("SMDL01EDZW"), "x", "Everywhere"), "unknown-scope", "'Everywhere'"),
    (core_record(gts_id("SMDL01EDZW"), "x", licences=("WMOEssential", "WMOOther")),
     "two-licence-terms", "WMOEssential, WMOOther"),
    (core_record(gts_id("SMDL01EDZW"), "x", root_ns="http://www.isotc211.org/2005/gmd/"),
     "wrong-namespace", "{http://www.isotc211.org/2005/gmd/}MD_Metadata"),
    (core_record("", "x"), "no-identifier", "without gmd:fileIdentifier"),
])
def test_rejections_say_why(xml: str, code: str, words: str) -> None:
    with pytest.raises(RecordRejected) as err:
        parse(xml)
    assert err.value.code == code
    assert words in err.value.reason


def test_same_licence_twice_is_one_term() -> None:
    rec = parse(core_record(gts_id("SMDL01EDZW"), "x", licences=("WMOAdditional",) * 2))
    assert rec.licence == "WMOAdditional"


def test_wis2_records() -> None:
    rec = parse_wcmp2({"id": "urn:wmo:md:de-dwd:synop", "type": "Feature",
                       "properties": {"title": "SYNOP", "wmo:dataPolicy": "core",
                                      "updated": "2026-03-02T07:00:00Z"}})
    assert (rec.scope, rec.data_policy, rec.centre_keys) == ("GlobalExchange", "core",
                                                             ("de-dwd",))
    assert parse_wcmp2({"id": "urn:wmo:md:de-dwd:x",
                        "properties": {"wmo:dataPolicy": "Recommended"}}).scope \
        == "RegionalExchange"
    with pytest.raises(RecordRejected, match="wmo:dataPolicy is 'open'"):
        parse_wcmp2({"id": "urn:wmo:md:de-dwd:x", "properties": {"wmo:dataPolicy": "open"}})


def test_offer_reason() -> None:
    assert offer_reason(None, "GlobalExchange", known=False) == "new record"
    assert offer_reason(None, "RegionalExchange", known=False) is None
    assert offer_reason("RegionalExchange", "GlobalExchange", known=True) == \
        "scope changed from RegionalExchange to GlobalExchange"
    assert offer_reason("GlobalExchange", "GlobalExchange", known=True) is None


def test_review_flags_thresholds_and_day_on_day() -> None:
    t = Thresholds(messages_24h=1000, products_24h=None, bytes_24h=None, change_pct=50)
    assert review_flags([Figure("messages_24h", 999, 900)], t) == []
    assert review_flags([Figure("messages_24h", 1001)], t) == [
        "Global Broker messages received, 24 h 1,001 above the threshold of 1,000"]
    assert review_flags([Figure("products_24h", 160, 100)], t) == [
        "products in the GISC cache, 24 h changed +60 % day on day (threshold ±50 %)"]
    assert review_flags([Figure("products_24h", 10**9, 0)], t) == []  # no base for a change


def test_stages_and_tally() -> None:
    assert check_transition("C", Stage.DISCUSSION, "consult") is Stage.CONSULTATION
    assert check_transition("C", Stage.CONSULTATION, "agreed") is Stage.CLOSED
    with pytest.raises(InvalidState, match="Possible now: `resolve <outcome>`"):
        check_transition("C", Stage.REFERRAL, "accept")
    t = tally(["A", "B", "C"], {"A": "accept", "B": "object"})
    assert (t.accept, t.object, t.awaiting) == (("A",), ("B",), ("C",))


def test_reminders_due_once_per_period() -> None:
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    week = timedelta(days=7)
    assert reminders_due(["A"], t0, {}, t0 + week - timedelta(seconds=1), week) == []
    assert reminders_due(["A", "B"], t0, {"B": t0 + week}, t0 + week, week) == ["A"]
    # a run three weeks late reminds once
    assert reminders_due(["A"], t0, {}, t0 + 3 * week, week) == ["A"]


def _data() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def test_directory_working_group_cross_checks() -> None:
    data = _data()
    data["working_group"]["room"] = "collaboration"
    with pytest.raises(DirectoryError, match="room 'collaboration' has role 'collaboration', "
                                             "not 'working-group'"):
        parse_directory(data, "d.yaml")
    data = _data()
    del data["working_group"]
    with pytest.raises(DirectoryError, match="a 'working-group' room is bound but"):
        parse_directory(data, "d.yaml")
    data = _data()
    data["working_group"] = {"name": "ICTT-WIS"}
    with pytest.raises(DirectoryError, match="give a room, an email, or both"):
        parse_directory(data, "d.yaml")


def test_directory_centre_identifiers() -> None:
    d = parse_directory(_data(), "d.yaml")
    assert d.centre_by_identifier("edzw").code == "DE-OF-NC"  # type: ignore[union-attr]
    assert d.centre_by_identifier("nope", "jp-jma").code == "JP-TK-NC"  # type: ignore[union-attr]
    assert d.centre_by_identifier("nope") is None
    data = _data()
    for c in data["centres"]:
        if c["code"] == "CH-NC":
            c["identifiers"].append("EDZW")
    with pytest.raises(DirectoryError, match="'EDZW' also names centre 'DE-OF-NC'"):
        parse_directory(data, "d.yaml")
