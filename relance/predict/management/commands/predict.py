"""``relance predict --as-of DATE``: predict and store every open invoice's pay date and late risk.

Subcommands (``relance predict backtest …``) are the modules of ``relance.predict.cli``.
"""

from __future__ import annotations

import io
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.common.subcommands import subcommand_modules

SUBCOMMANDS = "relance.predict.cli"


class Command(BaseCommand):
    help = (
        "Predict, for every invoice open at the end of --as-of, the probability it is paid late and "
        "its pay date (median, p10, p90) with the reasons, from the entity's history as known that "
        "day (a survival model, or the customer-history baseline when the history is too short: the "
        "output says which). The run is stored: pages and the API read it. --json prints a JSON list."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", metavar="DATE", help="Predict as of the end of this day (YYYY-MM-DD)")
        parser.add_argument("--entity", metavar="NAME", help="Entity's short name (default: the only one)")
        parser.add_argument("--json", action="store_true", help="Print a JSON list, one object per invoice")
        parser.add_argument(
            "--seed", type=int, default=0, help="Random seed (same seed, same ledger: same output)"
        )
        modules = subcommand_modules(SUBCOMMANDS)
        if modules:
            actions = parser.add_subparsers(
                dest="subcommand", required=False, metavar="{" + ",".join(modules) + "}"
            )
            for name, module in modules.items():
                module.add_arguments(actions.add_parser(name, help=module.HELP, description=module.HELP))

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("subcommand"):
            subcommand_modules(SUBCOMMANDS)[options["subcommand"]].handle(self, options)
            return
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from relance.core.errors import RelanceError
        from relance.dunning import cli
        from relance.predict.services import predictions_compute

        if not options.get("as_of"):
            raise CommandError("--as-of DATE is required (YYYY-MM-DD)")
        as_of = cli.parse_date(options["as_of"])
        entity = cli.entity(options)
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        try:
            with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("predict", total=None)
                run, result = predictions_compute(
                    entity=entity,
                    as_of=as_of,
                    seed=options["seed"],
                    step=lambda text: bar.update(task, description=f"predict: {text}"),
                )
        except RelanceError as exc:
            raise CommandError(exc.message) from None
        if options["json"]:
            self.stdout.write(json.dumps([p.to_json() for p in result.predictions], indent=1))
            return
        self.stdout.write(_table(entity, run, result))


def _table(entity: Any, run: Any, result: Any) -> str:
    from rich.console import Console
    from rich.table import Table

    from relance.dunning import cli

    buffer = io.StringIO()
    console = Console(file=buffer, width=160, force_terminal=False, color_system=None)
    console.print(f"{entity.name}: {len(result.predictions)} open invoices as of {run.as_of} — {run.note}")
    holdout = result.metrics.get("holdout") or {}
    for model, numbers in holdout.items():
        console.print(
            f"  held out ({model}): accuracy {numbers['accuracy']}, late F1 {numbers['late_f1']}, "
            f"pay-date MAE {numbers['pay_date_mae_days']} days, p10–p90 coverage {numbers['p10_p90_coverage']}"
        )
    table = Table(show_edge=False)
    for title in ("invoice", "customer", "open", "p(late)", "p10", "expected", "p90", "why"):
        table.add_column(title, justify="right" if title in ("open", "p(late)") else "left")
    for prediction in sorted(result.predictions, key=lambda p: -p.p_late * float(p.open_amount))[:50]:
        table.add_row(
            prediction.invoice_ref,
            prediction.customer_ref,
            cli.money(prediction.open_amount, prediction.currency, entity),
            f"{prediction.p_late:.0%}",
            str(prediction.pay_date_p10),
            str(prediction.expected_pay_date),
            str(prediction.pay_date_p90),
            "; ".join(driver.text for driver in prediction.drivers),
        )
    console.print(table)
    if len(result.predictions) > 50:
        console.print(f"(the 50 largest expected late amounts of {len(result.predictions)}; --json for all)")
    return buffer.getvalue()
