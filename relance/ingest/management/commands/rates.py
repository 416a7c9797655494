"""``relance rates import FILE`` and ``relance rates list``: the exchange rates an entity converts with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.audit.context import audit_actor, cli_actor_label
from relance.core.errors import NotFound, ValidationFailed
from relance.ingest.records import RATE_KIND
from relance.ledger.selectors import entity_resolve

REJECTED = "{count} error(s) in {rows} row(s); no rate was imported (fix the file and import it again)"


class Command(BaseCommand):
    help = (
        "Import or list the exchange rates an entity converts amounts with (never fetched from a network). "
        "A rates file has the columns date, base_currency, quote_currency, rate (1 base = rate quote); "
        "any invalid row rejects the whole file, listed as FILE:LINE: field: expected …, found …; "
        "importing it again changes nothing. See docs/credit.md, 'Exchange rates'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{import,list}")
        load = actions.add_parser(
            "import",
            help="create or update rates from a CSV or XLSX file",
            description="Create or update the rates of FILE: one per date and currency pair.",
        )
        load.add_argument(
            "file", type=Path, help="a .csv or .xlsx file: date, base_currency, quote_currency, rate"
        )
        load.add_argument("--entity", help="creditor entity the rates belong to (default: the only one)")
        load.add_argument(
            "--mapping", type=Path, help="YAML mapping of source columns to canonical ones (docs/import.md)"
        )
        load.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
        load.add_argument("--json", action="store_true", help="print the outcome as JSON on stdout")
        load.add_argument("--quiet", action="store_true", help="no summary line (errors are still printed)")
        listing = actions.add_parser("list", help="list the entity's rates, oldest first")
        listing.add_argument("--entity", help="creditor entity (default: the only one)")
        listing.add_argument(
            "--on",
            metavar="DATE",
            help="only the rate of each pair in force on DATE (its latest on or before)",
        )
        listing.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            entity = entity_resolve(name=options.get("entity"))
            if options["action"] == "list":
                self._list(entity, options)
                return
            self._import(entity, options)
        except (ValidationFailed, NotFound) as exc:
            if options["json"]:
                self.stdout.write(json.dumps({"error": exc.message}))
            raise CommandError(exc.message) from None

    def _import(self, entity: Any, options: dict[str, Any]) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        from relance.ingest.mappings import mapping_load
        from relance.ingest.services import file_import

        mapping = mapping_load(options["mapping"], kind=RATE_KIND) if options.get("mapping") else None
        with audit_actor(label=cli_actor_label()):
            outcome = file_import(
                kind=RATE_KIND, path=path, entity=entity, mapping=mapping, dry_run=options["dry_run"]
            )
        for error in outcome.errors:
            self.stderr.write(str(error))
        hidden = outcome.error_count - len(outcome.errors)
        if hidden > 0:
            self.stderr.write(f"… and {hidden} more error(s)")
        if options["json"]:
            self.stdout.write(json.dumps(outcome.as_dict(), indent=2))
        if outcome.error_count:
            raise CommandError(REJECTED.format(count=outcome.error_count, rows=outcome.rejected_rows))
        if not options["json"] and not options["quiet"]:
            result = outcome.result
            verb = "would be" if outcome.dry_run else "were"
            text = (
                f"{outcome.source}: {outcome.rows:,} rate(s) read; {verb} created: {result.created:,}, "
                f"updated: {result.updated:,}, unchanged: {result.unchanged:,}"
            )
            if outcome.dry_run:
                text += " (dry run: nothing written)"
            if outcome.ignored_columns:
                text += "\nignored columns (not canonical, not mapped): " + ", ".join(outcome.ignored_columns)
            self.stdout.write(text)

    def _list(self, entity: Any, options: dict[str, Any]) -> None:
        from relance.core.calendar import parse_iso_date
        from relance.ledger.selectors import exchange_rate_list, rate_table

        if options.get("on"):
            on = parse_iso_date(options["on"])
            rows = [
                (r.rate_date, r.base, r.quote, r.rate) for r in rate_table(entity=entity, on=on).in_force(on)
            ]
        else:
            rows = [
                (r.rate_date, r.base_currency, r.quote_currency, r.rate)
                for r in exchange_rate_list(entity=entity)
            ]
        rates = [
            {
                "date": day.isoformat(),
                "base_currency": base,
                "quote_currency": quote,
                "rate": _rate_text(rate),
            }
            for day, base, quote, rate in rows
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rates, indent=2))
            return
        if not rates:
            self.stdout.write(
                f"No exchange rates for {entity.name}: import some with `relance rates import FILE`."
            )
            return
        self.stdout.write("date        pair      rate")
        for rate in rates:
            pair = f"{rate['base_currency']}/{rate['quote_currency']}"
            self.stdout.write(f"{rate['date']}  {pair:<8}  {rate['rate']}")


def _rate_text(value: Any) -> str:
    """The rate as stored, without trailing zeros past the point (0.92153000 → 0.92153), never a float."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
