"""``relance run``: the daily dunning run of an entity (decide on the engine, apply in one transaction).

It lives in delivery, above dunning, because ``--send`` queues the run's messages in the outbox."""

from __future__ import annotations

import io
import json
import sys
from contextlib import nullcontext
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from relance.core.errors import RelanceError
from relance.dunning import cli, services


class Command(BaseCommand):
    help = (
        "Decide today's dunning for every customer of an entity and apply it in one transaction: "
        "a run row (one per entity and date: running a date again adds nothing), the actions with "
        "their reasons, each invoice's reached step, the suppressions and the worklist. After a gap "
        "each customer gets only the most advanced step now due. Only one run per entity at a time; "
        "a second one refuses. --json prints {entity, as_of, status, run_id, counts, decisions: "
        "[{customer_ref, action, step, offset_days, channel, invoice_refs, amount_due, reasons, …}]}."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--as-of", required=True, metavar="DATE", help="Business date of the run (YYYY-MM-DD)"
        )
        cli.add_entity(parser)
        parser.add_argument(
            "--dry-run", action="store_true", help="Show the decisions without writing anything"
        )
        parser.add_argument(
            "--no-segment",
            action="store_true",
            help="Do not re-apply the segmentation rules before deciding (by default the run does, "
            "recording each change)",
        )
        parser.add_argument(
            "--no-queue",
            action="store_true",
            help="Do not queue the run's messages in the outbox (by default every contact action and "
            "owner notification becomes an outbox row, rendered now; `relance send` delivers them)",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table")
        parser.add_argument("--quiet", action="store_true", help="No progress display on stderr")

    def handle(self, *args: Any, **options: Any) -> None:
        entity = cli.entity(options)
        as_of = cli.parse_date(options["as_of"])
        status = (
            Console(stderr=True).status(f"Deciding dunning of {entity.name} for {as_of}…")
            if sys.stderr.isatty() and not options["quiet"] and not options["json"]
            else nullcontext()
        )
        try:
            with status:
                outcome = services.run_start(
                    entity=entity,
                    as_of=as_of,
                    dry_run=options["dry_run"],
                    started_by="relance run",
                    segment=not options["no_segment"],
                )
        except RelanceError as exc:
            raise CommandError(exc.message) from None
        queued = self._queue(outcome.run, options) if outcome.run is not None else None
        state = (
            "dry_run"
            if outcome.dry_run and outcome.run is None
            else ("applied" if outcome.created else "already_applied")
        )
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "entity": entity.name,
                        "as_of": as_of.isoformat(),
                        "status": state,
                        "run_id": outcome.run.pk if outcome.run else None,
                        "counts": outcome.counts,
                        "decisions": outcome.decisions,
                        "queued": queued,
                    },
                    indent=2,
                )
            )
            return
        buffer = io.StringIO()
        console = Console(file=buffer, width=140, force_terminal=False, color_system=None)
        heading = {
            "dry_run": "Dry run (nothing written)",
            "applied": f"Run {outcome.run.pk if outcome.run else ''} applied",
            "already_applied": "Already run for this date: nothing added; its decisions were",
        }[state]
        console.print(f"{entity.name} · {cli.day(as_of, entity)} · {heading}")
        table = Table(show_lines=False)
        for column in ("Customer", "Action", "Step", "Offset", "Channel", "Invoices", "Amount due", "Why"):
            table.add_column(
                column,
                justify="right" if column in ("Offset", "Amount due") else "left",
                no_wrap=column == "Amount due",  # an amount never breaks across lines
            )
        for row in outcome.decisions:
            why = "; ".join(reason.get("code", "") for reason in row["reasons"] if isinstance(reason, dict))
            flags = [flag for flag in ("broken_promise", "catch_up") if row.get(flag)]
            table.add_row(
                row["customer_ref"],
                row["action"],
                row["step"],
                str(row["offset_days"]),
                row["channel"] or "—",
                ", ".join(row["invoice_refs"]) or "—",
                cli.money(row["amount_due"], row["currency"], entity) if row["amount_due"] else "—",
                why + (f" [{', '.join(flags)}]" if flags else ""),
            )
        console.print(table)
        suppressed = outcome.counts.get("suppressed", {})
        if suppressed:
            console.print(
                "Suppressed: "
                + ", ".join(f"{reason} {count}" for reason, count in sorted(suppressed.items()))
            )
        if queued is not None:
            console.print(
                f"Outbox: {queued['created']} message(s) queued, {queued['existing']} already queued"
                + (
                    f", {len(queued['skipped'])} action(s) without a reachable contact"
                    if queued["skipped"]
                    else ""
                )
                + " — deliver with `relance send`"
            )
            for failure in queued.get("template_failures", []):
                handled = "shipped default used" if failure["used_shipped_default"] else "queued as failed"
                console.print(
                    f"Template failed for {failure['customer_ref']} ({failure['template_key']}), "
                    f"{handled}: {failure['error']}",
                    markup=False,
                )
        self.stdout.write(buffer.getvalue(), ending="")

    def _queue(self, run: Any, options: dict[str, Any]) -> dict[str, Any] | None:
        """Queue the run's messages (idempotent: a second call for the same run queues nothing)."""
        if options["no_queue"]:
            return None
        from relance.delivery.services import outbox_enqueue_run

        status = (
            Console(stderr=True).status("Rendering and queueing messages…")
            if sys.stderr.isatty() and not options["quiet"] and not options["json"]
            else nullcontext()
        )
        with status:
            report = outbox_enqueue_run(run=run)
        return report.as_dict()
