"""``relance match`` at scale: matching *and applying* N bank lines against M open invoices.

    .venv/bin/python benchmarks/bench_match_apply.py --invoices 100000 --lines 10000
    .venv/bin/python benchmarks/bench_match_apply.py --invoices 1000000 --lines 100000 --batches 500
    .venv/bin/python benchmarks/bench_match_apply.py --invoices 20000 --lines 2000 --profile 25

``bench_matching.py`` times the pure matcher; this one times the whole service,
``relance.cashapp.matching.lines_match`` (what ``relance match`` runs): the open invoices read,
the indexes built, every line matched, and each applied line written through the ledger import's
layer (payment, allocations, application row, payer learned, line status).

The workspace is built once through the product's commands in a temporary SQLite file
(``relance init``, ``relance import customers``/``invoices``, ``relance bank account add``,
``relance bank import`` of a generated CSV statement), then copied for each approach so that each
starts from the same database: ``--batches 1`` is the simple approach (one transaction a line),
``--batches 500`` (default ``1 500``) writes the applied lines 500 to a transaction, each line in
its own savepoint. The lines (seeded): 80 % quote their invoice's ref and pay its open amount
from the customer's name (sure: applied), 10 % pay an open amount without a reference (suggested
or unmatched), 10 % are noise (unmatched).

CPU time (user + sys of this process, ``time.process_time``) is the comparable number on a
shared machine; wall time is printed too. The run exits 1 when the approaches disagree (lines
applied, payments written, or the invoices paid).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ACCOUNT = "NL77ABNA0574908765"
TODAY = date(2026, 12, 7)


def _call(*args: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def write_files(folder: Path, invoices: int, lines: int, seed: int) -> dict[str, Path]:
    rng = random.Random(seed)
    customers = max(1, invoices // 10)
    paths = {name: folder / f"{name}.csv" for name in ("customers", "invoices", "statement")}
    with paths["customers"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_ref", "name", "currency"])
        for c in range(customers):
            writer.writerow([f"C{c:07d}", f"Customer {c} {rng.choice(['SAS', 'GmbH', 'Ltd', 'BV'])}", "EUR"])
    amounts: list[tuple[str, int, str]] = []
    with paths["invoices"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["invoice_ref", "customer_ref", "issue_date", "due_date", "currency", "amount"])
        for i in range(invoices):
            customer = rng.randrange(customers)
            amount = f"{rng.randint(5000, 900000) / 100:.2f}"
            issued = TODAY - timedelta(days=rng.randint(20, 200))
            ref = f"INV-{i:08d}"
            amounts.append((ref, customer, amount))
            writer.writerow([ref, f"C{customer:07d}", issued, issued + timedelta(days=30), "EUR", amount])
    chosen = rng.sample(range(invoices), min(lines, invoices))
    with paths["statement"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["account", "currency", "booking_date", "amount", "bank_ref", "counterparty_name", "remittance"]
        )
        for n, index in enumerate(chosen):
            ref, customer, amount = amounts[index]
            name = f"Customer {customer}"
            kind = rng.random()
            if kind < 0.8:
                remittance = f"Payment {ref}"
            elif kind < 0.9:
                remittance = "monthly payment"
            else:
                name, amount, remittance = (
                    "Unknown payer",
                    f"{rng.randint(100, 99999) / 100 + 0.001:.2f}",
                    "advance",
                )
            writer.writerow([ACCOUNT, "EUR", TODAY, amount, f"L{n:08d}", name, remittance])
    return paths


def workspace(folder: Path, invoices: int, lines: int, seed: int) -> tuple[Path, dict[str, float]]:
    from django.db import connections

    database = folder / "base.sqlite3"
    _use(database)
    paths = write_files(folder, invoices, lines, seed)
    seconds: dict[str, float] = {}
    for name, args in (
        ("migrate", ("migrate", "--verbosity", "0")),
        ("init", ("init", "--entity", "bench", "--currency", "EUR")),
        ("import customers", ("import", "customers", str(paths["customers"]), "--quiet")),
        ("import invoices", ("import", "invoices", str(paths["invoices"]), "--quiet")),
        ("bank account add", ("bank", "account", "add", ACCOUNT, "--currency", "EUR")),
        ("bank import", ("bank", "import", str(paths["statement"]), "--format", "csv", "--quiet")),
    ):
        started = time.perf_counter()
        _call(*args)
        seconds[name] = round(time.perf_counter() - started, 1)
    connections.close_all()
    return database, seconds


def _use(database: Path) -> None:
    from django.conf import settings
    from django.db import connections

    connections.close_all()
    settings.DATABASES["default"]["NAME"] = str(database)
    connections["default"].settings_dict["NAME"] = str(database)


def run_approach(base: Path, folder: Path, batch: int, profile: int) -> dict[str, Any]:
    from relance.cashapp import matching
    from relance.cashapp.models import BankLine
    from relance.core.actors import Actor
    from relance.ledger.models import Allocation, Entity, Payment

    copy = folder / f"batch{batch}.sqlite3"
    shutil.copyfile(base, copy)
    _use(copy)
    entity = Entity.objects.get(name="bench")
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu, wall = time.process_time(), time.perf_counter()
    outcome = matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False, batch_size=batch)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(profile)
    result = {
        "batch": batch,
        "cpu_s": round(cpu, 1),
        "wall_s": round(wall, 1),
        **outcome.as_dict(),
        "payments": Payment.objects.filter(entity=entity).count(),
        "allocations": sorted(Allocation.objects.filter(entity=entity).values_list("invoice_id", "amount")),
        "statuses": dict(sorted(BankLine.objects.filter(entity=entity).values_list("bank_ref", "status"))),
    }
    _use(folder / "none.sqlite3")
    copy.unlink()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument(
        "--batches", type=int, nargs="+", default=[1, 500], help="lines a transaction, per run"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", type=int, default=0, help="print the N top functions (cProfile)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="match-apply-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'none.sqlite3'}"
    os.environ.setdefault("RELANCE_VAR_DIR", str(folder))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django

    django.setup()
    try:
        base, setup = workspace(folder, args.invoices, args.lines, args.seed)
        runs = [run_approach(base, folder, batch, args.profile) for batch in args.batches]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    reference = runs[0]
    same = all(
        run[key] == reference[key]
        for run in runs
        for key in ("applied", "payments", "allocations", "statuses")
    )
    report = {
        "invoices": args.invoices,
        "lines": args.lines,
        "setup_wall_s": setup,
        "runs": [{k: v for k, v in run.items() if k not in ("allocations", "statuses")} for run in runs],
        "same_result": same,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.lines:,} lines against {args.invoices:,} open invoices; setup (wall s): {setup}")
        for run in report["runs"]:
            print(
                f"  {run['batch']:>5} line(s) a transaction: CPU {run['cpu_s']} s, wall {run['wall_s']} s; "
                f"applied {run['applied']}, suggested {run['suggested']}, unmatched {run['unmatched']}, "
                f"refused {run['refused']}, payments {run['payments']}"
            )
    if not same:
        print("MISMATCH: the approaches applied different lines or allocations")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
