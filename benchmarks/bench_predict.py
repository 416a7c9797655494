"""Benchmark the pay-date predictions (issue 16): features, training and prediction of every open invoice.

    .venv/bin/python benchmarks/bench_predict.py --invoices 100000 --customers 10000
    .venv/bin/python benchmarks/bench_predict.py --invoices 10000000 --customers 1000000
    .venv/bin/python benchmarks/bench_predict.py --parquet /tmp/p1m   # keep (or reuse) the files
    .venv/bin/python benchmarks/bench_predict.py --invoices 1000000 --customers 100000 --simple

Data: the synthetic ledger (``relance.synthetic``, seed 7, to 2026-11-23) as Parquet and the
dunning tables of ``bench_decide`` (promises, disputes, contacts…). The run is
``relance.ml.pipeline.predict_open_invoices`` on DuckDB over the files, as of the generator's last
day, each step timed (wall and the process's CPU seconds, the number to compare on a shared
machine): the prediction rows' features, the training snapshots (sampled to about
``--max-training-rows``), the fit, the prediction with its drivers.

It checks itself and exits 1 on a failure: every invoice open at the date predicted once, every
date after it, p10 ≤ median ≤ p90, p_late in 0..1; and it prints the held-out metrics of the model
beside the baseline's.

``--simple`` runs the simple approach after it in the same process — the training snapshots read
by one query per snapshot date (``PredictSettings(one_query=False)``) instead of one query for
them all — and checks that both give the same predictions. ``--simple-contributions`` likewise
runs the drivers' contributions by one ``pred_contribs`` call over every row
(``PredictSettings(contributions_by_pattern=False)``) and checks the predictions and drivers are
the same.

Targets (issue 16): 1M open invoices (history 10M) ≤ 60 s, training included ≤ 5 min, on 2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_decide import END, generate_dunning, generate_ledger
from relance.engine.dunning.behaviour import invoice_frame
from relance.engine.dunning.tables import read_parquet_tables
from relance.ml.pipeline import PredictSettings, predict_open_invoices


def run(tables: Any, con: Any, settings: PredictSettings, label: str) -> Any:
    """``predict_open_invoices`` as of the generator's last day, each step timed (wall and CPU)."""
    marks: list[tuple[str, float, float]] = []

    def step(text: str) -> None:
        marks.append((text, time.perf_counter(), time.process_time()))
        print(f"  … {text}", file=sys.stderr, flush=True)

    print(f"{label}:")
    started, cpu = time.perf_counter(), time.process_time()
    result = predict_open_invoices(tables, END, backend=con, settings=settings, step=step)
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    marks.append(("end", time.perf_counter(), time.process_time()))
    snapshots = [mark for mark in marks if mark[0].startswith("training rows")]
    for (name, at, at_cpu), (_, until, until_cpu) in zip(marks, marks[1:], strict=False):
        if name.startswith("training rows as of") and name != snapshots[0][0]:
            continue
        if name.startswith("training rows as of"):  # one line for the snapshot queries together
            after = marks[marks.index(snapshots[-1]) + 1]
            name, until, until_cpu = f"training rows: {len(snapshots)} queries", after[1], after[2]
        print(f"  {name}: {until - at:.2f} s, CPU {until_cpu - at_cpu:.2f} s")
    print(f"  total: {wall:.2f} s, CPU {used:.2f} s — {len(result.predictions)} open invoices predicted")
    print(f"  model: {result.summary.model}; {result.summary.note}")
    for model, numbers in (result.metrics.get("holdout") or {}).items():
        print(f"  held out, {model}: {numbers}")
    return result


def _differences(fast: Any, simple: Any) -> dict[str, int]:
    """How many predictions differ between two runs, and in which fields."""
    counts: dict[str, int] = {"predictions": 0}
    for one, other in zip(fast, simple, strict=True):
        a, b = one.to_json(), other.to_json()
        if a != b:
            counts["predictions"] += 1
            for key in a:
                if a[key] != b[key]:
                    counts[key] = counts.get(key, 0) + 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--parquet", type=Path, help="keep the files here (reused when present)")
    parser.add_argument("--max-training-rows", type=int, default=PredictSettings.max_training_rows)
    parser.add_argument("--estimators", type=int, default=PredictSettings.n_estimators)
    parser.add_argument("--snapshots", type=int, default=PredictSettings.snapshots)
    parser.add_argument("--simple", action="store_true", help="also one query per snapshot, and compare")
    parser.add_argument(
        "--simple-contributions",
        action="store_true",
        help="also the drivers' contributions by one pred_contribs call over every row, and compare",
    )
    args = parser.parse_args()

    directory = args.parquet or Path(tempfile.mkdtemp(prefix="bench_predict_"))
    try:
        if not (directory / "invoices.parquet").exists() and not (directory / "invoices").exists():
            directory.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            generate_ledger(args.invoices, args.customers, directory)
            generate_dunning(directory)
            print(
                f"generated {args.invoices} invoices in {time.perf_counter() - started:.1f} s",
                file=sys.stderr,
            )
        con, tables = read_parquet_tables(directory)
        as_of = END
        settings = PredictSettings(
            max_training_rows=args.max_training_rows, n_estimators=args.estimators, snapshots=args.snapshots
        )
        result = run(tables, con, settings, "one query for the snapshots")
        if args.simple:
            simple = run(tables, con, replace(settings, one_query=False), "simple: a query per snapshot")
        if args.simple_contributions:
            direct = run(
                tables,
                con,
                replace(settings, contributions_by_pattern=False),
                "simple: pred_contribs over every row",
            )
        frame = invoice_frame(tables, as_of)
        open_now = int(con.to_pyarrow(frame.filter(frame.open_units > 0).count()).as_py())
        problems = []
        ids = [p.invoice_id for p in result.predictions]
        if len(ids) != len(set(ids)) or len(ids) != open_now:
            problems.append(f"{len(ids)} predictions ({len(set(ids))} invoices) for {open_now} open invoices")
        for p in result.predictions:
            if not (as_of + timedelta(days=1) <= p.pay_date_p10 <= p.expected_pay_date <= p.pay_date_p90):
                problems.append(
                    f"invoice {p.invoice_id}: dates out of order or before {as_of + timedelta(days=1)}"
                )
                break
            if not 0.0 <= p.p_late <= 1.0:
                problems.append(f"invoice {p.invoice_id}: p_late {p.p_late}")
                break
        if args.simple and [p.to_json() for p in simple.predictions] != [
            p.to_json() for p in result.predictions
        ]:
            problems.append("the simple approach's predictions differ")
        if args.simple_contributions:
            differ = _differences(result.predictions, direct.predictions)
            print(f"pred_contribs over every row against by path pattern: {differ}")
            if differ["predictions"]:
                problems.append("the drivers by one pred_contribs call differ")
        for problem in problems:
            print(f"MISMATCH: {problem}")
        return 1 if problems else 0
    finally:
        if args.parquet is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
