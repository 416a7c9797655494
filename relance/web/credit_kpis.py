"""The dashboard's credit section: the credit KPIs (``relance.credit.selectors.kpis``) as tiles, two
charts with their tables, and the class migration matrix. Self-contained: the dashboard view asks
``credit_section`` and includes ``web/_credit_kpis.html``; no section when the entity has no score.

The figures read every open invoice and the day's scores, so they are kept in the cache under the
ledger's data version and the scoring's last write (``relance.reports.credit_kpis``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from relance.core.money import Money
from relance.engine.credit.kpis import CLASSES, GONE, NEW, UTILISATION_BUCKET_LABELS
from relance.ledger.models import Entity
from relance.reports.credit_kpis import credit_kpis_cached
from relance.web import charts

#: Green to red, as the aging bars: low utilisation is good, over the limit is not; grey: no limit.
UTILISATION_COLOURS = ["#2e7d32", "#9acd32", "#f9a825", "#c62828", "#90a4ae"]
CLASS_COLOURS = ["#2e7d32", "#9acd32", "#f9a825", "#ef6c00", "#c62828"]


def credit_section(*, entity: Entity, as_of: date, currency: str, live: bool = True) -> dict[str, Any] | None:
    """The credit section's context, or None when nothing has been scored by ``as_of``. On a large
    ledger (``live`` False) the page does not compute the figures: it shows those ``relance kpi
    credit`` left in the cache, or says to run it."""
    cached = credit_kpis_cached(entity=entity, as_of=as_of, currency=currency, compute=live)
    if cached is None:
        return None
    kpis = cached.kpis
    if kpis is None:
        return {"missing": True, "scoring_day": cached.scoring_day}

    def money(amount: Decimal) -> str:
        return Money(amount, currency).format()

    utilisation_svg = charts.bar_chart(
        [
            charts.Bar(
                label=UTILISATION_BUCKET_LABELS[item.bucket],
                value=item.ar,
                caption=f"{money(item.ar)} · {item.customers}",
            )
            for item in kpis.utilisation
        ],
        title=f"Open receivables by utilisation of the credit limit (amount · customers), {kpis.scoring_day}",
        colours=UTILISATION_COLOURS,
        label_header="Utilisation",
        value_header="Open receivables · customers",
    )
    classes_svg = charts.bar_chart(
        [
            charts.Bar(
                label=risk_class,
                value=Decimal(kpis.classes[risk_class]),
                caption=str(kpis.classes[risk_class]),
            )
            for risk_class in CLASSES
        ],
        title=f"Customers per risk class, scoring of {kpis.scoring_day}",
        colours=CLASS_COLOURS,
        label_header="Risk class",
        value_header="Customers",
    )
    columns = (*CLASSES, GONE)
    migration = [
        {"from": row, "cells": [kpis.migration[row][column] for column in columns]} for row in (*CLASSES, NEW)
    ]
    return {
        "kpis": kpis,
        "data": kpis.to_json(),
        "utilisation_svg": utilisation_svg,
        "classes_svg": classes_svg,
        "migration_columns": columns,
        "migration_rows": migration,
        "ar_over_limit": money(kpis.ar_over_limit),
        "write_offs": money(kpis.write_offs),
        "credit_sales": money(kpis.credit_sales),
    }
