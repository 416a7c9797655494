"""The ``relance`` console entry point: Django management commands underneath.

``relance --help`` lists Relance's own commands; any Django command (``relance migrate``,
``relance createsuperuser``) works too.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path
from typing import Any

RELANCE_PACKAGE = Path(__file__).resolve().parent


def _command_help(path: Path) -> str:
    """The ``help`` of the ``Command`` class in ``path``, read from the source (not imported)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef) and node.name == "Command":
            for statement in node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and any(
                        isinstance(target, ast.Name) and target.id == "help" for target in statement.targets
                    )
                    and isinstance(statement.value, ast.Constant)
                    and isinstance(statement.value.value, str)
                ):
                    return statement.value.value
    return ""


def _relance_commands() -> dict[str, str]:
    """Relance's commands and the first sentence of each one's help.

    Read from the files, without Django's set-up or importing a command: ``relance --help`` answers
    at once instead of loading every command's libraries (pandas, Ibis, PyArrow: issue 20)."""
    commands = {}
    for path in RELANCE_PACKAGE.glob("*/management/commands/*.py"):
        if not path.name.startswith("_"):
            first_sentence = re.split(r"\.\s|\n", _command_help(path).strip())[0]
            commands[path.stem] = first_sentence.rstrip(".")
    return dict(sorted(commands.items()))


def print_help() -> None:
    print("usage: relance COMMAND [options]      (relance COMMAND --help for details)\n")
    print("Relance commands:")
    for name, summary in _relance_commands().items():
        print(f"  {name:<12} {summary}")
    print("\nEvery Django management command is available too (relance migrate, relance shell, …).")
    print("Configuration: DATABASE_URL, SECRET_KEY, EMAIL_URL (see README).")


def start_django(argv: list[str]) -> None:
    """``django.setup()`` with the cyclic garbage collector paused, then what it loaded frozen.

    Start-up allocates the objects of a thousand modules and keeps them all: the collector's passes
    over them during set-up, and again while the interpreter exits, cost as much as a third of a
    short command's time (issue 20). ``gc.freeze()`` keeps them out of later passes (what the gc
    module's documentation advises for long-lived objects). Left to Django when the command line
    names its settings (``--settings``, ``--pythonpath``) or they do not load (it reports why), and
    for ``runserver`` (its autoreloader wraps the set-up).
    """
    import gc

    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    if argv[1:2] == ["runserver"] or any(arg.startswith(("--settings", "--pythonpath")) for arg in argv):
        return
    try:
        settings.INSTALLED_APPS  # noqa: B018  (loads the settings module)
    except (ImproperlyConfigured, ImportError):
        return
    import django

    gc.disable()
    try:
        django.setup()
    finally:
        gc.enable()
    gc.freeze()


# Relance's commands that serve pages: they run every system check, as Django's runserver does.
SERVING_COMMANDS = frozenset({"serve", "demo"})
PAGE_CHECKS = frozenset({"urls", "templates", "admin"})  # django.core.checks.Tags


def checks_for(command: Any, name: str) -> None:
    """A Relance command that serves no page runs every system check but the pages' own: URLs,
    templates and the admin.

    The URL checks import the URL configuration, hence every view, the API and what they import
    (Ibis for the KPI endpoints): two to three seconds of CPU before ``relance engine run`` or
    ``relance send`` did anything; the template and admin checks load every template tag library
    (a tenth of a second): issue 20. ``relance check``, ``relance serve`` and ``relance demo`` (and
    Django's own commands) still run them all; a command's ``--skip-checks`` still skips them all.
    """
    from django.core.checks.registry import registry
    from django.core.management.base import ALL_CHECKS

    ours = type(command).__module__.startswith("relance.")
    if ours and name not in SERVING_COMMANDS and command.requires_system_checks == ALL_CHECKS:
        command.requires_system_checks = sorted(registry.tags_available() - PAGE_CHECKS)


def utility(argv: list[str]) -> Any:
    """Django's ``ManagementUtility`` with ``checks_for`` applied to the command it runs."""
    from django.core.management import ManagementUtility

    class RelanceUtility(ManagementUtility):
        def fetch_command(self, subcommand: str) -> Any:
            command = super().fetch_command(subcommand)
            checks_for(command, subcommand)
            return command

    return RelanceUtility(argv)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    if len(argv) < 2 or argv[1] in {"-h", "--help", "help"} and len(argv) == 2:
        print_help()
        return
    argv[0] = "relance"
    start_django(argv)
    utility(argv).execute()


if __name__ == "__main__":
    main()
