"""Benchmark the synthetic ledger generator: vectorised numpy vs a naive per-row Python loop.

    .venv/bin/python benchmarks/bench_generate.py --invoices 10000000 --out /tmp/relance-bench

Each measurement runs in a forked child so that its peak RSS is its own. The vectorised
generator streams to Parquet (generation and writing timed separately); the naive generator
(one Python loop iteration per invoice, Decimal amounts, dicts, then Arrow) runs on a smaller
size and is extrapolated linearly. ``--csv-invoices`` times the canonical import CSV writer too,
and ``--load-customers`` times loading a demo ledger into a fresh SQLite database (or
``--database-url``). The output directory is deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa
import pyarrow.parquet as pq

from relance.synthetic.generator import GeneratorConfig, iter_ledger_chunks
from relance.synthetic.model import GeneratedLedger
from relance.synthetic.writers import write_csv, write_parquet

END = date(2026, 11, 23)


def in_child(job: Callable[[], dict]) -> dict:
    """Run ``job`` in a forked process; return its result plus its own peak RSS (MiB)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        try:
            result = job() or {}
        except BaseException as exc:  # report, never fall back into the parent's code
            result = {"error": repr(exc)}
        with os.fdopen(write, "w") as out:
            json.dump(result, out)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        payload = pipe.read()
    _, _, usage = os.wait4(pid, 0)
    result = json.loads(payload or '{"error": "child died"}')
    result["peak_rss_mib"] = usage.ru_maxrss / 1024
    return result


def timed_parts(parts: Iterable[GeneratedLedger], clock: dict) -> Iterator[GeneratedLedger]:
    iterator = iter(parts)
    while True:
        started = time.perf_counter()
        part = next(iterator, None)
        clock["generate"] += time.perf_counter() - started
        if part is None:
            return
        clock["rows"] += sum(part.row_counts.values())
        yield part


def vectorised(invoices: int, out: Path, fmt: str) -> dict:
    config = GeneratorConfig(seed=42, invoices=invoices, end=END)
    clock = {"generate": 0.0, "rows": 0}
    started = time.perf_counter()
    writer = write_csv if fmt == "csv" else write_parquet
    writer(timed_parts(iter_ledger_chunks(config), clock), out)
    total = time.perf_counter() - started
    size = sum(path.stat().st_size for path in out.iterdir())
    return {
        "approach": f"vectorised → {fmt}",
        "invoices": invoices,
        "customers": config.customer_count,
        "rows": clock["rows"],
        "generate_s": clock["generate"],
        "write_s": total - clock["generate"],
        "total_s": total,
        "bytes": size,
    }


def naive(invoices: int, out: Path) -> dict:
    """The simple approach: one loop iteration per invoice and per payment, Python objects throughout."""
    rng = random.Random(42)
    customers = max(1, invoices // 60)
    start = END - timedelta(days=730)
    behaviours = ["prompt", "forgetful", "chronic_late", "disputer", "sliding_insolvency"]
    customer_rows = []
    for customer_id in range(1, customers + 1):
        customer_rows.append(
            {
                "customer_id": customer_id,
                "behaviour": rng.choices(behaviours, [38, 27, 17, 11, 7])[0],
                "terms": rng.choice([30, 45, 60, 0, 14]),
                "currency": rng.choices(["EUR", "USD", "GBP"], [65, 22, 13])[0],
            }
        )
    started = time.perf_counter()
    invoice_rows, payment_rows, allocation_rows = [], [], []
    for invoice_id in range(1, invoices + 1):
        customer = customer_rows[rng.randrange(customers)]
        issue = start + timedelta(days=rng.randrange(731))
        due = issue + timedelta(days=customer["terms"])
        amount = Decimal(round(rng.lognormvariate(7, 0.8) * 100)) / 100 + Decimal("5.00")
        invoice_rows.append(
            {
                "invoice_id": invoice_id,
                "entity_id": 1,
                "customer_id": customer["customer_id"],
                "currency": customer["currency"],
                "issue_date": issue,
                "due_date": due,
                "amount": amount,
                "status": "open",
            }
        )
        late = {
            "prompt": rng.gauss(-2, 3),
            "forgetful": 3 + rng.gammavariate(2, 3),
            "chronic_late": 30 + 60 * rng.betavariate(2, 2.5),
            "disputer": 8 + rng.gammavariate(2, 9),
            "sliding_insolvency": rng.gauss(1, 3),
        }[customer["behaviour"]]
        paid = max(issue, due + timedelta(days=round(late)))
        if paid > END:
            continue
        pieces = [amount]
        if rng.random() < 0.07 and amount > 20:
            first = (amount * Decimal(rng.uniform(0.3, 0.7))).quantize(Decimal("0.01"))
            pieces = [first, amount - first]
        for piece in pieces:
            payment_id = len(payment_rows) + 1
            payment_rows.append(
                {
                    "payment_id": payment_id,
                    "entity_id": 1,
                    "customer_id": customer["customer_id"],
                    "currency": customer["currency"],
                    "date": paid,
                    "amount": piece,
                }
            )
            allocation_rows.append(
                {
                    "invoice_id": invoice_id,
                    "entity_id": 1,
                    "payment_id": payment_id,
                    "credit_note_id": None,
                    "date": paid,
                    "amount": piece,
                }
            )
    generated = time.perf_counter()
    money = pa.decimal128(18, 4)
    for name, rows in (
        ("invoices", invoice_rows),
        ("payments", payment_rows),
        ("allocations", allocation_rows),
    ):
        table = pa.Table.from_pylist(rows)
        table = table.set_column(
            table.schema.get_field_index("amount"), "amount", table["amount"].cast(money)
        )
        pq.write_table(table, out / f"{name}.parquet")
    total = time.perf_counter() - started
    return {
        "approach": "naive per-row loop → parquet",
        "invoices": invoices,
        "customers": customers,
        "rows": len(invoice_rows) + len(payment_rows) + len(allocation_rows),
        "generate_s": generated - started,
        "write_s": total - (generated - started),
        "total_s": total,
        "bytes": sum(path.stat().st_size for path in out.iterdir()),
    }


def load(customers: int, database_url: str | None, workdir: Path) -> dict:
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    import django

    django.setup()
    from django.core.management import call_command

    from relance.demo.loader import ledger_load
    from relance.ledger.models import Entity
    from relance.ledger.services import entity_create_or_update
    from relance.synthetic.generator import generate_ledger

    call_command("migrate", interactive=False, verbosity=0)
    name = f"bench-{os.getpid()}"
    entity, _ = entity_create_or_update(name=name)
    config = GeneratorConfig(seed=42, customers=customers, years=2, end=END)
    started = time.perf_counter()
    ledger = generate_ledger(config)
    generated = time.perf_counter()
    result = ledger_load(ledger=ledger, entity=entity)
    total = time.perf_counter() - started
    if database_url:  # leave a shared database as it was
        from relance.ledger.models import Allocation, Contact, CreditNote, Customer, Invoice, Payment

        Allocation.objects.filter(entity=entity).delete()
        for model in (Payment, CreditNote, Invoice):
            model.objects.filter(entity=entity).delete()
        Contact.objects.filter(customer__entity=entity).delete()
        Customer.objects.filter(entity=entity).delete()
        Entity.objects.filter(pk=entity.pk).delete()
    return {
        "approach": f"generate + ledger_load ({os.environ['DATABASE_URL'].split(':')[0]})",
        "invoices": result.invoices,
        "customers": customers,
        "rows": sum(ledger.row_counts.values()) + result.contacts,
        "generate_s": generated - started,
        "write_s": total - (generated - started),
        "total_s": total,
        "bytes": 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=10_000_000, help="invoices for the vectorised run")
    parser.add_argument("--naive-invoices", type=int, default=100_000, help="invoices for the naive run")
    parser.add_argument(
        "--csv-invoices", type=int, default=1_000_000, help="invoices for the CSV run (0: skip)"
    )
    parser.add_argument(
        "--load-customers", type=int, default=500, help="customers for the load run (0: skip)"
    )
    parser.add_argument("--database-url", help="database for the load run (default: a fresh SQLite file)")
    parser.add_argument("--out", type=Path, help="output directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the output files")
    args = parser.parse_args()

    base = args.out or Path(tempfile.mkdtemp(prefix="relance-bench-"))
    runs: list[dict] = []
    try:
        for name, job in (
            ("parquet", lambda: vectorised(args.invoices, base / "parquet", "parquet")),
            ("naive", lambda: naive(args.naive_invoices, base / "naive")),
            (
                "csv",
                lambda: vectorised(args.csv_invoices, base / "csv", "csv") if args.csv_invoices else None,
            ),
            (
                "load",
                lambda: load(args.load_customers, args.database_url, base) if args.load_customers else None,
            ),
        ):
            (base / name).mkdir(parents=True, exist_ok=True)
            result = in_child(job)
            if "error" in result:
                print(f"{name}: failed: {result['error']}", file=sys.stderr)
            elif result.get("approach"):
                runs.append(result)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)

    header = (
        f"{'approach':<38} {'invoices':>11} {'rows':>12} {'generate s':>11} {'write s':>9} "
        f"{'total s':>9} {'invoices/s':>12} {'peak RSS MiB':>13} {'output MiB':>11}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        print(
            f"{run['approach']:<38} {run['invoices']:>11,} {run['rows']:>12,} {run['generate_s']:>11.2f} "
            f"{run['write_s']:>9.2f} {run['total_s']:>9.2f} {run['invoices'] / run['total_s']:>12,.0f} "
            f"{run['peak_rss_mib']:>13,.0f} {run['bytes'] / 2**20:>11,.1f}"
        )
    fast = next((r for r in runs if r["approach"] == "vectorised → parquet"), None)
    slow = next((r for r in runs if r["approach"].startswith("naive")), None)
    if fast and slow:
        extrapolated = slow["total_s"] * fast["invoices"] / slow["invoices"]
        print(
            f"\nnaive loop extrapolated to {fast['invoices']:,} invoices: {extrapolated:,.0f} s "
            f"(vectorised is {extrapolated / fast['total_s']:,.0f}× faster)"
        )


if __name__ == "__main__":
    main()
