"""Benchmark the dunning decision step (``decide``) on Parquet with DuckDB.

    .venv/bin/python benchmarks/bench_decide.py --invoices 1000000 --customers 100000
    .venv/bin/python benchmarks/bench_decide.py --invoices 10000000 --customers 1000000
    .venv/bin/python benchmarks/bench_decide.py --parquet /tmp/d1m --command   # whole processes
    # … and an earlier version's whole command in the same run (a checkout or `git archive` of
    # relance/ and config/), its outputs compared with this one's:
    .venv/bin/python benchmarks/bench_decide.py --parquet /tmp/d1m --command --before /tmp/old-src

Data: the synthetic generator (``relance.synthetic``, seed 7, 2 years to 2026-11-23) writes the
ledger as Parquet; this script adds the dunning tables (policy per customer, channels, risk,
promises, disputes, plans, holds) drawn at random with a fixed seed. ``--parquet DIR`` reuses
a directory written by an earlier run.

Measured in the same process, on the same files:

* **floor**: one DuckDB query — per customer, the open overdue amount and the maximum days past
  due (invoices left-joined with their allocation sums, grouped by customer) — the least any
  decision step must read;
* **decide, first run**: no contact history, no reached steps (every open invoice is a
  candidate: the worst case, a catch-up over the whole book);
* **decide, next day**: the first run's decisions recorded as history and reached steps (what
  the app writes), then the next day decided — the steady state of a daily run.

``--backend spark`` adds the same three steps on Spark (local mode unless ``--spark-master``;
``--driver-memory``), in the same run, on the same files, after DuckDB's: the floor as the same
SQL in Spark, and each Spark decision checked equal to DuckDB's. The session's start is timed
apart (once per process).

    .venv/bin/python benchmarks/bench_decide.py --invoices 1000000 --customers 100000 --backend spark
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.processes import run_process
from relance.engine.dunning.contract import ALL_SCHEMAS, DUNNING_SCHEMAS
from relance.engine.dunning.decide import decide
from relance.engine.dunning.defaults import default_policies
from relance.engine.dunning.policy import CONTACT_ACTIONS
from relance.engine.dunning.tables import read_parquet_tables

END = date(2026, 11, 23)


def timed(job: Callable[[], Any], label: str = "") -> tuple[float, Any]:
    """Wall seconds of ``job``; with a label, printed with the process's CPU seconds (all threads),
    the number to compare when other work shares the machine."""
    started, cpu = time.perf_counter(), time.process_time()
    result = job()
    seconds = time.perf_counter() - started
    if label:
        print(f"{label}: {seconds:.2f} s, CPU {time.process_time() - cpu:.2f} s", file=sys.stderr, flush=True)
    return seconds, result


def generate_ledger(invoices: int, customers: int, out: Path) -> None:
    from relance.synthetic.generator import GeneratorConfig, iter_ledger_chunks
    from relance.synthetic.writers import write_parquet

    config = GeneratorConfig(invoices=invoices, customers=customers, end=END, seed=7)
    write_parquet(iter_ledger_chunks(config), out)


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype("int32"), pa.int32()).cast(pa.date32())


def _write(out: Path, name: str, columns: dict[str, Any]) -> int:
    table = pa.table(columns).cast(ALL_SCHEMAS[name].to_pyarrow())
    pq.write_table(table, out / f"{name}.parquet")
    return table.num_rows


def generate_dunning(out: Path, seed: int = 7) -> dict[str, int]:
    """Random but plausible dunning inputs for the customers and invoices in ``out``."""
    rng = np.random.default_rng(seed)
    customer_ids = pq.read_table(out / "customers.parquet", columns=["customer_id"]).column(0).to_numpy()
    invoices = pq.read_table(out / "invoices.parquet", columns=["invoice_id", "customer_id", "amount"])
    n = len(customer_ids)
    today = (END - date(1970, 1, 1)).days
    counts: dict[str, int] = {}
    policy = rng.choice(["standard", "white_glove", "high_risk"], size=n, p=[0.7, 0.15, 0.15])
    counts["customer_policy"] = _write(
        out, "customer_policy", {"customer_id": customer_ids, "policy_key": policy}
    )
    channel_rows = []
    for channel, share in (("email", 0.95), ("letter", 1.0), ("sms", 0.4), ("phone", 0.7)):
        channel_rows.append((customer_ids[rng.random(n) < share], channel))
    counts["customer_channels"] = _write(
        out,
        "customer_channels",
        {
            "customer_id": np.concatenate([ids for ids, _ in channel_rows]),
            "channel": np.concatenate([np.full(len(ids), channel) for ids, channel in channel_rows]),
        },
    )
    risk = rng.choice(["", "low", "medium", "high"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    limit = np.where(rng.random(n) < 0.5, rng.integers(1, 100, n) * 1000, 0)
    counts["customer_profile"] = _write(
        out,
        "customer_profile",
        {
            "customer_id": customer_ids,
            "risk": risk,
            "credit_limit": pa.array(
                [str(value) if value else None for value in limit.tolist()], pa.string()
            ),
            "currency": pq.read_table(out / "customers.parquet", columns=["currency"]).column(0),
        },
    )
    sample = rng.choice(invoices.num_rows, size=max(1, invoices.num_rows // 500), replace=False)
    picked = invoices.take(pa.array(sample))
    counts["disputes"] = _write(
        out,
        "disputes",
        {
            "dispute_id": np.arange(1, len(sample) + 1),
            "invoice_id": picked.column("invoice_id"),
            "customer_id": picked.column("customer_id"),
            "amount": picked.column("amount"),
            "reason_code": np.full(len(sample), "pricing"),
            "opened_on": _dates(today - rng.integers(0, 120, len(sample))),
            "resolved_on": pa.nulls(len(sample), pa.date32()),
        },
    )
    promised = rng.choice(customer_ids, size=max(1, n // 100), replace=False)
    counts["promises"] = _write(
        out,
        "promises",
        {
            "promise_id": np.arange(1, len(promised) + 1),
            "customer_id": promised,
            "created_on": _dates(today - rng.integers(1, 30, len(promised))),
            "promised_date": _dates(today + rng.integers(-20, 20, len(promised))),
            "amount": np.full(len(promised), "1000"),
            "status": np.full(len(promised), "open"),
        },
    )
    counts["promise_invoices"] = _write(out, "promise_invoices", {"promise_id": [], "invoice_id": []})
    on_plan = rng.choice(customer_ids, size=max(1, n // 200), replace=False)
    counts["plans"] = _write(
        out,
        "plans",
        {
            "plan_id": np.arange(1, len(on_plan) + 1),
            "customer_id": on_plan,
            "starts_on": _dates(today - rng.integers(1, 90, len(on_plan))),
            "status": np.full(len(on_plan), "active"),
            "currency": np.full(len(on_plan), "EUR"),
        },
    )
    plan_ids = np.repeat(np.arange(1, len(on_plan) + 1), 3)
    counts["plan_installments"] = _write(
        out,
        "plan_installments",
        {
            "plan_id": plan_ids,
            "sequence": np.tile([1, 2, 3], len(on_plan)),
            "due_date": _dates(today + np.tile([-25, 5, 35], len(on_plan))),
            "amount": np.full(len(plan_ids), "500"),
            "paid_on": pa.nulls(len(plan_ids), pa.date32()),
        },
    )
    held = rng.choice(customer_ids, size=max(1, n // 200), replace=False)
    counts["holds"] = _write(
        out,
        "holds",
        {
            "customer_id": held,
            "kind": rng.choice(["hold", "legal", "do_not_contact"], size=len(held)),
            "reason": np.full(len(held), "benchmark"),
            "starts_on": _dates(today - rng.integers(1, 60, len(held))),
            "ends_on": pa.nulls(len(held), pa.date32()),
        },
    )
    for name in ("contact_history", "invoice_steps"):
        counts[name] = _write(out, name, {column: [] for column in DUNNING_SCHEMAS[name].names})
    return counts


def record(out: Path, result: Any) -> None:
    """Write the run's decisions as the app would: contact history and reached steps."""
    decisions = result.decisions
    action = decisions.column("action").to_pylist()
    history = pa.table(
        {
            "customer_id": decisions.column("customer_id"),
            "date": pa.array([result.as_of] * decisions.num_rows, pa.date32()),
            "step_key": decisions.column("step_key"),
            "channel": decisions.column("channel"),
            "is_contact": pa.array([value in CONTACT_ACTIONS for value in action], pa.bool_()),
        }
    )
    pq.write_table(history.cast(ALL_SCHEMAS["contact_history"].to_pyarrow()), out / "contact_history.parquet")
    steps = result.invoice_steps.select(["invoice_id", "step_key", "step_index", "reached_on"])
    pq.write_table(steps.cast(ALL_SCHEMAS["invoice_steps"].to_pyarrow()), out / "invoice_steps.parquet")


FLOOR_SQL = """
SELECT i.customer_id, i.currency,
       SUM(CAST(ROUND(i.amount * 10000) AS BIGINT) - COALESCE(a.allocated, 0)) AS overdue_units,
       MAX(DATE '{as_of}' - i.due_date) AS max_days_past_due
FROM read_parquet('{d}/invoices.parquet') i
LEFT JOIN (
    SELECT invoice_id, SUM(CAST(ROUND(amount * 10000) AS BIGINT)) AS allocated
    FROM read_parquet('{d}/allocations.parquet') WHERE date <= DATE '{as_of}' GROUP BY invoice_id
) a ON a.invoice_id = i.invoice_id
WHERE i.status <> 'void' AND i.issue_date <= DATE '{as_of}' AND i.due_date < DATE '{as_of}'
  AND CAST(ROUND(i.amount * 10000) AS BIGINT) - COALESCE(a.allocated, 0) > 0
GROUP BY i.customer_id, i.currency
"""


def floor(directory: Path, as_of: date) -> int:
    con = duckdb.connect()
    rows = con.sql(FLOOR_SQL.format(d=directory, as_of=as_of)).to_arrow_table().num_rows
    con.close()
    return rows


FLOOR_SCRIPT = """
import sys, duckdb
sql = sys.stdin.read()
print(duckdb.connect().sql(sql).to_arrow_table().num_rows)
"""


# Run the CLI from another source tree: an editable install's import finder wins over sys.path.
BEFORE_SCRIPT = """
import sys
source = sys.argv.pop(1)
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, source)
from relance.cli import main
sys.argv[0] = "relance"
sys.exit(main())
"""
OUTPUT_SUFFIXES = ("", ".invoice_steps", ".suppressed", ".worklist")


def commands(directory: Path, as_of: date, repeat: int, before: Path | None = None) -> None:
    """Whole processes, as a user runs them: ``relance engine run`` beside the floor query run by a
    bare ``python -c 'import duckdb'``, each timed alone (wall, CPU, peak RSS); with ``before``,
    that source tree's command too, interleaved, and its outputs compared with this one's."""
    relance = str(Path(sys.executable).with_name("relance"))
    out = Path(tempfile.mkdtemp(prefix="bench_decide_out_"))
    run = ["engine", "run", "--source", str(directory), "--as-of", as_of.isoformat(), "--out"]
    rows: list[tuple[str, float, float, float]] = []
    loads = [os.getloadavg()[0]]
    try:
        for _ in range(repeat):
            wall, cpu, rss, _ = run_process(
                [sys.executable, "-c", FLOOR_SCRIPT], FLOOR_SQL.format(d=directory, as_of=as_of)
            )
            rows.append(("floor (one DuckDB query, python -c)", wall, cpu, rss))
            print(f"floor process: {wall:.2f} s, CPU {cpu:.2f} s, {rss:.0f} MiB", file=sys.stderr)
            if before is not None:
                wall, cpu, rss, _ = run_process(
                    [sys.executable, "-c", BEFORE_SCRIPT, str(before), *run, str(out / "before.parquet")]
                )
                rows.append(("relance engine run, --before", wall, cpu, rss))
                print(f"before: {wall:.2f} s, CPU {cpu:.2f} s, {rss:.0f} MiB", file=sys.stderr)
            wall, cpu, rss, text = run_process([relance, *run, str(out / "decisions.parquet")])
            if "\r" in text or "%" in text:  # DuckDB's progress bar: off in the engine's connections
                print(f"the command drew a progress bar:\n{text[:500]}", file=sys.stderr)
            rows.append(("relance engine run (whole command)", wall, cpu, rss))
            print(f"relance engine run: {wall:.2f} s, CPU {cpu:.2f} s, {rss:.0f} MiB", file=sys.stderr)
            loads.append(os.getloadavg()[0])
        if before is not None:
            compare_outputs(out / "before.parquet", out / "decisions.parquet")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    best = {name: min((r for r in rows if r[0] == name), key=lambda r: r[2]) for name, *_ in rows}
    floor_wall = best["floor (one DuckDB query, python -c)"][1]
    floor_cpu = best["floor (one DuckDB query, python -c)"][2]
    print()
    print(f"load average (1 min) during the runs: {min(loads):.2f}–{max(loads):.2f}")
    print(
        f"{'process (best CPU of ' + str(repeat) + ')':40} {'wall s':>8} {'CPU s':>8} {'MiB':>7} {'× wall':>7} {'× CPU':>7}"
    )
    for name, wall, cpu, rss in best.values():
        print(f"{name:40} {wall:8.2f} {cpu:8.2f} {rss:7.0f} {wall / floor_wall:7.1f} {cpu / floor_cpu:7.1f}")


COUNT_SQL = "SELECT count(*) FROM read_parquet('{a}')"
EXCEPT_SQL = (
    "SELECT count(*) FROM (SELECT * FROM read_parquet('{a}') EXCEPT ALL SELECT * FROM read_parquet('{b}'))"
)


def compare_outputs(left: Path, right: Path) -> None:
    """Each output of two runs, ``EXCEPT ALL`` both ways (0 and 0: the same rows)."""
    for suffix in OUTPUT_SUFFIXES:
        a = left.with_name(left.stem + suffix + left.suffix)
        b = right.with_name(right.stem + suffix + right.suffix)
        count = duckdb.sql(COUNT_SQL.format(a=a)).fetchall()[0][0]
        only_a = duckdb.sql(EXCEPT_SQL.format(a=a, b=b)).fetchall()[0][0]
        only_b = duckdb.sql(EXCEPT_SQL.format(a=b, b=a)).fetchall()[0][0]
        print(
            f"{suffix.lstrip('.') or 'decisions'}: {count:,} rows; only before {only_a}, only after {only_b}"
        )


SPARK_FLOOR_SQL = FLOOR_SQL.replace(
    "read_parquet('{d}/invoices.parquet')", "parquet.`{d}/invoices.parquet`"
).replace("read_parquet('{d}/allocations.parquet')", "parquet.`{d}/allocations.parquet`")


def spark_floor(con: Any, directory: Path, as_of: date) -> int:
    return con._session.sql(SPARK_FLOOR_SQL.format(d=directory, as_of=as_of)).toArrow().num_rows


def run_decide(directory: Path, as_of: date, con: Any = None) -> Any:
    """Decide on ``directory``: a fresh DuckDB each time, or the given (Spark) backend."""
    con, tables = read_parquet_tables(directory, con)
    return decide(tables, default_policies(), as_of=as_of, backend=con)


def same(left: Any, right: Any) -> bool:
    return all(
        getattr(left, name).equals(getattr(right, name))
        for name in ("decisions", "invoice_steps", "suppressed", "worklist")
    )


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
    parser.add_argument(
        "--command",
        action="store_true",
        help="instead: time whole processes, `relance engine run` and the floor query (wall, CPU, peak RSS)",
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="with --command: also run this source tree's `relance engine run` (a checkout of an "
        "earlier commit), interleaved, and compare its outputs",
    )
    parser.add_argument("--repeat", type=int, default=2, help="timed repetitions of each step (default 2)")
    parser.add_argument(
        "--backend",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="spark: also run every step on Spark, after DuckDB (default duckdb only)",
    )
    parser.add_argument(
        "--spark-master", default="local[*]", help="Spark master with --backend spark (default local[*])"
    )
    parser.add_argument(
        "--driver-memory", default="6g", help="Spark driver memory with --backend spark (default 6g)"
    )
    args = parser.parse_args()
    spark = None
    if args.backend == "spark":
        from relance.engine.spark import SparkOptions, spark_backend

        options = SparkOptions(master=args.spark_master, driver_memory=args.driver_memory)
        seconds, spark = timed(lambda: spark_backend(options))
        print(f"started Spark ({args.spark_master}) in {seconds:.1f} s", file=sys.stderr)
    as_of = END
    directory = args.parquet or Path(tempfile.mkdtemp(prefix="bench_decide_"))
    try:
        if not (directory / "invoices.parquet").exists():
            directory.mkdir(parents=True, exist_ok=True)
            seconds, _ = timed(lambda: generate_ledger(args.invoices, args.customers, directory))
            print(f"generated the ledger in {seconds:.1f} s", file=sys.stderr)
        for name in ("contact_history", "invoice_steps"):  # a previous run's recording
            (directory / f"{name}.parquet").unlink(missing_ok=True)
        seconds, counts = timed(lambda: generate_dunning(directory))
        print(f"generated the dunning tables in {seconds:.1f} s: {counts}", file=sys.stderr)
        sizes = {
            name: pq.ParquetFile(directory / f"{name}.parquet").metadata.num_rows
            for name in ("invoices", "allocations", "customers")
        }
        print(f"ledger: {sizes}", file=sys.stderr)
        if args.command:
            commands(directory, as_of, args.repeat, args.before)
            return
        results: list[tuple[str, list[float], str]] = []
        floor_times = []
        for _ in range(args.repeat):
            seconds, floor_rows = timed(lambda: floor(directory, as_of), "floor")
            floor_times.append(seconds)
        results.append(("floor: DuckDB scan-aggregate", floor_times, f"{floor_rows:,} customer rows"))
        if spark is not None:
            times = []
            for _ in range(args.repeat):
                seconds, rows = timed(lambda: spark_floor(spark, directory, as_of), "spark floor")
                times.append(seconds)
            results.append(("floor: Spark scan-aggregate", times, f"{rows:,} customer rows"))
        first_times = []
        for _ in range(args.repeat):
            seconds, first = timed(lambda: run_decide(directory, as_of), "decide, first run")
            first_times.append(seconds)
        results.append(("decide, first run (no history)", first_times, _summary(first)))
        if spark is not None:
            times = []
            for _ in range(args.repeat):
                seconds, on_spark = timed(lambda: run_decide(directory, as_of, spark), "spark decide, first")
                times.append(seconds)
            check = "same as DuckDB" if same(on_spark, first) else "DIFFERS from DuckDB"
            results.append(("Spark decide, first run", times, f"{_summary(on_spark)}; {check}"))
        record(directory, first)
        next_times = []
        for _ in range(args.repeat):
            seconds, following = timed(
                lambda: run_decide(directory, as_of + timedelta(days=1)), "decide, next day"
            )
            next_times.append(seconds)
        results.append(("decide, next day (history recorded)", next_times, _summary(following)))
        if spark is not None:
            times = []
            for _ in range(args.repeat):
                seconds, on_spark = timed(
                    lambda: run_decide(directory, as_of + timedelta(days=1), spark), "spark decide, next"
                )
                times.append(seconds)
            check = "same as DuckDB" if same(on_spark, following) else "DIFFERS from DuckDB"
            results.append(("Spark decide, next day", times, f"{_summary(on_spark)}; {check}"))
        best_floor = min(floor_times)
        print()
        print(
            f"invoices {sizes['invoices']:,}, allocations {sizes['allocations']:,}, customers {sizes['customers']:,}"
        )
        print(f"{'step':40} {'best s':>8} {'all s':>18} {'× floor':>8}  output")
        for name, times, summary in results:
            print(
                f"{name:40} {min(times):8.2f} {' / '.join(f'{t:.2f}' for t in times):>18} "
                f"{min(times) / best_floor:8.1f}  {summary}"
            )
    finally:
        if args.parquet is None:
            shutil.rmtree(directory, ignore_errors=True)


def _summary(result: Any) -> str:
    return (
        f"{result.decisions.num_rows:,} decisions, {result.invoice_steps.num_rows:,} invoice steps, "
        f"{result.suppressed.num_rows:,} suppressed, {result.worklist.num_rows:,} worklist rows"
    )


if __name__ == "__main__":
    main()
