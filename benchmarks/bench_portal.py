"""Benchmark the customer portal's overview and open-items pages under concurrent load.

A customer with N open invoices (default 2,000; a tenth partly paid) is created, gunicorn serves
the production settings on loopback, and C concurrent clients (default 50, asyncio + httpx,
keep-alive) request the overview and the first open-items page through a magic link. Printed:
requests, errors, throughput, p50/p95/p99 latency per page and the server's CPU per request.

Three ways to load, each with the portal's page cache on and off (``--cache on,off``):

* ``--think S``: each client waits 0.5–1.5 × S seconds between requests, as people do (the
  default, 1 s: 50 clients then ask for ~50 pages a second);
* ``--think 0``: back-to-back requests (saturation; p95 is then the queue of 50 clients);
* ``--wrk``: back-to-back with wrk (C, far lighter than the Python clients that otherwise share
  the server's CPUs), when ``wrk`` is installed (``apt install wrk``).

For comparison in the same run, in-process (no HTTP): the overview's figures computed by the
portal's one aggregate query against the simple approach (load every open item, add up in
Python), and the open-items page (one page of 50) against listing every open item.

    .venv/bin/python benchmarks/bench_portal.py --database-url postgres://relance:relance@127.0.0.1/relance_bench
    .venv/bin/python benchmarks/bench_portal.py --invoices 2000 --clients 50 --requests 2000 --workers 4
    .venv/bin/python benchmarks/bench_portal.py --think 0 --wrk --cache on,off --database-url postgres://…

The database must be empty or disposable (it is migrated; a ``bench-portal`` entity is replaced).
Without ``--database-url`` a temporary SQLite file is used (not what the target is about).
"""

from __future__ import annotations

import argparse
import asyncio
import os
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--invoices", type=int, default=2000, help="open invoices of the customer (default 2000)"
    )
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per page (default 2000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=3,
        help="gunicorn sync workers (default 3: cores + 1 served best on 2 cores)",
    )
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (default 1)")
    parser.add_argument("--port", type=int, default=8765, help="loopback port for gunicorn (default 8765)")
    parser.add_argument("--database-url", default="", help="database (default: a temporary SQLite file)")
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="seconds each client waits between requests, ±50%% (default 1; 0: none)",
    )
    parser.add_argument(
        "--wrk", action="store_true", help="also load back-to-back with wrk for --duration seconds"
    )
    parser.add_argument("--duration", type=int, default=20, help="seconds of each wrk run (default 20)")
    parser.add_argument(
        "--cache", default="on,off", help="portal page cache settings to run: on, off or on,off (default)"
    )
    args = parser.parse_args()
    if args.wrk and shutil.which("wrk") is None:
        parser.error("--wrk needs wrk on the PATH (Debian/Ubuntu: apt install wrk)")

    tmp = tempfile.TemporaryDirectory(prefix="relance-bench-portal-")
    database_url = args.database_url or f"sqlite:///{tmp.name}/bench.sqlite3"
    secret = "bench-" + "x" * 60
    os.environ.update(
        DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="config.settings.production", SECRET_KEY=secret
    )
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ["RELANCE_CACHE_LOCATION"] = f"{tmp.name}/cache"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    path, customer_id = build_ledger(args.invoices)
    in_process = compare_in_process(customer_id)

    results: dict[str, dict[str, Any]] = {}
    pages = (("overview", path), ("open items (page 1 of 50)", path + "items/"))
    for cache_setting in [value.strip() for value in args.cache.split(",") if value.strip()]:
        env = dict(os.environ, RELANCE_PORTAL_PAGE_CACHE="true" if cache_setting == "on" else "false")
        server = start_server(port=args.port, workers=args.workers, threads=args.threads, env=env)
        try:
            base = f"http://127.0.0.1:{args.port}"
            wait_until_up(base + path)
            for name, page in pages:
                url = base + page
                asyncio.run(
                    load([url], clients=args.clients, total=min(200, args.requests), think=0)
                )  # warm-up
                label = f"{name}, cache {cache_setting}"
                cpu_before = workers_cpu_seconds(server.pid)
                row = asyncio.run(load([url], clients=args.clients, total=args.requests, think=args.think))
                row["cpu_ms"] = (
                    (workers_cpu_seconds(server.pid) - cpu_before) * 1000 / max(1, row["requests"])
                )
                results[f"{label}, think {args.think:g} s"] = row
                if args.wrk:
                    cpu_before = workers_cpu_seconds(server.pid)
                    row = wrk_load([url], clients=args.clients, seconds=args.duration)
                    row["cpu_ms"] = (
                        (workers_cpu_seconds(server.pid) - cpu_before) * 1000 / max(1, row["requests"])
                    )
                    results[f"{label}, wrk"] = row
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    print_table(args, database_url, results, in_process)
    tmp.cleanup()


def build_ledger(invoices: int) -> tuple[str, int]:
    from django.db import transaction

    from relance.ledger.models import Allocation, Customer, Entity, Invoice, Payment
    from relance.portal.links import link_create, link_path

    with transaction.atomic():
        old = Entity.objects.filter(name="bench-portal").first()
        if old is not None:
            from relance.portal.models import PortalLink

            PortalLink.objects.filter(customer__entity=old).delete()
            Allocation.objects.filter(entity=old).delete()
            Payment.objects.filter(entity=old).delete()
            Invoice.objects.filter(entity=old).delete()
            Customer.objects.filter(entity=old).delete()
            old.delete()
        entity = Entity.objects.create(name="bench-portal", legal_name="Bench SAS", currency="EUR")
        customer = Customer.objects.create(
            entity=entity,
            external_ref="BIG",
            name="Big Customer",
            currency="EUR",
            credit_limit=Decimal("5000000"),
        )
        today = date.today()
        Invoice.objects.bulk_create(
            [
                Invoice(
                    entity=entity,
                    customer=customer,
                    external_ref=f"INV-{number:06d}",
                    issue_date=today - timedelta(days=30 + number % 200),
                    due_date=today - timedelta(days=number % 200) + timedelta(days=15),
                    currency="EUR",
                    amount=Decimal(100 + number % 900) + Decimal("0.25"),
                )
                for number in range(invoices)
            ],
            batch_size=2000,
        )
        payment = Payment.objects.create(
            entity=entity,
            customer=customer,
            external_ref="PAY-1",
            date=today,
            currency="EUR",
            amount=Decimal(invoices * 10),
        )
        Allocation.objects.bulk_create(
            [
                Allocation(entity=entity, invoice=invoice, payment=payment, date=today, amount=Decimal("50"))
                for invoice in Invoice.objects.filter(customer=customer).order_by("id")[::10]
            ],
            batch_size=2000,
        )
        link = link_create(customer=customer, days=30)
    return link_path(link), customer.pk


def compare_in_process(customer_id: int) -> list[tuple[str, float, float]]:
    """(what, portal's way ms, simple way ms) medians of 20 runs."""
    from relance.ledger.models import Customer
    from relance.ledger.selectors import customer_open_items
    from relance.portal.links import link_create
    from relance.portal.selectors import ItemFilters, portal_items, portal_overview, portal_today

    customer = Customer.objects.select_related("entity").get(pk=customer_id)
    link = link_create(customer=customer, days=1)
    today = portal_today(entity=customer.entity)

    def timed(function: Any) -> float:
        samples = []
        for _ in range(20):
            start = time.perf_counter()
            function()
            samples.append((time.perf_counter() - start) * 1000)
        return statistics.median(samples)

    def simple_overview() -> None:
        items = customer_open_items(customer=customer, as_of=today)
        balance = sum((Decimal(item.open_amount) for item in items), Decimal(0))
        overdue = sum((Decimal(item.open_amount) for item in items if item.due_date < today), Decimal(0))
        next_due = min((item.due_date for item in items if item.due_date >= today), default=None)
        assert balance >= overdue and (next_due is None or next_due >= today)

    return [
        (
            "overview figures",
            timed(lambda: portal_overview(link=link, as_of=today)),
            timed(simple_overview),
        ),
        (
            "open items",
            timed(lambda: list(portal_items(link=link, as_of=today, filters=ItemFilters())[:50])),
            timed(lambda: customer_open_items(customer=customer, as_of=today)),
        ),
    ]


def print_table(
    args: argparse.Namespace, database_url: str, results: dict[str, dict[str, Any]], in_process: list
) -> None:
    backend = database_url.split(":", 1)[0]
    print(
        f"\nportal under load: {args.invoices} open invoices, {args.clients} concurrent clients, "
        f"gunicorn {args.workers} workers x {args.threads} threads, {backend}, loopback\n"
    )
    print(
        f"{'page, page cache, load':<50}{'requests':>9}{'errors':>8}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'CPU ms/req':>11}"
    )
    for name, row in results.items():
        print(
            f"{name:<50}{row['requests']:>9}{row['errors']:>8}{row['rps']:>8.0f}"
            f"{row['p50']:>9.1f}{row['p95']:>9.1f}{row['p99']:>9.1f}{row['max']:>9.1f}{row['cpu_ms']:>11.1f}"
        )
    print(f"\nload average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("\nin process, median of 20 (ms)")
    print(
        f"{'what':<20}{'portal':>10}{'simple':>10}   simple = every open item loaded and summed/listed in Python"
    )
    for what, ours, simple in in_process:
        print(f"{what:<20}{ours:>10.1f}{simple:>10.1f}")


if __name__ == "__main__":
    main()
