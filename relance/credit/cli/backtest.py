"""``relance credit backtest --as-of DATE [--horizon DAYS] [--json]``: how well the scorecard ranks.

The score of every customer as of DATE, computed with only what was known then, against who
paid at least half of the invoices due in the next 90 days late (after their due date, or still
unpaid at the horizon). ``--json``: ``{as_of, horizon_days, auc, gini, n, positives}``.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

NAME = "backtest"
HELP = (
    "Measure the scorecard's ranking power on the entity's history: AUC and Gini of the scores as "
    "of a date against the customers that paid at least half of the next 90 days' invoices late."
)


def add_arguments(parser: CommandParser) -> None:
    from relance.dunning import cli

    cli.add_entity(parser)
    parser.add_argument("--as-of", required=True, metavar="DATE", help="Day to score as of (YYYY-MM-DD)")
    parser.add_argument(
        "--horizon", type=int, default=90, metavar="DAYS", help="Days after the date to judge (90)"
    )
    parser.add_argument("--json", action="store_true", help="Print JSON")


def handle(command: Any, options: dict[str, Any]) -> None:
    from django.core.management.base import CommandError

    from relance.core.errors import RelanceError
    from relance.credit.services.backtest import scorecard_backtest
    from relance.dunning import cli

    entity = cli.entity(options)
    as_of = cli.parse_date(options["as_of"])
    if options["horizon"] < 1:
        raise CommandError(f"--horizon: expected a number of days of 1 or more, found {options['horizon']}")
    try:
        result = scorecard_backtest(entity=entity, as_of=as_of, horizon_days=options["horizon"])
    except RelanceError as exc:
        raise CommandError(exc.message) from None
    payload = {
        "as_of": result.as_of.isoformat(),
        "horizon_days": result.horizon_days,
        "auc": None if result.auc is None else round(result.auc, 4),
        "gini": None if result.gini is None else round(result.gini, 4),
        "n": result.n,
        "positives": result.positives,
    }
    if options["json"]:
        command.stdout.write(json.dumps(payload, indent=2))
        return
    if result.auc is None:
        command.stdout.write(
            f"{entity.name} as of {as_of}: {result.n} customers with invoices due in the next "
            f"{result.horizon_days} days, {result.positives} of them late payers: the AUC needs both "
            "late and prompt payers."
        )
        return
    command.stdout.write(
        f"{entity.name}, scorecard as of {as_of}, the next {result.horizon_days} days:\n"
        f"  customers judged      {result.n:,} ({result.positives:,} paid at least half late)\n"
        f"  AUC                   {payload['auc']}  (0.5 = chance, 1 = perfect ranking)\n"
        f"  Gini                  {payload['gini']}"
    )
