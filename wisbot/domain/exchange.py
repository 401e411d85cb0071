"""Rules of the near-real-time exchange watch and its dispute procedure (Guide §7.7,
Manual Annex 6), free of I/O.

* A record is *offered for global exchange* when first seen with scope ``GlobalExchange``
  (WIS2: ``wmo:dataPolicy`` core) or when its scope changes to it (:func:`offer_reason`).
* Volume figures are flagged for review above configurable thresholds or on a large
  day-on-day change (:func:`review_flags`).
* A dispute case goes discussion (stage 1, with the provider) → consultation (stage 2,
  the other GISCs answer accept/object) → referral (stage 3, the designated working group)
  → closed; ``agreed`` closes it in stage 1 or 2, ``resolve`` closes a referred case
  (:func:`check_transition`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from babel.numbers import format_decimal

from wisbot import i18n
from wisbot.errors import InvalidState, NotFound
from wisbot.i18n import N_
from wisbot.i18n import _ as _t

GLOBAL = "GlobalExchange"
SCOPES = ("GlobalExchange", "RegionalExchange", "OriginatingCentre")


def parse_scope(text: str) -> str:
    """``globalexchange`` → ``GlobalExchange``; unknown values are refused with the list."""
    for scope in SCOPES:
        if text.strip().casefold() == scope.casefold():
            return scope
    raise InvalidState(_t("unknown scope {text!r}: use {scopes}",
                          text=text, scopes=', '.join(SCOPES)))


def offer_reason(previous_scope: str | None, scope: str, *, known: bool) -> str | None:
    """Why a harvested record is newly offered for global exchange, or None if it is not.

    ``known``: the record was seen before (with ``previous_scope``).
    """
    if scope != GLOBAL:
        return None
    if not known:
        return "new record"
    if previous_scope != GLOBAL:
        return f"scope changed from {previous_scope or 'none'} to {GLOBAL}"
    return None


# ----- volume figures ---------------------------------------------------------------------

METRIC_LABELS: Mapping[str, str] = {
    "messages_24h": N_("Global Broker messages received, 24 h"),
    "products_24h": N_("products in the GISC cache, 24 h"),
    "bytes_24h": N_("bytes in the GISC cache, 24 h"),
}
"""Shown to people (``str(label)`` translates); the metric keys stay as they are."""


def metric_label(metric: str) -> str:
    """The metric's label in the reader's language (an unknown metric: its key)."""
    return str(METRIC_LABELS.get(metric, metric))


@dataclass(frozen=True)
class Figure:
    """One volume figure about an originating centre today, with yesterday's if known."""

    metric: str
    value: float
    previous: float | None = None
    source: str = ""

    @property
    def change_pct(self) -> float | None:
        if self.previous is None or self.previous <= 0:
            return None
        return (self.value - self.previous) / self.previous * 100.0

    def words(self) -> str:
        text = _t("{label}: {value}", label=metric_label(self.metric),
                  value=_number(self.value, self.metric))
        change = self.change_pct
        if change is not None:
            text += _t(" ({change} % day on day)", change=_pct(change))
        elif self.previous is None:
            text += _t(" (no figure yesterday)")
        return text


def _number(value: float, metric: str) -> str:
    """A figure formatted for the reader's language (units are SI symbols, kept)."""
    if metric == "bytes_24h":
        for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
            if value >= size:
                return f"{_decimal(value / size, '#,##0.0')} {unit}"
        return f"{i18n.number(round(value))} B"
    return i18n.number(round(value))


def _decimal(value: float, pattern: str) -> str:
    lang = i18n.current()
    return format_decimal(value, format=pattern,
                          locale="en" if lang == i18n.PSEUDO else lang)


def _pct(change: float) -> str:
    """A signed whole percentage (``+150``), digits for the reader's language."""
    sign = "+" if change >= 0 else "-"
    return f"{sign}{i18n.number(abs(round(change)))}"


@dataclass(frozen=True)
class Thresholds:
    """Above these a record's originating centre needs review (``None``: no limit)."""

    messages_24h: float | None = 500_000
    products_24h: float | None = 100_000
    bytes_24h: float | None = 50e9
    change_pct: float | None = 100.0

    def limit(self, metric: str) -> float | None:
        value = getattr(self, metric, None)
        return value if isinstance(value, int | float) else None


def review_flags(figures: Iterable[Figure], thresholds: Thresholds) -> list[str]:
    """Plain-words reasons why the figures need review; empty when none does."""
    flags: list[str] = []
    for fig in figures:
        limit = thresholds.limit(fig.metric)
        label = metric_label(fig.metric)
        if limit is not None and fig.value > limit:
            flags.append(_t("{label} {value} above the threshold of {limit}", label=label,
                            value=_number(fig.value, fig.metric),
                            limit=_number(limit, fig.metric)))
        change = fig.change_pct
        if thresholds.change_pct is not None and change is not None \
                and abs(change) > thresholds.change_pct:
            flags.append(_t("{label} changed {change} % day on day (threshold ±{limit} %)",
                            label=label, change=_pct(change),
                            limit=i18n.number(round(thresholds.change_pct))))
    return flags


# ----- dispute cases ------------------------------------------------------------------------

class Stage(StrEnum):
    DISCUSSION = "discussion"
    CONSULTATION = "consultation"
    REFERRAL = "referral"
    CLOSED = "closed"

    @property
    def words(self) -> str:
        return {
            Stage.DISCUSSION: _t("stage 1 – discussion with the provider"),
            Stage.CONSULTATION: _t("stage 2 – consultation of the other GISCs"),
            Stage.REFERRAL: _t("stage 3 – referred to the working group"),
            Stage.CLOSED: _t("closed"),
        }[self]


#: action → stages it is allowed in
TRANSITIONS: Mapping[str, tuple[Stage, ...]] = {
    "agreed": (Stage.DISCUSSION, Stage.CONSULTATION),
    "consult": (Stage.DISCUSSION,),
    "accept": (Stage.CONSULTATION,),
    "object": (Stage.CONSULTATION,),
    "refer": (Stage.CONSULTATION,),
    "resolve": (Stage.REFERRAL,),
}
NEXT_STAGE: Mapping[str, Stage] = {
    "agreed": Stage.CLOSED,
    "consult": Stage.CONSULTATION,
    "refer": Stage.REFERRAL,
    "resolve": Stage.CLOSED,
}
_HINT: Mapping[Stage, str] = {
    Stage.DISCUSSION: N_("`agreed <text>` or `consult`"),
    Stage.CONSULTATION: N_("`accept|object [reason]` (GISCs), `agreed <text>` or `refer`"),
    Stage.REFERRAL: N_("`resolve <outcome>`"),
    Stage.CLOSED: N_("nothing: the case is closed"),
}


def check_transition(number: str, stage: Stage, action: str) -> Stage:
    """The stage after ``action``; :class:`InvalidState` saying what is possible instead."""
    allowed = TRANSITIONS[action]
    if stage not in allowed:
        raise InvalidState(_t("{number} is at {words}: `{action}` is possible only at {value}. "
                              "Possible now: {hint}",
                              number=number, words=stage.words, action=action,
                              value=_t(" or ").join(s.words for s in allowed),
                              hint=str(_HINT[stage])))
    return NEXT_STAGE.get(action, stage)


@dataclass(frozen=True)
class Tally:
    """The consultation's current answers."""

    accept: tuple[str, ...] = ()
    object: tuple[str, ...] = ()
    awaiting: tuple[str, ...] = ()

    def words(self) -> str:
        return _t("{accept} accept, {object} object, {awaiting} not answered",
                  accept=i18n.number(len(self.accept)), object=i18n.number(len(self.object)),
                  awaiting=i18n.number(len(self.awaiting)))

    @property
    def unanimous_accept(self) -> bool:
        return not self.object and not self.awaiting and bool(self.accept)


def tally(consulted: Sequence[str], positions: Mapping[str, str]) -> Tally:
    """``positions``: GISC → its current answer (accept / object)."""
    accept = tuple(g for g in consulted if positions.get(g) == "accept")
    objecting = tuple(g for g in consulted if positions.get(g) == "object")
    awaiting = tuple(g for g in consulted if g not in positions)
    return Tally(accept, objecting, awaiting)


def reminders_due(awaiting: Iterable[str], consulted_at: datetime,
                  last_reminded: Mapping[str, datetime], now: datetime,
                  every: timedelta) -> list[str]:
    """GISCs to remind now: not answered, and ``every`` since consultation or their last
    reminder. A run that comes late sends one reminder, not one per missed period."""
    due: list[str] = []
    for gisc in awaiting:
        since = last_reminded.get(gisc, consulted_at)
        if now - since >= every:
            due.append(gisc)
    return due


CASE_RE = re.compile(r"^WIS-NRT-(\d{4})-(\d{1,9})$", re.IGNORECASE)


def case_number(year: int, seq: int) -> str:
    return f"WIS-NRT-{year}-{seq}"


def parse_case_number(text: str) -> str:
    m = CASE_RE.match(text.strip())
    if not m:
        raise NotFound(_t("{text!r} is not a dispute case number: they look like WIS-NRT-2026-1",
                          text=text))
    return case_number(int(m.group(1)), int(m.group(2)))


def looks_like_case(text: str) -> bool:
    return CASE_RE.match(text.strip()) is not None


@dataclass(frozen=True)
class CaseSummary:
    """Enough of a case to render a list line."""

    number: str
    stage: Stage
    metadata_id: str
    provider_centre: str
    owner_gisc: str
    opened_at: datetime
    extra: Mapping[str, str] = field(default_factory=dict)
