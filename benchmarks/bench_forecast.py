"""Benchmark the cash forecast (issue 16): ``relance.ml.forecast`` over N open invoices.

    .venv/bin/python benchmarks/bench_forecast.py --invoices 1000000

Input: N invoices with pay-date quantiles drawn with a fixed seed (median 1–90 days after the
as-of date, p10 up to 20 days before it, p90 up to 40 after; amounts 10–5,000), two currencies
with a rate, as the columns the stored predictions load into (``PayDateArrays``). Timed: the
whole forecast (13 weeks, 14 days, per currency and converted), best of ``--repeat``; wall and the
process's CPU seconds (the number to compare on a shared machine). Target: ≤ 5 s for 1M invoices.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from decimal import Decimal

import numpy as np

from relance.core.rates import Rate, RateTable
from relance.ml.forecast import PayDateArrays, forecast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.invoices
    as_of = date(2026, 11, 30)
    rng = np.random.default_rng(7)
    median = rng.integers(1, 91, n)
    base = np.datetime64(as_of, "D")
    columns = PayDateArrays.of_columns(
        invoice_refs=np.arange(n).astype(str).tolist(),
        customer_refs=(np.arange(n) % 100_000).astype(str).tolist(),
        currencies=np.where(rng.random(n) < 0.8, "EUR", "USD").tolist(),
        open_amounts=rng.uniform(10, 5000, n).round(2),
        p10=base + np.maximum(1, median - rng.integers(0, 21, n)).astype("timedelta64[D]"),
        median=base + median.astype("timedelta64[D]"),
        p90=base + (median + rng.integers(0, 41, n)).astype("timedelta64[D]"),
    )
    rates = RateTable.of([Rate(date(2026, 11, 27), "USD", "EUR", Decimal("0.92"))])
    best = (float("inf"), float("inf"))
    for _ in range(args.repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        report = forecast(columns, as_of, currency="EUR", rates=rates)
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    print(
        f"{n:,} invoices: forecast {best[0]:.2f} s wall, {best[1]:.2f} s CPU ({report.method}); "
        f"open {report.total.open_amount} EUR, week 1 {report.total.weeks[0].expected}"
    )


if __name__ == "__main__":
    main()
