"""``relance bank remittance BANK_REF FILE [--check] [--entity NAME] [--json]``: split a bank line
by the customer's remittance advice (an e-mail's text or a CSV of invoice refs and amounts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

NAME = "remittance"
HELP = (
    "Split a bank line across the invoices a customer's remittance advice lists (the text of an "
    "e-mail, or a CSV with invoice refs and amounts); what it does not cover stays unapplied credit."
)
REJECTED = "{count} error(s); the line was not split (fix the advice and run it again)"


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument("bank_ref", metavar="BANK_REF", help="the line's bank_ref (`relance bank lines`)")
    parser.add_argument("file", metavar="FILE", type=Path, help="the advice: e-mail text or CSV")
    parser.add_argument(
        "--check", action="store_true", help="read the advice and show the split; write nothing"
    )
    parser.add_argument("--entity", help="creditor entity (default: the only one)")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON on stdout")


def read_text(path: Path) -> str:
    """The advice's text: UTF-8 (with or without BOM), else Windows-1252 (an Excel CSV export)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    from relance.audit.context import audit_actor, cli_actor_label
    from relance.cashapp.remittance_split import line_remittance_split, remittance_read
    from relance.cashapp.selectors import bank_line_by_ref, money_text
    from relance.core.actors import Actor
    from relance.core.errors import ErrorList, RelanceError
    from relance.ledger.selectors import entity_resolve

    path: Path = options["file"]
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        entity = entity_resolve(name=options.get("entity"))
        line = bank_line_by_ref(entity=entity, bank_ref=options["bank_ref"])
        text = read_text(path)
        if options["check"]:
            read = remittance_read(entity=entity, line=line, text=text, source=str(path))
        else:
            with audit_actor(label=cli_actor_label()):
                read, _split = line_remittance_split(
                    entity=entity, line=line, text=text, source=str(path), actor=Actor.cli()
                )
    except ErrorList as errors:
        for error in errors.errors:
            command.stderr.write(str(error))
        if options["json"]:
            payload = {
                "source": str(path),
                "error_count": len(errors.errors),
                "errors": [str(e) for e in errors.errors],
            }
            command.stdout.write(json.dumps(payload, indent=2))
        raise CommandError(REJECTED.format(count=len(errors.errors))) from None
    except RelanceError as exc:
        if options["json"]:
            command.stdout.write(json.dumps({"source": str(path), "error": exc.message}))
        raise CommandError(exc.message) from None
    if options["json"]:
        command.stdout.write(json.dumps({**read.as_dict(), "split": not options["check"]}, indent=2))
        return
    currency = line.currency
    verb = "would split" if options["check"] else "split"
    command.stdout.write(
        f"{verb} {line.bank_ref} ({money_text(line.amount, currency)} {currency}) by {path.name}: "
        f"{len(read.allocations)} invoice(s), {money_text(read.allocated, currency)} {currency}; "
        f"{money_text(read.unapplied, currency)} {currency} unapplied"
    )
    for ref, amount in read.allocations:
        command.stdout.write(f"  {ref}  {money_text(amount, currency):>14} {currency}")
