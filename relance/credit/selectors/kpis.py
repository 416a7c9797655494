"""Credit KPIs on the app database (issue 15, item 11): share of AR over limit, utilisation
distribution, score distribution and class migration, bad-debt ratio.

The scores are the stored daily scoring (``CreditScore``: the latest scoring day on or before the
as-of date; utilisation = its ``utilisation`` factor, the one source the notices use too); AR is the
ledger's open invoices in the report currency as of the date (the aging's ``ar_gross_invoices``).
The rules are pure (``relance.engine.credit.kpis``); definitions and a worked example in
docs/kpis.md, "Credit KPIs".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from relance.core.calendar import Period
from relance.credit.models import CreditScore
from relance.credit.selectors.scores import latest_scoring_day
from relance.credit.services.notices import utilisation_of_reasons
from relance.engine.credit.kpis import (
    UTILISATION_BUCKET_LABELS,
    BucketFigures,
    class_distribution,
    is_write_off,
    migration_matrix,
    migration_summary,
    ratio,
    utilisation_distribution,
)
from relance.ledger.models import CreditNote, Entity, Invoice
from relance.ledger.selectors import STILL_OWED, invoice_list_with_open, not_void_q

ZERO = Decimal(0)
CENT = Decimal("0.01")
#: The class migration compares the latest scoring with the one this many days before (or the
#: latest before that), else with the scoring day before the latest.
MIGRATION_DAYS = 30


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


@dataclass(frozen=True)
class CreditKpis:
    """The credit KPIs of one entity and currency as of a date."""

    as_of: date
    currency: str
    scoring_day: date | None
    ar_total: Decimal
    ar_over_limit: Decimal
    customers_over_limit: int
    utilisation: tuple[BucketFigures, ...]
    classes: dict[str, int]
    migration_from: date | None
    migration: dict[str, dict[str, int]]
    period_start: date
    period_end: date
    credit_sales: Decimal
    write_offs: Decimal
    write_off_notes: int

    @property
    def ar_over_limit_share(self) -> Decimal | None:
        """AR of customers over their limit ÷ all AR, percent (None: no AR)."""
        return ratio(self.ar_over_limit, self.ar_total)

    @property
    def bad_debt_ratio(self) -> Decimal | None:
        """Write-offs ÷ credit sales of the period, percent (None: no sales)."""
        return ratio(self.write_offs, self.credit_sales)

    def to_json(self) -> dict[str, Any]:
        share = self.ar_over_limit_share
        bad_debt = self.bad_debt_ratio
        return {
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "scoring_day": self.scoring_day.isoformat() if self.scoring_day else None,
            "ar_total": _money(self.ar_total),
            "ar_over_limit": _money(self.ar_over_limit),
            "ar_over_limit_share": None if share is None else str(share),
            "customers_over_limit": self.customers_over_limit,
            "utilisation_distribution": [
                {
                    "bucket": item.bucket,
                    "label": UTILISATION_BUCKET_LABELS[item.bucket],
                    "customers": item.customers,
                    "ar": _money(item.ar),
                }
                for item in self.utilisation
            ],
            "score_distribution": dict(self.classes),
            "migration_from": self.migration_from.isoformat() if self.migration_from else None,
            "migration": {row: dict(columns) for row, columns in self.migration.items()},
            "migration_summary": migration_summary(self.migration),
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "credit_sales": _money(self.credit_sales),
            "write_offs": _money(self.write_offs),
            "write_off_notes": self.write_off_notes,
            "bad_debt_ratio": None if bad_debt is None else str(bad_debt),
        }


def _scores_of(entity: Entity, day: date | None) -> dict[int, tuple[str, Decimal | None]]:
    if day is None:
        return {}
    rows = CreditScore.objects.filter(entity=entity, as_of=day).values_list(
        "customer_id", "risk_class", "reasons"
    )
    return {
        customer_id: (risk_class, utilisation_of_reasons(reasons))
        for customer_id, risk_class, reasons in rows
    }


def migration_base_day(*, entity: Entity, latest: date) -> date | None:
    """The earlier scoring day the migration starts from: the latest on or before ``latest`` − 30
    days, else the scoring day just before ``latest``; None when there is only one."""
    month_before = latest_scoring_day(entity=entity, on_or_before=latest - timedelta(days=MIGRATION_DAYS))
    if month_before is not None:
        return month_before
    return latest_scoring_day(entity=entity, on_or_before=latest - timedelta(days=1))


def ar_by_customer(*, entity: Entity, as_of: date, currency: str) -> dict[int, Decimal]:
    """Open invoice amounts per customer in ``currency`` as of ``as_of``."""
    totals: dict[int, Decimal] = {}
    rows = (
        invoice_list_with_open(entity=entity, as_of=as_of)
        .filter(currency=currency, open_amount__gt=STILL_OWED)
        .values_list("customer_id", "open_amount")
    )
    for customer_id, amount in rows:
        totals[customer_id] = totals.get(customer_id, ZERO) + Decimal(amount)
    return totals


def credit_kpis(
    *,
    entity: Entity,
    as_of: date,
    currency: str | None = None,
    period_start: date | None = None,
    migration_from: date | None = None,
) -> CreditKpis:
    """The credit KPIs as of ``as_of`` in ``currency`` (default: the entity's), the bad-debt ratio
    over ``[period_start, as_of]`` (default: the 3 calendar months ending with as-of's month, the
    period of ``relance kpi``)."""
    currency = (currency or entity.currency).upper()
    period = Period(period_start, as_of) if period_start is not None else Period.trailing_months(as_of, 3)
    day = latest_scoring_day(entity=entity, on_or_before=as_of)
    latest = _scores_of(entity, day)
    base_day = (
        migration_from
        if migration_from is not None
        else (migration_base_day(entity=entity, latest=day) if day is not None else None)
    )
    before = _scores_of(entity, base_day)
    ar = ar_by_customer(entity=entity, as_of=as_of, currency=currency)
    utilisations = {customer_id: utilisation for customer_id, (_, utilisation) in latest.items()}
    distribution = utilisation_distribution(utilisations, ar)
    over = next(item for item in distribution if item.bucket == ">100")
    sales = Invoice.objects.filter(
        not_void_q(as_of),
        entity=entity,
        currency=currency,
        issue_date__gte=period.start,
        issue_date__lte=period.end,
    ).aggregate(total=Sum("amount"))["total"]
    notes = CreditNote.objects.filter(
        entity=entity, currency=currency, date__gte=period.start, date__lte=period.end
    ).values_list("reason", "amount")
    written_off = [Decimal(amount) for reason, amount in notes if is_write_off(reason)]
    return CreditKpis(
        as_of=as_of,
        currency=currency,
        scoring_day=day,
        ar_total=sum(ar.values(), ZERO),
        ar_over_limit=over.ar,
        customers_over_limit=over.customers,
        utilisation=tuple(distribution),
        classes=class_distribution(risk_class for risk_class, _ in latest.values()),
        migration_from=base_day,
        migration=migration_matrix(
            {customer_id: risk_class for customer_id, (risk_class, _) in before.items()},
            {customer_id: risk_class for customer_id, (risk_class, _) in latest.items()},
        ),
        period_start=period.start,
        period_end=period.end,
        credit_sales=Decimal(sales or 0),
        write_offs=sum(written_off, ZERO),
        write_off_notes=len(written_off),
    )
