"""Charts as inline SVG drawn on the server: no script, no third-party asset, readable by
a screen reader (a ``<title>`` and a ``<desc>``; every chart has a table beside it)."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence

from markupsafe import Markup

PALETTE = ("#1b7837", "#5aae61", "#fdb863", "#e08214", "#b2182b", "#67001f")
"""Severity 0-5, light to dark; contrast against white ≥ 3:1 for the darker levels."""


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def stacked_bars(title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]],
                 *, colours: Sequence[str] = PALETTE, width: int = 640,
                 height: int = 240) -> Markup:
    """One bar per label, stacked by series (``{"severity 3": [..per label..]}``)."""
    left, bottom, top = 36, 28, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    totals = [sum(s[i] for s in series.values()) for i in range(len(labels))]
    peak = max([*totals, 1.0])
    step = plot_w / max(len(labels), 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} '
           f'{height}" class="chart"><title>{_esc(title)}</title>',
           f"<desc>{_esc(title)}: " + "; ".join(
               f"{_esc(lb)} {t:g}" for lb, t in zip(labels, totals, strict=True)) + "</desc>",
           f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" '
           'stroke="#333"/>',
           f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" font-size="11">'
           f"{peak:g}</text>"]
    for i, label in enumerate(labels):
        y = float(top + plot_h)
        for k, values in enumerate(series.values()):
            h = plot_h * values[i] / peak
            if h > 0:
                y -= h
                out.append(f'<rect x="{left + i * step + 2:.1f}" y="{y:.1f}" '
                           f'width="{max(step - 4, 1):.1f}" height="{h:.1f}" '
                           f'fill="{colours[k % len(colours)]}"/>')
        out.append(f'<text x="{left + (i + 0.5) * step:.1f}" y="{height - 10}" '
                   f'text-anchor="middle" font-size="11">{_esc(label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 every text above is escaped


def hbars(title: str, rows: Sequence[tuple[str, float | None]], *, target: float,
          target_label: str, unit: str = "", width: int = 640,
          shown: Callable[[float], str] | None = None) -> Markup:
    """Horizontal bars (``None``: no value) against a dashed target line; ``shown`` writes
    a value for the reader (e.g. ``12 min`` in their language), else ``{value}{unit}``."""
    def say(value: float) -> str:
        return shown(value) if shown is not None else f"{value:.0f}{unit}"

    row_h, left, right = 26, 180, 60
    height = row_h * len(rows) + 24
    peak = max([target * 1.2, *(v for _, v in rows if v is not None)])
    scale = (width - left - right) / peak
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} '
           f'{height}" class="chart"><title>{_esc(title)}</title>',
           f"<desc>{_esc(title)}: " + "; ".join(
               f"{_esc(lb)} {'–' if v is None else _esc(say(v))}" for lb, v in rows)
           + f"; {_esc(target_label)}</desc>"]
    for i, (label, value) in enumerate(rows):
        y = 8 + i * row_h
        out.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
                   f"{_esc(label)}</text>")
        if value is not None:
            colour = "#1b7837" if value <= target else "#b2182b"
            out.append(f'<rect x="{left}" y="{y + 3}" width="{max(value * scale, 1):.1f}" '
                       f'height="{row_h - 8}" fill="{colour}"/>'
                       f'<text x="{left + value * scale + 4:.1f}" y="{y + 15}" '
                       f'font-size="11">{_esc(say(value))}</text>')
    x = left + target * scale
    out.append(f'<line x1="{x:.1f}" y1="2" x2="{x:.1f}" y2="{height - 14}" stroke="#333" '
               f'stroke-dasharray="4 3"/><text x="{x:.1f}" y="{height - 2}" '
               f'text-anchor="middle" font-size="11">{_esc(target_label)}</text></svg>')
    return Markup("".join(out))  # noqa: S704 every text above is escaped


def status_grid(title: str, days: Sequence[str], rows: Mapping[str, Mapping[str, str]],
                *, words: Mapping[str, str] | None = None) -> Markup:
    """One row per subject, one cell per day: ok (green), degraded (amber), fail (red),
    none (grey); each cell carries its status in a ``<title>`` for a screen reader, in
    the reader's ``words`` (status key: words) when given."""
    colours = {"ok": "#1b7837", "degraded": "#e08214", "fail": "#b2182b"}
    cell, left = 16, 220
    width = left + cell * len(days) + 8
    height = cell * len(rows) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} '
           f'{height}" class="chart"><title>{_esc(title)}</title>']
    for r, (subject, by_day) in enumerate(sorted(rows.items())):
        y = 4 + r * cell
        out.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end" font-size="11">'
                   f"{_esc(subject)}</text>")
        for d, day in enumerate(days):
            status = by_day.get(day, "")
            out.append(f'<rect x="{left + d * cell}" y="{y}" width="{cell - 2}" '
                       f'height="{cell - 2}" fill="{colours.get(status, "#ccc")}">'
                       f"<title>{_esc(subject)} {_esc(day)}: "
                       f"{_esc((words or {}).get(status, status) or '–')}</title>"
                       "</rect>")
    if days:
        out.append(f'<text x="{left}" y="{height - 6}" font-size="11">{_esc(days[0])}</text>'
                   f'<text x="{width - 8}" y="{height - 6}" text-anchor="end" font-size="11">'
                   f"{_esc(days[-1])}</text>")
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 every text above is escaped
