"""``relance match [--entity NAME] [--json]``: match every unapplied bank credit line (issue 17)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Match every unapplied bank credit line against the open invoices: apply the sure ones "
        "(a payment and its allocations in the ledger), suggest ranked candidates for the others, "
        "say why for each. Safe to run again: a line is never applied twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--entity", help="creditor entity (default: the only one)")
        parser.add_argument("--json", action="store_true", help="print the counts by status as JSON")
        parser.add_argument(
            "--no-confirmations",
            action="store_true",
            help="do not queue the payment thank-you for the lines applied",
        )
        parser.add_argument(
            "--one-process",
            action="store_true",
            help="match and write in this process only (default: from 5,000 lines on a machine with "
            "two cores, a second process matches while this one writes; the same decisions)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from relance.audit.context import audit_actor, cli_actor_label
        from relance.cashapp.matching import lines_match
        from relance.core.actors import Actor
        from relance.core.errors import RelanceError
        from relance.ledger.selectors import entity_resolve

        try:
            entity = entity_resolve(name=options.get("entity"))
            with audit_actor(label=cli_actor_label()):
                outcome = lines_match(
                    entity=entity,
                    actor=Actor.cli(),
                    confirm=not options["no_confirmations"],
                    pipeline=False if options["one_process"] else None,
                )
        except RelanceError as exc:
            raise CommandError(exc.message) from None
        counts = outcome.as_dict()
        if options["json"]:
            self.stdout.write(json.dumps(counts, indent=2))
            return
        self.stdout.write(
            f"{entity.name}: {counts['lines']} line(s) matched: {counts['applied']} applied, "
            f"{counts['suggested']} suggested, {counts['unmatched']} unmatched"
            + (f" ({counts['refused']} refused by the ledger, now suggested)" if counts["refused"] else "")
            + (f"; {counts['already_applied']} applied meanwhile" if counts["already_applied"] else "")
        )
