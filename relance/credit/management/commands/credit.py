"""``relance credit …``: scores, reviews, bureau reports and the backtest (issue 15)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from relance.credit.cli import subcommand_modules


class Command(BaseCommand):
    help = (
        "Credit management: risk scores with their reasons, reviews and their decisions, bureau "
        "reports and the scorecard's backtest."
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
