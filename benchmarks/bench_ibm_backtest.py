"""The IBM Accounts-Receivable backtest of the predictions (issue 16), from the CSV to the scores.

    nice -n 19 .venv/bin/python benchmarks/bench_ibm_backtest.py
    nice -n 19 .venv/bin/python benchmarks/bench_ibm_backtest.py --disputes none --every 30
    nice -n 19 .venv/bin/python benchmarks/bench_ibm_backtest.py --disputes due-date --max-depth 3

A fresh SQLite app database in a temporary directory: ``relance init --entity ibm --currency USD
--no-policies``, then ``relance import customers|invoices|payments|disputes`` of
``WA_Fn-UseC_-Accounts-Receivable.csv`` with ``docs/mappings/ibm-ar.yaml`` — the product's own
commands, as a user would. ``--disputes`` says how the file's ``Disputed`` column comes in: as the
mapping ships it (``issue-date``: a dispute opened on the invoice date), opened on the due date
instead (``due-date``, the other bound: the file does not date disputes), or not at all
(``none``). Then ``relance.predict.backtests.predictions_backtest`` from 2013-07-01 to 2013-12-01
every ``--every`` days with ``PredictSettings`` (the defaults unless told), and the model's and the
baseline's scores with the process's CPU seconds (the comparable number on a shared machine).

The dataset is read from ``$RELANCE_SHARED_DIR/datasets/data`` (default ``../shared``), never
copied into the repository.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from dataclasses import fields, replace
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FILE_NAME = "WA_Fn-UseC_-Accounts-Receivable.csv"
MAPPING = ROOT / "docs" / "mappings" / "ibm-ar.yaml"


def _mapping(disputes: str, directory: Path) -> Path:
    """The shipped mapping, or a copy whose disputes are opened on the due date."""
    if disputes != "due-date":
        return MAPPING
    text = MAPPING.read_text(encoding="utf-8")
    assert "    opened_on: InvoiceDate\n" in text
    path = directory / "ibm-ar-due-date.yaml"
    path.write_text(
        text.replace("    opened_on: InvoiceDate\n", "    opened_on: DueDate\n"), encoding="utf-8"
    )
    return path


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--disputes", choices=("issue-date", "due-date", "none"), default="issue-date")
    parser.add_argument("--from", dest="start", default="2013-07-01")
    parser.add_argument("--to", dest="end", default="2013-12-01")
    parser.add_argument("--every", type=int, default=30)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PredictSettings field (max_depth=3, n_estimators=100, learning_rate=0.05, …)",
    )
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.add_argument(
        "--database",
        type=Path,
        help="the SQLite file to load (kept; reused without loading when present: one per --disputes)",
    )
    args = parser.parse_args()

    shared = Path(os.environ.get("RELANCE_SHARED_DIR", ROOT.parent / "shared"))
    source = shared / "datasets" / "data" / FILE_NAME
    if not source.is_file():
        print(f"SKIPPED: the IBM data is not at {source} (set RELANCE_SHARED_DIR)")
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench_ibm_"))
    database = args.database or work / "ibm.sqlite3"
    loaded = database.exists()
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django

    django.setup()
    from django.core.management import call_command

    from relance.cases.models import Dispute
    from relance.ledger.models import Entity
    from relance.ml.backtest import cutoff_dates
    from relance.ml.pipeline import PredictSettings
    from relance.predict.backtests import predictions_backtest

    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    started = time.perf_counter()
    kinds = ["customers", "invoices", "payments"] + ([] if args.disputes == "none" else ["disputes"])
    if not loaded:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("init", "--entity", "ibm", "--currency", "USD", "--no-policies", **quiet)
        mapping = _mapping(args.disputes, work)
        for kind in kinds:
            call_command("import", kind, str(source), "--mapping", str(mapping), "--quiet", **quiet)
    print(
        f"{'reused' if loaded else 'loaded'} {database} ({', '.join(kinds)}; {Dispute.objects.count()} "
        f"disputes, {args.disputes}) in {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    types = {f.name: f.type for f in fields(PredictSettings)}
    changes: dict[str, object] = {}
    for item in args.set:
        name, _, value = item.partition("=")
        kind = str(types[name])
        changes[name] = float(value) if "float" in kind else int(value) if "int" in kind else value
    settings = replace(PredictSettings(), **changes)  # type: ignore[arg-type]
    cutoffs = cutoff_dates(date.fromisoformat(args.start), date.fromisoformat(args.end), args.every)
    entity = Entity.objects.get(name="ibm")
    wall, cpu = time.perf_counter(), time.process_time()
    report = predictions_backtest(entity=entity, cutoffs=cutoffs, settings=settings)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"settings: {changes or 'defaults'}; {len(cutoffs)} cutoffs every {args.every} days")
    print(f"backtest: {wall:.1f} s wall, CPU {cpu:.1f} s; load average {os.getloadavg()[0]:.1f}")
    for side in ("model", "baseline"):
        summary = report.summary[side]
        scores = summary.scores
        print(
            f"  {side}: pairs {scores.late_known}, accuracy {scores.accuracy:.3f}, late F1 {scores.late_f1:.3f}, "
            f"MAE {scores.pay_date_mae_days:.2f} days, coverage {scores.p10_p90_coverage:.3f}, "
            f"4-week WAPE {summary.horizon_wape[4]:.3f}"
        )
    if args.json:
        print(json.dumps(report.to_json(), default=str, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
