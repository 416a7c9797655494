"""``relance kpi snapshot``: fill the dashboard's KPI snapshots for the current ledger versions.

Run it after each import (the nightly one included): an import bumps the ledger version, which
makes the snapshots of every date on or after the earliest date it touched stale (earlier
month-ends stay valid and are re-keyed, no engine run); the dashboard then shows the stale
numbers, marked, until this command has run. It also prunes the change records
(``DataChange``) no snapshot can use any more. ``relance run`` does not change the ledger (it writes cases and
messages), so it needs no refresh of its own.
"""

from __future__ import annotations

import io
import json
import sys
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from relance.core.calendar import parse_iso_date
from relance.core.errors import RelanceError
from relance.ledger.models import Entity
from relance.ledger.selectors import currencies_in_use, entity_list
from relance.reports.selectors import (
    kpi_report_cached,
    kpi_snapshot_missing,
    kpi_snapshots_grouped,
    kpi_snapshots_grouped_missing,
    snapshot_key,
    trend_dates,
)
from relance.reports.services import kpi_data_changes_prune

ERROR_MONTHS = "--months must be at least 1, not {found}"
ERROR_GROUP = "snapshot fills groups by segment or collector, not {found}"
ERROR_NO_ENTITY = "no entity named {name!r}"
ERROR_OPTION = "snapshot stores what the dashboard shows: --{option} does not apply"


@dataclass(frozen=True)
class SnapshotJob:
    entity: Entity
    currency: str
    as_of: date
    head: bool  # the trend's last point: the dashboard also wants its top overdue accounts


@dataclass(frozen=True)
class SnapshotDone:
    entity: str
    currency: str
    as_of: date
    ledger_version: int
    computed: bool
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "currency": self.currency,
            "as_of": self.as_of.isoformat(),
            "ledger_version": self.ledger_version,
            "computed": self.computed,
            "seconds": round(self.seconds, 3),
        }


def snapshot_jobs(
    *, entities: list[Entity], as_of: date, months: int, currency: str | None = None
) -> list[SnapshotJob]:
    """Every entity × currency in use (or just ``currency``) × the trend's dates, oldest first."""
    jobs = []
    for entity in entities:
        currencies = (
            {currency.upper()}
            if currency
            else currencies_in_use(entity=entity, as_of=as_of) | {entity.currency.upper()}
        )
        for code in sorted(currencies):
            for day in trend_dates(as_of, months):
                jobs.append(SnapshotJob(entity, code, day, head=day == as_of))
    return jobs


def _entities(name: str | None) -> list[Entity]:
    entities = list(entity_list())
    if name is None:
        return entities
    chosen = [entity for entity in entities if entity.name == name]
    if not chosen:
        raise CommandError(ERROR_NO_ENTITY.format(name=name))
    return chosen


def snapshot_command(command: BaseCommand, options: dict[str, Any]) -> None:
    """The ``snapshot`` action of ``relance kpi``: thin, the work is ``kpi_report_cached``."""
    try:
        as_of = parse_iso_date(options["as_of"]) if options["as_of"] else timezone.localdate()
    except RelanceError as exc:
        raise CommandError(exc.message) from None
    for option, name in (("backend", "backend"), ("period_start", "from"), ("aging", "aging")):
        if options.get(option):
            raise CommandError(ERROR_OPTION.format(option=name))
    if options["months"] < 1:
        raise CommandError(ERROR_MONTHS.format(found=options["months"]))
    group_by = options.get("by")
    if group_by not in (None, "segment", "collector"):
        raise CommandError(ERROR_GROUP.format(found=group_by))
    jobs = snapshot_jobs(
        entities=_entities(options["entity"]),
        as_of=as_of,
        months=options["months"],
        currency=options["currency"],
    )
    show = sys.stderr.isatty() and not options["quiet"] and not options["json"]
    done: list[SnapshotDone] = []
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not show,
    ) as progress:
        task = progress.add_task("KPI snapshots", total=len(jobs))
        for job in jobs:
            progress.update(task, description=f"{job.entity.name} {job.currency} {job.as_of}")
            key = snapshot_key()
            missing = kpi_snapshot_missing(entity=job.entity, currency=job.currency, as_of=job.as_of, key=key)
            one_started = time.perf_counter()
            snapshot = kpi_report_cached(
                entity=job.entity, as_of=job.as_of, currency=job.currency, with_top_overdue=job.head
            )
            if group_by is not None and kpi_snapshots_grouped_missing(
                entity=job.entity, currency=job.currency, as_of=job.as_of, group_by=group_by
            ):
                kpi_snapshots_grouped(
                    entity=job.entity,
                    as_of=job.as_of,
                    group_by=group_by,
                    currency=job.currency,
                    with_top_overdue=job.head,
                )
            done.append(
                SnapshotDone(
                    job.entity.name,
                    job.currency,
                    job.as_of,
                    snapshot.ledger_version,
                    missing,
                    time.perf_counter() - one_started,
                )
            )
            progress.advance(task)
    pruned = sum(
        kpi_data_changes_prune(entity=entity)
        for entity in {job.entity.pk: job.entity for job in jobs}.values()
    )
    total = time.perf_counter() - started
    if options["json"]:
        result = {
            "as_of": as_of.isoformat(),
            "seconds": round(total, 3),
            "snapshots": [d.to_json() for d in done],
            "data_changes_pruned": pruned,
        }
        command.stdout.write(json.dumps(result, indent=2))
        return
    if options["quiet"]:
        return
    table = Table(title=f"KPI snapshots as of {as_of}", title_justify="left")
    for column in ("Entity", "Currency", "Date", "Version", "", "Seconds"):
        table.add_column(column, justify="right" if column in {"Version", "Seconds"} else "left")
    for item in done:
        table.add_row(
            item.entity,
            item.currency,
            str(item.as_of),
            str(item.ledger_version),
            "computed" if item.computed else "up to date",
            f"{item.seconds:.2f}",
        )
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, force_terminal=False, color_system=None)
    console.print(table)
    computed = sum(1 for item in done if item.computed)
    console.print(f"{computed} computed, {len(done) - computed} already up to date, in {total:.1f} s.")
    command.stdout.write(buffer.getvalue(), ending="")
