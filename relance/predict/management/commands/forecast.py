"""``relance forecast --as-of DATE [--weeks 13] [--by customer|segment] [--json]``: the cash forecast.

Expected collections per week (from the Monday on or after DATE + 1) and per day for the first two
weeks, with a p10–p90 band, from the predictions stored for DATE (``relance predict``); when none
are stored they are computed and stored first, and the output says so. Scenarios: ``--later
CUSTOMER=DAYS`` (those customers pay later), ``--write-off INVOICE`` (never paid).
"""

from __future__ import annotations

import io
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Forecast the cash the open invoices bring in: per week from the Monday after --as-of (and "
        "per day for two weeks), expected with a p10-p90 band, per currency and converted to the "
        "entity's, from the predictions stored for that date (computed first when there are none: "
        "said). --later CUSTOMER=DAYS and --write-off INVOICE try a scenario."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        from relance.dunning import cli

        cli.add_entity(parser)
        parser.add_argument(
            "--as-of", required=True, metavar="DATE", help="Forecast as of the end of this day"
        )
        parser.add_argument("--weeks", type=int, default=13, metavar="N", help="Weeks ahead (13)")
        parser.add_argument(
            "--by", choices=("customer", "segment"), help="Also forecast per customer or segment"
        )
        parser.add_argument(
            "--later",
            action="append",
            default=[],
            metavar="CUSTOMER=DAYS",
            help="Scenario: the customer's invoices pay DAYS later (repeatable)",
        )
        parser.add_argument(
            "--write-off",
            action="append",
            default=[],
            metavar="INVOICE",
            help="Scenario: never paid (repeatable)",
        )
        parser.add_argument("--seed", type=int, default=0, help="Seed of the band's simulation")
        parser.add_argument("--json", action="store_true", help="Print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        from relance.core.errors import RelanceError
        from relance.dunning import cli
        from relance.ml.forecast import Scenario
        from relance.ml.pipeline import PredictSettings
        from relance.predict.forecasting import forecast_from_stored
        from relance.predict.services import predictions_compute

        entity = cli.entity(options)
        as_of = cli.parse_date(options["as_of"])
        if options["weeks"] < 1:
            raise CommandError(f"--weeks: expected 1 or more, found {options['weeks']}")
        later = {}
        for text in options["later"]:
            customer, _, days = text.partition("=")
            if not customer or not days.lstrip("-").isdigit():
                raise CommandError(f"--later: expected CUSTOMER=DAYS, found {text!r}")
            later[customer] = int(days)
        scenario = Scenario(later_days=later, written_off=frozenset(options["write_off"]))
        try:
            result = forecast_from_stored(
                entity=entity,
                as_of=as_of,
                weeks=options["weeks"],
                by=options["by"],
                scenario=scenario,
                seed=options["seed"],
                compute=lambda: predictions_compute(
                    entity=entity, as_of=as_of, settings=PredictSettings(seed=options["seed"])
                )[0],
            )
        except RelanceError as exc:
            raise CommandError(exc.message) from None
        if options["json"]:
            self.stdout.write(json.dumps({**result.report.to_json(), "source": result.source}, indent=1))
            return
        self.stdout.write(_text(entity, result))


def _text(entity: Any, result: Any) -> str:
    from rich.console import Console
    from rich.table import Table

    from relance.dunning import cli

    report = result.report
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, force_terminal=False, color_system=None)
    total = report.total
    console.print(
        f"{entity.name}: cash forecast as of {report.as_of}, {total.invoices:,} open invoices, "
        f"{cli.money(total.open_amount, total.currency, entity)} open — {result.source}"
    )
    table = Table(show_edge=False)
    for title in ("week from", "expected", "low (p10)", "high (p90)"):
        table.add_column(title, justify="left" if title == "week from" else "right")
    rows = [("before the first week", total.before_first_week)] if total.before_first_week else []
    rows += [(str(week.start), week) for week in total.weeks]
    rows.append((f"after {total.weeks[-1].end}", total.after))
    for label, bucket in rows:
        table.add_row(
            label,
            cli.money(bucket.expected, total.currency, entity),
            cli.money(bucket.low, total.currency, entity),
            cli.money(bucket.high, total.currency, entity),
        )
    console.print(table)
    if len(report.by_currency) > 1 or (
        report.by_currency and report.by_currency[0].currency != total.currency
    ):
        console.print("by currency, as invoiced: " + ", ".join(
            cli.money(f.open_amount, f.currency, entity) for f in report.by_currency
        ))  # fmt: skip
    for group in report.groups[:20]:
        first = group.weeks[0]
        console.print(
            f"  {group.group}: {cli.money(group.open_amount, group.currency, entity)} open, week of {first.start} "
            f"{cli.money(first.expected, group.currency, entity)}"
        )
    if len(report.groups) > 20:
        console.print(f"  (the first 20 groups of {len(report.groups)}; --json for all)")
    if not report.scenario.is_empty():
        console.print(f"scenario: {json.dumps(report.scenario.to_json())}")
    for note in report.notes:
        console.print(f"note: {note}")
    console.print(f"band: p10-p90, {report.method}")
    return buffer.getvalue()
