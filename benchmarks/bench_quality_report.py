"""Benchmark the data-quality check after an import (``relance.quality.report.quality_check``).

    .venv/bin/python benchmarks/bench_quality_report.py --customers 100000 [--simple-sample 2000] \\
        [--database-url postgres://relance:relance@127.0.0.1:5432/relance]

Data: one entity, ``--customers`` customers just imported (one billing contact each, with an
e-mail, a phone and a postal address, none checked yet; one in 20 with a bad or doubtful address)
and two open invoices each. SQLite in a temporary file by default; with ``--database-url`` a fresh
PostgreSQL database ``relance_bench_quality`` is created next to it and dropped afterwards.

Measured (wall and CPU seconds): first the simple check (``contacts_validate`` contact by contact,
then ``customer_scores`` reading the contacts again, then the report scoring again) in a
transaction rolled back, then the monitoring step as an import of 100k rows runs it (every
contact read once and checked offline in bulk, every customer scored from those rows, the
problems stored), the report and the fix list reusing the check's scores, then a second check
with nothing new (only scoring and the comparison). The issue's target: the report after an
import of 100k rows in 10 s or less.

The simple approach in the same run: the per-customer reads (``customer_quality`` + one
open-amount query per customer, what a page per customer does) over ``--simple-sample``
customers, extrapolated to all. Both must give the same score for the sampled customers (checked).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_kpi import scratch_database  # noqa: E402

BAD = (
    ("email", "noreply@dupont-{i}.fr"),
    ("email", "compta@yopmail.com"),
    ("phone", "+3361234"),
    ("postal_address", "{i} rue Basse\nParis"),
)


def setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def load(customers: int, today: date) -> object:
    from decimal import Decimal

    from relance.ledger.models import Contact, Customer, Invoice
    from relance.ledger.services import entity_create_or_update

    entity, _ = entity_create_or_update(name="bench", currency="EUR", language="en", legal_name="Bench SA")
    Customer.objects.bulk_create(
        (
            Customer(
                entity=entity,
                external_ref=f"C{i:07d}",
                name=f"Account {i:07d}",
                currency="EUR",
                country="FR",
                tax_id="FR40303265045" if i % 3 else "",
            )
            for i in range(customers)
        ),
        batch_size=5000,
    )
    ids = list(Customer.objects.filter(entity=entity).order_by("pk").values_list("pk", flat=True))
    contacts = []
    invoices = []
    for n, pk in enumerate(ids):
        fields = {
            "email": f"ap@client-{n}.fr",
            "phone": f"+336{12000000 + n % 8000000:08d}",
            "postal_address": f"{n % 200 + 1} rue de la Paix\n75002 Paris",
        }
        if n % 20 == 0:
            field, value = BAD[(n // 20) % len(BAD)]
            fields[field] = value.format(i=n)
        contacts.append(Contact(customer_id=pk, name="AP", role="billing", **fields))
        for k in range(2):
            invoices.append(
                Invoice(
                    entity=entity,
                    customer_id=pk,
                    external_ref=f"F{n:07d}-{k}",
                    issue_date=today - timedelta(days=60 + k),
                    due_date=today - timedelta(days=30 - 40 * k),
                    currency="EUR",
                    amount=Decimal(100 + (n * 37 + k) % 5000),
                )
            )
    Contact.objects.bulk_create(contacts, batch_size=5000)
    Invoice.objects.bulk_create(invoices, batch_size=5000)
    return entity


class _RolledBack(Exception):
    pass


def simple_check(entity: object, today: date) -> object:
    """The simple approach, rolled back afterwards: each contact validated as a model row, the
    contacts read again to score, and the report scoring every customer once more."""
    from django.db import transaction

    from relance.quality.contacts_services import contacts_validate
    from relance.quality.report import customer_scores, quality_report

    result: list[object] = []
    try:
        with transaction.atomic():
            contacts_validate(entity=entity, only_unchecked=True)  # type: ignore[arg-type]
            customer_scores(entity=entity, today=today)  # type: ignore[arg-type]
            result.append(quality_report(entity=entity, today=today))  # type: ignore[arg-type]
            raise _RolledBack
    except _RolledBack:
        pass
    return result[0]


def timed(what: str, action):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{what:<58} {wall:8.2f} s wall {cpu:8.2f} s CPU")
    return result, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--simple-sample", type=int, default=2000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    drop = None
    if args.database_url:
        url, drop = scratch_database(args.database_url, "relance_bench_quality")
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    setup(url)
    try:
        run(args)
    finally:
        if drop is not None:
            drop()


def run(args: argparse.Namespace) -> None:
    from relance.ledger.models import Customer
    from relance.quality.report import customer_quality, fix_list, open_amounts, quality_check, quality_report

    today = date.today()
    print(f"{args.customers:,} customers, {args.customers:,} contacts, {2 * args.customers:,} invoices")
    entity, _ = timed("load", lambda: load(args.customers, today))
    simple_report, simple_check_wall = timed(
        "simple: validate each contact, score, report scores again", lambda: simple_check(entity, today)
    )
    outcome, after_import = timed(
        "check after the import (validate + score + store)",
        lambda: quality_check(entity=entity, trigger="bench", today=today),
    )
    print(f"  {outcome.summary()} contacts checked: {outcome.check.contacts_checked:,}")
    report, report_wall = timed(
        "quality_report (the check's scores)",
        lambda: quality_report(entity=entity, today=today, scores=outcome.scores),
    )
    rows, _ = timed(
        "fix list (every customer with a problem, ranked)",
        lambda: fix_list(entity=entity, today=today, limit=None, scores=outcome.scores),
    )
    again, _ = timed(
        "check again, nothing new (score + compare)",
        lambda: quality_check(entity=entity, trigger="bench", today=today),
    )
    if simple_report.as_dict() | {"last_check": None} != report.as_dict() | {"last_check": None}:
        print("MISMATCH: the simple check's report differs from the check's")
        sys.exit(1)
    print(
        f"  score {report.score}/100, {len(rows):,} customers to fix, new problems on re-check: {again.check.new_problems}"
    )

    sample = list(Customer.objects.filter(entity=entity).order_by("pk")[: args.simple_sample])

    def simple() -> dict[int, int]:
        scores = {}
        for customer in sample:
            scores[customer.pk] = customer_quality(customer=customer, today=today).score
            open_amounts(entity, today, [customer.pk])
        return scores

    simple_scores, simple_wall = timed(f"simple: per customer, {len(sample):,} customers", simple)
    extrapolated = simple_wall * args.customers / max(len(sample), 1)
    print(f"  simple approach extrapolated to {args.customers:,} customers: {extrapolated:.1f} s")
    from relance.quality.report import customer_scores

    bulk = customer_scores(entity=entity, today=today, customer_ids=[c.pk for c in sample])
    mismatch = [pk for pk, score in simple_scores.items() if bulk[pk].score != score]
    total = after_import + report_wall
    print(
        f"report after the import (check + report): {total:.2f} s (target 10 s); simple: {simple_check_wall:.2f} s"
    )
    if mismatch or again.check.new_problems:
        print(f"MISMATCH: {len(mismatch)} scores differ, {again.check.new_problems} problems new on re-check")
        sys.exit(1)


if __name__ == "__main__":
    main()
