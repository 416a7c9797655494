"""``relance credit score [CUSTOMER_REF] [--as-of DATE] [--json]``: score, class and reasons.

Scores with the daily scoring (``relance.credit.services.scoring.scores_compute``: the scores of
the day are stored, only the customer's when a ref is given) and shows each customer's score and
class with the points and sentence of every factor, beside its limit, exposure and utilisation
(``relance.credit.selectors.exposure``).

``--json``: one object per customer, ``{customer_ref, score, risk_class, limit, currency,
exposure, utilisation, as_of, reasons: [{factor, points, text}]}`` (money as decimal strings,
utilisation in percent); an object for CUSTOMER_REF, a list otherwise.
"""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

from django.core.management.base import CommandParser

NAME = "score"
HELP = (
    "Score customers as of a day (stored as that day's scores) and show each score and class "
    "with its reasons, limit, exposure and utilisation."
)


def add_arguments(parser: CommandParser) -> None:
    from relance.dunning import cli

    parser.add_argument("customer_ref", nargs="?", metavar="CUSTOMER_REF", help="Only this customer")
    cli.add_entity(parser)
    parser.add_argument("--as-of", metavar="DATE", help="Day to score (YYYY-MM-DD; default: today)")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a table")


def handle(command: Any, options: dict[str, Any]) -> None:
    from django.core.management.base import CommandError

    from relance.core.errors import RelanceError
    from relance.dunning import cli

    entity = cli.entity(options)
    as_of = cli.business_day(options, entity, name="as_of")
    ref = options.get("customer_ref")
    try:
        rows = score_rows(entity=entity, as_of=as_of, customer_ref=ref)
    except RelanceError as exc:
        raise CommandError(exc.message) from None
    if options["json"]:
        payload: Any = rows[0] if ref else rows
        command.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    command.stdout.write(render_table(rows, as_of=as_of, detailed=bool(ref)))


def score_rows(*, entity: Any, as_of: date, customer_ref: str | None) -> list[dict[str, Any]]:
    """Score (every customer, or the one) as of ``as_of``, then read each score with its exposure."""
    from relance.core.formatting import exact_amount
    from relance.credit.models import CreditScore
    from relance.credit.selectors.exposure import customer_exposure, customers_for_exposure
    from relance.credit.services.scoring import scores_compute
    from relance.dunning import cli

    customer_ids = None
    if customer_ref:
        customer_ids = [cli.customer(entity, customer_ref).pk]
    scores_compute(entity=entity, as_of=as_of, customer_ids=customer_ids)
    scores = CreditScore.objects.filter(entity=entity, as_of=as_of)
    if customer_ids is not None:
        scores = scores.filter(customer_id__in=customer_ids)
    customers = customers_for_exposure(entity_id=entity.pk)
    if customer_ids is not None:
        customers = customers.filter(pk__in=customer_ids)
    by_id = {customer.pk: customer for customer in customers}
    rows = []
    for score in scores.order_by("-score", "customer__external_ref").select_related("customer"):
        exposure = customer_exposure(customer=by_id[score.customer_id], as_of=as_of)
        utilisation = exposure.utilisation
        rows.append(
            {
                "customer_ref": score.customer.external_ref,
                "as_of": as_of.isoformat(),
                "score": score.score,
                "risk_class": score.risk_class,
                "currency": exposure.currency,
                "limit": exact_amount(exposure.limit, exposure.currency)
                if exposure.limit is not None
                else None,
                "exposure": exact_amount(exposure.exposure, exposure.currency),
                "utilisation": None if utilisation is None else str(utilisation),
                "limit_holder_ref": exposure.limit_holder_ref,
                "missing_rate": list(exposure.missing_rates) or None,
                "reasons": [
                    {"factor": reason["factor"], "points": reason["points"], "text": reason["text"]}
                    for reason in score.reasons
                ],
            }
        )
    return rows


def render_table(rows: list[dict[str, Any]], *, as_of: date, detailed: bool) -> str:
    """A rich table of the scores; with ``detailed`` (one customer) its reasons below, one a row."""
    from rich.console import Console
    from rich.table import Table

    buffer = io.StringIO()
    console = Console(file=buffer, width=140, force_terminal=False, color_system=None)
    table = Table(title=f"Credit scores as of {as_of.isoformat()} (0–100, higher is riskier)")
    for column, justify in (
        ("customer", "left"),
        ("score", "right"),
        ("class", "center"),
        ("limit", "right"),
        ("exposure", "right"),
        ("utilisation", "right"),
        ("main reason", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        top = max(row["reasons"], key=lambda reason: reason["points"], default=None)
        table.add_row(
            row["customer_ref"],
            str(row["score"]),
            row["risk_class"],
            f"{row['limit']} {row['currency']}" if row["limit"] is not None else "no limit",
            f"{row['exposure']} {row['currency']}",
            f"{row['utilisation']} %" if row["utilisation"] is not None else "–",
            f"{top['text']} ({top['points']:+g})" if top else "",
        )
    console.print(table)
    if detailed:
        for row in rows:
            reasons = Table(title=f"Why {row['customer_ref']} scores {row['score']} ({row['risk_class']})")
            reasons.add_column("factor")
            reasons.add_column("points", justify="right")
            reasons.add_column("reason")
            for reason in sorted(row["reasons"], key=lambda reason: -reason["points"]):
                reasons.add_row(reason["factor"], f"{reason['points']:+g}", reason["text"])
            console.print(reasons)
            for text in row["missing_rate"] or ():
                console.print(f"Exposure incomplete: {text}")
    if not rows:
        console.print("No customer to score.")
    return buffer.getvalue()
