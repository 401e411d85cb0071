"""The daily chart: record counts per GISC and the share of services answering, over the
last 30 days, as a PNG (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from wisbot.i18n import _


@dataclass(frozen=True)
class Point:
    day: date
    centre: str
    service: str
    ok: bool
    figure: float | None


def chart_png(points: Iterable[Point], *, title: str) -> bytes | None:
    """None when matplotlib is not installed (the post then says so). The axis labels
    are in the current language (``title`` is the caller's)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        return None
    counts: dict[str, dict[date, float]] = defaultdict(dict)
    ok: dict[date, list[bool]] = defaultdict(list)
    for p in points:
        ok[p.day].append(p.ok)
        if p.service == "oaipmh" and p.figure is not None:
            counts[p.centre][p.day] = p.figure
    fig = Figure(figsize=(9, 6), dpi=100)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for centre in sorted(counts):
        days = sorted(counts[centre])
        top.plot(days, [counts[centre][d] for d in days], marker="o", markersize=3,
                 label=centre)
    _fonts()
    top.set_ylabel(_("metadata records (OAI-PMH)"))
    top.set_title(title)
    if counts:
        top.legend(fontsize="x-small", ncol=3, loc="best")
    top.grid(True, alpha=0.3)
    days = sorted(ok)
    bottom.bar(days, [100.0 * sum(ok[d]) / len(ok[d]) for d in days], color="tab:green")
    bottom.set_ylim(0, 100)
    bottom.set_ylabel(_("% services OK"))
    bottom.grid(True, alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


FALLBACK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Zen Hei", "Noto Sans Arabic")
"""Tried after the default font for the glyphs it lacks (Chinese, Arabic), when installed
(matplotlib does not join Arabic letters: an Arabic title shows them unjoined)."""


def _fonts() -> None:
    from matplotlib import font_manager, rcParams

    installed = {f.name for f in font_manager.fontManager.ttflist}
    extra = [f for f in FALLBACK_FONTS if f in installed]
    if extra:
        rcParams["font.family"] = ["DejaVu Sans", *extra, "sans-serif"]
