"""Benchmark of `relance import`: N canonical invoices into SQLite (and PostgreSQL), vs the naive way.

    .venv/bin/python benchmarks/bench_import.py                       # 1,000,000 invoices, SQLite
    .venv/bin/python benchmarks/bench_import.py --rows 200000 --postgres-url postgres://u:p@127.0.0.1/db

Each database run is a child process with its own DATABASE_URL (a temporary SQLite file, or a
``relance_bench`` schema created in the given PostgreSQL database and dropped afterwards), so
``migrate`` runs on an empty database and the peak RSS is that run's own. Reported per run:
the first import (all rows created, by the columnar path where it applies), the same import by
the row-by-row path (``columnar=False``) on a second entity, a re-import of the same file (all
unchanged), rows/s, the
RSS after 10% of the rows and at the end (flat memory means these are close), and the naive
approach — one ``update_or_create()`` per row in autocommit, with a customer look-up per row —
timed on ``--naive-rows`` rows and extrapolated linearly to N.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def generate(directory: Path, rows: int, customers: int) -> tuple[Path, Path]:
    """Canonical customers and invoices CSV files (deterministic)."""
    customers_path = directory / "customers.csv"
    invoices_path = directory / "invoices.csv"
    with customers_path.open("w", encoding="utf-8") as stream:
        stream.write("customer_ref,name,currency,payment_terms_days,country,email\n")
        for n in range(customers):
            stream.write(f"C{n:06d},Customer {n},EUR,30,FR,ap{n}@example.com\n")
    start = date(2024, 1, 1)
    with invoices_path.open("w", encoding="utf-8") as stream:
        stream.write("invoice_ref,customer_ref,issue_date,due_date,currency,amount,po_number\n")
        lines = []
        for n in range(rows):
            issued = start + timedelta(days=n % 700)
            due = issued + timedelta(days=30 + (n % 3) * 15)
            amount = f"{(n * 7919) % 99_000 + 100}.{n % 100:02d}"
            lines.append(f"INV-{n:08d},C{n % customers:06d},{issued},{due},EUR,{amount},PO-{n % 5000}\n")
            if len(lines) == 10_000:
                stream.writelines(lines)
                lines = []
        stream.writelines(lines)
    return customers_path, invoices_path


def generate_payments(directory: Path, rows: int, customers: int) -> Path:
    """One payment per invoice (the first ``rows`` invoices), settling it in full 20 days after issue."""
    path = directory / "payments.csv"
    start = date(2024, 1, 1)
    with path.open("w", encoding="utf-8") as stream:
        stream.write("payment_ref,customer_ref,date,amount,currency,invoice_ref\n")
        for n in range(rows):
            paid = start + timedelta(days=n % 700 + 20)
            amount = f"{(n * 7919) % 99_000 + 100}.{n % 100:02d}"
            stream.write(f"PAY-{n:08d},C{n % customers:06d},{paid},{amount},EUR,INV-{n:08d}\n")
    return path


def current_rss_mib() -> float:
    with open("/proc/self/statm") as stream:
        pages = int(stream.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sqlite_floor(invoices_path: Path, directory: Path) -> tuple[float, float]:
    """The floor, as the sqlite3 shell's ``.import`` does it: the CSV's text cells into a table
    without keys or indexes, one executemany in one transaction; no validation. (wall s, CPU s)"""
    import csv
    import sqlite3

    path = directory / "floor.sqlite3"
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    with invoices_path.open(encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader)
        columns = ", ".join(f'"{name}" TEXT' for name in header)
        connection.execute(f"CREATE TABLE invoices ({columns})")
        marks = ", ".join("?" * len(header))
        connection.execute("BEGIN")
        connection.executemany(f"INSERT INTO invoices VALUES ({marks})", reader)  # noqa: S608
        connection.execute("COMMIT")
    connection.close()
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
    path.unlink()
    return seconds, cpu


def command_run(url: str, invoices_path: Path, directory: Path) -> tuple[float, float]:
    """``relance import invoices FILE --quiet`` as a command (start-up included) into a copy of the
    database the worker left with its customers only. (wall s, CPU s of the child)"""
    env = {**os.environ, "DATABASE_URL": url}
    relance = str(Path(sys.executable).with_name("relance"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([relance, "import", "invoices", str(invoices_path), "--quiet"], env=env, check=True,
                   cwd=directory)  # fmt: skip
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(args: argparse.Namespace) -> None:
    """Runs in the child: migrate, import customers, time the invoices import, then the naive way."""
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from relance.ingest.services import file_import
    from relance.ledger.models import Customer, Invoice
    from relance.ledger.services import entity_create_or_update

    entity, _ = entity_create_or_update(name="bench", currency="EUR")
    customers_path, invoices_path = Path(args.customers_file), Path(args.invoices_file)
    started = time.perf_counter()
    file_import(kind="customers", path=customers_path, entity=entity)
    customers_seconds = time.perf_counter() - started

    samples: dict[str, float] = {}
    tenth = max(1, args.rows // 10)

    def progress(_bytes: int, rows: int) -> None:
        if rows >= tenth and "rss_at_10pct" not in samples:
            samples["rss_at_10pct"] = current_rss_mib()

    rss_before = current_rss_mib()
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    outcome = file_import(kind="invoices", path=invoices_path, entity=entity, progress=progress)
    first_seconds = time.perf_counter() - started
    first_cpu = cpu_seconds() - cpu_before
    assert outcome.committed and outcome.result.created == args.rows, outcome.as_dict()
    rss_end = current_rss_mib()
    started = time.perf_counter()
    again = file_import(kind="invoices", path=invoices_path, entity=entity)
    again_seconds = time.perf_counter() - started
    assert again.result.unchanged == args.rows, again.as_dict()
    assert Invoice.objects.filter(entity=entity).count() == args.rows
    payments_seconds = payments_rss = 0.0
    if args.payments_rows:
        payments_path = generate_payments(invoices_path.parent, args.payments_rows, args.customers)
        started = time.perf_counter()
        paid = file_import(kind="payments", path=payments_path, entity=entity)
        payments_seconds = time.perf_counter() - started
        assert paid.committed and paid.result.created == args.payments_rows, paid.as_dict()
        payments_rss = current_rss_mib()

    # The row-by-row path (what every row took before the columnar path), on an entity of its own.
    row_seconds = row_cpu = 0.0
    if args.row_path:
        row_entity, _ = entity_create_or_update(name="row path", currency="EUR")
        file_import(kind="customers", path=customers_path, entity=row_entity)
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        rows_outcome = file_import(kind="invoices", path=invoices_path, entity=row_entity, columnar=False)
        row_seconds = time.perf_counter() - started
        row_cpu = cpu_seconds() - cpu_before
        assert rows_outcome.committed and rows_outcome.result.created == args.rows, rows_outcome.as_dict()

    # The naive way, on a second entity: one update_or_create per row, autocommit.
    import csv
    from decimal import Decimal

    naive_entity, _ = entity_create_or_update(name="naive", currency="EUR")
    for customer in Customer.objects.filter(entity=entity)[: args.customers]:
        customer.pk = None
        customer.entity = naive_entity
        customer.save()
    started = time.perf_counter()
    with invoices_path.open(encoding="utf-8", newline="") as stream:
        for index, row in enumerate(csv.DictReader(stream)):
            if index == args.naive_rows:
                break
            Invoice.objects.update_or_create(
                entity=naive_entity,
                external_ref=row["invoice_ref"],
                defaults={
                    "customer": Customer.objects.get(entity=naive_entity, external_ref=row["customer_ref"]),
                    "issue_date": date.fromisoformat(row["issue_date"]),
                    "due_date": date.fromisoformat(row["due_date"]),
                    "currency": row["currency"],
                    "amount": Decimal(row["amount"]),
                    "po_number": row["po_number"],
                },
            )
    naive_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "customers_seconds": customers_seconds,
                "first_seconds": first_seconds,
                "first_cpu": first_cpu,
                "row_seconds": row_seconds,
                "row_cpu": row_cpu,
                "again_seconds": again_seconds,
                "naive_seconds": naive_seconds,
                "payments_seconds": payments_seconds,
                "payments_rss": payments_rss,
                "rss_before": rss_before,
                "rss_at_10pct": samples.get("rss_at_10pct", rss_end),
                "rss_end": rss_end,
                "peak_rss": peak_rss_mib(),
            }
        )
    )


def run_database(label: str, url: str, args: argparse.Namespace, files: tuple[Path, Path]) -> dict:
    env = {**os.environ, "DATABASE_URL": url}
    command = [
        sys.executable,
        __file__,
        "--worker",
        "--rows",
        str(args.rows),
        "--customers",
        str(args.customers),
        "--naive-rows",
        str(args.naive_rows),
        "--payments-rows",
        str(args.payments_rows),
        *([] if args.row_path else ["--no-row-path"]),
        "--customers-file",
        str(files[0]),
        "--invoices-file",
        str(files[1]),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"{label}: the benchmark run failed")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["label"] = label
    return result


def postgres_schema_url(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-c%20search_path%3D{schema}"


def postgres_schema(url: str, schema: str, *, create: bool) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        if create:
            connection.execute(f"CREATE SCHEMA {schema}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="invoices to import (default 1,000,000)")
    parser.add_argument("--customers", type=int, default=10_000, help="customers (default 10,000)")
    parser.add_argument(
        "--naive-rows", type=int, default=5_000, help="rows for the naive run (default 5,000)"
    )
    parser.add_argument(
        "--payments-rows",
        type=int,
        default=0,
        help="also import this many payment rows (one per invoice, fully allocated) after the invoices",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("RELANCE_TEST_POSTGRES_URL", ""),
        help="also run on PostgreSQL, in a relance_bench schema of this database (default: RELANCE_TEST_POSTGRES_URL)",
    )
    parser.add_argument(
        "--no-command",
        dest="command",
        action="store_false",
        help="skip timing `relance import` as a command (start-up included) on SQLite",
    )
    parser.add_argument(
        "--no-row-path",
        dest="row_path",
        action="store_false",
        help="skip timing the row-by-row path (file_import(columnar=False)) on a second entity",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--customers-file", help=argparse.SUPPRESS)
    parser.add_argument("--invoices-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    with tempfile.TemporaryDirectory(prefix="relance-bench-import-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        files = generate(directory, args.rows, args.customers)
        size_mib = files[1].stat().st_size / 2**20
        print(
            f"generated {args.rows:,} invoices ({size_mib:,.0f} MiB) in {time.perf_counter() - started:.1f} s"
        )
        results = [run_database("SQLite (file)", f"sqlite:///{directory / 'bench.sqlite3'}", args, files)]
        floor_seconds, floor_cpu = sqlite_floor(files[1], directory)
        command = None
        if args.command:
            command_db = directory / "command.sqlite3"
            url = f"sqlite:///{command_db}"
            env = {**os.environ, "DATABASE_URL": url}
            relance = str(Path(sys.executable).with_name("relance"))
            subprocess.run([relance, "init", "--entity", "bench", "--no-policies"], env=env, check=True,
                           capture_output=True)  # fmt: skip
            subprocess.run([relance, "import", "customers", str(files[0]), "--quiet"], env=env, check=True)
            command = command_run(url, files[1], directory)
        if args.postgres_url:
            schema = "relance_bench"
            postgres_schema(args.postgres_url, schema, create=True)
            try:
                results.append(
                    run_database("PostgreSQL", postgres_schema_url(args.postgres_url, schema), args, files)
                )
            finally:
                postgres_schema(args.postgres_url, schema, create=False)

    print()
    print(
        f"\nfloor, same run: the CSV into an unindexed SQLite table (as sqlite3's .import), no validation: "
        f"{floor_seconds:.1f} s wall, {floor_cpu:.1f} s CPU"
    )
    if command is not None:
        print(
            f"`relance import invoices` as a command (start-up included), SQLite: {command[0]:.1f} s wall, "
            f"{command[1]:.1f} s CPU; {command[0] / floor_seconds:.1f}× the floor"
        )
    print()
    print(
        "| database | invoices | first import s | CPU s | rows/s | re-import (unchanged) s | naive s (extrapolated) "
        "| speed-up | RSS at 10% MiB | RSS at end MiB | peak RSS MiB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        naive = r["naive_seconds"] / args.naive_rows * args.rows
        print(
            f"| {r['label']} | {args.rows:,} | {r['first_seconds']:.1f} | {r['first_cpu']:.1f} "
            f"| {args.rows / r['first_seconds']:,.0f} "
            f"| {r['again_seconds']:.1f} | {naive:,.0f} | {naive / r['first_seconds']:.0f}× "
            f"| {r['rss_at_10pct']:.0f} | {r['rss_end']:.0f} | {r['peak_rss']:.0f} |"
        )
    if args.row_path:
        print()
        for r in results:
            print(
                f"row-by-row path (columnar=False), {r['label']}: first import {r['row_seconds']:.1f} s wall, "
                f"{r['row_cpu']:.1f} s CPU; columnar {r['first_seconds']:.1f} s wall, {r['first_cpu']:.1f} s CPU"
            )
    if args.payments_rows:
        print()
        for r in results:
            seconds = r["payments_seconds"]
            print(
                f"payments, {r['label']}: {args.payments_rows:,} rows in {seconds:.1f} s "
                f"({args.payments_rows / seconds:,.0f} rows/s), RSS after {r['payments_rss']:.0f} MiB"
            )
    customers = ", ".join(f"{r['label']} {r['customers_seconds']:.1f} s" for r in results)
    baseline = ", ".join(f"{r['label']} {r['rss_before']:.0f} MiB" for r in results)
    print(
        f"\n(customers file: {args.customers:,} rows, imported in {customers}; naive run: "
        f"{args.naive_rows:,} rows, extrapolated; RSS just before the invoices import: {baseline})"
    )


if __name__ == "__main__":
    main()
