"""Anomaly rules over probe figures. Pure: numbers in, findings out, no I/O.

* :func:`record_count_outliers` - a centre's record count far from the median of the
  *other* centres (GISC caches should hold similar, globally exchanged, metadata);
* :func:`day_on_day` - a figure that changed by more than a percentage since the last run;
* :func:`broker_collapse` - a Global Broker whose message count fell by most of itself.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from wisbot.probes import reasons as r
from wisbot.probes.model import Service


class AnomalyKind(StrEnum):
    OUTLIER = "outlier"
    CHANGE = "change"
    COLLAPSE = "collapse"


@dataclass(frozen=True)
class Anomaly:
    centre: str
    service: Service
    kind: AnomalyKind
    message: str


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def record_count_outliers(
    counts: Mapping[str, float], ratio: float = 0.5, *, service: Service = Service.OAIPMH
) -> list[Anomaly]:
    """Centres whose count is below ``ratio`` × or above 1/``ratio`` × the median of the
    other centres (0.5: less than half, or more than double).

    Needs at least two other centres to form a median; a zero median says nothing about
    the others' level, so it flags nobody. Non-finite counts are ignored.
    """
    if not 0 < ratio < 1:
        raise ValueError("ratio must be between 0 and 1")
    clean = {c: float(v) for c, v in counts.items() if math.isfinite(v)}
    found: list[Anomaly] = []
    for centre in sorted(clean):
        others = [v for c, v in clean.items() if c != centre]
        if len(others) < 2:
            continue
        median = statistics.median(others)
        if median <= 0:
            continue
        value = clean[centre]
        if value < median * ratio:
            found.append(
                Anomaly(
                    centre,
                    service,
                    AnomalyKind.OUTLIER,
                    (r.OUTLIER_LOW_ONLY if value > 0 else r.OUTLIER_LOW).en(
                        centre=centre, value=_fmt(value), others=len(others),
                        median=_fmt(median), share=f"{value / median:.0%}"),
                )
            )
        elif value > median / ratio:
            found.append(
                Anomaly(
                    centre,
                    service,
                    AnomalyKind.OUTLIER,
                    r.OUTLIER_HIGH.en(centre=centre, value=_fmt(value), others=len(others),
                                      median=_fmt(median), times=f"{value / median:.1f}"),
                )
            )
    return found


def day_on_day(
    prev: Mapping[str, float],
    curr: Mapping[str, float],
    pct: float = 20.0,
    *,
    service: Service = Service.OAIPMH,
) -> list[Anomaly]:
    """Centres whose figure moved by more than ``pct`` percent since ``prev``; a centre
    present yesterday and missing today is reported too (its probe gave no figure)."""
    found: list[Anomaly] = []
    for centre in sorted(set(prev) | set(curr)):
        if centre not in prev:
            continue  # new centre: nothing to compare with
        before = float(prev[centre])
        if centre not in curr:
            found.append(
                Anomaly(
                    centre,
                    service,
                    AnomalyKind.CHANGE,
                    r.NO_FIGURE.en(centre=centre, before=_fmt(before)),
                )
            )
            continue
        now = float(curr[centre])
        if not (math.isfinite(before) and math.isfinite(now)) or before == now:
            continue
        if before == 0:
            found.append(
                Anomaly(
                    centre, service, AnomalyKind.CHANGE,
                    r.FROM_ZERO.en(centre=centre, now=_fmt(now))
                )
            )
            continue
        change = (now - before) / abs(before) * 100.0
        if abs(change) > pct:
            found.append(
                Anomaly(
                    centre,
                    service,
                    AnomalyKind.CHANGE,
                    (r.ROSE if change > 0 else r.FELL).en(
                        centre=centre, pct=f"{abs(change):.0f}", before=_fmt(before),
                        now=_fmt(now), threshold=f"{pct:g}"),
                )
            )
    return found


def broker_collapse(
    prev: Mapping[str, float], curr: Mapping[str, float], drop_pct: float = 80.0
) -> list[Anomaly]:
    """Brokers whose message count fell by at least ``drop_pct`` percent; a broker absent
    from ``curr`` counts as 0 messages (it reported nothing)."""
    found: list[Anomaly] = []
    for broker in sorted(prev):
        before = float(prev[broker])
        if not math.isfinite(before) or before <= 0:
            continue
        now = float(curr.get(broker, 0.0))
        if not math.isfinite(now):
            continue
        drop = (before - now) / before * 100.0
        if drop >= drop_pct:
            found.append(
                Anomaly(
                    broker,
                    Service.BROKER,
                    AnomalyKind.COLLAPSE,
                    (r.COLLAPSED_TO_NONE.en(broker=broker, pct=f"{drop:.0f}",
                                            before=_fmt(before)) if now <= 0 else
                     r.COLLAPSED.en(broker=broker, pct=f"{drop:.0f}", before=_fmt(before),
                                    now=_fmt(now))),
                )
            )
    return found
