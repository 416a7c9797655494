"""``relance promise add|list|keep|cancel``: a customer's promises to pay."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.cases import selectors as case_selectors
from relance.cases import services as case_services
from relance.cases.models import Promise, PromiseStatus
from relance.core.actors import Actor
from relance.core.errors import RelanceError
from relance.dunning import cli
from relance.ledger.models import Entity


class Command(BaseCommand):
    help = (
        "Record a customer's promise to pay (dunning pauses until the promised date plus the "
        "policy's grace, then resumes, marked broken, if it was not kept), list, keep or cancel promises."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{add,list,keep,cancel}")
        add = actions.add_parser("add", help="record a promise")
        cli.add_entity(add)
        add.add_argument("--customer", required=True, metavar="REF", help="Customer's external reference")
        add.add_argument("--date", required=True, metavar="DATE", help="Promised payment date (YYYY-MM-DD)")
        add.add_argument(
            "--invoice",
            action="append",
            metavar="REF",
            help="Invoice promised (repeat for several; default: every open invoice of the customer)",
        )
        add.add_argument("--amount", help="Amount promised (default: the open amount of those invoices)")
        add.add_argument("--note", default="", help="Free text kept with the promise")
        cli.add_on(add, "Day the promise was made")
        add.add_argument("--json", action="store_true", help="Print the promise as JSON")
        listing = actions.add_parser("list", help="list a customer's promises")
        cli.add_entity(listing)
        listing.add_argument("--customer", required=True, metavar="REF", help="Customer's external reference")
        listing.add_argument("--open", action="store_true", help="Only open promises")
        listing.add_argument("--json", action="store_true", help="Print JSON")
        for name, text in (("keep", "mark a promise kept by hand"), ("cancel", "cancel a promise")):
            close = actions.add_parser(name, help=text)
            cli.add_entity(close)
            close.add_argument("promise_id", type=int, metavar="ID", help="The promise's id")

    def handle(self, *args: Any, **options: Any) -> None:
        entity = cli.entity(options)
        try:
            if options["action"] == "add":
                customer = cli.customer(entity, options["customer"])
                promise = case_services.promise_add(
                    actor=Actor.cli(),
                    customer=customer,
                    promised_date=cli.parse_date(options["date"]),
                    on=cli.business_day(options, entity),
                    invoices=cli.invoices(entity, options["invoice"]),
                    amount=cli.parse_money(options["amount"]),
                    note=options["note"],
                )
                self._print([promise], options["json"], entity, added=True)
            elif options["action"] == "list":
                customer = cli.customer(entity, options["customer"])
                promises = list(case_selectors.promise_list(customer=customer, open_only=options["open"]))
                self._print(promises, options["json"], entity)
            else:
                found = Promise.objects.filter(entity=entity, pk=options["promise_id"]).first()
                if found is None:
                    raise CommandError(f"no promise {options['promise_id']} in entity {entity.name}")
                status = PromiseStatus.KEPT if options["action"] == "keep" else PromiseStatus.CANCELLED
                case_services.promise_close(actor=Actor.cli(), promise=found, status=status)
                self.stdout.write(f"Promise {found.pk} is now {status}.")
        except RelanceError as exc:
            raise CommandError(exc.message) from None

    def _print(self, promises: list[Promise], as_json: bool, entity: Entity, added: bool = False) -> None:
        rows: list[dict[str, Any]] = [
            {
                "id": promise.pk,
                "customer_ref": promise.customer.external_ref,
                "created_on": promise.created_on.isoformat(),
                "promised_date": promise.promised_date.isoformat(),
                "amount": str(promise.amount),
                "currency": promise.currency,
                "status": promise.status,
                "invoice_refs": sorted(invoice.external_ref for invoice in promise.invoices.all()),
            }
            for promise in promises
        ]
        if as_json:
            self.stdout.write(json.dumps(rows[0] if added else rows, indent=2))
            return
        if not rows:
            self.stdout.write("No promise.")
        for promise, row in zip(promises, rows, strict=True):
            prefix = "Promise recorded: " if added else ""
            self.stdout.write(
                f"{prefix}#{row['id']} {row['customer_ref']} promises "
                f"{cli.money(promise.amount, promise.currency, entity)} "
                f"by {cli.day(promise.promised_date, entity)} ({row['status']}) "
                f"for {', '.join(row['invoice_refs'])}"
            )
