"""``relance dispute open|resolve|list``: contested invoice amounts, which dunning does not chase."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.cases import selectors as case_selectors
from relance.cases import services as case_services
from relance.cases.models import Dispute, DisputeReason, DisputeResolution
from relance.core.actors import Actor
from relance.core.errors import RelanceError
from relance.dunning import cli
from relance.ledger.models import Entity


def _row(dispute: Dispute) -> dict[str, Any]:
    return {
        "id": dispute.pk,
        "invoice_ref": dispute.invoice.external_ref,
        "customer_ref": dispute.customer.external_ref,
        "amount": str(dispute.amount),
        "reason": dispute.reason_code,
        "status": dispute.status,
        "opened_on": dispute.opened_on.isoformat(),
        "resolved_on": dispute.resolved_on.isoformat() if dispute.resolved_on else None,
        "resolution": dispute.resolution or None,
    }


class Command(BaseCommand):
    help = (
        "Open a dispute on an invoice (its disputed amount is not chased while open; the rest is), "
        "resolve it, or list the open ones."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{open,resolve,list}")
        opening = actions.add_parser("open", help="open a dispute")
        cli.add_entity(opening)
        opening.add_argument("--invoice", required=True, metavar="REF", help="Invoice's external reference")
        opening.add_argument("--reason", required=True, choices=DisputeReason.values, help="Reason code")
        opening.add_argument(
            "--amount", help="Amount disputed (default: all that is open and not yet disputed)"
        )
        opening.add_argument("--note", default="", help="Free text kept with the dispute")
        cli.add_on(opening, "Day the dispute was opened")
        opening.add_argument("--json", action="store_true", help="Print the dispute as JSON")
        resolve = actions.add_parser("resolve", help="resolve a dispute")
        cli.add_entity(resolve)
        resolve.add_argument("dispute_id", type=int, metavar="ID", help="The dispute's id")
        resolve.add_argument(
            "--resolution", required=True, choices=DisputeResolution.values, help="How it was resolved"
        )
        resolve.add_argument("--note", default="", help="Free text added to the dispute")
        cli.add_on(resolve, "Day of the resolution (the amount is chased again from this day)")
        resolve.add_argument("--json", action="store_true", help="Print the dispute as JSON")
        listing = actions.add_parser("list", help="list open disputes")
        cli.add_entity(listing)
        listing.add_argument("--json", action="store_true", help="Print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        entity = cli.entity(options)
        try:
            if options["action"] == "open":
                [invoice] = cli.invoices(entity, [options["invoice"]])
                dispute = case_services.dispute_open(
                    actor=Actor.cli(),
                    invoice=invoice,
                    reason_code=options["reason"],
                    on=cli.business_day(options, entity),
                    amount=cli.parse_money(options["amount"]),
                    note=options["note"],
                )
                self._show(dispute, options["json"], "Dispute opened", entity)
            elif options["action"] == "resolve":
                dispute = case_selectors.dispute_get(entity=entity, dispute_id=options["dispute_id"])
                dispute = case_services.dispute_resolve(
                    actor=Actor.cli(),
                    dispute=dispute,
                    resolution=options["resolution"],
                    on=cli.business_day(options, entity),
                    note=options["note"],
                )
                self._show(dispute, options["json"], "Dispute resolved", entity)
            else:
                disputes = list(case_selectors.dispute_list_open(entity=entity))
                if options["json"]:
                    self.stdout.write(json.dumps([_row(dispute) for dispute in disputes], indent=2))
                else:
                    for dispute in disputes:
                        self.stdout.write(
                            f"#{dispute.pk} {dispute.invoice.external_ref} ({dispute.customer.external_ref}) "
                            f"{cli.money(dispute.amount, dispute.invoice.currency, entity)} "
                            f"{dispute.reason_code} since {cli.day(dispute.opened_on, entity)}"
                        )
                    if not disputes:
                        self.stdout.write("No open dispute.")
        except RelanceError as exc:
            raise CommandError(exc.message) from None

    def _show(self, dispute: Dispute, as_json: bool, title: str, entity: Entity) -> None:
        if as_json:
            self.stdout.write(json.dumps(_row(dispute), indent=2))
        else:
            amount = cli.money(dispute.amount, dispute.invoice.currency, entity)
            self.stdout.write(
                f"{title}: #{dispute.pk} on {dispute.invoice.external_ref} for {amount} "
                f"({dispute.reason_code}, {dispute.status})"
            )
