"""Dependency-free inline SVG charts for the demo report: vertical bars, points with interval
whiskers against a target line, and horizontal bars. Every text is escaped.

>>> svg = bars(["day 1", "day 2"], [0.0, 0.5], fmt="{:.0%}", y_max=1.0)
>>> svg.startswith("<svg") and "50%" in svg and "day 2" in svg
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["bars", "hbars", "intervals"]

_W, _H = 560, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 16, 16, 34
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _open(width: int, height: int, title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
            f"<title>{escape(title)}</title>"]


def _y_axis(parts: list[str], y_max: float, fmt: str, *, y_min: float = 0.0) -> None:
    plot_h = _H - _TOP - _BOTTOM
    for i in range(5):
        value = y_min + (y_max - y_min) * i / 4
        y = _TOP + plot_h * (1 - i / 4)
        parts.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     'stroke="#e5e7eb"/>')
        parts.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" {_FONT} '
                     f'fill="#6b7280">{escape(fmt.format(value))}</text>')


def _x_labels(parts: list[str], labels: Sequence[str], centers: Sequence[float]) -> None:
    for label, x in zip(labels, centers, strict=True):
        parts.append(f'<text x="{x:.1f}" y="{_H - _BOTTOM + 16}" text-anchor="middle" '
                     f'{_FONT} fill="#374151">{escape(label)}</text>')


def _nice_ceiling(value: float) -> float:
    """The smallest round number at or above ``value`` whose quarters are round too."""
    scale = 10 ** math.floor(math.log10(value))
    return next(m * scale for m in (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10) if m * scale >= value)


def bars(labels: Sequence[str], values: Sequence[float], *, fmt: str = "{:g}",
         y_max: float | None = None, color: str = "#2563eb", title: str = "") -> str:
    """One bar per label, its value written above it."""
    top = y_max if y_max is not None else _nice_ceiling(max([*values, 1.0]) * 1.1)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    step = plot_w / max(len(labels), 1)
    parts = _open(_W, _H, title)
    _y_axis(parts, top, fmt)
    centers = []
    for i, value in enumerate(values):
        h = plot_h * min(value / top, 1.0) if top else 0.0
        x = _LEFT + step * i + step * 0.2
        centers.append(x + step * 0.3)
        parts.append(f'<rect x="{x:.1f}" y="{_TOP + plot_h - h:.1f}" width="{step * 0.6:.1f}" '
                     f'height="{h:.1f}" fill="{color}" rx="2"/>')
        parts.append(f'<text x="{x + step * 0.3:.1f}" y="{_TOP + plot_h - h - 4:.1f}" '
                     f'text-anchor="middle" {_FONT} fill="#111827">'
                     f"{escape(fmt.format(value))}</text>")
    _x_labels(parts, labels, centers)
    parts.append("</svg>")
    return "".join(parts)


def intervals(labels: Sequence[str], points: Sequence[tuple[float, float, float] | None], *,
              target: float, title: str = "") -> str:
    """A point with its ``(low, high)`` whisker per label (``None``: no data) and a dashed
    target line; points below the target are red."""
    known = [p for p in points if p is not None]
    y_min = min([target - 0.02, *(low for _, low, _ in known)])
    y_min = max(0.0, float(int(y_min * 50)) / 50)  # round down to 0.02
    y_max = 1.0
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    step = plot_w / max(len(labels), 1)

    def y(v: float) -> float:
        return _TOP + plot_h * (1 - (v - y_min) / (y_max - y_min))

    parts = _open(_W, _H, title)
    _y_axis(parts, y_max, "{:.2f}", y_min=y_min)
    parts.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y(target):.1f}" '
                 f'y2="{y(target):.1f}" stroke="#dc2626" stroke-dasharray="5,4"/>')
    parts.append(f'<text x="{_W - _RIGHT}" y="{y(target) - 4:.1f}" text-anchor="end" {_FONT} '
                 f'fill="#dc2626">α = {escape(f"{target:g}")}</text>')
    centers = [_LEFT + step * (i + 0.5) for i in range(len(labels))]
    for x, point in zip(centers, points, strict=True):
        if point is None:
            parts.append(f'<text x="{x:.1f}" y="{y(y_min) - 6:.1f}" text-anchor="middle" '
                         f'{_FONT} fill="#9ca3af">no handled answers</text>')
            continue
        value, low, high = point
        color = "#16a34a" if value >= target else "#dc2626"
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y(low):.1f}" y2="{y(high):.1f}" '
                     f'stroke="{color}" stroke-width="2"/>')
        for end in (low, high):
            parts.append(f'<line x1="{x - 6:.1f}" x2="{x + 6:.1f}" y1="{y(end):.1f}" '
                         f'y2="{y(end):.1f}" stroke="{color}" stroke-width="2"/>')
        parts.append(f'<circle cx="{x:.1f}" cy="{y(value):.1f}" r="4" fill="{color}"/>')
        parts.append(f'<text x="{x + 9:.1f}" y="{y(value) + 4:.1f}" {_FONT} fill="#111827">'
                     f"{escape(f'{value:.3f}')}</text>")
    _x_labels(parts, labels, centers)
    parts.append("</svg>")
    return "".join(parts)


def hbars(labels: Sequence[str], values: Sequence[float], notes: Sequence[str], *,
          title: str = "") -> str:
    """Horizontal bars of shares in [0, 1], one row per label, with a note right of each."""
    row, label_w, note_w = 16, 170, 120
    width = 640
    bar_w = width - label_w - note_w - 12
    height = row * len(labels) + 8
    parts = _open(width, height, title)
    for i, (label, value, note) in enumerate(zip(labels, values, notes, strict=True)):
        y = 4 + row * i
        parts.append(f'<text x="{label_w - 6}" y="{y + 11}" text-anchor="end" {_FONT} '
                     f'fill="#374151">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{bar_w}" height="{row - 4}" '
                     'fill="#f3f4f6"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{bar_w * value:.1f}" '
                     f'height="{row - 4}" fill="#16a34a"/>')
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 11}" {_FONT} fill="#6b7280">'
                     f"{escape(note)}</text>")
    parts.append("</svg>")
    return "".join(parts)
