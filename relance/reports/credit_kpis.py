"""``relance kpi credit``: the credit KPIs (``relance.credit.selectors.kpis``) as tables or JSON,
and their cache for the dashboard (``credit_kpis_cached``).

The figures read every open invoice and the day's scores: they are cached under the ledger's data
version and the scoring's last write, so an import or a new scoring is a new key and a cached
figure is never stale, only unused. On a large ledger the dashboard only reads the cache; the
command fills it."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.core.management.base import CommandError
from django.db.models import Max
from django.utils import timezone
from rich.console import Console
from rich.table import Table

from relance.core.calendar import parse_iso_date
from relance.core.errors import RelanceError
from relance.core.formatting import format_money
from relance.credit.models import CreditScore
from relance.credit.selectors.kpis import CreditKpis, credit_kpis
from relance.engine.credit.kpis import CLASSES, GONE, NEW, UTILISATION_BUCKET_LABELS
from relance.ledger.models import Entity
from relance.ledger.selectors import data_versions, entity_resolve

CACHE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class CachedCreditKpis:
    scoring_day: date
    kpis: CreditKpis | None  # None: not in the cache and not computed (a large ledger's page)


def credit_kpis_cached(
    *, entity: Entity, as_of: date, currency: str, compute: bool = True
) -> CachedCreditKpis | None:
    """The credit KPIs from the cache, computed and stored when missing (``compute``); None when
    nothing has been scored by ``as_of``."""
    scored = CreditScore.objects.filter(entity=entity, as_of__lte=as_of).aggregate(
        day=Max("as_of"), written=Max("created_at")
    )
    if scored["day"] is None:
        return None
    version = data_versions(entity_id=entity.pk)["ledger"]  # before the ledger's data (docs/architecture.md)
    written = scored["written"].timestamp() if scored["written"] else 0
    key = (
        f"credit-kpis:{entity.pk}:{as_of.isoformat()}:{currency.upper()}:v{version}:"
        f"{scored['day'].isoformat()}:{written}"
    )
    kpis: CreditKpis | None = cache.get(key)
    if kpis is None and compute:
        kpis = credit_kpis(entity=entity, as_of=as_of, currency=currency)
        cache.set(key, kpis, CACHE_SECONDS)
    return CachedCreditKpis(scoring_day=scored["day"], kpis=kpis)


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
        currency = (options.get("currency") or entity.currency).upper()
        kpis: CreditKpis | None = None
        if period_start is None:  # the dashboard's figures: computed once, left in its cache
            cached = credit_kpis_cached(entity=entity, as_of=as_of, currency=currency)
            kpis = cached.kpis if cached is not None else None
        if kpis is None:
            kpis = credit_kpis(entity=entity, as_of=as_of, currency=currency, period_start=period_start)
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
