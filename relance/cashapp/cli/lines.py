"""``relance bank lines [--status applied|suggested|unmatched|debit] [--entity NAME] [--json]``."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

NAME = "lines"
HELP = (
    "The entity's bank lines, oldest first: bank_ref, amount, currency, date, status, and what "
    "matching stored (allocations, suggestions, confidence, reasons)."
)
STATUSES = ("applied", "suggested", "unmatched", "debit")


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument("--status", choices=STATUSES, help="only the lines with this status")
    parser.add_argument("--entity", help="creditor entity (default: the only one)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line, as a list")


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    from relance.cashapp.selectors import bank_line_list, line_as_dict, money_text
    from relance.core.errors import RelanceError
    from relance.ledger.selectors import entity_resolve

    try:
        entity = entity_resolve(name=options.get("entity"))
        lines = bank_line_list(entity=entity, status=options.get("status"))
    except RelanceError as exc:
        raise CommandError(exc.message) from None
    if options["json"]:
        command.stdout.write(
            json.dumps([line_as_dict(line) for line in lines.iterator(chunk_size=1000)], indent=2)
        )
        return
    count = 0
    for line in lines.iterator(chunk_size=1000):
        count += 1
        who = line.counterparty_name or line.counterparty_iban or "—"
        text = (line.remittance_structured or line.remittance_unstructured)[:60]
        command.stdout.write(
            f"{line.booking_date}  {money_text(line.amount, line.currency):>14} {line.currency}  {line.status:<9}  {line.bank_ref}  {who}  {text}"
        )
    if not count:
        command.stdout.write(
            "no bank lines" + (f" with status {options['status']}" if options.get("status") else "")
        )
