"""``relance sync SOURCE``: pull the ERP's changes since the last sync, import them, push back."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.audit.context import audit_actor, cli_actor_label
from relance.core.errors import NotFound, ValidationFailed

SOURCES = ("odoo", "erpnext", "quickbooks")


class Command(BaseCommand):
    help = (
        "Sync with an ERP (odoo, erpnext, quickbooks): pull customers, contacts, invoices, credit notes "
        "and payments changed since the last sync, import them all or nothing, and push back holds, "
        "dispute resolutions, promises and payments taken in Relance. Running it twice adds nothing. "
        "See docs/integrations.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", choices=SOURCES, help="the ERP connector to sync")
        parser.add_argument("--entity", help="creditor entity (default: the only one)")
        parser.add_argument(
            "--since",
            help="pull from this ERP timestamp instead of the stored cursor (e.g. 2026-01-01 00:00:00)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="pull and validate; write nothing, push nothing"
        )
        parser.add_argument("--no-push", action="store_true", help="pull only")
        parser.add_argument("--json", action="store_true", help="print the outcome as JSON on stdout")
        parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary")

    def handle(self, *args: Any, **options: Any) -> None:
        from relance.connectors.adapters.base import ConnectorError
        from relance.connectors.selectors import connector_get
        from relance.connectors.services import SyncOutcome, sync_run
        from relance.ledger.selectors import entity_resolve

        try:
            entity = entity_resolve(name=options.get("entity"))
            connector = connector_get(entity=entity, source=options["source"])
            with audit_actor(label=cli_actor_label()):
                outcome: SyncOutcome = self._run(connector, options, sync_run)
        except (ValidationFailed, NotFound) as exc:
            raise CommandError(exc.message) from None
        except ConnectorError as exc:
            raise CommandError(str(exc)) from None
        for error in outcome.errors[:1000]:
            self.stderr.write(error)
        if len(outcome.errors) > 1000:
            self.stderr.write(f"… and {len(outcome.errors) - 1000} more error(s)")
        for error in outcome.push_errors:
            self.stderr.write(f"push: {error}")
        if options["json"]:
            self.stdout.write(json.dumps(outcome.as_dict(), indent=2))
        elif not options["quiet"]:
            self.stdout.write(_summary(outcome))
        if outcome.errors:
            raise CommandError(
                f"{len(outcome.errors)} error(s); nothing was imported and the cursors were kept "
                "(fix the records in the ERP, then sync again)"
            )

    def _run(self, connector: Any, options: dict[str, Any], sync_run: Any) -> Any:
        kwargs = {
            "connector": connector,
            "since": options.get("since"),
            "dry_run": options["dry_run"],
            "push": not options["no_push"],
        }
        if options["quiet"] or options["json"] or not sys.stderr.isatty():
            return sync_run(**kwargs)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            tasks: dict[str, Any] = {}

            def progress(stage: str, done: int, total: int | None) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(f"{connector.source}: {stage}", total=total)
                bar.update(tasks[stage], completed=done, total=total)

            return sync_run(**kwargs, progress=progress)


def _summary(outcome: Any) -> str:
    verb = "would be" if not outcome.committed else "were"
    lines = [
        f"{outcome.source} → {outcome.entity}: " + ("dry run, nothing written" if outcome.dry_run else "")
    ]
    for kind, stream in outcome.streams.items():
        result = stream.result
        line = (
            f"  {kind}: {stream.rows:,} row(s) pulled; {verb} created {result.created:,}, "
            f"updated {result.updated:,}, unchanged {result.unchanged:,}"
        )
        if stream.skipped_echoes:
            line += f"; {stream.skipped_echoes} pushed by Relance, not imported again"
        lines.append(line)
    pushed_verb = "would push" if outcome.dry_run else "pushed"
    lines.append(f"  {pushed_verb}: {len(outcome.pushed)} change(s)" + (
        f", {len(outcome.push_errors)} failed (retried next sync)" if outcome.push_errors else ""
    ))  # fmt: skip
    return "\n".join(lines)
