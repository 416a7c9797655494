"""Benchmark the ERP's order release check, ``GET /api/v1/credit/check``, under concurrent clients.

The demo ledger (``relance demo``'s generator: 500 customers, two years, ~12,000 invoices by
default) is loaded with what credit reads beside it: orders in every status (about four per
customer), daily exchange rates for the foreign currencies, a limit for most customers, parents
sharing their limit with children, a few credit holds, expired limits and prepayment flags, and a
stored score per customer. Gunicorn serves the production settings on loopback; C concurrent
clients (default 50) each ask for the check of a random customer with a random amount, with a
Bearer token (a collector's: the ERP's user).

Measured against the simplest API route in the same run and the same load: ``GET
/api/v1/customers/{ref}`` (token check, entity scope, one row: the floor any API call pays).
Loads: ``--think S`` (each client waits 0.5–1.5 × S between requests; default 1 s), ``--think 0``
(back to back), and ``--wrk`` (back to back with wrk, far lighter than the Python clients).

In process, for every customer: the check's exposure against the simple approach (every open
invoice read with its open amount, every order, the whole rate table, added up in Python): they
must agree (``MISMATCH`` and exit 1 otherwise), and the median time of each.

    .venv/bin/python benchmarks/bench_credit_check.py --database-url postgres://relance:relance@127.0.0.1:5432/relance_bench_credit
    .venv/bin/python benchmarks/bench_credit_check.py --customers 500 --clients 50 --requests 2000 --think 1 --wrk --database-url …

The database must be empty or disposable (it is migrated; a ``bench-credit`` entity is replaced).
Without ``--database-url`` a temporary SQLite file is used (not what the target is about).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from http_load import load, start_server, wait_until_up, workers_cpu_seconds, wrk_load  # noqa: E402

ENTITY = "bench-credit"
TARGET_P95_MS = 20.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--customers", type=int, default=500, help="customers of the demo ledger (default 500)"
    )
    parser.add_argument("--years", type=int, default=2, help="years of history (default 2)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument(
        "--requests", type=int, default=2000, help="requests per route and load (default 2000)"
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (default 1)")
    parser.add_argument("--port", type=int, default=8766, help="loopback port for gunicorn (default 8766)")
    parser.add_argument("--database-url", default="", help="database (default: a temporary SQLite file)")
    parser.add_argument(
        "--think", type=float, default=1.0, help="seconds each client waits between requests, ±50%% (0: none)"
    )
    parser.add_argument("--wrk", action="store_true", help="also load back to back with wrk for --duration s")
    parser.add_argument("--duration", type=int, default=20, help="seconds of each wrk run (default 20)")
    parser.add_argument("--sample", type=int, default=0, help="customers compared in process (0: all)")
    parser.add_argument(
        "--cpu-rounds", type=int, default=2, help="rounds of the in-process CPU comparison (default 2)"
    )
    parser.add_argument(
        "--no-server", action="store_true", help="the in-process measures only (no gunicorn, no load)"
    )
    args = parser.parse_args()
    if args.wrk and shutil.which("wrk") is None:
        parser.error("--wrk needs wrk on the PATH (Debian/Ubuntu: apt install wrk)")

    tmp = tempfile.TemporaryDirectory(prefix="relance-bench-credit-")
    database_url = args.database_url or f"sqlite:///{tmp.name}/bench.sqlite3"
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="bench-" + "x" * 60,
        SECURE_SSL_REDIRECT="false",
        RELANCE_CACHE_LOCATION=f"{tmp.name}/cache",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    refs, secret, facts = build(args)
    load_seconds = time.perf_counter() - started
    mismatches, in_process = compare_in_process(refs, args.sample)
    fixed_cpu = cpu_per_request(refs, secret, rounds=args.cpu_rounds)
    if args.no_server:
        print_in_process(in_process, mismatches)
        print_cpu(fixed_cpu)
        tmp.cleanup()
        sys.exit(1 if mismatches else 0)

    base = f"http://127.0.0.1:{args.port}"
    headers = {"Authorization": f"Bearer {secret}"}
    rng = random.Random(7)
    check_paths = [
        f"/api/v1/credit/check?entity={ENTITY}&customer_ref={ref}&amount={rng.randint(1, 40_000)}.00"
        for ref in refs
    ]
    floor_paths = [f"/api/v1/customers/{ref}?entity={ENTITY}" for ref in refs]
    routes = (("credit check", check_paths), ("floor: GET /customers/{ref}", floor_paths))
    results: dict[str, dict[str, Any]] = {}
    server = start_server(port=args.port, workers=args.workers, threads=args.threads, env=dict(os.environ))
    try:
        wait_until_up(base + floor_paths[0], headers, seconds=300)
        for name, paths in routes:
            urls = [base + path for path in paths]
            asyncio.run(
                load(
                    urls,
                    headers=headers,
                    clients=args.clients,
                    total=min(300, args.requests),
                    think=0,
                    seed=11,
                )
            )  # warm
            cpu_before = workers_cpu_seconds(server.pid)
            row = asyncio.run(
                load(
                    urls,
                    headers=headers,
                    clients=args.clients,
                    total=args.requests,
                    think=args.think,
                    seed=11,
                )
            )
            row["cpu_ms"] = (workers_cpu_seconds(server.pid) - cpu_before) * 1000 / max(1, row["requests"])
            results[f"{name}, {args.clients} clients, think {args.think:g} s"] = row
            if args.wrk:
                cpu_before = workers_cpu_seconds(server.pid)
                row = wrk_load(urls, clients=args.clients, seconds=args.duration, headers=headers)
                row["cpu_ms"] = (
                    (workers_cpu_seconds(server.pid) - cpu_before) * 1000 / max(1, row["requests"])
                )
                results[f"{name}, wrk {args.clients} back to back"] = row
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    print_table(args, database_url, facts, load_seconds, results, in_process, mismatches)
    print_cpu(fixed_cpu)
    tmp.cleanup()
    if mismatches:
        sys.exit(1)


# --------------------------------------------------------------------------- the ledger


def build(args: argparse.Namespace) -> tuple[list[str], str, dict[str, int]]:
    """The demo ledger with orders, rates, limits, groups, holds and scores; a collector's token."""
    from django.db import transaction
    from django.utils import timezone

    from relance.accounts import roles
    from relance.accounts.services import user_create
    from relance.api.services import api_token_create
    from relance.cases.models import CreditHold
    from relance.credit.models import CreditProfile, CreditScore
    from relance.demo.loader import ledger_load
    from relance.ledger.models import Customer, Entity, ExchangeRate, Order, OrderStatus
    from relance.synthetic.generator import GeneratorConfig, generate_ledger

    today = timezone.localdate()
    drop_entity()
    entity = Entity.objects.create(name=ENTITY, legal_name="Bench Credit SAS", currency="EUR")
    config = GeneratorConfig(
        seed=42,
        customers=args.customers,
        invoices=args.customers * 24 * args.years // 2,
        years=args.years,
        end=today,
    )
    ledger_load(ledger=generate_ledger(config), entity=entity)
    rng = random.Random(15)
    customers = list(Customer.objects.filter(entity=entity).order_by("pk"))
    with transaction.atomic():
        currencies = sorted(({c.currency for c in customers} | {"USD", "GBP", "CHF"}) - {"EUR"})
        rates = []
        for offset in range(365 * args.years):
            day = today - timedelta(days=offset)
            for number, currency in enumerate(currencies):
                rates.append(
                    ExchangeRate(
                        entity=entity,
                        rate_date=day,
                        base_currency="EUR",
                        quote_currency=currency,
                        rate=Decimal("0.8") + Decimal(number) / 4 + Decimal(rng.randint(0, 999)) / 10_000,
                    )
                )
        ExchangeRate.objects.bulk_create(rates, batch_size=5000)
        orders, profiles, holds, scores = [], [], [], []
        statuses = [OrderStatus.OPEN, OrderStatus.DELIVERED, OrderStatus.INVOICED, OrderStatus.CANCELLED]
        for number, customer in enumerate(customers):
            customer.credit_limit = (
                None if number % 10 == 9 else Decimal(rng.choice([5, 10, 25, 50, 100]) * 1000)
            )
            if number % 20 == 1 and number > 1:  # every twentieth shares its neighbour's limit
                customer.parent = customers[number - 1]
            for order_number in range(rng.randint(0, 8)):
                orders.append(
                    Order(
                        entity=entity,
                        customer=customer,
                        external_ref=f"ORD-{customer.pk}-{order_number}",
                        order_date=today - timedelta(days=rng.randint(0, 60)),
                        currency=customer.currency if order_number % 5 else rng.choice(["EUR", "USD"]),
                        amount=Decimal(rng.randint(100, 20_000)),
                        status=rng.choice(statuses),
                    )
                )
            if number % 7 == 0:
                profiles.append(
                    CreditProfile(
                        entity=entity,
                        customer=customer,
                        limit_expires_on=today + timedelta(days=rng.randint(-30, 300)),
                        requires_prepayment=number % 49 == 0,
                    )
                )
            if number % 25 == 3:
                holds.append(
                    CreditHold(entity=entity, customer=customer, placed_on=today, reason="bench hold")
                )
            scores.append(
                CreditScore(
                    entity=entity,
                    customer=customer,
                    as_of=today,
                    scorecard_key="standard",
                    scorecard_version=1,
                    score=rng.randint(0, 100),
                    risk_class=rng.choice("ABCDE"),
                )
            )
        Customer.objects.bulk_update(customers, ["credit_limit", "parent"], batch_size=2000)
        Order.objects.bulk_create(orders, batch_size=5000)
        CreditProfile.objects.bulk_create(profiles)
        CreditHold.objects.bulk_create(holds)
        CreditScore.objects.bulk_create(scores, batch_size=5000)
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    user = user_create(email="erp@bench.example", role=roles.COLLECTOR, entity_names=[ENTITY])
    _, secret = api_token_create(user=user, name="bench ERP")
    facts = {
        "customers": len(customers),
        "invoices": entity.invoices.count(),
        "orders": len(orders),
        "rates": len(rates),
        "holds": len(holds),
    }
    return [c.external_ref for c in customers], secret, facts


def drop_entity() -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from relance.ledger.models import Entity

    get_user_model().objects.filter(username__iexact="erp@bench.example").delete()
    old = Entity.objects.filter(name=ENTITY).first()
    if old is None:
        return
    # Raw deletes: the ledger's PROTECT foreign keys and the audit signals make an ORM cascade slow.
    with connection.cursor() as cursor:
        for table in (
            "credit_creditscore",
            "credit_creditprofile",
            "dunning_credithold",
            "ledger_allocation",
            "ledger_order",
            "ledger_exchangerate",
            "ledger_payment",
            "ledger_creditnote",
            "ledger_invoice",
        ):
            cursor.execute(f"DELETE FROM {table} WHERE entity_id = %s", [old.pk])  # noqa: S608 - our tables
        cursor.execute(
            "DELETE FROM ledger_contact WHERE customer_id IN (SELECT id FROM ledger_customer WHERE entity_id = %s)",
            [old.pk],
        )
    from relance.ledger.models import Customer

    Customer.objects.filter(entity=old).update(parent=None)
    Customer.objects.filter(entity=old).delete()
    old.delete()


# --------------------------------------------------------------------------- in process


def simple_exposure(customer: Any, on: date) -> tuple[Decimal, Decimal, tuple[str, ...]]:
    """The simple way: the group's open invoices one by one (correlated open amounts), every
    order, the whole rate table; summed in Python."""
    from relance.core.rates import MissingRate
    from relance.credit.selectors.exposure import limit_holder, order_statuses
    from relance.credit.selectors.settings import credit_settings_of
    from relance.ledger.models import Customer, Order
    from relance.ledger.selectors import STILL_OWED, invoice_list_with_open, rate_table

    holder = limit_holder(customer)
    group = [holder.pk]
    if holder.credit_limit and holder.credit_limit > 0:
        group += list(Customer.objects.filter(parent=holder).values_list("pk", flat=True))
    table = rate_table(entity=customer.entity, on=on)
    sums: dict[tuple[int, str, int], Decimal] = {}
    for invoice in invoice_list_with_open(entity=customer.entity, as_of=on).filter(customer_id__in=group):
        if invoice.open_amount > STILL_OWED:
            key = (invoice.customer_id, invoice.currency, 0)
            sums[key] = sums.get(key, Decimal(0)) + Decimal(invoice.open_amount).quantize(Decimal("0.0001"))
    statuses = order_statuses(credit_settings_of(customer))
    for order in Order.objects.filter(customer_id__in=group, status__in=statuses, order_date__lte=on):
        key = (order.customer_id, order.currency, 1)
        sums[key] = sums.get(key, Decimal(0)) + order.amount
    totals = [Decimal(0), Decimal(0)]
    missing = set()
    for (_, currency, kind), amount in sums.items():
        try:
            totals[kind] += table.convert(amount, currency, holder.currency, on)
        except MissingRate:
            missing.add(currency)
    return totals[0], totals[1], tuple(sorted(missing))


def compare_in_process(refs: list[str], sample: int) -> tuple[list[str], dict[str, float]]:
    from django.utils import timezone

    from relance.credit.selectors.check import credit_check
    from relance.credit.selectors.exposure import customer_for_exposure
    from relance.ledger.models import Entity

    entity = Entity.objects.get(name=ENTITY)
    today = timezone.localdate()
    chosen = refs if not sample else random.Random(3).sample(refs, min(sample, len(refs)))
    mismatches: list[str] = []
    ours_ms, simple_ms = [], []
    for ref in chosen:
        start = time.perf_counter()
        customer = customer_for_exposure(entity_id=entity.pk, external_ref=ref)
        assert customer is not None
        check = credit_check(customer=customer, amount=Decimal("100"), on=today)
        ours_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        simple = simple_exposure(customer, today)
        simple_ms.append((time.perf_counter() - start) * 1000)
        exposure = check.exposure
        missing = tuple(sorted(part.currency for part in exposure.parts if part.rate is None))
        if (exposure.open_receivables, exposure.open_orders, missing) != simple:
            mismatches.append(
                f"{ref}: check {exposure.open_receivables}, {exposure.open_orders}, {missing}; simple {simple}"
            )
    return mismatches, {
        "customers": float(len(chosen)),
        "check_ms": statistics.median(ours_ms),
        "check_p95_ms": sorted(ours_ms)[int(0.95 * (len(ours_ms) - 1))],
        "simple_ms": statistics.median(simple_ms),
        "simple_p95_ms": sorted(simple_ms)[int(0.95 * (len(simple_ms) - 1))],
    }


def cpu_per_request(refs: list[str], secret: str, *, rounds: int) -> dict[str, list[float]]:
    """CPU ms per request (this process: ``time.process_time``) through Django's test client (the
    whole request but HTTP): the check with its SQL compiled on every call (``fixed_sql.ENABLED =
    False``, as before) and compiled once, and the floor route, alternating in the same run."""
    from django.test import Client

    from relance.common import fixed_sql

    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    rng = random.Random(5)
    checks = [
        f"/api/v1/credit/check?entity={ENTITY}&customer_ref={ref}&amount={rng.randint(1, 40_000)}.00"
        for ref in refs
    ]
    floors = [f"/api/v1/customers/{ref}?entity={ENTITY}" for ref in refs]
    for path in checks[:20] + floors[:20]:  # warm: imports, the first compilation
        client.get(path)
    measured: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, paths, enabled in (
            ("check, SQL compiled every call", checks, False),
            ("check, fixed SQL", checks, True),
            ("floor GET /customers/{ref}", floors, True),
        ):
            fixed_sql.ENABLED = enabled
            started = time.process_time()
            for path in paths:
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
            measured.setdefault(name, []).append((time.process_time() - started) * 1000 / len(paths))
    fixed_sql.ENABLED = True
    return measured


def print_cpu(measured: dict[str, list[float]]) -> None:
    print(
        f"\nin process through the test client, CPU ms per request (load average {os.getloadavg()[0]:.1f}):"
    )
    for name, values in measured.items():
        print(f"  {name:<36}" + "  ".join(f"{value:6.2f}" for value in values))


# --------------------------------------------------------------------------- load


def print_table(
    args: argparse.Namespace,
    database_url: str,
    facts: dict[str, int],
    load_seconds: float,
    results: dict[str, dict[str, Any]],
    in_process: dict[str, float],
    mismatches: list[str],
) -> None:
    backend = database_url.split(":", 1)[0]
    print(
        f"\ncredit check: {facts['customers']} customers, {facts['invoices']} invoices, {facts['orders']} orders, "
        f"{facts['rates']} rates, {facts['holds']} holds (loaded in {load_seconds:.0f} s); {backend}; "
        f"gunicorn {args.workers} workers x {args.threads} threads on loopback\n"
    )
    print(
        f"{'route, load':<52}{'requests':>9}{'errors':>8}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'CPU ms/req':>11}"
    )
    for name, row in results.items():
        print(
            f"{name:<52}{row['requests']:>9}{row['errors']:>8}{row['rps']:>8.0f}"
            f"{row['p50']:>9.1f}{row['p95']:>9.1f}{row['p99']:>9.1f}{row['max']:>9.1f}{row['cpu_ms']:>11.1f}"
        )
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for row in results:
        if row.startswith("credit check") and "think" in row:
            met = results[row]["p95"] <= TARGET_P95_MS and not results[row]["errors"]
            print(f"target p95 <= {TARGET_P95_MS:.0f} ms ({row}): {'met' if met else 'NOT met'}")
    print_in_process(in_process, mismatches)


def print_in_process(in_process: dict[str, float], mismatches: list[str]) -> None:
    print(
        f"\nin process, {in_process['customers']:.0f} customers (ms): check (exposure, holds, class) "
        f"p50 {in_process['check_ms']:.2f} / p95 {in_process['check_p95_ms']:.2f}; "
        f"simple exposure (every open invoice, order and rate in Python) "
        f"p50 {in_process['simple_ms']:.2f} / p95 {in_process['simple_p95_ms']:.2f}"
    )
    if mismatches:
        print(f"MISMATCH: {len(mismatches)} customers' exposure differs from the simple approach")
        for line in mismatches[:10]:
            print("  " + line)
    else:
        print("exposure equal to the simple approach for every customer compared")


if __name__ == "__main__":
    main()
