"""``relance bank …``: bank accounts, statement imports and bank lines (issue 17)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from relance.cashapp.cli import subcommand_modules


class Command(BaseCommand):
    help = (
        "Cash application: link the entity's bank accounts, import their statements (camt.053, "
        "camt.054, MT940, CSV/XLSX; all or nothing, idempotent) and list the bank lines."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        modules = subcommand_modules()
        actions = parser.add_subparsers(
            dest="subcommand", required=True, metavar="{" + ",".join(modules) + "}"
        )
        for name, module in modules.items():
            module.add_arguments(actions.add_parser(name, help=module.HELP, description=module.HELP))

    def handle(self, *args: Any, **options: Any) -> None:
        subcommand_modules()[options["subcommand"]].handle(self, options)
