"""Benchmark the credit manager's dashboard at scale: KPI snapshots vs. the engine on every load.

    .venv/bin/python benchmarks/bench_dashboard.py --invoices 2000000 --customers 100000 \\
        --database-url postgres://relance:relance@127.0.0.1:5432/relance

Data: the synthetic generator's ledger (seed 7, as of 2026-11-23) bulk-loaded into a fresh
PostgreSQL database ``relance_bench_dashboard`` created next to ``--database-url`` (COPY, as
``bench_kpi.py``), and a credit manager granted the entity.

Timed, in one run:

1. ``relance kpi snapshot --as-of 2026-11-23 --currency EUR`` cold (no snapshot yet): the 12
   points of the dashboard's trend, with the top overdue accounts of the last one;
2. the dashboard page (``/`` through Django's test client, signed in as the credit manager),
   ``--loads`` times warm: p50 / p95 / max;
3. one invoice added (the ledger version goes up), then the dashboard again: it shows the
   previous snapshots marked stale instead of computing (and re-keys the 11 month-ends the
   invoice, dated 2026-11-23, did not reach); then ``relance kpi snapshot`` again: only the
   last point is recomputed (ADR 0006, "Refinement");
4. the simple approach: the page as it was, one engine run per trend point (``kpi_report`` as
   of the last date, timed ``--simple-runs`` times; the page ran it 12 times), plus its top
   overdue query (``customer_list_with_balances`` ordered by overdue balance).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_kpi import END, SCHEMAS, load_app_database, setup_django, timed  # noqa: E402

PASSWORD = "bench horse battery staple"
DATABASE = "relance_bench_dashboard"


def generate(invoices: int, customers: int, out: Path) -> dict[str, int]:
    """The synthetic ledger with ``customers`` customers sharing ``invoices`` invoices."""
    import pyarrow.parquet as pq

    from relance.synthetic.generator import GeneratorConfig, iter_ledger_chunks
    from relance.synthetic.writers import write_parquet

    config = GeneratorConfig(invoices=invoices, customers=customers or None, end=END, seed=7)
    write_parquet(iter_ledger_chunks(config), out)
    return {name: pq.ParquetFile(out / f"{name}.parquet").metadata.num_rows for name in SCHEMAS}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def page_loads(client: object, path: str, count: int) -> list[float]:
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path)  # type: ignore[attr-defined]
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--invoices", type=int, default=2_000_000, help="synthetic invoices (default 2,000,000)"
    )
    parser.add_argument(
        "--customers", type=int, default=100_000, help="synthetic customers (default 100,000)"
    )
    parser.add_argument("--database-url", default=os.environ.get("RELANCE_TEST_POSTGRES_URL", ""),
                        help="PostgreSQL server (a database relance_bench_dashboard is created next to it)")  # fmt: skip
    parser.add_argument("--loads", type=int, default=20, help="warm dashboard loads (default 20)")
    parser.add_argument("--simple-runs", type=int, default=1,
                        help="live engine runs timed for the simple approach (default 1; the old page ran 12)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the database (drop it by hand)")
    parser.add_argument("--reuse", action="store_true", help="reuse the database a --keep run left")
    parser.add_argument("--load-only", action="store_true", help="generate and load, then stop (with --keep)")
    args = parser.parse_args()
    if not args.database_url:
        parser.error(
            "--database-url (or RELANCE_TEST_POSTGRES_URL) is required: the benchmark is for PostgreSQL"
        )

    import psycopg

    admin_url = args.database_url.replace("postgres://", "postgresql://", 1)
    if not args.reuse:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')
            admin.execute(f'CREATE DATABASE "{DATABASE}"')
    url = args.database_url.rsplit("/", 1)[0] + f"/{DATABASE}"
    rows = Rows()
    try:
        setup_django(url)
        from django.core.management import call_command
        from django.test import Client

        from relance.accounts.services import user_create
        from relance.ledger.models import Customer, Entity, Invoice
        from relance.ledger.selectors import customer_list_with_balances
        from relance.reports.models import KpiSnapshot
        from relance.reports.selectors import kpi_report

        if args.reuse and Entity.objects.filter(name="bench").exists():
            entity = Entity.objects.get(name="bench")
            rows.append(("reused database", "", f"{Invoice.objects.count():,} invoices"))
        else:
            work = Path(tempfile.mkdtemp(prefix="relance-bench-dashboard-"))
            seconds, counts = timed(lambda: generate(args.invoices, args.customers, work / "ledger"))
            rows.append(("generate Parquet", f"{seconds:.1f} s", f"{counts['invoices']:,} invoices"))
            seconds, loaded = timed(lambda: load_app_database(work / "ledger"))
            rows.append(("load (COPY)", f"{seconds:.1f} s", ""))
            entity = Entity.objects.get(pk=loaded["entity_id"])
        reset_sequences()
        customers = Customer.objects.filter(entity=entity).count()
        invoices = Invoice.objects.filter(entity=entity).count()
        rows.append(("ledger", "", f"{invoices:,} invoices, {customers:,} customers"))
        if args.load_only:
            return
        email = "manager@bench.test"
        user = get_or_create_manager(user_create, email, entity.name)

        KpiSnapshot.objects.all().delete()
        seconds, _ = timed(
            lambda: call_command(
                "kpi", "snapshot", "--as-of", END.isoformat(), "--currency", entity.currency, "--quiet"
            )
        )
        stored = KpiSnapshot.objects.filter(entity=entity).count()
        rows.append(("relance kpi snapshot (cold, 12 dates)", f"{seconds:.1f} s", f"{stored} snapshots"))
        seconds, _ = timed(
            lambda: call_command(
                "kpi", "snapshot", "--as-of", END.isoformat(), "--currency", entity.currency, "--quiet"
            )
        )
        rows.append(("relance kpi snapshot (again, nothing changed)", f"{seconds:.2f} s", ""))

        client = Client()
        client.force_login(user)
        path = f"/?as_of={END.isoformat()}"
        first = page_loads(client, path, 1)[0]
        warm = page_loads(client, path, args.loads)
        rows.append(("dashboard, first load", f"{first * 1000:.0f} ms", ""))
        rows.append(
            (
                f"dashboard warm, {args.loads} loads",
                f"p50 {statistics.median(warm) * 1000:.0f} ms",
                f"p95 {percentile(warm, 0.95) * 1000:.0f} ms, max {max(warm) * 1000:.0f} ms (target ≤ 500 ms)",
            )
        )
        some = Invoice.objects.filter(entity=entity).first()
        assert some is not None
        Invoice.objects.create(
            entity=entity,
            customer_id=some.customer_id,
            external_ref=f"BENCH-NEW-{time.time_ns()}",
            issue_date=END,
            due_date=END,
            currency=entity.currency,
            amount="100.00",
        )
        stale = page_loads(client, path, args.loads)
        html = client.get(path).content.decode()
        rows.append(
            (
                "dashboard after a ledger change (stale snapshots shown)",
                f"p50 {statistics.median(stale) * 1000:.0f} ms",
                f"p95 {percentile(stale, 0.95) * 1000:.0f} ms; note shown: {'the ledger changed since' in html}",
            )
        )
        # The invoice is dated END: the 11 month-ends before it stay valid (re-keyed, ADR 0006
        # "Refinement"), only END's point runs the engine again.
        out = io.StringIO()
        seconds, _ = timed(
            lambda: call_command(
                "kpi",
                "snapshot",
                "--as-of",
                END.isoformat(),
                "--currency",
                entity.currency,
                "--json",
                stdout=out,
            )
        )
        computed = sum(1 for row in json.loads(out.getvalue())["snapshots"] if row["computed"])
        rows.append(
            (
                "relance kpi snapshot after one invoice dated today",
                f"{seconds:.1f} s",
                f"{computed} of 12 dates recomputed",
            )
        )

        live = []
        for _ in range(args.simple_runs):
            seconds, _ = timed(lambda: kpi_report(entity=entity, as_of=END))
            live.append(seconds)
        one = statistics.median(live)
        rows.append(("simple: one live engine run", f"{one:.1f} s", f"{args.simple_runs} run(s)"))
        seconds, _ = timed(
            lambda: list(
                customer_list_with_balances(entity=entity, as_of=END, only_open=True)
                .filter(currency=entity.currency)
                .order_by("-overdue_balance")[:10]
            )
        )
        rows.append(("simple: top overdue query", f"{seconds:.1f} s", ""))
        rows.append(
            ("simple: the old page (12 runs + top overdue)", f"≈ {12 * one + seconds:.0f} s", "estimated")
        )
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')
    load = os.getloadavg()
    print(f"\nDashboard at scale · {date.today()} · load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    width = max(len(row[0]) for row in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")


class Rows(list[tuple[str, str, str]]):
    """The result table; each row is also printed as it comes (a long run keeps what it measured)."""

    def append(self, row: tuple[str, str, str]) -> None:
        print(f"  {row[0]}: {row[1]} {row[2]} (load average {os.getloadavg()[0]:.2f})", flush=True)
        super().append(row)


def reset_sequences() -> None:
    """COPY wrote explicit ids: move the id sequences past them so the ORM can insert again."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in (
            "ledger_customer",
            "ledger_invoice",
            "ledger_creditnote",
            "ledger_payment",
            "ledger_allocation",
        ):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"  # noqa: S608
            )


def get_or_create_manager(user_create: object, email: str, entity_name: str) -> object:
    from django.contrib.auth import get_user_model

    existing = get_user_model().objects.filter(email=email).first()
    if existing is not None:
        return existing
    return user_create(email=email, role="credit_manager", entity_names=[entity_name], password=PASSWORD)  # type: ignore[operator]


if __name__ == "__main__":
    main()
