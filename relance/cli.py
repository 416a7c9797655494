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
