"""Benchmark the audit trail's cost and its search page.

* Saving rows one by one (``Customer.save()``) with the audit receivers recording each change,
  against the same saves with no actor in context (the receivers return at once) — the simple
  approach of no audit at all.
* Searching the trail as the audit page does (one entity, an actor, newest 50 first, and the
  count for the pager) over ``--events`` events, against the simple approach of reading every
  event and filtering in Python.

    .venv/bin/python benchmarks/bench_audit.py --saves 2000 --events 200000
    .venv/bin/python benchmarks/bench_audit.py --database-url postgres://relance:relance@127.0.0.1/relance_bench

A fresh SQLite file is used by default (deleted afterwards). With ``--database-url`` the database
must be empty or disposable: the benchmark migrates it and writes an ``bench`` entity.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--saves", type=int, default=2000, help="customer saves per variant (default 2000)")
    parser.add_argument("--events", type=int, default=200_000, help="audit events to search (default 200000)")
    parser.add_argument(
        "--database-url", default="", help="database to use (default: a temporary SQLite file)"
    )
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="relance-bench-audit-")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{tmp.name}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    rows = run(args)
    backend = "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite"
    print(f"\nAudit trail on {backend}: {args.saves} saves, {args.events} events\n")
    print(f"{'measure':<58} {'time':>10}")
    for label, seconds in rows:
        print(f"{label:<58} {seconds * 1000:>8.1f} ms")
    tmp.cleanup()


def run(args: argparse.Namespace) -> list[tuple[str, float]]:
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from relance.audit.context import audit_actor
    from relance.audit.models import AuditEvent
    from relance.audit.selectors import AuditFilters, audit_event_list
    from relance.ledger.models import Customer
    from relance.ledger.services import entity_create_or_update

    entity, _ = entity_create_or_update(name="bench", currency="EUR")
    other, _ = entity_create_or_update(name="bench-other", currency="EUR")
    customers = Customer.objects.bulk_create(
        Customer(entity=entity, external_ref=f"C{n}", name=f"Customer {n}", currency="EUR")
        for n in range(args.saves)
    )
    rows: list[tuple[str, float]] = []

    def saves(label: str, recorded: bool) -> None:
        started = time.perf_counter()
        with transaction.atomic():
            for n, customer in enumerate(customers):
                customer.name = f"{label} {n}"
                if recorded:
                    with audit_actor(label="bench"):
                        customer.save()
                else:
                    customer.save()
        rows.append((f"{args.saves} saves, {label}", time.perf_counter() - started))

    saves("no audit (no actor)", recorded=False)
    saves("audited (before/after diff, one event each)", recorded=True)
    assert AuditEvent.objects.count() == args.saves

    now = timezone.now()
    batch = 10_000
    for start in range(0, args.events, batch):
        AuditEvent.objects.bulk_create(
            AuditEvent(
                at=now - timedelta(seconds=n),
                actor_label=f"user{n % 50}",
                action="update",
                object_type="ledger.customer",
                object_id=str(n),
                entity_id=(entity if n % 2 else other).pk,
                after={"name": f"x{n}"},
            )
            for n in range(start, min(start + batch, args.events))
        )
    filters = AuditFilters(actor="user7", entity="bench")
    started = time.perf_counter()
    events = audit_event_list(filters=filters)
    page = list(events[:50])
    total = events.count()
    rows.append((f"audit page query: newest 50 of {total} + count", time.perf_counter() - started))
    started = time.perf_counter()
    matching = [
        event
        for event in AuditEvent.objects.select_related("entity")
        .order_by("-at", "-id")
        .iterator(chunk_size=5000)
        if "user7" in event.actor_label and event.entity is not None and event.entity.name == "bench"
    ]
    rows.append(
        (f"simple: read all, filter in Python ({len(matching)} match)", time.perf_counter() - started)
    )
    assert [event.pk for event in page] == [event.pk for event in matching[:50]]
    return rows


if __name__ == "__main__":
    main()
