"""Inline SVG charts for the HTML report: no scripts, no external assets, every text escaped.

>>> svg = line_chart([Series("coverage", "#2563eb", [(0.9, 0.8, True), (0.95, 0.6, False)])],
...                  x_label="α", y_label="coverage", x_range=(0.9, 0.95))
>>> svg.startswith("<svg") and "<script" not in svg
True
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

__all__ = ["Series", "hbar_chart", "line_chart"]

_FONT = 'font-family="system-ui,sans-serif" font-size="11"'


@dataclass
class Series:
    """A line of points ``(x, y, filled)``; a hollow marker shows a point that is not certified."""

    name: str
    color: str
    points: list[tuple[float, float, bool]]
    dashed: bool = False


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def line_chart(series: list[Series], *, x_label: str, y_label: str,
               x_range: tuple[float, float], y_range: tuple[float, float] = (0.0, 1.0),
               diagonal: bool = False, width: int = 560, height: int = 300) -> str:
    """A line chart with percent ticks on both axes, a legend, and optionally the line y = x."""
    left, right, top, bottom = 52, 16, 14, 58
    pw, ph = width - left - right, height - top - bottom
    x0, x1 = x_range if x_range[1] > x_range[0] else (x_range[0] - 0.01, x_range[0] + 0.01)
    y0, y1 = y_range

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top + (1 - (min(max(y, y0), y1) - y0) / (y1 - y0)) * ph

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="{escape(y_label)} '
             f'vs {escape(x_label)}" {_FONT}>',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" '
             'stroke="#d4d4d8"/>']
    for i in range(6):
        yv = y0 + (y1 - y0) * i / 5
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{_fmt(py(yv))}" '
                     f'y2="{_fmt(py(yv))}" stroke="#e4e4e7"/>'
                     f'<text x="{left - 6}" y="{_fmt(py(yv) + 4)}" text-anchor="end">'
                     f'{yv:.0%}</text>')
    xs = sorted({x for s in series for x, _, _ in s.points})
    for xv in xs:
        parts.append(f'<text x="{_fmt(px(xv))}" y="{top + ph + 16}" text-anchor="middle">'
                     f'{xv:.2f}</text>')
    if diagonal:
        a, b = max(x0, y0), min(x1, y1)
        if b > a:
            parts.append(f'<line x1="{_fmt(px(a))}" y1="{_fmt(py(a))}" x2="{_fmt(px(b))}" '
                         f'y2="{_fmt(py(b))}" stroke="#a1a1aa" stroke-dasharray="4 3"/>')
    for s in series:
        pts = sorted(s.points)
        if len(pts) > 1:
            path = " ".join(f"{_fmt(px(x))},{_fmt(py(y))}" for x, y, _ in pts)
            dash = ' stroke-dasharray="6 4"' if s.dashed else ""
            parts.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" '
                         f'stroke-width="2"{dash}/>')
        for x, y, filled in pts:
            fill = s.color if filled else "#ffffff"
            parts.append(f'<circle cx="{_fmt(px(x))}" cy="{_fmt(py(y))}" r="4" fill="{fill}" '
                         f'stroke="{s.color}" stroke-width="2"><title>{escape(s.name)}: '
                         f'α={x:.3f}, {y:.1%}</title></circle>')
    parts.append(f'<text x="{left + pw / 2}" y="{top + ph + 34}" text-anchor="middle">'
                 f'{escape(x_label)}</text>')
    parts.append(f'<text x="12" y="{top + ph / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 12 {top + ph / 2})">{escape(y_label)}</text>')
    lx = left
    for s in series:
        parts.append(f'<rect x="{lx}" y="{height - 14}" width="12" height="3" '
                     f'fill="{s.color}"/><text x="{lx + 16}" y="{height - 10}">'
                     f'{escape(s.name)}</text>')
        lx += 24 + 7 * len(s.name)
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(items: list[tuple[str, float]], *, max_value: float | None = None,
               width: int = 560, bar_color: str = "#f59e0b", value_format: str = "{:.0f}") -> str:
    """Horizontal bars, one per ``(label, value)``, labelled with the formatted value."""
    row, label_w = 22, 200
    height = row * len(items) + 8
    top = max_value if max_value else max((v for _, v in items), default=1.0) or 1.0
    bar_w = width - label_w - 70
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" {_FONT}>']
    for i, (label, value) in enumerate(items):
        y = 4 + i * row
        w = max(bar_w * value / top, 1.0 if value > 0 else 0.0)
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">'
                     f'{escape(label)}</text><rect x="{label_w}" y="{y + 3}" width="{_fmt(w)}" '
                     f'height="14" fill="{bar_color}"/><text x="{_fmt(label_w + w + 6)}" '
                     f'y="{y + 14}">{escape(value_format.format(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)
