"""Progress charts as server-made SVG: pure Python, no Django, no JavaScript needed to read them.

One chart per measure: the values over time as a line with labelled points, dashed vertical
markers at the treatment sessions, and the scale's levels on the y axis for ordinal scales.
Everything printed is escaped; the SVG sizes itself to its container (viewBox) for tablets and paper.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 150, 40, 24, 56
# The same look as outcomes.css, for an SVG shown as an image.
STANDALONE_STYLE = (
    ".plot{fill:#fff;stroke:#c9d2dc}.grid{stroke:#e3e8ee}"
    ".tick,.date,.session-label{font:12px sans-serif;fill:#5b6b7c}"
    ".session{stroke:#8a5a9e;stroke-width:1.5;stroke-dasharray:5 4}.session-label{fill:#8a5a9e;font-weight:700}"
    ".series{fill:none;stroke:#1f4d8a;stroke-width:2.5}.point{fill:#1f4d8a}"
    ".value{font:bold 13px sans-serif;fill:#1f2933}"
)


@dataclass(frozen=True)
class Point:
    on: dt.date
    y: float
    label: str  # shown above the point (the value as recorded)


@dataclass(frozen=True)
class Marker:
    on: dt.date
    label: str


def svg_line_chart(
    *,
    title: str,
    points: list[Point],
    markers: list[Marker],
    y_ticks: list[tuple[float, str]] | None = None,
    unit: str = "",
    standalone: bool = False,
) -> str:
    """An accessible SVG (role img, title) of ``points`` over time with session ``markers``.

    ``standalone`` embeds the styles, for use as an image (the PDF report) where page CSS cannot reach.
    """
    days = [p.on for p in points] + [m.on for m in markers]
    start, end = (min(days), max(days)) if days else (dt.date.today(), dt.date.today())
    if start == end:
        start, end = start - dt.timedelta(days=1), end + dt.timedelta(days=1)
    span = (end - start).days
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    if y_ticks:
        y_lo, y_hi = min(v for v, _ in y_ticks), max(v for v, _ in y_ticks)
    else:
        values = [p.y for p in points] or [0.0]
        y_lo, y_hi = min(0.0, min(values)), max(values)
        y_ticks = _nice_ticks(y_lo, y_hi)
        y_lo, y_hi = y_ticks[0][0], y_ticks[-1][0]
    if y_hi == y_lo:
        y_hi = y_lo + 1

    pad = 24  # keeps the first and last points and their labels off the frame

    def x_of(day: dt.date) -> float:
        return LEFT + pad + (plot_w - 2 * pad) * (day - start).days / span

    def y_of(value: float) -> float:
        return TOP + plot_h * (1 - (value - y_lo) / (y_hi - y_lo))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="progress-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="chart-title-{_slug(title)}">',
        f'<title id="chart-title-{_slug(title)}">{escape(title)}{" (" + escape(unit) + ")" if unit else ""}</title>',
        f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}"/>',
    ]
    if standalone:
        parts.insert(2, f"<style>{STANDALONE_STYLE}</style>")
    for value, label in y_ticks:
        y = y_of(value)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>')
    for marker in markers:
        x = x_of(marker.on)
        parts.append(f'<line class="session" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + plot_h}"/>')
        parts.append(
            f'<text class="session-label" x="{x:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">'
            f"{escape(marker.label)}</text>"
        )
    for day in _date_ticks(start, end):
        parts.append(
            f'<text class="date" x="{x_of(day):.1f}" y="{HEIGHT - 8}" text-anchor="middle">{day:%Y-%m-%d}</text>'
        )
    ordered = sorted(points, key=lambda p: p.on)
    if len(ordered) > 1:
        path = " ".join(f"{x_of(p.on):.1f},{y_of(p.y):.1f}" for p in ordered)
        parts.append(f'<polyline class="series" points="{path}"/>')
    for point in ordered:
        x, y = x_of(point.on), y_of(point.y)
        parts.append(
            f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="5"><title>{point.on:%Y-%m-%d}: '
            f"{escape(point.label)}</title></circle>"
        )
        parts.append(
            f'<text class="value" x="{x:.1f}" y="{y - 10:.1f}" text-anchor="middle">{escape(point.label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower())[:40]


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[tuple[float, str]]:
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = (lo // step) * step
    ticks: list[tuple[float, str]] = []
    value = first
    while value <= hi + step * 0.999:
        ticks.append((value, f"{value:g}"))
        value += step
    return ticks


def _date_ticks(start: dt.date, end: dt.date, count: int = 5) -> list[dt.date]:
    span = (end - start).days
    if span <= count:
        return [start + dt.timedelta(days=d) for d in range(span + 1)]
    return [start + dt.timedelta(days=round(span * i / (count - 1))) for i in range(count)]
