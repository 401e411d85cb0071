"""WIS2 Monitoring Event Messages (WMEM, Manual on WIS Vol. II Appendix G): read tolerantly,
write strictly; which events open tickets; planned-outage windows; service levels.

Implementations drift from the schema (wis2-gdc sends ``type`` with a suffix and ``links``
at the top level), so :func:`parse` accepts those and records the schema's verdict apart;
:func:`build` and :func:`encode` produce only messages the vendored schema and the
normative clauses accept (``wisbot/data/wmem_schema.json``, its source in
``wisbot/data/WMEM_SCHEMA.md``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any

from wisbot.domain.watch import Impact
from wisbot.i18n import _ as _t

TYPE = "int.wmo.wis.wme.event"
MAX_BYTES = 8192
CONFORMS = "http://wis.wmo.int/spec/wme/1/conf/monitoring-event-message-core"
DATASCHEMA = "https://schemas.wmo.int/wme/1.0.0/schemas/wis2-event-message-bundled.json"
SEVERITIES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TOPIC_ROOT = "monitor/a/wis2"
TARGET = 0.995
"""The GISC Watch guide's availability target for a Global Service."""
CENTRE_ID = re.compile(r"^[a-z0-9]{2,}(-[a-z0-9_]+)+$")
GLOBAL_SUFFIXES = {
    "global-discovery-catalogue": "gdc", "global-broker": "broker", "global-cache": "cache",
    "global-monitor": "monitor", "global-replay": "replay",
}
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


class Refused(ValueError):
    """A message wisbot will not handle; ``reason`` is a short counter key."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Event:
    id: str
    source: str
    subject: str
    severity: str
    time: datetime | None
    title: str
    description: str = ""
    subtype: str = ""
    ref: str | None = None
    interval: tuple[datetime | None, datetime | None] | None = None
    links: tuple[str, ...] = ()
    schema_errors: tuple[str, ...] = ()
    doc: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def rank(self) -> int:
        return SEVERITIES.index(self.severity)

    @property
    def failing(self) -> bool:
        return self.severity in ("ERROR", "CRITICAL")

    @property
    def is_outage(self) -> bool:
        """A planned-outage notice: a time window with words, not a failure report (a log
        link over a period, like the sensor centre's, is a report)."""
        return self.interval is not None and not self.failing and bool(self.title) \
            and self.title != self.subtype and not self.title.startswith("http")


def topic_subject(topic: str) -> str | None:
    """The centre the topic names: ``monitor/a/wis2/<centre>`` or the five-level
    ``monitor/a/wis2/<monitor>/<centre>`` some services still use; None otherwise."""
    parts = topic.split("/")
    if parts[:3] != TOPIC_ROOT.split("/") or len(parts) not in (4, 5) or not parts[-1]:
        return None
    return parts[-1]


def publish_topic(subject: str) -> str:
    return f"{TOPIC_ROOT}/{subject}"


def is_centre_id(text: str) -> bool:
    return len(text) <= 128 and bool(CENTRE_ID.match(text))


def service_kind(centre_id: str) -> str | None:
    """``gdc``, ``broker``, ``cache``, ``monitor``, ``replay`` for a Global Service's
    centre-id (``de-dwd-global-broker``), None for a WIS2 Node."""
    for suffix, kind in GLOBAL_SUFFIXES.items():
        if centre_id.endswith(suffix):
            return kind
    return None


def impact_for(severity: str, is_global: bool) -> Impact | None:
    """Ticket priority: a Global Service failing weighs more than a WIS2 Node."""
    if severity == "CRITICAL":
        return Impact.VERY_HIGH if is_global else Impact.HIGH
    if severity == "ERROR":
        return Impact.HIGH if is_global else Impact.MEDIUM
    return None


def parse_instant(text: str, *, end: bool = False) -> datetime | None:
    """An RFC 3339 UTC time, a date, a month or a year (``..``: open); an end given as a
    date or coarser means the end of that day, month or year."""
    raw = text.strip()
    if raw in ("..", ""):
        return None
    try:
        if re.fullmatch(r"\d{4}", raw):
            start = datetime(int(raw), 1, 1, tzinfo=UTC)
            return start.replace(year=start.year + 1) if end else start
        if re.fullmatch(r"\d{4}-\d{2}", raw):
            y, m = (int(x) for x in raw.split("-"))
            start = datetime(y, m, 1, tzinfo=UTC)
            if not end:
                return start
            return datetime(y + m // 12, m % 12 + 1, 1, tzinfo=UTC)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            start = datetime.fromisoformat(raw).replace(tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Refused("bad-time", f"{text[:40]!r} is not a time") from None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


@cache
def schema() -> dict[str, Any]:
    text = resources.files("wisbot.data").joinpath("wmem_schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> Any:
    try:
        import jsonschema
    except ImportError:
        return None
    cls = jsonschema.validators.validator_for(schema())
    return cls(schema(), format_checker=cls.FORMAT_CHECKER)


def schema_errors(doc: dict[str, Any]) -> tuple[str, ...] | None:
    """The vendored schema's complaints (None: jsonschema is not installed)."""
    v = _validator()
    if v is None:
        return None
    return tuple(f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message[:160]}"
                 for e in v.iter_errors(doc))[:10]


def _text(value: Any, limit: int = 500) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def parse(payload: bytes, topic: str | None = None) -> Event:
    """A received message as an :class:`Event`; :class:`Refused` says why not."""
    if len(payload) > MAX_BYTES:
        raise Refused("too-large", f"{len(payload)} bytes (at most {MAX_BYTES})")
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused("broken-json", str(exc)[:120]) from None
    except RecursionError:  # nesting deeper than the parser's stack: hostile, not a crash
        raise Refused("too-deep", "JSON nested too deeply") from None
    return parse_doc(doc, topic)


def parse_doc(doc: Any, topic: str | None = None) -> Event:
    if not isinstance(doc, dict):
        raise Refused("not-an-object", f"a JSON {type(doc).__name__}, not an object")
    typ = doc.get("type")
    if not isinstance(typ, str) or not (typ == TYPE or typ.startswith(TYPE + ".")):
        raise Refused("wrong-type", f"type {str(typ)[:60]!r} is not {TYPE}")
    ident = doc.get("id")
    if not isinstance(ident, str) or not ident.strip() or len(ident) > 128:
        raise Refused("no-id", "id missing, empty or longer than 128 characters")
    data = doc.get("data")
    if not isinstance(data, dict):
        raise Refused("no-data", "data is not an object")
    severity = _text(data.get("severity"), 16).upper()
    if severity not in SEVERITIES:
        raise Refused("bad-severity", f"severity {severity[:16]!r}")
    subject = _text(doc.get("subject"), 128) or (topic_subject(topic or "") or "")
    if not subject:
        raise Refused("no-subject", "no subject and no centre in the topic")
    source = _text(doc.get("source"), 128) or "unknown"
    raw_content = data.get("content")
    content: dict[str, Any] = raw_content if isinstance(raw_content, dict) else {}
    links_raw = data.get("links") if isinstance(data.get("links"), list) else doc.get("links")
    links = tuple(_text(link.get("href"), 300) for link in (links_raw or [])
                  if isinstance(link, dict) and _text(link.get("href")))
    subtype = _text(data.get("subtype"), 64)
    title = (_text(content.get("title"), 300) or _text(content.get("detail"), 300)
             or _text(content.get("description"), 300) or subtype or (links[0] if links else "")
             or f"{severity} event")
    description = _text(content.get("description"), 1000) or _text(content.get("detail"), 1000)
    interval = None
    when = data.get("time")
    if isinstance(when, dict) and isinstance(when.get("interval"), list) \
            and len(when["interval"]) == 2:
        a, z = (str(x) for x in when["interval"])
        interval = (parse_instant(a), parse_instant(z, end=True))
    try:
        stamp = parse_instant(_text(doc.get("time"), 40)) if doc.get("time") else None
    except Refused:
        stamp = None  # the envelope's time is informative: the receipt time stands in
    ref = _text(data.get("ref"), 128) or None
    normal = dict(doc, type=TYPE)
    if "links" in doc and "links" not in data:
        normal.pop("links")
        normal["data"] = dict(data, links=doc["links"])
    errors = schema_errors(normal) or ()
    return Event(ident.strip(), source, subject, severity, stamp, title, description, subtype,
                 ref, interval, links, errors, doc)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(*, source: str, subject: str, severity: str, title: str, now: datetime,
          description: str = "", ref: str | None = None,
          interval: tuple[datetime | None, datetime | None] | None = None,
          subtype: str | None = None, ident: str | None = None) -> dict[str, Any]:
    """A WMEM as wisbot publishes it (checked by :func:`encode`)."""
    content: dict[str, str] = {"title": title[:300]}
    if description:
        content["description"] = description[:2000]
    data: dict[str, Any] = {"conformsTo": [CONFORMS], "severity": severity}
    if subtype:
        data["subtype"] = subtype
    if ref:
        data["ref"] = ref
    if interval is not None:
        data["time"] = {"interval": [_stamp(x) if x else ".." for x in interval]}
    data["content"] = content
    return {
        "id": ident or str(uuid.uuid4()), "specversion": "1.0", "type": TYPE,
        "source": source, "subject": subject, "time": _stamp(now),
        "datacontenttype": "application/json", "dataschema": DATASCHEMA, "data": data,
    }


def check(doc: dict[str, Any]) -> list[str]:
    """Every way ``doc`` falls short of a WMEM wisbot may publish."""
    problems: list[str] = []
    try:
        uuid.UUID(str(doc.get("id")))
    except ValueError:
        problems.append("id is not a UUID")
    for key, want in (("specversion", "1.0"), ("type", TYPE),
                      ("datacontenttype", "application/json"), ("dataschema", DATASCHEMA)):
        if doc.get(key) != want:
            problems.append(f"{key} must be {want!r}")
    for key in ("source", "subject"):
        if not is_centre_id(str(doc.get(key, ""))):
            problems.append(f"{key} {doc.get(key)!r} is not a centre-id")
    if not _STAMP.match(str(doc.get("time", ""))):
        problems.append("time is not RFC 3339 UTC (…Z)")
    raw = doc.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if CONFORMS not in (data.get("conformsTo") or []):
        problems.append("data.conformsTo lacks the core conformance class")
    if data.get("severity") not in SEVERITIES:
        problems.append("data.severity is not one of " + ", ".join(SEVERITIES))
    if not (isinstance(data.get("content"), dict) and data["content"].get("title")) \
            and not data.get("links"):
        problems.append("data needs content (with a title) or links")
    errors = schema_errors(doc)
    if errors is None:
        problems.append("the schema check needs jsonschema (install wisbot[watch])")
    else:
        problems += list(errors)
    return problems


def encode(doc: dict[str, Any]) -> bytes:
    """The message's bytes; ValueError if it is not a valid WMEM of at most 8192 bytes."""
    problems = check(doc)
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_BYTES:
        problems.append(f"{len(body)} bytes (at most {MAX_BYTES})")
    if problems:
        raise ValueError("not a valid WMEM: " + "; ".join(problems))
    return body


# ----- service levels ----------------------------------------------------------------------
@dataclass(frozen=True)
class Level:
    service: str
    up_s: float
    down_s: float
    planned_s: float
    unknown_s: float

    @property
    def availability(self) -> float | None:
        seen = self.up_s + self.down_s
        return self.up_s / seen if seen > 0 else None

    @property
    def meets(self) -> bool | None:
        a = self.availability
        return None if a is None else a >= TARGET

    def words(self) -> str:
        a = self.availability
        if a is None:
            return _t("{service}: no observations", service=self.service)
        values = {"service": self.service, "availability": f"{a * 100:.2f}",
                  "target": f"{TARGET * 100:g}", "down": _hours(self.down_s)}
        text = _t("{service}: {availability} % (meets the {target} % target; down {down}",
                  **values) if a >= TARGET else \
            _t("{service}: {availability} % (BELOW the {target} % target; down {down}",
               **values)
        if self.planned_s:
            text += _t(", planned outage {hours} not counted", hours=_hours(self.planned_s))
        if self.unknown_s:
            text += _t(", not observed {hours}", hours=_hours(self.unknown_s))
        return text + ")"


def _hours(seconds: float) -> str:
    return _t("{hours} h", hours=f"{seconds / 3600:.1f}") if seconds >= 360 \
        else _t("{minutes} min", minutes=f"{seconds / 60:.0f}")


def service_level(service: str, samples: Sequence[tuple[datetime, bool]],
                  outages: Sequence[tuple[datetime | None, datetime | None]],
                  lo: datetime, hi: datetime) -> Level:
    """Time up, down, in planned outage and unobserved over [lo, hi): each sample (a probe
    result, an event saying failing or recovered) holds until the next one; the state
    before ``lo`` is the last sample before it; planned outage time is counted apart."""
    ordered = sorted(samples, key=lambda s: s[0])
    windows = [(a or lo, z or hi) for a, z in outages]
    cuts = {lo, hi}
    cuts.update(t for t, _ in ordered if lo < t < hi)
    for a, z in windows:
        cuts.update(t for t in (a, z) if lo < t < hi)
    points = sorted(cuts)
    up = down = planned = unknown = 0.0
    i = 0
    state: bool | None = None
    for a, z in pairwise(points):
        while i < len(ordered) and ordered[i][0] <= a:
            state = ordered[i][1]
            i += 1
        span = (z - a).total_seconds()
        if any(wa <= a and z <= wz for wa, wz in windows):
            planned += span
        elif state is None:
            unknown += span
        elif state:
            up += span
        else:
            down += span
    return Level(service, up, down, planned, unknown)
