"""``relance worklist``: customers to call, highest priority first, with every factor shown."""

from __future__ import annotations

import io
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from relance.core.errors import RelanceError
from relance.dunning import cli, selectors


class Command(BaseCommand):
    help = (
        "The collectors' worklist from the entity's latest dunning run: one row per customer with "
        "an overdue amount, highest priority first, with its factors (overdue amount, days past "
        "due, risk, broken promises, days since the last contact). --json prints {entity, as_of, "
        "collector, rows: [...]}."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_entity(parser)
        parser.add_argument("--collector", metavar="EMAIL", help="Only customers assigned to this collector")
        parser.add_argument("--limit", type=int, default=0, metavar="N", help="Show the first N rows only")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table")

    def handle(self, *args: Any, **options: Any) -> None:
        entity = cli.entity(options)
        try:
            run, rows = selectors.worklist_rows(entity=entity, collector_email=options["collector"])
        except RelanceError as exc:
            raise CommandError(exc.message) from None
        if options["limit"] > 0:
            rows = rows[: options["limit"]]
        if options["json"]:
            payload = {
                "entity": entity.name,
                "as_of": run.as_of.isoformat(),
                "collector": options["collector"],
                "rows": rows,
            }
            self.stdout.write(json.dumps(payload, indent=2))
            return
        buffer = io.StringIO()
        console = Console(file=buffer, width=140, force_terminal=False, color_system=None)
        console.print(
            f"{entity.name} · worklist as of {cli.day(run.as_of, entity)}"
            + (f" · {options['collector']}" if options["collector"] else "")
        )
        table = Table()
        for column in (
            "Priority",
            "Customer",
            "Overdue",
            "Max days late",
            "Risk",
            "Broken promises",
            "Since contact",
            "Factors",
        ):
            table.add_column(column, no_wrap=column in ("Customer", "Overdue"))  # only Factors wraps
        for row in rows:
            factors = ", ".join(
                f"{name} {value.get('points', value) if isinstance(value, dict) else value}"
                for name, value in row["factors"].items()
            )
            since = "never" if row["days_since_contact"] is None else f"{row['days_since_contact']} d"
            flags = (" (credit hold)" if row["credit_hold"] else "") + (
                " (external collection)" if row["external_collection"] else ""
            )
            table.add_row(
                f"{row['priority']:.1f}",
                f"{row['customer_ref']} {row['customer_name']}{flags}",
                cli.money(row["overdue_amount"], row["currency"], entity),
                str(row["max_days_past_due"]),
                row["risk"] or "—",
                str(row["broken_promises"]),
                since,
                factors,
            )
        console.print(table)
        if not rows:
            console.print("Nothing to work on.")
        self.stdout.write(buffer.getvalue(), ending="")
