"""``relance kpi credit``: the credit KPIs (``relance.credit.selectors.kpis``) as tables or JSON."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.management.base import CommandError
from django.utils import timezone
from rich.console import Console
from rich.table import Table

from relance.core.calendar import parse_iso_date
from relance.core.errors import RelanceError
from relance.core.formatting import format_money
from relance.credit.selectors.kpis import credit_kpis
from relance.engine.credit.kpis import CLASSES, GONE, NEW, UTILISATION_BUCKET_LABELS
from relance.ledger.selectors import entity_resolve


def _percent(value: Decimal | str | None) -> str:
    return "—" if value is None else f"{Decimal(value):.2f} %"


def credit_kpi_command(command: Any, options: dict[str, Any]) -> None:
    """Print the credit KPIs of ``--entity`` in ``--currency`` as of ``--as-of`` (default today)."""
    if options.get("backend"):
        raise CommandError("the credit KPIs read the stored scores: the app database only, not --backend")
    try:
        entity = entity_resolve(name=options.get("entity"))
        as_of = parse_iso_date(options["as_of"]) if options.get("as_of") else timezone.localdate()
        period_start: date | None = (
            parse_iso_date(options["period_start"]) if options.get("period_start") else None
        )
        kpis = credit_kpis(
            entity=entity, as_of=as_of, currency=options.get("currency"), period_start=period_start
        )
    except RelanceError as exc:
        raise CommandError(exc.message) from None
    data = kpis.to_json()
    if options.get("json"):
        command.stdout.write(json.dumps(data, indent=2))
        return
    currency = kpis.currency

    def money(amount: Decimal) -> str:
        return format_money(amount, currency, "en")

    buffer = io.StringIO()
    console = Console(file=buffer, width=110, force_terminal=False, color_system=None)
    scoring = data["scoring_day"] or "none yet (relance credit score)"
    console.print(
        f"Credit KPIs of {entity.name} in {currency} as of {as_of.isoformat()} — scoring of {scoring}"
    )
    head = Table(show_header=True, header_style="bold")
    head.add_column("KPI")
    head.add_column("Value", justify="right")
    head.add_column("Meaning")
    head.add_row(
        "Share of AR over limit",
        _percent(kpis.ar_over_limit_share),
        f"{money(kpis.ar_over_limit)} of {money(kpis.ar_total)}, {kpis.customers_over_limit} {'customer' if kpis.customers_over_limit == 1 else 'customers'} over 100 %",
    )
    head.add_row(
        "Bad-debt ratio",
        _percent(kpis.bad_debt_ratio),
        f"write-offs {money(kpis.write_offs)} ÷ credit sales {money(kpis.credit_sales)}, "
        f"{data['period_start']} – {data['period_end']}",
    )
    console.print(head)
    buckets = Table(title="Utilisation of the credit limit", show_header=True, header_style="bold")
    buckets.add_column("Utilisation")
    buckets.add_column("Customers", justify="right")
    buckets.add_column("AR", justify="right")
    for item in kpis.utilisation:
        buckets.add_row(UTILISATION_BUCKET_LABELS[item.bucket], str(item.customers), money(item.ar))
    console.print(buckets)
    classes = Table(title="Risk classes", show_header=True, header_style="bold")
    for risk_class in CLASSES:
        classes.add_column(risk_class, justify="right")
    classes.add_row(*(str(kpis.classes[risk_class]) for risk_class in CLASSES))
    console.print(classes)
    if kpis.migration_from is not None:
        matrix = Table(
            title=f"Class migration {data['migration_from']} → {data['scoring_day']} (rows: from, columns: to)",
            show_header=True,
            header_style="bold",
        )
        matrix.add_column("from \\ to")
        for column in (*CLASSES, GONE):
            matrix.add_column(column, justify="right")
        for row in (*CLASSES, NEW):
            matrix.add_row(row, *(str(kpis.migration[row][column]) for column in (*CLASSES, GONE)))
        console.print(matrix)
        summary = data["migration_summary"]
        console.print(
            f"{summary['downgraded']} downgraded, {summary['upgraded']} upgraded, {summary['unchanged']} unchanged."
        )
    else:
        console.print("Class migration: one scoring day only, nothing to compare with.")
    command.stdout.write(buffer.getvalue().rstrip())
