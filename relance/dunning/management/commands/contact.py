"""``relance contact log|list|returned``: contacts made outside the run, which count for the
cadence; ``returned``: a letter came back (``relance.cases.contact_returns``)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.cases import services as case_services
from relance.cases.models import ContactLog
from relance.core.actors import Actor
from relance.core.channels import STEP_CHANNELS
from relance.core.errors import RelanceError
from relance.dunning import cli


class Command(BaseCommand):
    help = (
        "Log a contact made outside the dunning run (a collector's call, a hand-written e-mail) so "
        "that the run's cadence counts it, or list a customer's logged contacts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{log,list,returned}")
        log = actions.add_parser("log", help="log a contact")
        cli.add_entity(log)
        log.add_argument("--customer", required=True, metavar="REF", help="Customer's external reference")
        log.add_argument(
            "--channel", required=True, choices=STEP_CHANNELS, help="How the customer was reached"
        )
        log.add_argument("--note", default="", help="What was said or agreed")
        cli.add_on(log, "Day of the contact")
        listing = actions.add_parser("list", help="list a customer's logged contacts")
        cli.add_entity(listing)
        listing.add_argument("--customer", required=True, metavar="REF", help="Customer's external reference")
        listing.add_argument("--json", action="store_true", help="Print JSON")
        returned = actions.add_parser(
            "returned",
            help="a letter came back: its postal address is not used again (the next run uses the next channel)",
        )
        cli.add_entity(returned)
        target = returned.add_mutually_exclusive_group(required=True)
        target.add_argument("--customer", metavar="REF", help="Customer's external reference")
        target.add_argument(
            "--csv",
            metavar="FILE",
            help="The print provider's returns: columns customer_ref, contact_ref, returned_on, reason",
        )
        returned.add_argument("--contact", default="", metavar="REF", help="The contact (its ref or id)")
        returned.add_argument(
            "--reason", default="", help="Why it came back (moved, unknown at this address…)"
        )
        cli.add_on(returned, "Day the letter came back")
        returned.add_argument("--json", action="store_true", help="Print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        entity = cli.entity(options)
        if options["action"] == "returned":
            self._returned(entity, options)
            return
        customer = cli.customer(entity, options["customer"])
        try:
            if options["action"] == "log":
                logged = case_services.contact_log(
                    actor=Actor.cli(),
                    customer=customer,
                    on=cli.business_day(options, entity),
                    channel=options["channel"],
                    note=options["note"],
                )
                self.stdout.write(
                    f"Contact with {customer.external_ref} by {logged.channel} on {logged.on} logged."
                )
                return
        except RelanceError as exc:
            raise CommandError(exc.message) from None
        rows = [
            {"on": item.on.isoformat(), "channel": item.channel, "note": item.note}
            for item in ContactLog.objects.filter(customer=customer)
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for row in rows:
            self.stdout.write(f"{row['on']} {row['channel']}: {row['note']}")
        if not rows:
            self.stdout.write("No contact logged.")

    def _returned(self, entity: Any, options: dict[str, Any]) -> None:
        from relance.cases import contact_returns

        on = cli.business_day(options, entity)
        try:
            if options["csv"]:
                outcome = contact_returns.returns_import(
                    entity=entity, path=options["csv"], actor=Actor.cli(), today=on
                )
                if options["json"]:
                    self.stdout.write(json.dumps(outcome.as_dict(), indent=2))
                else:
                    self.stdout.write(
                        f"{outcome.rows} returned letter(s) read: {outcome.marked} address(es) marked "
                        f"returned, {outcome.unchanged} already were."
                    )
                return
            customer = cli.customer(entity, options["customer"])
            contact = contact_returns.returned_contact(customer=customer, contact_ref=options["contact"])
            changed = contact_returns.contact_mark_returned(
                contact=contact, actor=Actor.cli(), on=on, reason=options["reason"]
            )
        except RelanceError as exc:
            raise CommandError(exc.message) from None
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "customer_ref": customer.external_ref,
                        "contact": contact.external_ref or contact.pk,
                        "address_status": contact.address_status,
                        "reason": contact.address_reason,
                        "changed": changed,
                    },
                    indent=2,
                )
            )
            return
        verb = "is now marked returned" if changed else "was already marked returned"
        self.stdout.write(
            f"The postal address of {contact} ({customer.external_ref}) {verb}: letters to it stop; "
            "the next run uses the customer's next valid channel."
        )
