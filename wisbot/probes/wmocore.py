"""The WMO Core Metadata Profile 1.3 fields the near-real-time exchange watch needs.

:func:`parse_core` reads one ISO 19139 ``gmd:MD_Metadata`` (or ``gmi:MI_Metadata``) element
that the harvester has already parsed safely (no DTD, capped size) and returns a
:class:`CoreRecord`, or raises :class:`RecordRejected` with a short ``code`` (counted) and a
reason a duty operator can read (logged).

Fields, as WMO Core 1.3 encodes them:

* file identifier: ``gmd:fileIdentifier/gco:CharacterString``;
* title: ``identificationInfo/*/citation/CI_Citation/title``;
* ``WMO_DistributionScopeCode``: a ``gmd:keyword`` of an ``MD_Keywords`` whose thesaurus title
  *contains* ``WMO_DistributionScopeCode`` (real records append version text), as a
  ``gco:CharacterString`` or a ``gmx:Anchor`` (keyword and title alike);
* ``WMO_DataLicenseCode`` and ``WMO_GTSProductCategoryCode``: ``otherConstraints`` of
  ``MD_LegalConstraints`` (text or Anchor), or keywords of a thesaurus so named;
* the originating centre: the ``pointOfContact`` with role ``originator`` (else the first
  point of contact, else the metadata contact), plus the GTS ``CCCC`` of an identifier of the
  form ``urn:x-wmo:md:int.wmo.wis::TTAAiiCCCC``.

A record is rejected when it is not ISO 19139 (wrong namespace), has no file identifier, no
or an unknown or ambiguous distribution scope, or two different licence terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

GMD = "http://www.isotc211.org/2005/gmd"
GCO = "http://www.isotc211.org/2005/gco"
GMX = "http://www.isotc211.org/2005/gmx"
GMI = "http://www.isotc211.org/2005/gmi"
XLINK = "http://www.w3.org/1999/xlink"

SCOPES = ("GlobalExchange", "RegionalExchange", "OriginatingCentre")
LICENCES = ("WMOEssential", "WMOAdditional", "WMOOther")
GTS_CATEGORIES = ("GTSPriority1", "GTSPriority2", "GTSPriority3", "GTSPriority4")
SCOPE_THESAURUS = "WMO_DistributionScopeCode"
LICENCE_THESAURUS = "WMO_DataLicenseCode"
GTS_THESAURUS = "WMO_GTSProductCategoryCode"

_ROOTS = {f"{{{GMD}}}MD_Metadata", f"{{{GMI}}}MI_Metadata"}
_GTS_ID = re.compile(r"^urn:x-wmo:md:int\.wmo\.wis::([A-Z]{4}\d{2})([A-Z]{4})$", re.IGNORECASE)
_MD_ID = re.compile(r"^urn:x-wmo:md:([^:]+)::", re.IGNORECASE)
_K = f"{{{GMD}}}"
_TEXT_TAGS = (f"{{{GCO}}}CharacterString", f"{{{GMX}}}Anchor")


class RecordRejected(Exception):
    """A record skipped from the harvest: ``code`` is counted, ``reason`` logged."""

    def __init__(self, code: str, reason: str, identifier: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.identifier = identifier


@dataclass(frozen=True)
class CoreRecord:
    """What the exchange watch keeps of one discovery metadata record."""

    identifier: str
    title: str
    scope: str
    """GlobalExchange, RegionalExchange or OriginatingCentre (WIS2: core → GlobalExchange,
    recommended → RegionalExchange)."""
    licence: str | None = None
    gts_category: str | None = None
    originator: str | None = None
    """The originating centre's organisation name as the record gives it."""
    centre_keys: tuple[str, ...] = field(default_factory=tuple)
    """Strings by which the directory may know the originating centre (CCCC, WIS2 centre
    id, metadata namespace, organisation name), best first."""
    datestamp: str | None = None
    source: str = "wis1"
    data_policy: str | None = None
    """WIS2 ``wmo:dataPolicy`` (core / recommended) when the record came from a GDC."""

    def as_json(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier, "title": self.title, "scope": self.scope,
            "licence": self.licence, "gts_category": self.gts_category,
            "originator": self.originator, "centre_keys": list(self.centre_keys),
            "datestamp": self.datestamp, "source": self.source,
            "data_policy": self.data_policy,
        }


def _text(el: Any) -> str:
    """The text of a CharacterString or Anchor child of ``el`` (or of ``el`` itself)."""
    if el is None:
        return ""
    if el.tag in _TEXT_TAGS:
        return str(el.text or "").strip()
    for child in el:
        if child.tag in _TEXT_TAGS:
            return str(child.text or "").strip()
    return ""


def _anchor_code(el: Any) -> str:
    """The code an Anchor's ``xlink:href`` ends with (``...#WMO_DistributionScopeCode_
    GlobalExchange`` → ``GlobalExchange``), for anchors whose text is a label."""
    for node in (el, *list(el)):
        href = node.get(f"{{{XLINK}}}href") if node.tag == f"{{{GMX}}}Anchor" else None
        if href:
            tail = re.split(r"[#/]", href)[-1]
            return tail.rsplit("_", 1)[-1] if "_" in tail else tail
    return ""


def _match(value: str, codes: tuple[str, ...]) -> str | None:
    folded = value.replace(" ", "").casefold()
    for code in codes:
        if folded == code.casefold():
            return code
    return None


def _keyword_groups(root: Any) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every MD_Keywords as (folded thesaurus title, [(keyword text, anchor code)])."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for kw in root.iter(f"{_K}MD_Keywords"):
        title_el = kw.find(f"{_K}thesaurusName/{_K}CI_Citation/{_K}title")
        if title_el is None:
            continue
        words = [(raw, _anchor_code(k)) for k in kw.iterchildren(f"{_K}keyword")
                 if (raw := _text(k))]
        groups.append((_text(title_el).casefold(), words))
    return groups


def _thesaurus_terms(groups: list[tuple[str, list[tuple[str, str]]]],
                     thesaurus: str) -> tuple[list[str], list[str]]:
    """(keyword texts, anchor codes) of the groups whose thesaurus title contains
    ``thesaurus``."""
    needle = thesaurus.casefold()
    raws: list[str] = []
    anchors: list[str] = []
    for title, words in groups:
        if needle in title:
            for raw, anchor in words:
                raws.append(raw)
                anchors.append(anchor)
    return raws, anchors


def _codes(raws: list[str], anchors: list[str], codes: tuple[str, ...]) -> list[str | None]:
    out: list[str | None] = []
    for raw, anchor in zip(raws, anchors, strict=True):
        out.append(_match(raw, codes) or (_match(anchor, codes) if anchor else None))
    return out


def _constraint_values(root: Any) -> list[tuple[str, str]]:
    return [(_text(oc), _anchor_code(oc)) for oc in root.iter(f"{_K}otherConstraints")]


def _constraint_codes(values: list[tuple[str, str]], codes: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for text, anchor in values:
        code = (_match(text, codes) if text else None) or (
            _match(anchor, codes) if anchor else None)
        if code:
            found.append(code)
    return found


def _single(kind: str, values: list[str], identifier: str) -> str | None:
    distinct = list(dict.fromkeys(values))
    if len(distinct) > 1:
        raise RecordRejected(
            f"two-{kind}-terms",
            f"{identifier}: {len(distinct)} different {kind} terms ({', '.join(distinct)}); "
            "a record must state one",
            identifier,
        )
    return distinct[0] if distinct else None


def _originator(root: Any) -> str | None:
    first: str | None = None
    for party in root.iter(f"{_K}CI_ResponsibleParty"):
        parent = party.getparent()
        if parent is None or parent.tag != f"{_K}pointOfContact":
            continue
        name = _text(party.find(f"{_K}organisationName"))
        role_el = party.find(f"{_K}role/{_K}CI_RoleCode")
        role = "" if role_el is None else (role_el.get("codeListValue") or role_el.text or "")
        if name and role.strip() == "originator":
            return name
        if name and first is None:
            first = name
    if first:
        return first
    contact = root.find(f"{_K}contact/{_K}CI_ResponsibleParty/{_K}organisationName")
    return _text(contact) or None


def centre_keys_for(identifier: str, originator: str | None) -> tuple[str, ...]:
    keys: list[str] = []
    m = _GTS_ID.match(identifier)
    if m:
        keys.append(m.group(2).upper())
    else:
        ns = _MD_ID.match(identifier)
        if ns:
            keys.append(ns.group(1))
    if originator:
        keys.append(originator)
    return tuple(dict.fromkeys(keys))


def parse_core(root: Any, datestamp: str | None = None) -> CoreRecord:
    """The WMO Core 1.3 fields of one record element; :class:`RecordRejected` if unusable."""
    tag = str(root.tag)
    if tag not in _ROOTS:
        raise RecordRejected(
            "wrong-namespace",
            f"not an ISO 19139 record: root element is {tag} (expected {{{GMD}}}MD_Metadata)",
        )
    identifier = _text(root.find(f"{_K}fileIdentifier"))
    if not identifier:
        raise RecordRejected("no-identifier", "record without gmd:fileIdentifier")
    if len(identifier) > 255:
        raise RecordRejected("bad-identifier", "file identifier longer than 255 characters")
    ident_info = root.find(f"{_K}identificationInfo")
    title = ""
    if ident_info is not None and len(ident_info):
        title = _text(ident_info[0].find(f"{_K}citation/{_K}CI_Citation/{_K}title"))
    groups = _keyword_groups(root)
    raws, anchors = _thesaurus_terms(groups, SCOPE_THESAURUS)
    if not raws:
        raise RecordRejected(
            "missing-scope",
            f"{identifier}: no keyword from a WMO_DistributionScopeCode thesaurus",
            identifier,
        )
    matched = _codes(raws, anchors, SCOPES)
    unknown = [raw for raw, code in zip(raws, matched, strict=True) if code is None]
    if unknown:
        raise RecordRejected(
            "unknown-scope",
            f"{identifier}: unknown WMO_DistributionScopeCode value {unknown[0]!r} "
            f"(expected {', '.join(SCOPES)})",
            identifier,
        )
    scope = _single("scope", [c for c in matched if c], identifier)
    assert scope is not None
    constraints = _constraint_values(root)
    lic_raws, lic_anchors = _thesaurus_terms(groups, LICENCE_THESAURUS)
    licences = [c for c in _codes(lic_raws, lic_anchors, LICENCES) if c]
    licences += _constraint_codes(constraints, LICENCES)
    licence = _single("licence", licences, identifier)
    gts_raws, gts_anchors = _thesaurus_terms(groups, GTS_THESAURUS)
    categories = [c for c in _codes(gts_raws, gts_anchors, GTS_CATEGORIES) if c]
    categories += _constraint_codes(constraints, GTS_CATEGORIES)
    gts = _single("GTS-category", categories, identifier)
    originator = _originator(root)
    if datestamp is None:
        stamp = root.find(f"{_K}dateStamp")
        datestamp = (_text(stamp) or str(stamp[0].text or "").strip() or None
                     if stamp is not None and len(stamp) else None)
    return CoreRecord(
        identifier=identifier, title=title[:500] or identifier, scope=scope, licence=licence,
        gts_category=gts, originator=originator,
        centre_keys=centre_keys_for(identifier, originator), datestamp=datestamp,
    )


_WIS2_ID = re.compile(r"^urn:wmo:md:([^:]+):", re.IGNORECASE)
WIS2_POLICY_SCOPE = {"core": "GlobalExchange", "recommended": "RegionalExchange"}


def parse_wcmp2(item: Any) -> CoreRecord:
    """A WIS2 discovery record (WCMP2 GeoJSON feature from a Global Discovery Catalogue)."""
    if not isinstance(item, dict):
        raise RecordRejected("not-a-feature", "catalogue item is not a JSON object")
    identifier = item.get("id")
    if not isinstance(identifier, str) or not identifier.strip():
        raise RecordRejected("no-identifier", "catalogue item without an id")
    identifier = identifier.strip()[:255]
    props = item.get("properties")
    if not isinstance(props, dict):
        raise RecordRejected("no-properties", f"{identifier}: item without properties",
                             identifier)
    policy = props.get("wmo:dataPolicy")
    if not isinstance(policy, str) or policy.strip().lower() not in WIS2_POLICY_SCOPE:
        raise RecordRejected(
            "missing-data-policy",
            f"{identifier}: wmo:dataPolicy is {policy!r}, expected core or recommended",
            identifier,
        )
    policy = policy.strip().lower()
    title = props.get("title")
    m = _WIS2_ID.match(identifier)
    keys = (m.group(1),) if m else ()
    updated = props.get("updated") or props.get("created")
    return CoreRecord(
        identifier=identifier, title=str(title)[:500] if title else identifier,
        scope=WIS2_POLICY_SCOPE[policy], licence=None, gts_category=None,
        originator=keys[0] if keys else None, centre_keys=keys,
        datestamp=str(updated) if updated else None, source="wis2", data_policy=policy,
    )
