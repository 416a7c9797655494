"""``relance engine run``: the decision step on Parquet files alone, for ledgers in a data lake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.core.calendar import parse_iso_date
from relance.core.errors import RelanceError

BACKENDS = ("duckdb", "spark")


class Command(BaseCommand):
    help = (
        "Run the dunning decision step on a directory of Parquet files (the engine contract's tables: "
        "invoices, credit_notes, payments, allocations, customers, customer_policy, and optionally "
        "promises, disputes, plans, holds, contact_history, invoice_steps…) and write the decisions "
        "to a file, without touching the app database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="Decide as of a date on Parquet files")
        run.add_argument(
            "--source", required=True, type=Path, help="Directory of NAME.parquet or NAME/*.parquet"
        )
        run.add_argument("--as-of", required=True, help="Business date to decide for (YYYY-MM-DD)")
        run.add_argument(
            "--out",
            required=True,
            type=Path,
            help="Decisions file: .parquet, or JSON lines otherwise; invoice steps, suppressions and the "
            "worklist go beside it as <stem>.<name><suffix>",
        )
        run.add_argument(
            "--backend",
            choices=BACKENDS,
            default="duckdb",
            help="Engine backend (default duckdb); spark needs the spark extra (pip install -e '.[spark]') "
            "and Java 17+",
        )
        run.add_argument(
            "--spark-master",
            default=None,
            metavar="MASTER",
            help="With --backend spark: local[N], local[*] (the default: every core here), "
            "spark://HOST:7077 (a standalone cluster; --source must be visible to its executors), yarn, "
            "or sc://HOST:15002 (Spark Connect; SPARK_REMOTE in the environment does the same). "
            "RELANCE_SPARK_DRIVER_MEMORY sets the driver's memory (default 2g)",
        )
        run.add_argument(
            "--policy",
            action="append",
            type=Path,
            default=[],
            help="A policy YAML file (repeatable; default: the shipped white_glove, standard and high_risk)",
        )
        run.add_argument("--json", action="store_true", help="Print the counts as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        from relance.engine.dunning.defaults import policy_from_yaml
        from relance.engine.dunning.files import decide_files, output_paths

        try:
            as_of = parse_iso_date(options["as_of"])
            policies = None
            if options["policy"]:
                loaded = [
                    policy_from_yaml(path.read_text("utf-8"), source=str(path)) for path in options["policy"]
                ]
                policies = {policy.key: policy for policy in loaded}
            if not options["source"].is_dir():
                raise CommandError(f"--source {options['source']}: not a directory")
            options["out"].parent.mkdir(parents=True, exist_ok=True)
            result = decide_files(
                options["source"],
                as_of=as_of,
                out=options["out"],
                policies=policies,
                backend=options["backend"],
                spark_master=options["spark_master"],
            )
        except RelanceError as exc:
            raise CommandError(exc.message) from None
        except OSError as exc:
            raise CommandError(str(exc)) from None
        counts = {
            "decisions": result.decisions.num_rows,
            "suppressed": result.suppressed.num_rows,
            "worklist": result.worklist.num_rows,
            "files": {name: str(path) for name, path in output_paths(options["out"]).items()},
        }
        if options["json"]:
            self.stdout.write(json.dumps(counts, indent=2))
        else:
            self.stdout.write(
                f"{counts['decisions']} decisions, {counts['suppressed']} suppressions, "
                f"{counts['worklist']} worklist rows → {options['out']}"
            )
