"""``relance import KIND FILE``: load customers, contacts, invoices, credit notes, payments or orders."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.audit.context import audit_actor, cli_actor_label
from relance.core.errors import NotFound, ValidationFailed
from relance.ingest.records import KINDS
from relance.ledger.selectors import entity_resolve

if TYPE_CHECKING:
    from relance.ingest.services import ImportOutcome

REJECTED = "{count} error(s) in {rows} row(s); nothing was imported (fix the file, or use --skip-invalid)"


class Command(BaseCommand):
    help = (
        "Import customers, contacts, invoices, credit notes, payments or orders from a CSV or XLSX file.\n\n"
        "A file with any invalid row is rejected whole (nothing written, every error listed as "
        "FILE:LINE: field: expected …, found …) unless --skip-invalid. Re-importing the same file "
        "changes nothing. See docs/import.md for the columns and the mapping file format."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS, help="what the file holds")
        parser.add_argument(
            "file", type=Path, help="a .csv (any common encoding and delimiter) or .xlsx file"
        )
        parser.add_argument("--entity", help="creditor entity to import into (default: the only one)")
        parser.add_argument(
            "--mapping", type=Path, help="YAML mapping of source columns to canonical ones (docs/mappings/)"
        )
        parser.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="import the valid rows; write the invalid ones with their errors to FILE.rejects.csv",
        )
        parser.add_argument("--json", action="store_true", help="print the outcome as JSON on stdout")
        parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary line")

    def handle(self, *args: Any, **options: Any) -> None:
        kind: str = options["kind"]
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        from relance.ingest.mappings import mapping_load  # on use: `import --help` starts without them

        try:
            entity = entity_resolve(name=options.get("entity"))
            mapping = mapping_load(options["mapping"], kind=kind) if options.get("mapping") else None
            with audit_actor(label=cli_actor_label()):
                outcome = self._run(kind, path, entity, mapping, options)
        except (ValidationFailed, NotFound) as exc:
            if options["json"]:
                self.stdout.write(json.dumps({"kind": kind, "source": str(path), "error": exc.message}))
            raise CommandError(exc.message) from None
        self._report(outcome, options)

    def _run(
        self, kind: str, path: Path, entity: Any, mapping: Any, options: dict[str, Any]
    ) -> ImportOutcome:
        from relance.ingest.services import file_import

        show = not options["quiet"] and sys.stderr.isatty()
        if not show:
            return file_import(
                kind=kind,
                path=path,
                entity=entity,
                mapping=mapping,
                dry_run=options["dry_run"],
                skip_invalid=options["skip_invalid"],
            )
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (
            TextColumn(f"importing {kind}"),
            BarColumn(),
            DownloadColumn()
            if path.suffix.lower() not in {".xlsx", ".xlsm"}
            else TextColumn("{task.completed} rows"),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("import", total=None, rows=0)
            return file_import(
                kind=kind,
                path=path,
                entity=entity,
                mapping=mapping,
                dry_run=options["dry_run"],
                skip_invalid=options["skip_invalid"],
                start=lambda total: bar.update(task, total=total),
                progress=lambda done, rows: bar.update(task, completed=done, rows=rows),
            )

    def _report(self, outcome: ImportOutcome, options: dict[str, Any]) -> None:
        for error in outcome.errors:
            self.stderr.write(str(error))
        hidden = outcome.error_count - len(outcome.errors)
        if hidden > 0:
            self.stderr.write(f"… and {hidden} more error(s)")
        rejected = outcome.error_count and not options["skip_invalid"]
        if options["json"]:
            self.stdout.write(json.dumps(outcome.as_dict(), indent=2))
        elif not options["quiet"] and not rejected:
            self.stdout.write(_summary(outcome))
        if rejected:
            raise CommandError(REJECTED.format(count=outcome.error_count, rows=outcome.rejected_rows))


def _summary(outcome: ImportOutcome) -> str:
    result = outcome.result
    verb = "would be" if not outcome.committed else "were"
    text = (
        f"{outcome.source}: {outcome.rows:,} row(s) read; {outcome.kind} {verb} "
        f"created: {result.created:,}, updated: {result.updated:,}, unchanged: {result.unchanged:,}"
    )
    if outcome.dry_run:
        text += " (dry run: nothing written)"
    if outcome.skipped_rows:
        text += f"; {outcome.skipped_rows:,} row(s) skipped by the mapping"
    if outcome.merged_duplicates:
        text += f"; {outcome.merged_duplicates:,} identical duplicate row(s) merged"
    if outcome.rejected_rows and outcome.committed:
        text += f"; {outcome.rejected_rows:,} row(s) rejected, see {outcome.rejects_path}"
    if outcome.ignored_columns:
        text += "\nignored columns (not canonical, not mapped): " + ", ".join(outcome.ignored_columns)
    for line in outcome.followed_by:
        text += "\n" + line
    return text
