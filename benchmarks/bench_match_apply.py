"""``relance match`` at scale: matching *and applying* N bank lines against M open invoices.

    .venv/bin/python benchmarks/bench_match_apply.py --invoices 100000 --lines 10000
    .venv/bin/python benchmarks/bench_match_apply.py --invoices 1000000 --lines 100000 --approaches bulk
    .venv/bin/python benchmarks/bench_match_apply.py --invoices 20000 --lines 2000 --profile 25
    .venv/bin/python benchmarks/bench_match_apply.py --invoices 1000000 --lines 100000 --approaches bulk \
        --workspace /tmp/match-1m   # built once, reused by the next run with the same sizes
    .venv/bin/python benchmarks/bench_match_apply.py --database postgres://relance:relance@127.0.0.1:5432/bench

``bench_matching.py`` times the pure matcher; this one times the whole service,
``relance.cashapp.matching.lines_match`` (what ``relance match`` runs): the open invoices read,
the indexes built, every line matched, and each applied line written through the ledger import's
layer (payment, allocations, application row, payer learned, line status).

The workspace is built once through the product's commands in a temporary SQLite file, or with
``--database postgres://…/NAME`` in a PostgreSQL database NAME (dropped and created; each approach
runs in a copy, ``CREATE DATABASE … TEMPLATE``): ``relance init``, ``relance import
customers``/``invoices``, ``relance bank account add``, ``relance bank import`` of a generated CSV
statement. Each approach starts from the same database. ``--approaches`` (default ``per-line
bulk``): ``per-line`` writes each applied line with its own ledger import call, in its own
savepoint, 500 lines a transaction (the path before the bulk write, still the fallback of a
refused batch); ``bulk`` writes a batch's applied lines with one call (``lines_apply``);
``line`` is one transaction a line (the simplest). The lines (seeded): 80 % quote their
invoice's ref and pay its open amount from the customer's name (sure: applied), 10 % pay an open
amount without a reference (suggested or unmatched), 10 % are noise (unmatched).

``bulk-500`` is ``bulk`` in batches of 500 (the size before 2,000).

CPU time (user + sys of this process, ``time.process_time``) is
the comparable number on a shared machine (on PostgreSQL the server's CPU is not in it); wall
time is printed too, and the time until the first write (``first_write_*``: the open invoices
read, the indexes built, the first lines decided). The run exits 1 when the approaches disagree (lines
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


#: batch size (None: ``matching.BATCH_LINES``), bulk writes
APPROACHES: dict[str, tuple[int | None, bool]] = {
    "line": (1, False),
    "per-line": (500, False),
    "bulk": (None, True),
    "bulk-500": (500, True),  # the batch size before 2,000
}


class Database:
    """Where the workspace lives: a SQLite file copied per approach, or a PostgreSQL database used
    as the template of each approach's copy."""

    def __init__(self, folder: Path, url: str | None) -> None:
        self.folder, self.url = folder, url
        self.base_name = url.rsplit("/", 1)[1] if url else ""

    def _admin(self, *statements: str) -> None:
        import psycopg
        from django.db import connections

        connections.close_all()
        assert self.url is not None
        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            for statement in statements:
                admin.execute(statement)

    def base(self) -> None:
        if self.url:
            self._admin(f'DROP DATABASE IF EXISTS "{self.base_name}"', f'CREATE DATABASE "{self.base_name}"')
            self.use(self.base_name)
        else:
            self.use(str(self.folder / "base.sqlite3"))

    def copy(self, name: str) -> None:
        if self.url:
            copy = f"{self.base_name}_{name}"
            self._admin(
                f'DROP DATABASE IF EXISTS "{copy}"', f'CREATE DATABASE "{copy}" TEMPLATE "{self.base_name}"'
            )
            self.use(copy)
        else:
            shutil.copyfile(self.folder / "base.sqlite3", self.folder / f"{name}.sqlite3")
            self.use(str(self.folder / f"{name}.sqlite3"))

    def drop(self, name: str) -> None:
        if self.url:
            self._admin(f'DROP DATABASE IF EXISTS "{self.base_name}_{name}"')
        else:
            self.use(str(self.folder / "none.sqlite3"))
            (self.folder / f"{name}.sqlite3").unlink()

    def close(self) -> None:
        if self.url:
            self._admin(f'DROP DATABASE IF EXISTS "{self.base_name}"')

    @staticmethod
    def use(name: str) -> None:
        from django.conf import settings
        from django.db import connections

        connections.close_all()
        settings.DATABASES["default"]["NAME"] = name
        connections["default"].settings_dict["NAME"] = name


def workspace(database: Database, invoices: int, lines: int, seed: int) -> dict[str, float]:
    from django.db import connections

    marker = database.folder / "workspace.json"
    wanted = {"invoices": invoices, "lines": lines, "seed": seed}
    if not database.url and marker.exists() and json.loads(marker.read_text()) == wanted:
        database.use(str(database.folder / "base.sqlite3"))
        return {"reused": 1.0}  # --workspace: built by an earlier run with the same sizes
    database.base()
    paths = write_files(database.folder, invoices, lines, seed)
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
    if not database.url:
        marker.write_text(json.dumps(wanted))
    return seconds


def run_approach(database: Database, approach: str, profile: int) -> dict[str, Any]:
    from relance.cashapp import matching
    from relance.cashapp.models import BankLine
    from relance.core.actors import Actor
    from relance.ledger.models import Allocation, Entity, Payment

    size, bulk = APPROACHES[approach]
    batch = size or matching.BATCH_LINES
    database.copy(approach.replace("-", "_"))
    entity = Entity.objects.get(name="bench")
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    built: dict[str, float] = {}
    real_apply = matching.lines_apply

    def first_write(*args: Any, **kwargs: Any) -> Any:  # the indexes built, the first lines decided
        built.setdefault("cpu", time.process_time() - cpu)
        built.setdefault("wall", time.perf_counter() - wall)
        return real_apply(*args, **kwargs)

    matching.lines_apply = first_write  # type: ignore[assignment]

    cpu, wall = time.process_time(), time.perf_counter()
    try:
        outcome = matching.lines_match(
            entity=entity, actor=Actor.cli(), confirm=False, batch_size=batch, bulk=bulk
        )
    finally:
        matching.lines_apply = real_apply  # type: ignore[assignment]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if profiler is not None:
        import pstats

        profiler.disable()
        if os.environ.get("RELANCE_PROFILE_OUT"):  # for pstats' callers/callees views
            profiler.dump_stats(os.environ["RELANCE_PROFILE_OUT"])
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(profile)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(profile)
    result = {
        "approach": approach,
        "cpu_s": round(cpu, 1),
        "wall_s": round(wall, 1),
        "first_write_cpu_s": round(built.get("cpu", 0), 1),
        "first_write_wall_s": round(built.get("wall", 0), 1),
        **outcome.as_dict(),
        "payments": Payment.objects.filter(entity=entity).count(),
        "allocations": sorted(Allocation.objects.filter(entity=entity).values_list("invoice_id", "amount")),
        "statuses": dict(sorted(BankLine.objects.filter(entity=entity).values_list("bank_ref", "status"))),
    }
    database.drop(approach.replace("-", "_"))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument(
        "--approaches", nargs="+", choices=sorted(APPROACHES), default=["per-line", "bulk"], help="run each"
    )
    parser.add_argument("--database", help="postgres://USER:PASSWORD@HOST:PORT/NAME (default: SQLite files)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", type=int, default=0, help="print the N top functions (cProfile)")
    parser.add_argument(
        "--workspace",
        type=Path,
        help="SQLite: keep the built workspace in this folder and reuse it when the sizes and seed "
        "match (1M invoices take minutes to import; the approaches always run on copies)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.workspace:
        args.workspace.mkdir(parents=True, exist_ok=True)
    folder = args.workspace.resolve() if args.workspace else Path(tempfile.mkdtemp(prefix="match-apply-"))
    os.environ["DATABASE_URL"] = args.database or f"sqlite:///{folder / 'none.sqlite3'}"
    os.environ.setdefault("RELANCE_VAR_DIR", str(folder))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django

    django.setup()
    database = Database(folder, args.database)
    try:
        setup = workspace(database, args.invoices, args.lines, args.seed)
        runs = [run_approach(database, approach, args.profile) for approach in args.approaches]
    finally:
        database.close()
        if not args.workspace:
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
        "database": "postgresql" if args.database else "sqlite",
        "setup_wall_s": setup,
        "runs": [{k: v for k, v in run.items() if k not in ("allocations", "statuses")} for run in runs],
        "same_result": same,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{args.lines:,} lines against {args.invoices:,} open invoices ({report['database']}); "
            f"setup (wall s): {setup}"
        )
        for run in report["runs"]:
            print(
                f"  {run['approach']:>8}: CPU {run['cpu_s']} s, wall {run['wall_s']} s "
                f"(before the first write — open invoices read, indexes built: CPU {run['first_write_cpu_s']} s, "
                f"wall {run['first_write_wall_s']} s); "
                f"applied {run['applied']}, suggested {run['suggested']}, unmatched {run['unmatched']}, "
                f"refused {run['refused']}, payments {run['payments']}"
            )
    if not same:
        print("MISMATCH: the approaches applied different lines or allocations")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
