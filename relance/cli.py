"""The ``relance`` console entry point: Django management commands underneath.

``relance --help`` lists Relance's own commands; any Django command (``relance migrate``,
``relance createsuperuser``) works too.
"""

from __future__ import annotations

import os
import sys

RELANCE_APPS = ("relance.",)


def _relance_commands() -> dict[str, str]:
    from django.core.management import get_commands, load_command_class

    commands = {}
    for name, app in sorted(get_commands().items()):
        if app.startswith(RELANCE_APPS):
            command = load_command_class(app, name)
            commands[name] = (command.help or "").strip().split(". ")[0].rstrip(".")
    return commands


def print_help() -> None:
    import django

    django.setup()
    print("usage: relance COMMAND [options]      (relance COMMAND --help for details)\n")
    print("Relance commands:")
    for name, summary in _relance_commands().items():
        print(f"  {name:<12} {summary}")
    print("\nEvery Django management command is available too (relance migrate, relance shell, …).")
    print("Configuration: DATABASE_URL, SECRET_KEY, EMAIL_URL (see README).")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    if len(argv) < 2 or argv[1] in {"-h", "--help", "help"} and len(argv) == 2:
        print_help()
        return
    from django.core.management import execute_from_command_line

    argv[0] = "relance"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
