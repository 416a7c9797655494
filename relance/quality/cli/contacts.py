"""``relance quality contacts [--all] [--json]``: check the contacts' addresses and store their status."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

NAME = "contacts"
HELP = (
    "Check contacts offline (e-mail syntax and domain, phone numbers and their kind, postal "
    "addresses by country) and store each address's status and reason. By default only the "
    "addresses not checked yet; `--all` checks every one again (bounced and returned stay)."
)


def add_arguments(parser: CommandParser) -> None:
    from relance.dunning import cli

    cli.add_entity(parser)
    parser.add_argument("--all", action="store_true", help="Check every contact again")
    parser.add_argument("--json", action="store_true", help="Print JSON")


def handle(command: Any, options: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from relance.dunning import cli
    from relance.quality.contacts_services import contacts_validate

    entity = cli.entity(options)
    columns = (TextColumn("checking contacts"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("check", total=None)
        result = contacts_validate(
            entity=entity,
            only_unchecked=not options["all"],
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if options["json"]:
        command.stdout.write(json.dumps(result.as_dict(), indent=2))
        return
    statuses = ", ".join(f"{status} {count:,}" for status, count in sorted(result.by_status.items()))
    command.stdout.write(
        f"{result.checked:,} contact(s) checked, {result.changed:,} changed. Addresses: {statuses or 'none'}."
    )
