"""``relance generate``: a realistic synthetic receivables ledger from a seed, to files or the database."""

from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from relance.core.calendar import parse_iso_date
from relance.core.errors import RelanceError

if TYPE_CHECKING:
    from relance.synthetic.model import GeneratedLedger, GeneratorConfig

NOTHING_TO_DO = "say where the ledger goes: --out DIR (files) and/or --load (the app database)"
LOAD_TOO_BIG = "--load is for demo-sized ledgers (at most {limit:,} invoices); write files with --out instead"
LOAD_LIMIT = 2_000_000


class Command(BaseCommand):
    help = (
        "Generate a realistic synthetic receivables ledger from a seed: customers with payment "
        "behaviours (prompt, forgetful, chronic late, disputer, sliding into insolvency), seasonal "
        "invoicing, instalments, grouped payments, unapplied cash and credit notes, in EUR/USD/GBP "
        "and six languages. The same options give the same ledger.\n\n"
        "--out DIR writes Parquet files in the engine's schemas (or the canonical import CSV files "
        "with --format csv) and needs no database; --load inserts the ledger into the app database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument(
            "--customers",
            type=int,
            help="number of customers (default 500; with --invoices, enough for 2.5 invoices a month each)",
        )
        parser.add_argument(
            "--invoices",
            type=int,
            help="exact number of invoices (default: 2.5 per customer per month of history)",
        )
        parser.add_argument("--years", type=int, default=2, help="years of history before --end (default 2)")
        parser.add_argument("--months", type=int, help="months of history before --end (overrides --years)")
        parser.add_argument(
            "--end",
            help="as-of date YYYY-MM-DD: nothing is issued or paid after it (default today)",
        )
        parser.add_argument("--out", type=Path, help="directory to write the files to (created if missing)")
        parser.add_argument(
            "--format",
            choices=("parquet", "csv"),
            default="parquet",
            help="file format for --out: parquet (engine schemas, default) or csv (canonical import files)",
        )
        parser.add_argument("--load", action="store_true", help="load the ledger into the app database")
        parser.add_argument(
            "--entity",
            help="creditor entity to load into (default: the only one; a new name creates the entity)",
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary line")
        parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        # NumPy and PyArrow load when a ledger is generated, not for --help (start-up, issue 20).
        from relance.synthetic.model import GeneratedLedger, GeneratorConfig

        if not options["out"] and not options["load"]:
            raise CommandError(NOTHING_TO_DO)
        try:
            end = parse_iso_date(options["end"]) if options["end"] else timezone.localdate()
            config = GeneratorConfig(
                seed=options["seed"],
                customers=options["customers"],
                invoices=options["invoices"],
                years=options["years"],
                months=options["months"],
                end=end,
            )
        except (ValueError, RelanceError) as exc:
            raise CommandError(getattr(exc, "message", str(exc))) from None
        if options["load"] and config.invoice_count > LOAD_LIMIT:
            raise CommandError(LOAD_TOO_BIG.format(limit=LOAD_LIMIT))

        started = time.monotonic()
        summary: dict[str, Any] = {
            "seed": config.seed,
            "customers": config.customer_count,
            "invoices": config.invoice_count,
            "start": config.start_date.isoformat(),
            "end": config.end.isoformat(),
        }
        entity = self._entity(options["entity"]) if options["load"] else None
        ledger = None
        if options["out"]:
            counts = self._write(config, options, keep=options["load"])
            ledger = counts.pop("_ledger", None)
            summary.update(out=str(options["out"]), format=options["format"], rows=counts)
        if entity is not None:
            from relance.demo.loader import ledger_load
            from relance.synthetic.generator import generate_ledger

            ledger = ledger if isinstance(ledger, GeneratedLedger) else generate_ledger(config)
            result = ledger_load(ledger=ledger, entity=entity)
            summary.update(entity=entity.name, loaded=ledger.row_counts)
            if not options["quiet"] and not options["json"]:
                self.stdout.write(f"Loaded {result}.")
        summary["seconds"] = round(time.monotonic() - started, 2)
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        elif not options["quiet"] and options["out"]:
            rows = summary["rows"]
            self.stdout.write(
                f"Wrote {rows['invoices']:,} invoices, {rows['payments']:,} payments, "
                f"{rows['credit_notes']:,} credit notes, {rows['allocations']:,} allocations and "
                f"{rows['customers']:,} customers to {options['out']} ({options['format']}) "
                f"in {summary['seconds']} s."
            )

    def _entity(self, name: str | None) -> Any:
        from relance.core.errors import NotFound
        from relance.ledger.models import Entity
        from relance.ledger.selectors import entity_resolve
        from relance.ledger.services import entity_create_or_update

        try:
            if name and not Entity.objects.filter(name=name).exists():
                return entity_create_or_update(name=name)[0]
            return entity_resolve(name=name)
        except (NotFound, RelanceError) as exc:
            raise CommandError(exc.message) from None

    def _write(self, config: GeneratorConfig, options: dict[str, Any], *, keep: bool) -> dict[str, Any]:
        """Stream the ledger to files, part by part, with a progress bar on a terminal."""
        from relance.synthetic.generator import iter_ledger_chunks
        from relance.synthetic.model import GeneratedLedger
        from relance.synthetic.writers import write_csv, write_parquet

        writer = write_csv if options["format"] == "csv" else write_parquet
        counts: dict[str, int] = {}
        kept: list[GeneratedLedger] = []
        show = not options["quiet"] and sys.stderr.isatty() and config.invoice_count >= 100_000
        progress = self._progress() if show else None

        with progress or nullcontext():
            task = progress.add_task("generating", total=config.invoice_count) if progress else None

            def on_part(part: GeneratedLedger) -> None:
                for name, rows in part.row_counts.items():
                    counts[name] = counts.get(name, 0) + rows
                if keep:
                    kept.append(part)
                if progress is not None and task is not None:
                    progress.advance(task, part.invoices.num_rows)

            writer(iter_ledger_chunks(config), options["out"], on_part=on_part)
        result: dict[str, Any] = dict(counts)
        if keep:
            result["_ledger"] = GeneratedLedger.concat(kept)
        return result

    @staticmethod
    def _progress() -> Any:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        return Progress(
            TextColumn("generating invoices"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
