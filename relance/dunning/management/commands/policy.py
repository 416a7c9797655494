"""``relance policy import|export|validate|list|assign|unassign|delete``: dunning policies as YAML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.core.errors import RelanceError
from relance.dunning import cli, selectors, services


class Command(BaseCommand):
    help = (
        "Dunning policies: import YAML files (or the shipped defaults), export one as YAML, "
        "validate a file without storing it, list them, and assign them to customer segments "
        "(the default policy has no segment). See docs/policies.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="{import,export,validate,list,assign,unassign,delete}"
        )
        imp = actions.add_parser("import", help="create or replace policies from YAML files")
        cli.add_entity(imp)
        imp.add_argument("files", nargs="*", metavar="FILE", help="YAML file: one policy, or a list of them")
        imp.add_argument(
            "--defaults",
            action="store_true",
            help="Import the shipped policies (white glove, standard, high risk); standard becomes the "
            "entity's default when it has none",
        )
        exp = actions.add_parser("export", help="print a policy as YAML")
        cli.add_entity(exp)
        exp.add_argument("key", metavar="KEY", help="The policy's key")
        exp.add_argument("--out", metavar="FILE", help="Write to FILE instead of standard output")
        val = actions.add_parser("validate", help="check YAML files without storing them")
        val.add_argument("files", nargs="+", metavar="FILE", help="YAML file")
        listing = actions.add_parser("list", help="list policies and segment assignments")
        cli.add_entity(listing)
        listing.add_argument("--json", action="store_true", help="Print JSON")
        assign = actions.add_parser("assign", help="make customers of a segment follow a policy")
        cli.add_entity(assign)
        assign.add_argument("key", metavar="KEY", help="The policy's key")
        target = assign.add_mutually_exclusive_group(required=True)
        target.add_argument("--segment", help="Customer segment")
        target.add_argument("--default", action="store_true", help="The entity's default policy")
        unassign = actions.add_parser("unassign", help="remove a segment's policy")
        cli.add_entity(unassign)
        target = unassign.add_mutually_exclusive_group(required=True)
        target.add_argument("--segment", help="Customer segment")
        target.add_argument("--default", action="store_true", help="The entity's default policy")
        delete = actions.add_parser("delete", help="delete a policy no segment uses")
        cli.add_entity(delete)
        delete.add_argument("key", metavar="KEY", help="The policy's key")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except RelanceError as exc:
            raise CommandError(exc.message) from None

    @staticmethod
    def _read(path: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{path}: cannot read: {exc.strerror}") from None

    def _import(self, options: dict[str, Any]) -> None:
        entity = cli.entity(options)
        files = list(options["files"])
        if not files and not options["defaults"]:
            raise CommandError("give one or more FILEs, or --defaults")
        if options["defaults"]:
            self.stdout.write(cli.shipped_policies_install(entity))
        for path in files:
            for policy, created in services.policy_import_yaml(
                entity=entity, text=self._read(path), source=path
            ):
                verb = "created" if created else "replaced"
                self.stdout.write(f"Policy {policy.key} ({policy.name}) {verb} from {path}.")

    def _export(self, options: dict[str, Any]) -> None:
        entity = cli.entity(options)
        text = selectors.policy_export_yaml(policy=selectors.policy_get(entity=entity, key=options["key"]))
        if options["out"]:
            Path(options["out"]).write_text(text, encoding="utf-8")
            self.stdout.write(f"Policy {options['key']} written to {options['out']}.")
        else:
            self.stdout.write(text, ending="")

    def _validate(self, options: dict[str, Any]) -> None:
        problems = []
        for path in options["files"]:
            try:
                specs = services.policy_specs_from_yaml(text=self._read(path), source=path)
                for spec in specs:
                    policy = services.policy_validate(spec=spec)
                    self.stdout.write(f"{path}: policy {policy.key} is valid ({len(policy.steps)} steps).")
            except RelanceError as exc:
                problems.append(exc.message if exc.message.startswith(path) else f"{path}: {exc.message}")
        if problems:
            raise CommandError("\n".join(problems))

    def _list(self, options: dict[str, Any]) -> None:
        entity = cli.entity(options)
        assigned: dict[str, list[str]] = {}
        for mapping in selectors.segment_policy_list(entity=entity):
            assigned.setdefault(mapping.policy.key, []).append(mapping.segment or "(default)")
        rows: list[dict[str, Any]] = [
            {
                "key": policy.key,
                "name": policy.name,
                "steps": len(policy.spec.get("steps", [])),
                "segments": assigned.get(policy.key, []),
            }
            for policy in selectors.policy_list(entity=entity)
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for row in rows:
            segments = ", ".join(row["segments"]) or "no segment"
            self.stdout.write(f"{row['key']:<20} {row['name']:<30} {row['steps']:>2} steps  {segments}")
        if not rows:
            self.stdout.write("No policy yet: relance policy import --defaults")

    def _assign(self, options: dict[str, Any]) -> None:
        entity = cli.entity(options)
        segment = "" if options["default"] else options["segment"]
        if not options["default"] and not segment.strip():
            raise CommandError("--segment cannot be empty: use --default for the default policy")
        services.segment_policy_assign(entity=entity, policy_key=options["key"], segment=segment)
        self.stdout.write(
            f"{'Default' if not segment else 'Segment ' + segment} now follows policy {options['key']}."
        )

    def _unassign(self, options: dict[str, Any]) -> None:
        entity = cli.entity(options)
        segment = "" if options["default"] else options["segment"]
        removed = services.segment_policy_remove(entity=entity, segment=segment)
        self.stdout.write("Assignment removed." if removed else "Nothing to remove.")

    def _delete(self, options: dict[str, Any]) -> None:
        entity = cli.entity(options)
        deleted = services.policy_delete(entity=entity, key=options["key"])
        self.stdout.write(f"Policy {options['key']} deleted." if deleted else "No such policy.")
