"""Every chart is followed by its figures as a table (<details> "Show as a table"): the same
numbers the chart draws, for screen readers and for reading them exactly."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import unescape

from relance.web import charts
from relance.workspace.charts import days_late_chart


def _table(html: str) -> list[list[str]]:
    body = html.split("<details", 1)[1]
    assert "<summary>Show as a table</summary>" in body
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1])
    return [
        [unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        for row in rows
    ]


def test_a_bar_chart_s_table_has_each_bar_and_its_link():
    bars = [
        charts.Bar("current", Decimal("140000"), "€140,000.00", href="/invoices/?bucket=current"),
        charts.Bar("91+", Decimal("20000"), "€20,000.00", href="/invoices/?bucket=91%2B"),
    ]
    html = charts.bar_chart(bars, title="Aging")
    assert _table(html) == [["current", "€140,000.00"], ["91+", "€20,000.00"]]
    assert '<th scope="row"><a href="/invoices/?bucket=91%2B">91+</a></th>' in html
    assert 'role="group"' in html  # a chart of links is not one image


def test_a_line_chart_s_table_has_the_points_the_chart_draws():
    html = charts.line_chart(
        ["Jan 24", "Feb 24"],
        [charts.Series("DSO", [51.08, None], "#000"), charts.Series("CEI %", [61.82, 65.0], "#111")],
        title="Trend",
        unit=" days",
    )
    assert _table(html) == [["Jan 24", "51.1 days", "61.8 days"], ["Feb 24", "—", "65.0 days"]]
    drawn = re.findall(r"<title>DSO: ([^<]+)</title>", html)
    assert drawn == ["51.1 days"]  # the same figure as the table's


@dataclass(frozen=True)
class Paid:
    invoice_ref: str
    paid_on: date
    days_late: int


def test_the_customer_page_s_payment_chart_has_a_table():
    html = days_late_chart(
        [Paid("INV-1", date(2024, 5, 3), -2), Paid("INV-2", date(2024, 6, 9), 12)], title="Late"
    )
    assert _table(html) == [["INV-1", "2024-05-03", "-2"], ["INV-2", "2024-06-09", "12"]]


def test_the_dbt_trend_chart_s_table_has_dbt_and_the_dispute_indicators():
    html = charts.dbt_trend_chart(
        ["Jan 26", "Feb 26"], [5.4, None], [2, 0], [3, 1], title="Days beyond terms and disputes"
    )
    assert _table(html) == [["Jan 26", "5.4 days", "2", "3"], ["Feb 26", "—", "0", "1"]]
    assert re.findall(r"<title>Days beyond terms: ([^<]+)</title>", html) == ["5.4 days"]
    assert re.findall(r"<title>([^<]+) dispute\(s\) opened</title>", html) == ["Jan 26: 2"]


def test_the_forecast_band_chart_s_table_has_expected_low_high_and_what_came_in():
    points = [
        charts.BandPoint("7 Dec", 1000.0, 800.0, 1200.0, actual=950.0),
        charts.BandPoint("14 Dec", 500.0, 300.0, 700.0),
    ]
    html = charts.band_chart(points, title="Cash forecast", figure=lambda value: f"€{value:,.2f}")
    assert _table(html) == [
        ["7 Dec", "€1,000.00", "€800.00", "€1,200.00", "€950.00"],
        ["14 Dec", "€500.00", "€300.00", "€700.00", "—"],
    ]
    assert "<polygon" in html and 'role="img"' in html
