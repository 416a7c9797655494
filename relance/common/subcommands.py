"""Commands whose subcommands are one module each in a package (``relance credit``, ``relance bank``).

Each module of the package defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``handle(command, options)``; the command finds them by listing the package, so a new subcommand
is a new file. Keep those modules' top-level imports light: the heavy ones belong in ``handle``.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


def subcommand_modules(package: str) -> dict[str, ModuleType]:
    """The subcommand modules of ``package`` (a dotted name), by their ``NAME``, sorted."""
    modules = {}
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"{package}.{info.name}")
            modules[module.NAME] = module
    return dict(sorted(modules.items()))


class SubcommandsCommand(BaseCommand):
    """A command dispatching to the subcommand modules of ``subcommand_package``."""

    subcommand_package = ""

    def add_arguments(self, parser: CommandParser) -> None:
        modules = subcommand_modules(self.subcommand_package)
        actions = parser.add_subparsers(
            dest="subcommand", required=True, metavar="{" + ",".join(modules) + "}"
        )
        for name, module in modules.items():
            module.add_arguments(actions.add_parser(name, help=module.HELP, description=module.HELP))

    def handle(self, *args: Any, **options: Any) -> None:
        subcommand_modules(self.subcommand_package)[options["subcommand"]].handle(self, options)
