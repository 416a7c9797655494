"""``relance charges show``: a customer's statutory late-payment interest and compensation."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from relance.charges.selectors import late_charges_for
from relance.dunning import cli


class Command(BaseCommand):
    help = (
        "Show the late-payment interest and fixed compensation a customer owes as of a date, per "
        "invoice and per currency, under the entity's late-charge settings (docs/communications.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{show}")
        show = actions.add_parser("show", help="a customer's late charges as of a date")
        cli.add_entity(show)
        show.add_argument("--customer", required=True, metavar="REF", help="Customer's external reference")
        show.add_argument(
            "--as-of",
            metavar="DATE",
            help="Charges up to this day (YYYY-MM-DD; default: today in the entity's zone)",
        )
        show.add_argument("--json", action="store_true", help="Print JSON (amounts as strings)")

    def handle(self, *args: Any, **options: Any) -> None:
        entity = cli.entity(options)
        customer = cli.customer(entity, options["customer"])
        as_of = cli.business_day(options, entity, name="as_of")
        summary = late_charges_for(customer=customer, invoices=None, as_of=as_of)
        if summary is None:
            raise CommandError(
                f"late charges are not enabled for entity {entity.name}: enable them in the admin "
                "(Late-payment charges)"
            )
        data: dict[str, Any] = {
            "customer": customer.external_ref,
            "as_of": as_of.isoformat(),
            "jurisdiction": summary.jurisdiction,
            "invoices": [
                {
                    "invoice": line.invoice_ref,
                    "due_date": line.due_date.isoformat(),
                    "days_late": line.days_late,
                    "rate": str(line.rate),
                    "currency": line.currency,
                    "interest": str(line.interest),
                    "compensation": str(line.compensation),
                    "compensation_currency": line.compensation_currency,
                }
                for line in summary
            ],
            "totals": {
                currency: {
                    "interest": str(total.interest),
                    "compensation": str(total.compensation),
                    "total": str(total.total),
                }
                for currency, total in summary.totals.items()
            },
        }
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
            return
        buffer = io.StringIO()
        console = Console(file=buffer, width=110, highlight=False)
        table = Table(
            title=f"Late charges of {customer.external_ref} as of {cli.day(as_of, entity)} ({summary.jurisdiction})"
        )
        for column in ("Invoice", "Due", "Days late", "Rate %", "Interest", "Compensation"):
            table.add_column(column, justify="right" if column not in ("Invoice", "Due") else "left")
        for row in data["invoices"]:
            table.add_row(
                row["invoice"],
                cli.day(date.fromisoformat(row["due_date"]), entity),
                str(row["days_late"]),
                row["rate"],
                cli.money(row["interest"], row["currency"], entity),
                cli.money(row["compensation"], row["compensation_currency"], entity),
            )
        console.print(table)
        if not data["invoices"]:
            console.print("No invoice of this customer was paid late or is overdue.")
        for currency, total in data["totals"].items():
            console.print(
                f"{currency}: interest {cli.money(total['interest'], currency, entity)} + compensation "
                f"{cli.money(total['compensation'], currency, entity)} = {cli.money(total['total'], currency, entity)}"
            )
        self.stdout.write(buffer.getvalue(), ending="")
