"""Small plots drawn on the server as inline SVG: no JavaScript library, no network.

One kind of chart serves every page: points on a time or index axis, joined by a
line (CPU and memory over a job's life) or shown as marks with a class and a
tooltip, optionally a link (a job's result across runs).  Every text that goes
into the SVG is escaped, and colours come from classes in the hub's stylesheet.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Point", "nice_ticks", "chart"]

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 10, 26  # margins around the plotting area
MAX_LINE_POINTS = 600  # a line of more points is thinned (a sample a second over hours)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    mark: str = ""  # a CSS class: the point is drawn as a mark of that class
    label: str = ""  # its tooltip
    href: str | None = None  # where clicking it leads
    joined: bool = True  # part of the line (a run without the job is a mark only)


def _thin(points: Sequence[Point]) -> Sequence[Point]:
    if len(points) <= MAX_LINE_POINTS:
        return points
    step = len(points) / MAX_LINE_POINTS
    return [points[int(index * step)] for index in range(MAX_LINE_POINTS)] + [points[-1]]


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high <= low:
        return [low]
    return [low + (high - low) * index / count for index in range(count + 1)]


def nice_ticks(high: float, count: int = 4, binary: bool = False) -> list[float]:
    """Ticks from 0 to at least ``high`` in round steps (1, 2, 2.5 or 5 times a power of
    ten; with ``binary``, of a power of 1024 first, so that memory reads 0, 256 MB, 512 MB)."""
    high = high if high > 0 else 1.0  # all zeros: an axis from 0 to 1
    unit = 1.0
    while binary and high / unit >= 1024:
        unit *= 1024
    raw = high / unit / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(factor * magnitude for factor in (1, 2, 2.5, 5, 10) if factor * magnitude >= raw * 0.999)
    steps = max(1, math.ceil(high / unit / step - 1e-9))
    return [index * step * unit for index in range(steps + 1)]


def chart(points: Sequence[Point], *, title: str, y_text: Callable[[float], str],
          x_text: Callable[[float], str], line: bool = True, css: str = "",
          x_ticks: Sequence[float] | None = None, binary: bool = False) -> Markup:
    """An SVG chart of ``points`` (y from 0 up to the largest value); the x axis is
    labelled at ``x_ticks``, by default four even steps; ``binary``: y is bytes."""
    label = escape(title)
    if not points:
        return Markup(f'<p class="empty">{label}: no data</p>')
    xs = [point.x for point in points]
    x_low, x_high = min(xs), max(xs)
    y_ticks = nice_ticks(max(point.y for point in points), binary=binary)
    y_high = y_ticks[-1]
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + (inner_w * (x - x_low) / (x_high - x_low) if x_high > x_low else inner_w / 2)

    def sy(y: float) -> float:
        return TOP + inner_h * (1 - y / y_high)

    parts = [f'<svg class="chart {escape(css)}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{label}" xmlns="http://www.w3.org/2000/svg"><title>{label}</title>']
    for value in y_ticks:
        y = sy(value)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f"{escape(y_text(value))}</text>")
    for value in x_ticks if x_ticks is not None else _ticks(x_low, x_high, 3 if x_high > x_low else 0):
        anchor = "start" if value == x_low and x_high > x_low else "end" if value == x_high else "middle"
        parts.append(f'<text class="tick" x="{sx(value):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
                     f"{escape(x_text(value))}</text>")
    if line:
        drawn = " ".join(f"{sx(point.x):.1f},{sy(point.y):.1f}" for point in _thin([p for p in points if p.joined]))
        parts.append(f'<polyline class="line" points="{drawn}"/>')
    for point in points:
        if not point.mark:
            continue
        mark = (f'<circle class="mark {escape(point.mark)}" cx="{sx(point.x):.1f}" cy="{sy(point.y):.1f}" r="4">'
                f"<title>{escape(point.label)}</title></circle>")
        parts.append(f'<a href="{escape(point.href)}">{mark}</a>' if point.href else mark)
    parts.append("</svg>")
    return Markup("".join(parts))
