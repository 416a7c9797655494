"""``relance bank import FILE [--entity NAME] [--format …] [--mapping M] [--json]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

NAME = "import"
HELP = (
    "Import a bank statement file: camt.053 or camt.054 (.001.02 to .001.08), MT940, or CSV/XLSX "
    "with a mapping file. The format is sniffed when not given. Idempotent: a statement or entry "
    "already imported is not added again. All or nothing: any error (named FILE:LINE with the "
    "statement and entry) and nothing is written; the statement's account must be linked "
    "(`relance bank account add`)."
)
REJECTED = "{count} error(s); nothing was imported (fix the file, or link the account, and import it again)"
FORMATS = ("camt053", "camt054", "mt940", "csv")
PROGRESS_FROM = 1 << 20  # a bar for files over 1 MiB


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument("file", type=Path, help="the statement file")
    parser.add_argument("--entity", help="creditor entity (default: the only one)")
    parser.add_argument("--format", choices=FORMATS, help="the file's format (default: sniffed)")
    parser.add_argument("--mapping", type=Path, help="CSV/XLSX: a mapping file (docs/cash-application.md)")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary line")


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    from relance.audit.context import audit_actor, cli_actor_label
    from relance.core.errors import ErrorList, RelanceError
    from relance.ledger.selectors import entity_resolve

    path: Path = options["file"]
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        entity = entity_resolve(name=options.get("entity"))
        with audit_actor(label=cli_actor_label()):
            outcome = _run(path, entity, options)
    except ErrorList as errors:
        for error in errors.errors:
            command.stderr.write(str(error))
        if options["json"]:
            command.stdout.write(
                json.dumps(
                    {
                        "source": str(path),
                        "error_count": len(errors.errors),
                        "errors": [str(error) for error in errors.errors],
                    },
                    indent=2,
                )
            )
        raise CommandError(REJECTED.format(count=len(errors.errors))) from None
    except RelanceError as exc:
        if options["json"]:
            command.stdout.write(json.dumps({"source": str(path), "error": exc.message}))
        raise CommandError(exc.message) from None
    if options["json"]:
        command.stdout.write(json.dumps(outcome.as_dict(), indent=2))
    elif not options["quiet"]:
        command.stdout.write(_summary(outcome))


def _run(path: Path, entity: Any, options: dict[str, Any]) -> Any:
    from relance.cashapp.services import bank_statement_import

    arguments = {
        "entity": entity,
        "path": path,
        "format": options.get("format"),
        "mapping": options.get("mapping"),
    }
    size = path.stat().st_size
    if options["quiet"] or options["json"] or not sys.stderr.isatty() or size < PROGRESS_FROM:
        return bank_statement_import(**arguments)
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("reading the statement"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("import", total=size)
        return bank_statement_import(**arguments, progress=lambda done: bar.update(task, completed=done))


def _summary(outcome: Any) -> str:
    statements = len(outcome.statements)
    text = (
        f"{outcome.source}: {outcome.format}, {statements} statement(s) "
        f"({outcome.statements_created} new); {outcome.lines_added:,} line(s) added, "
        f"{outcome.lines_known:,} already imported"
    )
    skipped = sum(statement.skipped for statement in outcome.statements)
    if skipped:
        text += f"; {skipped:,} entr(ies) not booked (pending or information) left out"
    return text
