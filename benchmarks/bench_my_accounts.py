"""Benchmark "My accounts" (``relance.workspace.hold_selectors.my_accounts``) for one sales owner.

    .venv/bin/python benchmarks/bench_my_accounts.py --accounts 200 --invoices-per-account 10 \\
        [--other-accounts 5000] [--database-url postgres://relance:relance@127.0.0.1:5432/relance]

Data: one entity with the shipped policies (standard for every segment), a sales owner owning
``--accounts`` accounts and ``--other-accounts`` accounts owned by nobody, each with
``--invoices-per-account`` invoices (due dates spread from 80 days ago to 30 days ahead, a third
paid), a recorded step for half the invoices, and a hold on every tenth owned account. SQLite in
a temporary file by default; with ``--database-url`` a fresh PostgreSQL database
``relance_bench_my_accounts`` is created next to it and dropped afterwards.

The simple approach in the same run is what the customer 360 page does, once per owned account:
``customer_open_items`` + ``next_steps`` + ``hold_list_in_force`` (one open-items query per account
instead of one per entity). Both must give the same next step per account (checked).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_kpi import scratch_database  # noqa: E402


def setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def load(accounts: int, others: int, per_account: int, today: date) -> object:
    from relance.accounts.services import user_create
    from relance.cases.models import CustomerHold
    from relance.dunning.models import DunningAction, DunningRun, InvoiceStep
    from relance.dunning.services import policy_import, segment_policy_assign
    from relance.engine.dunning.defaults import default_policies
    from relance.engine.dunning.policy import policy_to_dict
    from relance.ledger.models import Allocation, Customer, Invoice, Payment
    from relance.ledger.services import entity_create_or_update

    entity, _ = entity_create_or_update(name="bench", currency="EUR", language="en", legal_name="Bench SA")
    for policy in default_policies().values():
        policy_import(entity=entity, spec=policy_to_dict(policy))
    segment_policy_assign(entity=entity, policy_key="standard")
    owner = user_create(email="sam@bench.test", role="sales", entity_names=["bench"], password="x" * 12)
    Customer.objects.bulk_create(
        Customer(
            entity=entity,
            external_ref=f"C{i:06d}",
            name=f"Account {i:06d}",
            currency="EUR",
            sales_owner=owner if i < accounts else None,
        )
        for i in range(accounts + others)
    )
    customers = list(Customer.objects.filter(entity=entity).order_by("pk"))
    invoices = []
    for n, customer in enumerate(customers):
        for k in range(per_account):
            due = today - timedelta(days=80 - (n * 7 + k * 11) % 110)
            invoices.append(
                Invoice(
                    entity=entity,
                    customer=customer,
                    external_ref=f"I{n:06d}-{k:03d}",
                    issue_date=due - timedelta(days=30),
                    due_date=due,
                    currency="EUR",
                    amount=Decimal("100.00") + k,
                )
            )
    Invoice.objects.bulk_create(invoices, batch_size=5000)
    invoices = list(Invoice.objects.filter(entity=entity).order_by("pk"))
    payments = [
        Payment(
            entity=entity,
            customer_id=invoice.customer_id,
            external_ref=f"P{invoice.pk}",
            date=today - timedelta(days=1),
            currency="EUR",
            amount=invoice.amount,
        )
        for invoice in invoices[::3]
    ]
    Payment.objects.bulk_create(payments, batch_size=5000)
    Allocation.objects.bulk_create(
        [
            Allocation(
                entity=entity, invoice=invoice, payment=payment, date=payment.date, amount=invoice.amount
            )
            for invoice, payment in zip(
                invoices[::3], Payment.objects.filter(entity=entity).order_by("pk"), strict=True
            )
        ],
        batch_size=5000,
    )
    now = datetime.now(UTC)
    run = DunningRun.objects.create(
        entity=entity, as_of=today - timedelta(days=1), started_at=now, finished_at=now
    )
    action = DunningAction.objects.create(
        run=run, entity=entity, customer=customers[0], on=run.as_of, kind="overdue", policy_key="standard",
        step_key="reminder_1", step_index=1, offset_days=1, action="message", currency="EUR",
        amount_due=Decimal(1), invoice_count=1, max_days_past_due=1, is_contact=True,
    )  # fmt: skip
    InvoiceStep.objects.bulk_create(
        [
            InvoiceStep(invoice=invoice, run=run, action=action, entity=entity, policy_key="standard",
                        step_key="reminder_1", step_index=1, reached_on=run.as_of)
            for invoice in invoices[1::2]
            if invoice.due_date < today
        ],
        batch_size=5000,
    )  # fmt: skip
    CustomerHold.objects.bulk_create(
        CustomerHold(entity=entity, customer=customer, kind="hold", reason="bench", starts_on=today)
        for customer in customers[:accounts:10]
    )
    return owner


def simple(owner: object, today: date) -> list[tuple[int, date | None]]:
    """What the 360 page does, once per owned account."""
    from relance.cases.selectors import hold_list_in_force
    from relance.ledger.models import Customer
    from relance.ledger.selectors import customer_open_items
    from relance.workspace.selectors import next_steps

    rows = []
    for customer in Customer.objects.filter(sales_owner=owner).select_related("entity"):
        items = customer_open_items(customer=customer, as_of=today)
        if not items:
            continue
        steps = next_steps(customer=customer, open_items=items, today=today)
        list(hold_list_in_force(customer=customer, on=today))
        rows.append((customer.pk, steps[0].on if steps else None))
    return sorted(rows, key=lambda row: (row[1] or date.max, row[0]))


def measured(owner: object, today: date) -> list[tuple[int, date | None]]:
    from relance.workspace.hold_selectors import my_accounts

    result = my_accounts(user=owner, today=today, limit=1_000_000)
    return sorted(
        ((row.customer.pk, row.next_on) for row in result.rows), key=lambda row: (row[1] or date.max, row[0])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--accounts", type=int, default=200, help="accounts the sales owner owns (default 200)"
    )
    parser.add_argument("--other-accounts", type=int, default=2000, help="accounts of nobody (default 2000)")
    parser.add_argument(
        "--invoices-per-account", type=int, default=10, help="invoices per account (default 10)"
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="timed repetitions of each approach (default 5)"
    )
    parser.add_argument(
        "--database-url", default="", help="PostgreSQL server to use (default: SQLite in a temp file)"
    )
    args = parser.parse_args()

    cleanup = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        if args.database_url:
            url, drop = scratch_database(args.database_url, "relance_bench_my_accounts")

            cleanup.append(drop)
        try:
            setup(url)
            today = date.today()
            started = time.perf_counter()
            owner = load(args.accounts, args.other_accounts, args.invoices_per_account, today)
            loading = time.perf_counter() - started
            from django.db import connection

            backend = connection.vendor
            assert simple(owner, today) == measured(owner, today), "the two approaches disagree"
            timings: dict[str, list[float]] = {"simple (360 per account)": [], "my_accounts": []}
            for _ in range(args.repeat):
                for label, job in (("simple (360 per account)", simple), ("my_accounts", measured)):
                    started = time.perf_counter()
                    job(owner, today)
                    timings[label].append(time.perf_counter() - started)
            print(f"backend {backend}; {args.accounts} owned accounts + {args.other_accounts} others, "
                  f"{args.invoices_per_account} invoices each; loaded in {loading:.1f} s")  # fmt: skip
            print(f"{'approach':<28}{'median s':>10}{'min s':>10}{'ms/account':>12}")
            for label, values in timings.items():
                median = statistics.median(values)
                print(f"{label:<28}{median:>10.3f}{min(values):>10.3f}{median * 1000 / args.accounts:>12.2f}")
        finally:
            for job in cleanup:
                job()


if __name__ == "__main__":
    main()
