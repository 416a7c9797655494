"""Benchmark the daily credit run (issue 15): every customer scored, then the review triggers.

    .venv/bin/python benchmarks/bench_credit.py --invoices 1000000 --customers 100000
    .venv/bin/python benchmarks/bench_credit.py --invoices 10000000 --customers 1000000
    .venv/bin/python benchmarks/bench_credit.py --parquet /tmp/c1m   # keep (or reuse) the files

Data: the synthetic ledger (``relance.synthetic``, seed 7, to 2026-11-23) as Parquet, the dunning
tables of ``bench_decide`` (promises, disputes, holds…), and the credit inputs drawn with a fixed
seed: each customer's limit and currency (the generator's), orders for a tenth of the customers
(open / delivered / invoiced), a year of daily EUR rates to USD and GBP, a bureau report for a
third of the customers (two for some: a later one worse), returned payments for 1 %, last review
dates within the last two months for 95 % (reviews kept up to date), and yesterday's scores (the run of the day before, not timed) as the previous
scores.

Measured in the same process, on the same files, each step ``--repeat`` times (best kept; wall
and the process's CPU seconds, the number to compare on a shared machine):

* **floor**: the bare DuckDB group-by of ``bench_decide`` — per customer, the open amount and
  the days past due (invoices left-joined with their allocation sums) — the least any scoring
  must read;
* **daily credit run**: ``relance.engine.credit.daily.daily_credit`` on DuckDB over the Parquet
  — factors, scores and classes of every customer (fetched: the app stores them), then the
  review triggers (fetched) — and the proposals in Python for the triggered customers.

Targets (issue 15): 1M customers / 10M invoices ≤ 30 s, and ≤ 3× the floor in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks.bench_decide import END, floor, generate_dunning, generate_ledger
from relance.engine.credit.daily import daily_credit
from relance.engine.credit.defaults import default_scorecard
from relance.engine.credit.triggers import propose, triggers_of_rows
from relance.engine.dunning.contract import CONTRACT_SCHEMAS
from relance.engine.dunning.tables import read_parquet_tables


def timed(job: Callable[[], Any], label: str) -> tuple[float, float, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    result = job()
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    print(f"{label}: {wall:.2f} s, CPU {used:.2f} s", file=sys.stderr, flush=True)
    return wall, used, result


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype("int32"), pa.int32()).cast(pa.date32())


def _write(out: Path, name: str, columns: dict[str, Any]) -> int:
    table = pa.table(columns).cast(CONTRACT_SCHEMAS[name].to_pyarrow())
    pq.write_table(table, out / f"{name}.parquet")
    return table.num_rows


def generate_credit(out: Path, seed: int = 11) -> dict[str, int]:
    """The credit inputs for the customers in ``out`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    customers = pq.read_table(out / "customers.parquet", columns=["customer_id", "currency", "credit_limit"])
    ids = customers.column("customer_id").to_numpy()
    n = len(ids)
    today = (END - date(1970, 1, 1)).days
    counts = {}
    risk = rng.choice(["", "low", "medium", "high"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    counts["customer_profile"] = _write(
        out,
        "customer_profile",
        {
            "customer_id": ids,
            "risk": risk,
            "credit_limit": customers.column("credit_limit").cast(pa.decimal128(18, 4)),
            "currency": customers.column("currency"),
        },
    )
    ordering = rng.choice(ids, size=max(1, n // 10))
    counts["orders"] = _write(
        out,
        "orders",
        {
            "order_id": np.arange(1, len(ordering) + 1),
            "entity_id": np.ones(len(ordering), dtype=np.int64),
            "customer_id": ordering,
            "currency": rng.choice(["EUR", "USD", "GBP"], size=len(ordering), p=[0.6, 0.3, 0.1]),
            "order_date": _dates(today - rng.integers(0, 60, len(ordering))),
            "amount": pa.array((rng.integers(100, 50_000, len(ordering))).astype(str)),
            "status": rng.choice(["open", "delivered", "invoiced", "cancelled"], size=len(ordering)),
        },
    )
    days = np.arange(today - 365, today + 1)
    rates = []
    for quote, level in (("USD", 1.08), ("GBP", 0.85)):
        rates.append((days, quote, level * (1 + 0.02 * np.sin(days / 30.0))))
    counts["exchange_rates"] = _write(
        out,
        "exchange_rates",
        {
            "rate_date": _dates(np.concatenate([d for d, _, _ in rates])),
            "base_currency": np.full(sum(len(d) for d, _, _ in rates), "EUR"),
            "quote_currency": np.concatenate([np.full(len(d), q) for d, q, _ in rates]),
            "rate": pa.array([f"{value:.8f}" for _, _, values in rates for value in values]),
        },
    )
    reported = rng.choice(ids, size=max(1, n // 3), replace=False)
    again = reported[rng.random(len(reported)) < 0.1]
    first_score = rng.uniform(5, 95, len(reported))
    counts["bureau_reports"] = _write(
        out,
        "bureau_reports",
        {
            "customer_id": np.concatenate([reported, again]),
            "reported_on": _dates(
                np.concatenate([today - rng.integers(30, 400, len(reported)), np.full(len(again), today)])
            ),
            "bureau_score": np.concatenate([first_score, rng.uniform(5, 60, len(again))]),
            "recommended_limit": pa.array(
                rng.integers(1, 200, len(reported) + len(again)).astype(np.int64) * 1000
            ).cast(pa.string()),
            "derogatory_events": np.concatenate(
                [rng.poisson(0.2, len(reported)), rng.poisson(1.0, len(again))]
            ).astype(np.int64),
        },
    )
    returned = rng.choice(ids, size=max(1, n // 100))
    counts["returned_payments"] = _write(
        out,
        "returned_payments",
        {
            "customer_id": returned,
            "returned_on": _dates(today - rng.integers(0, 500, len(returned))),
            "amount": pa.array(rng.integers(50, 5_000, len(returned)).astype(str)),
        },
    )
    reviewed = ids[rng.random(n) < 0.95]  # reviews kept up: the last one within two months
    pq.write_table(
        pa.table(
            {
                "customer_id": reviewed,
                "last_reviewed_on": _dates(today - rng.integers(0, 61, len(reviewed))),
            }
        ),
        out / "last_reviews.parquet",
    )
    counts["last_reviews"] = len(reviewed)
    return counts


def run(directory: Path, as_of: date, previous: Path | None) -> Any:
    """The engine's daily run on a fresh DuckDB over the files: scores and triggers fetched."""
    con, tables = read_parquet_tables(directory)
    try:
        last_reviews = con.read_parquet(str(directory / "last_reviews.parquet"), table_name="last_reviews")
        previous_scores = None
        if previous is not None:
            previous_scores = con.read_parquet(str(previous), table_name="previous_scores")
        return daily_credit(
            tables,
            default_scorecard(),
            as_of,
            backend=con,
            previous_scores=previous_scores,
            last_reviews=last_reviews,
        )
    finally:
        con.disconnect()


def proposals(result: Any) -> list[Any]:
    """What the app does next with the triggers: the sentences and one proposal per customer."""
    return propose(triggers_of_rows(result.triggers.to_pylist()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--invoices", type=int, default=1_000_000, help="invoices to generate (default 1,000,000)"
    )
    parser.add_argument(
        "--customers", type=int, default=100_000, help="customers to generate (default 100,000)"
    )
    parser.add_argument("--parquet", type=Path, help="reuse (or keep) the Parquet directory here")
    parser.add_argument("--repeat", type=int, default=2, help="timed repetitions of each step (default 2)")
    args = parser.parse_args()
    ibis.options.interactive = False
    directory = args.parquet or Path(tempfile.mkdtemp(prefix="bench_credit_"))
    as_of = END
    try:
        if not (directory / "invoices.parquet").exists():
            directory.mkdir(parents=True, exist_ok=True)
            seconds, _, _ = timed(lambda: generate_ledger(args.invoices, args.customers, directory), "ledger")
            timed(lambda: generate_dunning(directory), "dunning tables")
            timed(lambda: generate_credit(directory), "credit tables")
        previous = directory / "previous_scores.parquet"
        if not previous.exists():
            _, _, yesterday = timed(lambda: run(directory, as_of - timedelta(days=1), None), "yesterday")
            scores = yesterday.scores
            pq.write_table(
                pa.table(
                    {
                        "customer_id": scores.column("customer_id"),
                        "scored_on": pa.array([as_of - timedelta(days=1)] * scores.num_rows, pa.date32()),
                        "score": scores.column("score"),
                        "risk_class": scores.column("risk_class"),
                    }
                ),
                previous,
            )
        sizes = {
            name: pq.ParquetFile(directory / f"{name}.parquet").metadata.num_rows
            for name in ("invoices", "allocations", "customers", "orders", "bureau_reports")
        }
        print(f"ledger: {sizes}", file=sys.stderr)
        floors, runs, proposing = [], [], []
        for _ in range(args.repeat):
            wall, cpu, _ = timed(lambda: floor(directory, as_of), "floor")
            floors.append((wall, cpu))
            wall, cpu, result = timed(lambda: run(directory, as_of, previous), "daily credit run")
            runs.append((wall, cpu))
            wall, cpu, proposed = timed(partial(proposals, result), "sentences and proposals")
            proposing.append((wall, cpu))
        codes = pc.value_counts(result.triggers.column("trigger")).to_pylist()
        decisions: dict[str, int] = {}
        for proposal in proposed:
            decisions[proposal.decision] = decisions.get(proposal.decision, 0) + 1
        classes = pc.value_counts(result.scores.column("risk_class")).to_pylist()
        # the best wall and the best CPU of the repetitions, each on its own
        floor_wall, floor_cpu = (min(values) for values in zip(*floors, strict=True))
        run_wall, run_cpu = (min(values) for values in zip(*runs, strict=True))
        propose_wall, propose_cpu = (min(values) for values in zip(*proposing, strict=True))
        print()
        print(
            f"invoices {sizes['invoices']:,}, allocations {sizes['allocations']:,}, "
            f"customers {sizes['customers']:,}, orders {sizes['orders']:,}, bureau reports {sizes['bureau_reports']:,}"
        )
        print(
            f"{'step (best of ' + str(args.repeat) + ')':34} {'wall s':>8} {'CPU s':>8} {'× floor wall':>13} {'× floor CPU':>12}"
        )
        print(
            f"{'floor: DuckDB scan-aggregate':34} {floor_wall:8.2f} {floor_cpu:8.2f} {1.0:13.1f} {1.0:12.1f}"
        )
        print(
            f"{'daily credit run (scores+triggers)':34} {run_wall:8.2f} {run_cpu:8.2f} "
            f"{run_wall / floor_wall:13.1f} {run_cpu / max(floor_cpu, 1e-9):12.1f}"
        )
        print(
            f"{'+ sentences and proposals (Python)':34} {propose_wall:8.2f} {propose_cpu:8.2f} "
            f"{(run_wall + propose_wall) / floor_wall:13.1f} "
            f"{(run_cpu + propose_cpu) / max(floor_cpu, 1e-9):12.1f}"
        )
        print(
            f"scores: {result.scores.num_rows:,} customers; classes {sorted((c['values'], c['counts']) for c in classes)}"
        )
        print(
            f"triggers: {result.triggers.num_rows:,} rows; {sorted((c['values'], c['counts']) for c in codes)}"
        )
        print(f"proposals: {len(proposed):,}; {sorted(decisions.items())}")
        if result.scores.num_rows != sizes["customers"]:
            print("MISMATCH: not one score per customer", file=sys.stderr)
            raise SystemExit(1)
    finally:
        if args.parquet is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
