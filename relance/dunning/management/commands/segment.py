"""``relance segment show|apply|rules``: behavioural classes with evidence, and rule-based segments."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from relance.core.errors import RelanceError
from relance.dunning import cli, selectors, services


class Command(BaseCommand):
    help = (
        "Customers' payment behaviour (prompt, forgetful, chronic late, at risk, new) with its "
        "evidence, and segments from ordered rules (first match wins): show them, apply them to "
        "the customers, or import/export the rules as YAML. See docs/dunning.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{show,apply,rules}")
        show = actions.add_parser(
            "show", help="each customer's behaviour, evidence and the segment the rules give"
        )
        cli.add_entity(show)
        show.add_argument("--as-of", required=True, metavar="DATE", help="Behaviour as of this date")
        show.add_argument("--json", action="store_true", help="Print JSON")
        apply = actions.add_parser("apply", help="set each customer's segment from the rules")
        cli.add_entity(apply)
        apply.add_argument("--as-of", required=True, metavar="DATE", help="Behaviour as of this date")
        apply.add_argument("--dry-run", action="store_true", help="Show the changes without writing them")
        apply.add_argument("--json", action="store_true", help="Print JSON")
        rules = actions.add_parser("rules", help="import or export the segmentation rules")
        cli.add_entity(rules)
        rules.add_argument("--import", dest="import_file", metavar="FILE",
                           help="YAML: {rules: [{segment, when: [{field, op, value}]}], default: SEGMENT}")  # fmt: skip
        rules.add_argument("--export", action="store_true", help="Print the stored rules as YAML")

    def handle(self, *args: Any, **options: Any) -> None:
        entity = cli.entity(options)
        try:
            if options["action"] == "rules":
                self._rules(entity, options)
            elif options["action"] == "show":
                rows = selectors.customer_segments(entity=entity, as_of=cli.parse_date(options["as_of"]))
                self._show(rows, options["json"])
            else:
                changes = services.segment_assign(
                    entity=entity, as_of=cli.parse_date(options["as_of"]), dry_run=options["dry_run"]
                )
                if options["json"]:
                    self.stdout.write(json.dumps([change.__dict__ for change in changes], indent=2))
                    return
                verb = "would change" if options["dry_run"] else "changed"
                for change in changes:
                    self.stdout.write(
                        f"{change.customer_ref}: {change.before or '(none)'} → {change.after} (rule {change.rule or 'default'})"
                    )
                self.stdout.write(f"{len(changes)} customer segment(s) {verb}.")
        except RelanceError as exc:
            raise CommandError(exc.message) from None

    def _rules(self, entity: Any, options: dict[str, Any]) -> None:
        if options["import_file"]:
            path = options["import_file"]
            try:
                data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise CommandError(f"{path}: cannot read: {exc}") from None
            if not isinstance(data, dict) or "rules" not in data:
                raise CommandError(f"{path}: expected a mapping with rules (and optionally default)")
            stored = services.segmentation_rules_set(
                entity=entity, rules=data["rules"], default_segment=str(data.get("default") or "")
            )
            self.stdout.write(f"{len(stored.rules)} segmentation rule(s) stored from {path}.")
            return
        current = selectors.segmentation_rules_get(entity=entity)
        data = {
            "rules": current.rules if current else [],
            "default": current.default_segment if current else "",
        }
        self.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), ending="")

    def _show(self, rows: list[dict[str, Any]], as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        buffer = io.StringIO()
        console = Console(file=buffer, width=160, force_terminal=False, color_system=None)
        table = Table()
        for column in ("Customer", "Behaviour", "Segment", "Rules give", "Evidence"):
            table.add_column(column)
        for row in rows:
            proposed = (
                "(keep)"
                if row["proposed"] is None
                else f"{row['proposed']} (rule {row['rule'] or 'default'})"
            )
            table.add_row(
                row["customer_ref"], row["behaviour"], row["segment"] or "—", proposed, row["evidence"]
            )
        console.print(table)
        self.stdout.write(buffer.getvalue(), ending="")
