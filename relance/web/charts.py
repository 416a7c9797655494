"""Server-rendered SVG charts: no JavaScript, no CDN, readable without colour (labels on every bar).

Every chart is followed by the same figures as a table (``<details>`` "Show as a table"), for
screen readers and for whoever wants the numbers (WCAG 1.1.1; docs/workspace.md, "Accessibility")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from html import escape

AGING_COLOURS = ["#2e7d32", "#9acd32", "#f9a825", "#ef6c00", "#c62828", "#6a1b9a", "#37474f"]


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    caption: str
    href: str = ""  # where the bar drills down to (its rows), if anywhere


def data_table(title: str, header: list[str], rows: list[list[tuple[str, str]]]) -> str:
    """``<details>`` with the chart's figures: rows of (text, link or "") cells, first cell a row header."""
    parts = [
        '<details class="chart-table"><summary>Show as a table</summary>',
        f"<table><caption>{escape(title)}</caption><thead><tr>",
        *(f'<th scope="col">{escape(name)}</th>' for name in header),
        "</tr></thead><tbody>",
    ]
    for row in rows:
        cells = []
        for index, (text, href) in enumerate(row):
            content = f'<a href="{escape(href)}">{escape(text)}</a>' if href else escape(text)
            cells.append(
                f'<th scope="row">{content}</th>' if index == 0 else f'<td class="num">{content}</td>'
            )
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table></details>")
    return "".join(parts)


def bar_chart(
    bars: list[Bar],
    *,
    width: int = 640,
    height: int = 260,
    title: str = "",
    colours: list[str] | None = None,
    label_header: str = "Item",
    value_header: str = "Amount",
) -> str:
    top, bottom, left = 28, 40, 12
    plot_height = height - top - bottom
    peak = max((bar.value for bar in bars), default=Decimal(0)) or Decimal(1)
    slot = (width - 2 * left) / max(len(bars), 1)
    # With links to the rows behind each bar the chart is a group of links, not one image.
    role = "group" if any(bar.href for bar in bars) else "img"
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="{role}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for index, bar in enumerate(bars):
        bar_height = float(bar.value / peak) * plot_height if bar.value > 0 else 0.0
        x = left + index * slot + slot * 0.15
        y = top + plot_height - bar_height
        palette = colours or AGING_COLOURS
        colour = palette[min(index, len(palette) - 1)]
        rect = (
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{bar_height:.1f}" '
            f'fill="{colour}" rx="3"><title>{escape(bar.label)}: {escape(bar.caption)}</title></rect>'
        )
        if bar.href:
            rect = f'<a href="{escape(bar.href)}" aria-label="{escape(bar.label)}: {escape(bar.caption)}">{rect}</a>'
        parts.append(rect)
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{y - 6:.1f}" text-anchor="middle" class="value">'
            f"{escape(bar.caption)}</text>"
        )
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{height - bottom + 18:.1f}" text-anchor="middle" '
            f'class="label">{escape(bar.label)}</text>'
        )
    parts.append("</svg>")
    table = data_table(
        title, [label_header, value_header], [[(bar.label, bar.href), (bar.caption, "")] for bar in bars]
    )
    return "".join(parts) + table


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]
    colour: str


def axis_number(value: float) -> str:
    """A tick label short enough for the axis margin: 73, 1,250, 890k, 1.09M."""
    magnitude = abs(value)
    if magnitude >= 1_000_000:
        return f"{value / 1_000_000:.3g}M"
    if magnitude >= 10_000:
        return f"{value / 1_000:.3g}k"
    return f"{value:,.0f}"


def _value_grid(*, left: float, right: float, top: float, plot_height: float, peak: float) -> list[str]:
    """The horizontal grid lines at 0, ¼, ½, ¾ and all of ``peak``, each with its value on the left
    axis: the same in every chart with a value axis."""
    parts = []
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        y = top + plot_height - fraction * plot_height
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{axis_number(peak * fraction)}</text>'
        )
    return parts


def line_chart(
    labels: list[str],
    series: list[Series],
    *,
    width: int = 640,
    height: int = 260,
    title: str = "",
    unit: str = "",
    figure: Callable[[float], str] | None = None,
    label_header: str = "Month",
) -> str:
    """Lines over ``labels``; ``figure`` writes a value in the table (default: one decimal + unit)."""
    top, bottom, left, right = 20, 48, 44, 24  # right: room for half of the last month label
    plot_width, plot_height = width - left - right, height - top - bottom
    values = [v for s in series for v in s.values if v is not None]
    peak = max(values, default=1.0) or 1.0
    peak = peak * 1.1
    step = plot_width / max(len(labels) - 1, 1)

    def point(index: int, value: float) -> tuple[float, float]:
        return left + index * step, top + plot_height - (value / peak) * plot_height

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    parts.extend(_value_grid(left=left, right=width - right, top=top, plot_height=plot_height, peak=peak))
    for index, label in enumerate(labels):
        if len(labels) <= 12 or index % 2 == 0:
            x = left + index * step
            parts.append(
                f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle" class="axis">{escape(label)}</text>'
            )
    for number, line in enumerate(series):
        points = [point(i, v) for i, v in enumerate(line.values) if v is not None]
        if points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{line.colour}" stroke-width="2.5"/>')
            for (x, y), value in zip(points, [v for v in line.values if v is not None], strict=True):
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{line.colour}">'
                    f"<title>{escape(line.name)}: {value:.1f}{escape(unit)}</title></circle>"
                )
        legend_x = left + number * 150
        parts.append(f'<rect x="{legend_x}" y="{height - 18}" width="12" height="12" fill="{line.colour}"/>')
        parts.append(f'<text x="{legend_x + 16}" y="{height - 8}" class="legend">{escape(line.name)}</text>')
    parts.append("</svg>")

    def written(value: float | None) -> str:
        if value is None:
            return "—"
        return figure(value) if figure is not None else f"{value:.1f}{unit}"

    rows = [
        [
            (label, ""),
            *((written(line.values[index] if index < len(line.values) else None), "") for line in series),
        ]
        for index, label in enumerate(labels)
    ]
    return "".join(parts) + data_table(title, [label_header, *(line.name for line in series)], rows)


def dbt_trend_chart(
    labels: list[str],
    dbt: list[float | None],
    disputes_opened: list[int],
    disputes_open: list[int],
    *,
    width: int = 640,
    height: int = 260,
    title: str = "",
) -> str:
    """Days beyond terms as a line (left axis, days) over the disputes opened each month as bars
    (their count written on each, scaled apart); the table adds the disputes open at each point."""
    top, bottom, left, right = 20, 48, 44, 24
    plot_width, plot_height = width - left - right, height - top - bottom
    values = [value for value in dbt if value is not None]
    peak = (max(values, default=0.0) or 10.0) * 1.1
    most = max(disputes_opened, default=0) or 1
    step = plot_width / max(len(labels) - 1, 1)
    bar_width = min(step * 0.5, 24.0)

    def y_of(value: float) -> float:
        return top + plot_height - (value / peak) * plot_height

    parts = [
        f'<svg class="chart dbt-trend" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    parts.extend(_value_grid(left=left, right=width - right, top=top, plot_height=plot_height, peak=peak))
    for index, label in enumerate(labels):
        x = left + index * step
        count = disputes_opened[index] if index < len(disputes_opened) else 0
        if count:
            bar_height = count / most * plot_height * 0.4
            parts.append(
                f'<rect x="{x - bar_width / 2:.1f}" y="{top + plot_height - bar_height:.1f}" width="{bar_width:.1f}" '
                f'height="{bar_height:.1f}" fill="#b0bec5"><title>{escape(label)}: {count} dispute(s) opened</title></rect>'
            )
            parts.append(
                f'<text x="{x:.1f}" y="{top + plot_height - bar_height - 4:.1f}" text-anchor="middle" '
                f'class="value">{count}</text>'
            )
        if len(labels) <= 12 or index % 2 == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle" class="axis">{escape(label)}</text>'
            )
    points = [(left + i * step, y_of(v), v) for i, v in enumerate(dbt) if v is not None]
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#c62828" stroke-width="2.5"/>')
        for x, y, value in points:
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#c62828"><title>Days beyond terms: '
                f"{value:.1f} days</title></circle>"
            )
    parts.append(f'<rect x="{left}" y="{height - 18}" width="12" height="12" fill="#c62828"/>')
    parts.append(f'<text x="{left + 16}" y="{height - 8}" class="legend">Days beyond terms</text>')
    parts.append(f'<rect x="{left + 170}" y="{height - 18}" width="12" height="12" fill="#b0bec5"/>')
    parts.append(f'<text x="{left + 186}" y="{height - 8}" class="legend">Disputes opened</text>')
    parts.append("</svg>")
    rows = [
        [
            (label, ""),
            ("—" if index >= len(dbt) or dbt[index] is None else f"{dbt[index]:.1f} days", ""),
            (str(disputes_opened[index]) if index < len(disputes_opened) else "—", ""),
            (str(disputes_open[index]) if index < len(disputes_open) else "—", ""),
        ]
        for index, label in enumerate(labels)
    ]
    header = ["Month", "Days beyond terms", "Disputes opened", "Disputes open"]
    return "".join(parts) + data_table(title, header, rows)


@dataclass(frozen=True)
class BandPoint:
    """One bucket of a forecast: its label, the expected amount and its p10–p90 band (and, for a
    past bucket, what came in)."""

    label: str
    expected: float
    low: float
    high: float
    actual: float | None = None


def band_chart(
    points: list[BandPoint],
    *,
    width: int = 640,
    height: int = 260,
    title: str = "",
    figure: Callable[[float], str] | None = None,
    label_header: str = "Week",
) -> str:
    """The expected line inside its shaded p10–p90 band (the cash forecast), with what came in as
    dots where known; the table gives every figure (``figure`` writes an amount)."""
    written = figure or (lambda value: f"{value:,.0f}")
    top, bottom, left, right = 20, 48, 52, 24
    plot_width, plot_height = width - left - right, height - top - bottom
    values = [v for p in points for v in (p.high, p.expected, p.actual) if v is not None]
    peak = (max(values, default=0.0) or 1.0) * 1.1
    step = plot_width / max(len(points) - 1, 1)

    def xy(index: int, value: float) -> str:
        return f"{left + index * step:.1f},{top + plot_height - value / peak * plot_height:.1f}"

    parts = [
        f'<svg class="chart band" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    parts.extend(_value_grid(left=left, right=width - right, top=top, plot_height=plot_height, peak=peak))
    if points:
        upper = [xy(i, p.high) for i, p in enumerate(points)]
        lower = [xy(i, p.low) for i, p in reversed(list(enumerate(points)))]
        parts.append(f'<polygon points="{" ".join(upper + lower)}" fill="#bbdefb" stroke="none"/>')
        line = " ".join(xy(i, p.expected) for i, p in enumerate(points))
        parts.append(f'<polyline points="{line}" fill="none" stroke="#1f4e79" stroke-width="2.5"/>')
    for index, point in enumerate(points):
        x = left + index * step
        if len(points) <= 14 or index % 2 == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle" class="axis">{escape(point.label)}</text>'
            )
        if point.actual is not None:
            y = top + plot_height - point.actual / peak * plot_height
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#2e7d32"><title>{escape(point.label)}: '
                f"{escape(written(point.actual))} came in</title></circle>"
            )
    parts.append(f'<rect x="{left}" y="{height - 18}" width="12" height="12" fill="#1f4e79"/>')
    parts.append(f'<text x="{left + 16}" y="{height - 8}" class="legend">Expected</text>')
    parts.append(f'<rect x="{left + 100}" y="{height - 18}" width="12" height="12" fill="#bbdefb"/>')
    parts.append(f'<text x="{left + 116}" y="{height - 8}" class="legend">p10–p90</text>')
    has_actual = any(point.actual is not None for point in points)
    if has_actual:
        parts.append(f'<circle cx="{left + 206}" cy="{height - 12}" r="5" fill="#2e7d32"/>')
        parts.append(f'<text x="{left + 216}" y="{height - 8}" class="legend">Came in</text>')
    parts.append("</svg>")
    header = [label_header, "Expected", "Low (p10)", "High (p90)", *(["Came in"] if has_actual else [])]
    rows = [
        [
            (point.label, ""),
            (written(point.expected), ""),
            (written(point.low), ""),
            (written(point.high), ""),
            *([("—" if point.actual is None else written(point.actual), "")] if has_actual else []),
        ]
        for point in points
    ]
    return "".join(parts) + data_table(title, header, rows)
