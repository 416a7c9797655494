"""Server-drawn SVG for the customer page (same look as ``relance.web.charts``; no JavaScript),
followed by the same figures as a table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape
from typing import Protocol

from relance.web.charts import data_table


class _Point(Protocol):
    @property
    def invoice_ref(self) -> str: ...
    @property
    def paid_on(self) -> date: ...
    @property
    def days_late(self) -> int: ...


def days_late_chart(points: Sequence[_Point], *, width: int = 640, height: int = 220, title: str = "") -> str:
    """One dot per paid invoice, by payment date: height = days late (early payments at 0 and below)."""
    if not points:
        return ""
    top, bottom, left, right = 16, 36, 44, 12
    plot_width, plot_height = width - left - right, height - top - bottom
    high = max(max(p.days_late for p in points), 10)
    low = min(min(p.days_late for p in points), 0)
    span = high - low or 1
    first, last = points[0].paid_on, points[-1].paid_on
    days = max((last - first).days, 1)

    def x_of(point: _Point) -> float:
        return left + ((point.paid_on - first).days / days) * plot_width

    def y_of(value: float) -> float:
        return top + plot_height - ((value - low) / span) * plot_height

    parts = [
        f'<svg class="chart days-late" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for value in sorted({low, 0, high // 2, high}):
        y = y_of(value)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{value}</text>')
    parts.append(f'<text x="{left}" y="{height - 8}" class="axis">{escape(str(first))}</text>')
    parts.append(
        f'<text x="{width - right}" y="{height - 8}" text-anchor="end" class="axis">{escape(str(last))}</text>'
    )
    previous = None
    for point in points:
        x, y = x_of(point), y_of(point.days_late)
        if previous is not None:
            parts.append(
                f'<line x1="{previous[0]:.1f}" y1="{previous[1]:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="#90a4ae"/>'
            )
        previous = (x, y)
        colour = "#2e7d32" if point.days_late <= 0 else ("#f9a825" if point.days_late <= 15 else "#c62828")
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"><title>{escape(point.invoice_ref)}: '
            f"paid {escape(str(point.paid_on))}, {point.days_late} days late</title></circle>"
        )
    parts.append("</svg>")
    rows = [
        [(point.invoice_ref, ""), (str(point.paid_on), ""), (str(point.days_late), "")] for point in points
    ]
    return "".join(parts) + data_table(title, ["Invoice", "Paid on", "Days late"], rows)
