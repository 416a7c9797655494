"""``relance bank export [--since DATE] [--output FILE] [--json] [--entity NAME]``: applied cash
for the ERP to post, reversals included."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

NAME = "export"
HELP = (
    "Applied cash for the ERP to post: one CSV row per invoice an application paid (and one for "
    "what it left unapplied), in force or reversed. --json: one object per application."
)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--since: expected a date such as 2026-12-01, found {text!r}") from None


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--since", type=_day, help="only applications applied or unapplied on or after this day"
    )
    parser.add_argument("--output", help="write to this file (default: standard output)")
    parser.add_argument("--json", action="store_true", help="one JSON object per application, as a list")
    parser.add_argument("--entity", help="creditor entity (default: the only one)")


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    from relance.cashapp.selectors import (
        EXPORT_HEADER,
        application_as_dict,
        application_list,
        application_rows,
    )
    from relance.common.csv_export import csv_lines
    from relance.core.errors import RelanceError
    from relance.ledger.selectors import entity_resolve

    try:
        entity = entity_resolve(name=options.get("entity"))
    except RelanceError as exc:
        raise CommandError(exc.message) from None
    applications = application_list(entity=entity, since=options.get("since")).iterator(chunk_size=1000)
    output = options.get("output")
    target = open(output, "w", encoding="utf-8", newline="") if output else None  # noqa: SIM115
    write = target.write if target else command.stdout.write
    try:
        if options["json"]:
            write(
                json.dumps([application_as_dict(a) for a in applications], indent=2)
                + ("\n" if target else "")
            )
        else:
            for text in csv_lines(EXPORT_HEADER, application_rows(applications)):
                if target:
                    target.write(text)
                else:
                    command.stdout.write(text, ending="")
    finally:
        if target:
            target.close()
    if target:
        command.stderr.write(f"wrote {output}")
