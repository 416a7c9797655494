"""``relance quality report [--json] [--check]``: the entity's data-quality score and problems."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

NAME = "report"
HELP = (
    "The data-quality report: the entity's score (completeness, validity, freshness), problems by "
    "kind, contact statuses, the open amount at customers no reminder can reach. `--check` first "
    "validates the contacts not checked yet and records the problems (what the monitoring does "
    "after an import); `--fix-list N` adds the N customers to fix first."
)


def add_arguments(parser: CommandParser) -> None:
    from relance.dunning import cli

    cli.add_entity(parser)
    parser.add_argument("--json", action="store_true", help="Print JSON")
    parser.add_argument(
        "--check", action="store_true", help="Validate new contacts and record the problems first"
    )
    parser.add_argument(
        "--fix-list", type=int, default=0, metavar="N", help="Also list the N customers to fix first"
    )
    parser.add_argument("--as-of", metavar="DATE", help="Day of the report (default: today)")


def handle(command: Any, options: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from relance.dunning import cli
    from relance.quality.report import customer_scores, fix_list, quality_check, quality_report

    entity = cli.entity(options)
    today = cli.parse_date(options["as_of"]) if options.get("as_of") else cli.business_day({}, entity)
    checked = None
    if options["check"]:
        columns = (TextColumn("checking contacts"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("check", total=None)
            checked = quality_check(
                entity=entity,
                trigger="command",
                today=today,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    # after a check, its scores (same day): not scored a second time
    scores = checked.scores if checked is not None else customer_scores(entity=entity, today=today)
    report = quality_report(entity=entity, today=today, scores=scores)
    rows = (
        fix_list(entity=entity, today=today, limit=options["fix_list"], scores=scores)
        if options["fix_list"]
        else []
    )
    if options["json"]:
        data = report.as_dict()
        if checked is not None:
            data["check"] = checked.as_dict()
        if options["fix_list"]:
            data["fix_list"] = [_fix_json(row) for row in rows]
        command.stdout.write(json.dumps(data, indent=2))
        return
    _print(command, report, checked, rows, entity)


def _fix_json(row: Any) -> dict[str, Any]:
    return {
        "customer_ref": row.external_ref,
        "name": row.name,
        "open_amount": str(row.open_amount),
        **row.score.as_dict(),
    }


def _print(command: Any, report: Any, checked: Any, rows: list[Any], entity: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from relance.core.formatting import format_money

    console = Console(file=command.stdout, width=120)
    if checked is not None:
        console.print(checked.summary())
    console.print(
        f"[bold]{report.entity}[/bold] data quality on {report.as_of}: [bold]{report.score}/100[/bold] "
        f"over {report.customers:,} customers (completeness {report.completeness:.0%}, validity "
        f"{report.validity:.0%}, freshness {report.freshness:.0%})"
    )
    console.print(
        f"{report.blocking_customers:,} customers no reminder can reach, "
        f"{format_money(report.blocking_open_amount, report.currency, entity.language)} open."
    )
    problems = Table(title="Problems", show_lines=False)
    problems.add_column("Problem")
    problems.add_column("Customers", justify="right")
    for item in report.as_dict()["problems"]:
        problems.add_row(item["label"], f"{item['customers']:,}")
    console.print(problems)
    statuses = Table(title="Contact addresses by status")
    statuses.add_column("Address")
    for status in ("unknown", "valid", "suspect", "invalid", "bounced", "returned"):
        statuses.add_column(status.capitalize(), justify="right")
    for part, counts in report.contact_statuses.items():
        statuses.add_row(
            part,
            *(
                f"{counts.get(s, 0):,}"
                for s in ("unknown", "valid", "suspect", "invalid", "bounced", "returned")
            ),
        )
    console.print(statuses)
    if rows:
        table = Table(title="Fix first (most open amount at stake)")
        for name, justify in (
            ("Customer", "left"),
            ("Open", "right"),
            ("Score", "right"),
            ("Problems", "left"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for row in rows:
            table.add_row(
                f"{row.name} ({row.external_ref})",
                format_money(row.open_amount, entity.currency, entity.language),
                str(row.score.score),
                "; ".join(p.label for p in row.score.problems if p.code not in ("never_confirmed", "stale")),
            )
        console.print(table)
