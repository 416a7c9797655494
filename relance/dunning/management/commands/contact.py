"""``relance contact log|list``: contacts made outside the run, which count for the cadence."""

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
        actions = parser.add_subparsers(dest="action", required=True, metavar="{log,list}")
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

    def handle(self, *args: Any, **options: Any) -> None:
        entity = cli.entity(options)
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
