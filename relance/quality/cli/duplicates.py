"""``relance quality duplicates``: find the entity's duplicate customer pairs and store them for review."""

from __future__ import annotations

import io
import json
from typing import Any

from django.core.management.base import CommandParser

NAME = "duplicates"
HELP = (
    "Find customers of one entity that look like the same company (names without legal forms, "
    "accents or word order; tax and registration ids, IBANs, e-mail domains, phones, addresses), "
    "each pair with a score 0-100 and its reasons; the pairs replace those on the review page."
)


def add_arguments(parser: CommandParser) -> None:
    from relance.dunning import cli

    cli.add_entity(parser)
    parser.add_argument("--min-score", type=int, default=None, help="Print only pairs scoring at least this")
    parser.add_argument(
        "--limit", type=int, default=50, help="Pairs to print (default 50; --json prints all)"
    )
    parser.add_argument("--json", action="store_true", help="Print the pairs as JSON")


def pair_row(pair: Any) -> dict[str, Any]:
    """A pair as ``--json`` prints it."""
    return {
        "customer_refs": [pair.low.ref, pair.high.ref],
        "customer_names": [pair.low.name, pair.high.name],
        "score": pair.score,
        "reasons": list(pair.reasons),
    }


def handle(command: Any, options: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from relance.dunning import cli
    from relance.quality.duplicates_services import duplicates_find

    entity = cli.entity(options)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("duplicates", total=None)
        outcome = duplicates_find(
            entity=entity, progress=lambda step: bar.update(task, description=f"duplicates: {step}")
        )
    pairs = outcome.pairs
    if options["min_score"] is not None:
        pairs = [pair for pair in pairs if pair.score >= options["min_score"]]
    if options["json"]:
        command.stdout.write(json.dumps([pair_row(pair) for pair in pairs], indent=2, ensure_ascii=False))
        return
    buffer = io.StringIO()
    console = Console(file=buffer, width=160, force_terminal=False, color_system=None)
    stats = outcome.stats
    console.print(
        f"{entity.name} · {len(pairs)} candidate pair(s) among {stats.customers:,} customers "
        f"({stats.compared:,} pairs compared; {stats.skipped_blocks:,} keys too common to pair on)"
    )
    if pairs:
        table = Table()
        for column in ("Score", "Customers", "Reasons"):
            table.add_column(column, no_wrap=column == "Score")
        for pair in pairs[: options["limit"]]:
            table.add_row(
                str(pair.score),
                f"{pair.low.ref} {pair.low.name}\n{pair.high.ref} {pair.high.name}",
                "\n".join(pair.reasons),
            )
        console.print(table)
        if len(pairs) > options["limit"]:
            console.print(f"… and {len(pairs) - options['limit']} more (--limit, --json).")
        console.print(
            "Review them at /w/quality/duplicates/ or merge: relance quality merge SURVIVOR_REF MERGED_REF"
        )
    command.stdout.write(buffer.getvalue())
