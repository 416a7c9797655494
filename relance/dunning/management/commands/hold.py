"""``relance hold add|remove|list``: holds, legal cases and do-not-contact flags that stop all dunning."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.cases import selectors as case_selectors
from relance.cases import services as case_services
from relance.cases.models import HoldKind
from relance.core.actors import Actor
from relance.core.errors import RelanceError
from relance.dunning import cli


class Command(BaseCommand):
    help = (
        "Stop every dunning action for a customer (kind hold, legal or do_not_contact) from a day, "
        "lift it, or list the holds in force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{add,remove,list}")
        add = actions.add_parser("add", help="put a customer on hold")
        cli.add_entity(add)
        add.add_argument("--customer", required=True, metavar="REF", help="Customer's external reference")
        add.add_argument("--kind", choices=HoldKind.values, default=HoldKind.HOLD, help="Kind of hold (hold)")
        add.add_argument("--reason", required=True, help="Why (shown with every suppressed decision)")
        cli.add_on(add, "First day in force")
        add.add_argument("--until", metavar="DATE", help="Last day in force (default: until removed)")
        remove = actions.add_parser("remove", help="lift a customer's holds")
        cli.add_entity(remove)
        remove.add_argument("--customer", required=True, metavar="REF", help="Customer's external reference")
        remove.add_argument("--kind", choices=HoldKind.values, help="Only holds of this kind (default: all)")
        cli.add_on(remove, "First day no longer in force")
        listing = actions.add_parser("list", help="list a customer's holds in force")
        cli.add_entity(listing)
        listing.add_argument("--customer", required=True, metavar="REF", help="Customer's external reference")
        cli.add_on(listing, "Day to look at")
        listing.add_argument("--json", action="store_true", help="Print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        entity = cli.entity(options)
        customer = cli.customer(entity, options["customer"])
        on = cli.business_day(options, entity)
        try:
            if options["action"] == "add":
                hold = case_services.hold_create(
                    actor=Actor.cli(),
                    customer=customer,
                    kind=options["kind"],
                    reason=options["reason"],
                    starts_on=on,
                    ends_on=cli.parse_date(options["until"]) if options["until"] else None,
                )
                until = hold.ends_on or "removed"
                self.stdout.write(
                    f"{hold.kind} on {customer.external_ref} from {hold.starts_on} until {until}."
                )
            elif options["action"] == "remove":
                count = case_services.hold_remove(
                    actor=Actor.cli(), customer=customer, on=on, kind=options["kind"]
                )
                self.stdout.write(f"{count} hold(s) of {customer.external_ref} lifted from {on}.")
            else:
                rows = [
                    {
                        "kind": hold.kind,
                        "reason": hold.reason,
                        "starts_on": hold.starts_on.isoformat(),
                        "ends_on": hold.ends_on.isoformat() if hold.ends_on else None,
                    }
                    for hold in case_selectors.hold_list_in_force(customer=customer, on=on)
                ]
                if options["json"]:
                    self.stdout.write(json.dumps(rows, indent=2))
                else:
                    for row in rows:
                        self.stdout.write(
                            f"{row['kind']}: {row['reason']} ({row['starts_on']}..{row['ends_on'] or ''})"
                        )
                    if not rows:
                        self.stdout.write("No hold in force.")
        except RelanceError as exc:
            raise CommandError(exc.message) from None
