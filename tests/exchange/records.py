"""WMO Core Metadata Profile 1.3 records for tests, written here (not copied from anywhere).

``core_record(...)`` returns one ``gmd:MD_Metadata`` document as text; the fixture files in
``fixtures/records/`` were written with it (``python -m tests.exchange.records`` rewrites them).
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).parent
RECORDS = HERE / "fixtures" / "records"
CODELISTS = "http://wis.wmo.int/2012/codelists/WMOCodeLists.xml"
NS = (
    'xmlns:gmd="http://www.isotc211.org/2005/gmd" xmlns:gco="http://www.isotc211.org/2005/gco" '
    'xmlns:gmx="http://www.isotc211.org/2005/gmx" xmlns:xlink="http://www.w3.org/1999/xlink"'
)


def _string(text: str, anchor: str | None = None) -> str:
    if anchor:
        return f'<gmx:Anchor xlink:href="{escape(anchor)}">{escape(text)}</gmx:Anchor>'
    return f"<gco:CharacterString>{escape(text)}</gco:CharacterString>"


def keywords(values: list[str], thesaurus: str, *, anchor: bool = False) -> str:
    words = "".join(
        f"<gmd:keyword>{_string(v, f'{CODELISTS}#{thesaurus.split()[0]}_{v}' if anchor else None)}"
        "</gmd:keyword>"
        for v in values
    )
    title = _string(thesaurus, f"{CODELISTS}#WMO_DistributionScopeCode" if anchor else None)
    return (
        f"<gmd:descriptiveKeywords><gmd:MD_Keywords>{words}"
        f"<gmd:thesaurusName><gmd:CI_Citation><gmd:title>{title}</gmd:title>"
        "<gmd:date><gmd:CI_Date><gmd:date><gco:Date>2013-06-01</gco:Date></gmd:date>"
        '<gmd:dateType><gmd:CI_DateTypeCode codeList="http://standards.iso.org/iso/19139/'
        'resources/gmxCodelists.xml#CI_DateTypeCode" codeListValue="publication">publication'
        "</gmd:CI_DateTypeCode></gmd:dateType></gmd:CI_Date></gmd:date>"
        "</gmd:CI_Citation></gmd:thesaurusName></gmd:MD_Keywords></gmd:descriptiveKeywords>"
    )


def core_record(
    identifier: str,
    title: str,
    scope: str | list[str] | None = "GlobalExchange",
    *,
    thesaurus: str = "WMO_DistributionScopeCode",
    anchor: bool = False,
    licences: tuple[str, ...] = ("WMOEssential",),
    gts: str | None = "GTSPriority2",
    originator: str = "Deutscher Wetterdienst",
    datestamp: str = "2026-03-01T06:00:00Z",
    root_ns: str = "http://www.isotc211.org/2005/gmd",
) -> str:
    scope_xml = ""
    if scope is not None:
        scope_xml = keywords(scope if isinstance(scope, list) else [scope], thesaurus,
                             anchor=anchor)
    constraints = "".join(
        "<gmd:otherConstraints>"
        f"{_string(v, f'{CODELISTS}#WMO_DataLicenseCode_{v}' if anchor else None)}"
        "</gmd:otherConstraints>"
        for v in licences
    )
    if gts:
        constraints += f"<gmd:otherConstraints>{_string(gts)}</gmd:otherConstraints>"
    legal = (
        "<gmd:resourceConstraints><gmd:MD_LegalConstraints>"
        '<gmd:accessConstraints><gmd:MD_RestrictionCode codeList="http://standards.iso.org/'
        'iso/19139/resources/gmxCodelists.xml#MD_RestrictionCode" '
        'codeListValue="otherRestrictions">'
        "otherRestrictions</gmd:MD_RestrictionCode></gmd:accessConstraints>"
        f"{constraints}</gmd:MD_LegalConstraints></gmd:resourceConstraints>"
    ) if constraints else ""
    ns = NS if root_ns == "http://www.isotc211.org/2005/gmd" else NS.replace(
        'xmlns:gmd="http://www.isotc211.org/2005/gmd"', f'xmlns:gmd="{root_ns}"')
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<gmd:MD_Metadata {ns}>'
        f"<gmd:fileIdentifier>{_string(identifier)}</gmd:fileIdentifier>"
        "<gmd:language><gco:CharacterString>eng</gco:CharacterString></gmd:language>"
        "<gmd:hierarchyLevel><gmd:MD_ScopeCode codeList=\"http://standards.iso.org/iso/19139/"
        'resources/gmxCodelists.xml#MD_ScopeCode" codeListValue="dataset">dataset'
        "</gmd:MD_ScopeCode></gmd:hierarchyLevel>"
        "<gmd:contact><gmd:CI_ResponsibleParty><gmd:organisationName>"
        f"{_string('GISC metadata desk')}</gmd:organisationName>"
        '<gmd:role><gmd:CI_RoleCode codeList="http://standards.iso.org/iso/19139/resources/'
        'gmxCodelists.xml#CI_RoleCode" codeListValue="pointOfContact">pointOfContact'
        "</gmd:CI_RoleCode></gmd:role></gmd:CI_ResponsibleParty></gmd:contact>"
        f"<gmd:dateStamp><gco:DateTime>{datestamp}</gco:DateTime></gmd:dateStamp>"
        "<gmd:metadataStandardName><gco:CharacterString>WMO Core Metadata Profile of ISO 19115 "
        "(WMO Core), 1.3, Part 1</gco:CharacterString></gmd:metadataStandardName>"
        "<gmd:metadataStandardVersion><gco:CharacterString>1.3</gco:CharacterString>"
        "</gmd:metadataStandardVersion>"
        "<gmd:identificationInfo><gmd:MD_DataIdentification>"
        f"<gmd:citation><gmd:CI_Citation><gmd:title>{_string(title)}</gmd:title>"
        "<gmd:date><gmd:CI_Date><gmd:date><gco:Date>2026-01-01</gco:Date></gmd:date>"
        '<gmd:dateType><gmd:CI_DateTypeCode codeList="http://standards.iso.org/iso/19139/'
        'resources/gmxCodelists.xml#CI_DateTypeCode" codeListValue="publication">publication'
        "</gmd:CI_DateTypeCode></gmd:dateType></gmd:CI_Date></gmd:date>"
        "</gmd:CI_Citation></gmd:citation>"
        f"<gmd:abstract>{_string(title + ', exchanged on the GTS and WIS.')}</gmd:abstract>"
        "<gmd:pointOfContact><gmd:CI_ResponsibleParty>"
        f"<gmd:organisationName>{_string(originator)}</gmd:organisationName>"
        '<gmd:role><gmd:CI_RoleCode codeList="http://standards.iso.org/iso/19139/resources/'
        'gmxCodelists.xml#CI_RoleCode" codeListValue="originator">originator</gmd:CI_RoleCode>'
        "</gmd:role></gmd:CI_ResponsibleParty></gmd:pointOfContact>"
        f"{scope_xml}{legal}"
        "<gmd:language><gco:CharacterString>eng</gco:CharacterString></gmd:language>"
        "<gmd:topicCategory><gmd:MD_TopicCategoryCode>climatologyMeteorologyAtmosphere"
        "</gmd:MD_TopicCategoryCode></gmd:topicCategory>"
        "<gmd:extent><gmd:EX_Extent><gmd:geographicElement><gmd:EX_GeographicBoundingBox>"
        "<gmd:westBoundLongitude><gco:Decimal>5.0</gco:Decimal></gmd:westBoundLongitude>"
        "<gmd:eastBoundLongitude><gco:Decimal>15.0</gco:Decimal></gmd:eastBoundLongitude>"
        "<gmd:southBoundLatitude><gco:Decimal>47.0</gco:Decimal></gmd:southBoundLatitude>"
        "<gmd:northBoundLatitude><gco:Decimal>55.0</gco:Decimal></gmd:northBoundLatitude>"
        "</gmd:EX_GeographicBoundingBox></gmd:geographicElement></gmd:EX_Extent></gmd:extent>"
        "</gmd:MD_DataIdentification></gmd:identificationInfo></gmd:MD_Metadata>\n"
    )


def gts_id(ttaaii_cccc: str) -> str:
    return f"urn:x-wmo:md:int.wmo.wis::{ttaaii_cccc}"


#: file name -> (core_record arguments); what each fixture exercises is in its title.
FIXTURES: dict[str, dict[str, object]] = {
    "global-plain": dict(identifier=gts_id("SMDL01EDZW"), title="SYNOP reports from Germany"),
    "global-title-version": dict(
        identifier=gts_id("SMSW01LSSW"), title="SYNOP reports from Switzerland",
        thesaurus="WMO_DistributionScopeCode (WMO Core Metadata Profile 1.3, code table 17)",
        originator="MeteoSwiss"),
    "global-anchor": dict(
        identifier=gts_id("SMKN01HKNC"), title="SYNOP reports from Kenya", anchor=True,
        thesaurus="WMO_DistributionScopeCode", originator="Kenya Meteorological Department"),
    "global-radar-namespace": dict(
        identifier="urn:x-wmo:md:de.dwd::radar-composite-5min",
        title="Radar composite of Germany, 5-minute", licences=("WMOAdditional",), gts=None,
        thesaurus="WMO Core 1.3 WMO_DistributionScopeCode"),
    "regional": dict(identifier=gts_id("SIDL01EDZW"), title="Intermediate SYNOP, Germany",
                     scope="RegionalExchange"),
    "originating-centre": dict(identifier=gts_id("HHXA50EDZW"), title="NWP ICON-D2 fields",
                               scope="OriginatingCentre", licences=("WMOAdditional",)),
    "global-tokyo": dict(identifier=gts_id("SMJP01RJTD"), title="SYNOP reports from Japan",
                         originator="Japan Meteorological Agency"),
    "global-ecmwf": dict(identifier=gts_id("HTXE85ECMF"), title="ECMWF HRES fields",
                         originator="ECMWF", licences=("WMOAdditional",)),
    "global-old": dict(identifier=gts_id("SMDL02EDZW"), title="Old SYNOP bulletin, Germany",
                       datestamp="2020-05-01T00:00:00Z"),
}


def write_fixtures() -> None:
    RECORDS.mkdir(parents=True, exist_ok=True)
    for name, kwargs in FIXTURES.items():
        (RECORDS / f"{name}.xml").write_text(core_record(**kwargs), encoding="utf-8")  # type: ignore[arg-type]


if __name__ == "__main__":
    write_fixtures()
