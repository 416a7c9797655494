"""The ``relance bank`` subcommands, one module each.

Every module here defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``handle(command, options)``; ``relance bank`` finds them by listing this package, so a new
subcommand (matching's accept, unapply…) is a new file. Keep module-level imports light.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def subcommand_modules() -> dict[str, ModuleType]:
    modules = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        modules[module.NAME] = module
    return dict(sorted(modules.items()))
