"""Run every benchmark at a small size, so none rots (``make bench-smoke``; CI runs it as a test).

    .venv/bin/python benchmarks/smoke.py                 # all of them
    .venv/bin/python benchmarks/smoke.py bench_kpi bench_send
    .venv/bin/python benchmarks/smoke.py --json

A benchmark passes when it exits 0: each one compares itself with its simple approach in the
same run and exits 1 when their results disagree (e.g. ``bench_kpi``'s "MISMATCH"). The numbers
of a smoke run mean nothing; docs/benchmarks.md has the real ones.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent

# Each benchmark's smallest meaningful size. A new benchmarks/bench_*.py must be added here
# (tests/test_bench_smoke.py fails otherwise).
SMOKE_ARGS: dict[str, tuple[str, ...]] = {
    "bench_api": ("--customers", "50", "--invoices", "500", "--put-sample", "20"),
    "bench_audit": ("--saves", "200", "--events", "2000"),
    "bench_bank_import": ("--entries", "200"),
    "bench_compliance": ("--customers", "50", "--history", "200", "--messages", "50", "--samples", "5"),
    "bench_credit_check": (
        "--customers",
        "30",
        "--clients",
        "2",
        "--requests",
        "20",
        "--think",
        "0",
        "--workers",
        "1",
    ),
    "bench_dashboard": ("--invoices", "3000", "--customers", "100", "--loads", "3", "--simple-runs", "1"),
    "bench_credit": ("--invoices", "20000", "--customers", "2000", "--repeat", "1"),
    "bench_duplicates": ("--customers", "5000", "--all-pairs", "800"),
    "bench_decide": ("--invoices", "20000", "--repeat", "1"),
    "bench_forecast": ("--invoices", "20000", "--repeat", "1"),
    "bench_generate": ("--invoices", "20000", "--naive-invoices", "2000", "--csv-invoices", "5000"),
    "bench_import": (
        "--rows",
        "3000",
        "--customers",
        "100",
        "--naive-rows",
        "300",
        "--payments-rows",
        "1000",
    ),
    "bench_invoice_documents": ("--invoices", "50", "--pdf-kb", "20"),
    "bench_sync": ("--invoices", "300", "--customers", "30"),
    "bench_webhooks": (
        "--events",
        "200",
        "--customers",
        "20",
        "--latency-events",
        "10",
        "--down-events",
        "20",
        "--down-seconds",
        "2",
    ),
    "bench_kpi": ("--invoices", "20000", "--backend", "sqlite", "--repeat", "1"),
    "bench_quality_report": ("--customers", "300", "--simple-sample", "50"),
    "bench_letters": ("--letters", "10", "--simple", "3", "--workers", "1"),
    "bench_match_apply": ("--invoices", "2000", "--lines", "200"),
    "bench_matching": ("--items", "20000", "--lines", "2000"),
    "bench_my_accounts": ("--accounts", "20", "--other-accounts", "50", "--invoices-per-account", "3"),
    "bench_ibm_backtest": ("--from", "2013-11-01", "--to", "2013-12-01", "--every", "30"),
    "bench_pay_to_inv": ("--limit", "300"),
    "bench_pay_to_inv_commands": ("--variant", "multi", "--limit", "100"),
    "bench_predict": (
        "--invoices",
        "20000",
        "--customers",
        "2000",
        "--estimators",
        "20",
        "--snapshots",
        "12",
        "--simple",
    ),
    "bench_portal": (
        "--invoices",
        "200",
        "--clients",
        "2",
        "--requests",
        "20",
        "--think",
        "0",
        "--workers",
        "1",
        "--cache",
        "on",
    ),
    "bench_render": ("--invoices", "2000", "--messages", "50", "--simple", "20"),
    "bench_run": ("--invoices", "5000", "--loop-invoices", "500"),
    "bench_startup": ("--repeat", "1", "--commands", "", "kpi", "--top", "3"),
    "bench_send": ("--count", "200", "--workers", "1", "--simple-count", "100"),
    "bench_workspace": (
        "--invoices",
        "3000",
        "--customers",
        "100",
        "--clients",
        "2",
        "--requests",
        "5",
        "--workers",
        "1",
        "--predictions",
    ),  # fmt: skip
}
# Benchmarks of PostgreSQL only: run when RELANCE_TEST_POSTGRES_URL is set (CI sets it), else
# reported as skipped.
NEEDS_POSTGRES = frozenset({"bench_dashboard", "bench_workspace"})
POSTGRES_SKIP = "SKIPPED: needs PostgreSQL (set RELANCE_TEST_POSTGRES_URL)"


@dataclass(frozen=True)
class SmokeResult:
    name: str
    returncode: int
    seconds: float
    output_tail: str
    skipped: bool = False

    @property
    def passed(self) -> bool:
        return self.returncode == 0


def smoke_command(name: str) -> list[str]:
    return [sys.executable, str(BENCHMARKS / f"{name}.py"), *SMOKE_ARGS[name]]


def smoke_run(name: str, *, timeout: float = 600) -> SmokeResult:
    if name in NEEDS_POSTGRES and not os.environ.get("RELANCE_TEST_POSTGRES_URL"):
        return SmokeResult(name, 0, 0.0, POSTGRES_SKIP, skipped=True)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            smoke_command(name), capture_output=True, text=True, timeout=timeout, cwd=BENCHMARKS.parent
        )
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        partial = [
            part.decode() if isinstance(part, bytes) else part or ""
            for part in (expired.stdout, expired.stderr)
        ]
        code, output = -1, f"timed out after {timeout:.0f} s\n{''.join(partial)}"
    tail = "\n".join(output.strip().splitlines()[-15:])
    return SmokeResult(name, code, round(time.perf_counter() - started, 1), tail)


def benchmark_names() -> list[str]:
    return sorted(path.stem for path in BENCHMARKS.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--json", action="store_true", help="one JSON object per benchmark")
    args = parser.parse_args(argv)
    names = args.names or benchmark_names()
    unknown = sorted(set(names) - set(SMOKE_ARGS))
    if unknown:
        parser.error(f"no smoke size for {', '.join(unknown)}: add it to SMOKE_ARGS in {__file__}")
    results: list[SmokeResult] = []
    if args.json:
        results = [smoke_run(name) for name in names]
        print(json.dumps([asdict(result) | {"passed": result.passed} for result in results], indent=2))
    else:
        from rich.console import Console
        from rich.progress import Progress

        console = Console()
        with Progress(console=console) as progress:
            task = progress.add_task("benchmarks", total=len(names))
            for name in names:
                progress.update(task, description=name)
                result = smoke_run(name)
                results.append(result)
                mark = (
                    f"[yellow]{POSTGRES_SKIP}[/]"
                    if result.skipped
                    else "[green]ok[/]"
                    if result.passed
                    else f"[red]FAILED (exit {result.returncode})[/]"
                )
                console.print(f"{name:<26} {mark} {result.seconds:>6.1f} s")
                if not result.passed:
                    console.print(result.output_tail, markup=False, highlight=False)
                progress.advance(task)
    return 0 if all(result.passed for result in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
