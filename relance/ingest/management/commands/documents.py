"""``relance documents import DIR``: attach the ERP's invoice PDFs to their invoices."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.audit.context import audit_actor, cli_actor_label
from relance.core.errors import NotFound, ValidationFailed
from relance.ledger.document_import import DEFAULT_PATTERN, DocumentImportOutcome, documents_import
from relance.ledger.selectors import entity_resolve


class Command(BaseCommand):
    help = (
        "Attach invoice PDFs from a folder to their invoices (file names give the invoice refs). "
        "Files that match no invoice, or are not PDFs within the size limit, are reported and "
        "skipped; the same PDF sent again changes nothing. See docs/import.md, 'Invoice documents'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{import}")
        run = actions.add_parser(
            "import",
            help="attach the PDFs of a folder to their invoices",
            description="Attach the PDFs of DIR (not its sub-folders) to the invoices their names give.",
        )
        run.add_argument("directory", type=Path, metavar="DIR", help="folder holding the invoice PDFs")
        run.add_argument("--entity", help="creditor entity of the invoices (default: the only one)")
        run.add_argument(
            "--pattern",
            default=DEFAULT_PATTERN,
            help=(
                "how a file name gives the invoice ref: {invoice_ref} is the ref, * any text, the rest "
                f"literal, case ignored (default {DEFAULT_PATTERN!r}; e.g. 'invoice_{{invoice_ref}}_*.pdf')"
            ),
        )
        run.add_argument("--dry-run", action="store_true", help="read and check every file, write nothing")
        run.add_argument("--json", action="store_true", help="print the outcome as JSON on stdout")
        run.add_argument("--quiet", action="store_true", help="no progress bar and no summary")

    def handle(self, *args: Any, **options: Any) -> None:
        directory: Path = options["directory"]
        try:
            entity = entity_resolve(name=options.get("entity"))
            with audit_actor(label=cli_actor_label()):
                outcome = self._run(entity, directory, options)
        except (ValidationFailed, NotFound) as exc:
            if options["json"]:
                self.stdout.write(json.dumps({"directory": str(directory), "error": exc.message}))
            raise CommandError(exc.message) from None
        if options["json"]:
            self.stdout.write(json.dumps(outcome.as_dict(), indent=2))
        elif not options["quiet"]:
            self.stdout.write(summary(outcome))

    def _run(self, entity: Any, directory: Path, options: dict[str, Any]) -> DocumentImportOutcome:
        arguments = {
            "entity": entity,
            "directory": directory,
            "pattern": options["pattern"],
            "dry_run": options["dry_run"],
        }
        if options["quiet"] or not sys.stderr.isatty():
            return documents_import(**arguments)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("attaching PDFs"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("documents", total=None)
            return documents_import(
                **arguments,
                start=lambda total: bar.update(task, total=total),
                progress=lambda done: bar.update(task, completed=done),
            )


def _problem(file: str, reason: str) -> str:
    return reason if reason.startswith(f"{file}:") else f"{file}: {reason}"


def summary(outcome: DocumentImportOutcome) -> str:
    verb = "would be attached" if outcome.dry_run else "attached"
    lines = [
        f"{outcome.directory}: {outcome.files:,} file(s); {verb}: {len(outcome.attached):,}, "
        f"unchanged: {len(outcome.unchanged):,}, unmatched: {len(outcome.unmatched):,}, "
        f"rejected: {len(outcome.rejected):,}" + (" (dry run: nothing written)" if outcome.dry_run else "")
    ]
    if outcome.unmatched:
        lines.append("unmatched:")
        lines.extend(f"  {_problem(p.file, p.reason)}" for p in outcome.unmatched)
    if outcome.rejected:
        lines.append("rejected:")
        lines.extend(f"  {_problem(p.file, p.reason)}" for p in outcome.rejected)
    return "\n".join(lines)
