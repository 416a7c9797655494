"""Benchmark the full dunning run (decide + apply) in the app database, against a per-customer ORM loop.

    .venv/bin/python benchmarks/bench_run.py --invoices 100000 --backend sqlite
    .venv/bin/python benchmarks/bench_run.py --invoices 1000000 --backend postgres \\
        --database-url postgres://relance:relance@127.0.0.1:5432/relance --loop-invoices 100000

Data: the synthetic generator's ledger (as ``bench_kpi.py``), bulk-loaded into a fresh app
database (a SQLite file, or a fresh PostgreSQL database created next to ``--database-url``),
one billing contact per customer (e-mail and postal address), the shipped policies with
``standard`` as the default. Timed: ``run_start`` for the as-of date (lock, settle plans,
bind, ``decide`` on the engine, apply every row in one transaction), then the same date again
(must add nothing), then the next day.

The simple approach is the way Odoo/OCA credit control and Odoo follow-ups work: a loop over
customers, each with its own queries (open invoices with their open amount, holds, disputes,
the last contact and each invoice's reached step), the policy's step due computed in Python
(no promises, plans, channels or grouping rules: it does less than the engine), one action
row and its invoice steps per customer. It runs in a transaction that is rolled back, over
the first customers until they hold ``--loop-invoices`` invoices; its time per invoice is
compared with the full run's (decide + apply) time per invoice.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow.parquet as pq
from bench_kpi import END, cpu_seconds, generate, load_app_database, scratch_database, setup_django, timed


def add_contacts_and_policies(entity_id: int) -> int:
    from django.core.management import call_command
    from django.db import connection, transaction

    from relance.ledger.models import Contact, Customer

    with transaction.atomic():
        ids = list(Customer.objects.filter(entity_id=entity_id).values_list("id", flat=True))
        Contact.objects.bulk_create(
            (Contact(customer_id=pk, email=f"ap{pk}@example.com", postal_address="1 rue X") for pk in ids),
            batch_size=5000,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    call_command(
        "policy", "import", "--defaults", "--entity", "bench", verbosity=0, stdout=open(os.devnull, "w")
    )
    call_command(
        "policy", "assign", "standard", "--default", "--entity", "bench", stdout=open(os.devnull, "w")
    )
    return len(ids)


def invoice_counts(entity_id: int) -> dict[int, int]:
    """Invoices per customer (bookkeeping for the loop's budget, not timed)."""
    from django.db.models import Count

    from relance.ledger.models import Invoice

    rows = Invoice.objects.filter(entity_id=entity_id).values("customer_id").annotate(count=Count("id"))
    return {row["customer_id"]: row["count"] for row in rows}


def orm_loop(
    entity_id: int, as_of: date, invoice_budget: int, counts: dict[int, int]
) -> tuple[int, int, int, int]:
    """The per-customer loop (rolled back) over customers holding ``invoice_budget`` invoices.

    Returns (customers, invoices of those customers, open invoices, actions).
    """
    from django.db import transaction
    from django.db.models import Q

    from relance.cases.models import CustomerHold, Dispute
    from relance.dunning.models import DunningAction, DunningRun, InvoiceStep, Policy
    from relance.ledger.models import Customer, Entity
    from relance.ledger.selectors import invoice_list_with_open

    entity = Entity.objects.get(pk=entity_id)
    steps = Policy.objects.get(entity=entity, key="standard").spec["steps"]
    customers = invoices_seen = invoices_total = actions = 0
    with transaction.atomic():
        now = datetime.now(UTC)
        run = DunningRun.objects.create(entity=entity, as_of=as_of, started_at=now, finished_at=now)
        for customer in Customer.objects.filter(entity=entity).order_by("id").iterator():
            if invoices_total >= invoice_budget:
                break
            customers += 1
            invoices_total += counts.get(customer.pk, 0)
            open_invoices = list(
                invoice_list_with_open(entity=entity, as_of=as_of).filter(
                    customer=customer, open_amount__gt=0
                )
            )
            invoices_seen += len(open_invoices)
            if not open_invoices:
                continue
            held = (
                CustomerHold.objects.filter(customer=customer, starts_on__lte=as_of)
                .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=as_of))
                .exists()
            )
            if held:
                continue
            disputed = set(
                Dispute.objects.filter(customer=customer, status="open").values_list("invoice_id", flat=True)
            )
            last_contact = (
                DunningAction.objects.filter(customer=customer, is_contact=True).order_by("-on").first()
            )
            if last_contact is not None and (as_of - last_contact.on).days < 15:
                continue
            best = None
            covered = []
            for invoice in open_invoices:
                if invoice.pk in disputed:
                    continue
                days = (as_of - invoice.due_date).days
                due = [index for index, step in enumerate(steps) if step["offset_days"] <= days]
                reached = InvoiceStep.objects.filter(invoice=invoice).order_by("-step_index").first()
                if due and (reached is None or due[-1] > reached.step_index):
                    covered.append(invoice)
                    best = max(best or 0, due[-1])
            if best is None:
                continue
            step = steps[best]
            action = DunningAction.objects.create(
                run=run,
                entity=entity,
                customer=customer,
                on=as_of,
                kind="overdue" if step["offset_days"] >= 0 else "upcoming",
                policy_key="standard",
                step_key=step["key"],
                step_index=best,
                offset_days=step["offset_days"],
                action=step["action"],
                channel=(step.get("channels") or [""])[0],
                is_contact=step["action"] in ("message", "task"),
                currency=customer.currency,
                amount_due=sum((invoice.open_amount for invoice in covered), Decimal(0)),
                invoice_count=len(covered),
                max_days_past_due=max((as_of - invoice.due_date).days for invoice in covered),
            )
            action.invoices.set(covered)
            for invoice in covered:
                InvoiceStep.objects.create(
                    invoice=invoice,
                    run=run,
                    action=action,
                    entity=entity,
                    policy_key="standard",
                    step_key=step["key"],
                    step_index=best,
                    reached_on=as_of,
                )
            actions += 1
        transaction.set_rollback(True)
    return customers, invoices_total, invoices_seen, actions


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--invoices", type=int, default=100_000, help="invoices to generate (default 100,000)"
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--database-url", default=os.environ.get("RELANCE_TEST_POSTGRES_URL", ""),
                        help="PostgreSQL server for --backend postgres (a fresh database is created on it)")  # fmt: skip
    parser.add_argument("--as-of", type=date.fromisoformat, default=END, help=f"run date (default {END})")
    parser.add_argument("--loop-invoices", type=int, default=100_000,
                        help="open invoices the ORM loop covers (default 100,000; 0 skips it)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="relance-bench-run-"))
    parquet = work / "ledger"
    lines: list[tuple[str, str, str]] = []
    cleanup: list[Callable[[], None]] = []
    try:
        seconds, counts = timed(lambda: generate(args.invoices, parquet))
        lines.append(("generate Parquet (synthetic)", f"{seconds:.2f}", f"invoices {counts['invoices']:,}"))
        if args.backend == "sqlite":
            url = f"sqlite:///{work / 'app.sqlite3'}"
        else:
            if not args.database_url:
                parser.error("--backend postgres needs --database-url (or RELANCE_TEST_POSTGRES_URL)")
            url, drop = scratch_database(args.database_url, "relance_bench_run")
            if not args.keep:
                cleanup.append(drop)
        seconds, _ = timed(lambda: setup_django(url))
        seconds_load, loaded = timed(lambda: load_app_database(parquet))
        entity_id = loaded["entity_id"]
        seconds_contacts, customers = timed(lambda: add_contacts_and_policies(entity_id))
        lines.append((f"load into the app database ({args.backend})", f"{seconds + seconds_load + seconds_contacts:.2f}",
                      f"migrate + bulk insert; {customers:,} customers with a contact; shipped policies"))  # fmt: skip

        from relance.dunning.models import DunningAction, InvoiceStep, Suppression
        from relance.dunning.services import run_start
        from relance.ledger.models import Entity

        entity = Entity.objects.get(pk=entity_id)
        invoices = pq.ParquetFile(parquet / "invoices.parquet").metadata.num_rows
        engine_seconds = None
        for label, day in (
            ("run (decide + apply)", args.as_of),
            ("same date again (adds nothing)", args.as_of),
            ("next day", args.as_of + timedelta(days=1)),
            ("day after", args.as_of + timedelta(days=2)),
        ):
            before = DunningAction.objects.count()
            suppression_rows = Suppression.objects.count()
            cpu = cpu_seconds()
            started = time.perf_counter()
            outcome = run_start(entity=entity, as_of=day, started_by="bench")
            seconds = time.perf_counter() - started
            cpu = cpu_seconds() - cpu
            added = DunningAction.objects.count() - before
            engine_seconds = engine_seconds or seconds
            # Suppressions are summarised: a row identical to the previous run's is extended,
            # not written again ("suppressed" = what one row per suppression would write).
            suppression_added = Suppression.objects.count() - suppression_rows
            lines.append((f"{label} {day}", f"{seconds:.2f}",
                          f"{invoices:,} invoices; {added:,} actions added; "
                          f"{sum(outcome.counts.get('suppressed', {}).values()):,} suppressed, "
                          f"{suppression_added:,} suppression rows written; CPU {cpu:.2f} s"))  # fmt: skip
        lines.append(("  recorded", "", f"{DunningAction.objects.count():,} actions, {InvoiceStep.objects.count():,} "
                      f"invoice steps, {Suppression.objects.count():,} suppressions"))  # fmt: skip
        if args.loop_invoices:
            counts_by_customer = invoice_counts(entity_id)
            seconds, (loop_customers, loop_invoices, loop_open, loop_actions) = timed(
                lambda: orm_loop(
                    entity_id, args.as_of + timedelta(days=3), args.loop_invoices, counts_by_customer
                )
            )
            per_invoice = seconds / max(loop_invoices, 1)
            engine_per_invoice = (engine_seconds or 0) / invoices
            ratio = per_invoice / engine_per_invoice if engine_per_invoice else float("nan")
            lines.append(("simple: per-customer ORM loop", f"{seconds:.2f}",
                          f"{loop_customers:,} customers, {loop_invoices:,} invoices ({loop_open:,} open), "
                          f"{loop_actions:,} actions; {per_invoice * 1e6:.0f} µs/invoice vs the run's "
                          f"{engine_per_invoice * 1e6:.1f} µs/invoice: ×{ratio:.0f}"))  # fmt: skip
    finally:
        for job in cleanup:
            job()
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    width = max(len(line[0]) for line in lines)
    print(f"\nbench_run: {args.invoices:,} invoices, backend {args.backend}, as of {args.as_of}")
    print(f"{'step':<{width}}  {'seconds':>8}  notes")
    for step, seconds_text, notes in lines:
        print(f"{step:<{width}}  {seconds_text:>8}  {notes}")


if __name__ == "__main__":
    main()
