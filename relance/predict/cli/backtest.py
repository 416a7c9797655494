"""``relance predict backtest --from DATE --to DATE [--every 30] [--weeks 13] [--json]``.

The ledger replayed as of each date (nothing dated later is read), predicted with the survival
model and with the customer-history baseline, and both scored against what happened: accuracy,
late-class F1, pay-date MAE, p10–p90 coverage, and the forecast's WAPE per week ahead.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

NAME = "backtest"
HELP = (
    "Replay the ledger as of dates from --from to --to every --every days, predict with the model "
    "and the baseline, and compare both with what happened (accuracy, late F1, pay-date MAE, "
    "p10-p90 coverage, forecast WAPE per week ahead)."
)


def add_arguments(parser: CommandParser) -> None:
    from relance.dunning import cli

    cli.add_entity(parser)
    parser.add_argument(
        "--from", dest="start", required=True, metavar="DATE", help="First cutoff (YYYY-MM-DD)"
    )
    parser.add_argument(
        "--to", dest="end", required=True, metavar="DATE", help="Last cutoff at most (YYYY-MM-DD)"
    )
    parser.add_argument("--every", type=int, default=30, metavar="DAYS", help="Days between cutoffs (30)")
    parser.add_argument("--weeks", type=int, default=13, metavar="N", help="Weeks of forecast to judge (13)")
    parser.add_argument("--json", action="store_true", help="Print JSON (summary and every cutoff)")


def handle(command: Any, options: dict[str, Any]) -> None:
    from django.core.management.base import CommandError

    from relance.core.errors import RelanceError
    from relance.dunning import cli
    from relance.ml.backtest import cutoff_dates
    from relance.ml.pipeline import PredictSettings
    from relance.predict.backtests import predictions_backtest

    entity = cli.entity(options)
    start, end = cli.parse_date(options["start"]), cli.parse_date(options["end"])
    if options["weeks"] < 1:
        raise CommandError(f"--weeks: expected 1 or more, found {options['weeks']}")
    try:
        cutoffs = cutoff_dates(start, end, options["every"])
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    try:
        report = predictions_backtest(
            entity=entity,
            cutoffs=cutoffs,
            weeks=options["weeks"],
            settings=PredictSettings(seed=options.get("seed") or 0),
            step=lambda text: command.stderr.write(f"backtest: {text}"),
        )
    except RelanceError as exc:
        raise CommandError(exc.message) from None
    payload = report.to_json()
    if options["json"]:
        command.stdout.write(json.dumps(payload, indent=1))
        return
    command.stdout.write(_text(entity.name, cutoffs, payload))


ROWS = (
    ("invoice-cutoffs judged", "late_known"),
    ("accuracy (late or not)", "accuracy"),
    ("late-class F1", "late_f1"),
    ("paid (pay date judged)", "paid"),
    ("pay-date MAE, days", "pay_date_mae_days"),
    ("p10-p90 coverage", "p10_p90_coverage"),
)


def _text(name: str, cutoffs: list[Any], payload: dict[str, Any]) -> str:
    summary = payload["summary"]
    lines = [
        f"{name}: {len(cutoffs)} cutoffs from {cutoffs[0]} to {cutoffs[-1]}, outcomes known up to "
        f"{payload['observed_until']}",
        f"  {'':34}{'model':>10}{'baseline':>10}",
    ]

    def cell(value: Any) -> str:
        return "-" if value is None else f"{value:>10}"

    for label, key in ROWS:
        lines.append(f"  {label:34}{cell(summary['model'][key]):>10}{cell(summary['baseline'][key]):>10}")
    for h in summary["model"]["horizon_wape"]:
        label = f"forecast WAPE, first {h} week{'s' if h != '1' else ''}"
        lines.append(
            f"  {label:34}{cell(summary['model']['horizon_wape'][h]):>10}"
            f"{cell(summary['baseline']['horizon_wape'][h]):>10}"
        )
    lines.append(
        f"  {'weekly actual inside p10-p90':34}{cell(summary['model']['weekly_band_coverage']):>10}"
        f"{cell(summary['baseline']['weekly_band_coverage']):>10}"
    )
    used = {cutoff["model_used"] for cutoff in payload["cutoffs"]}
    if "baseline" in used:
        fallback = [c["as_of"] for c in payload["cutoffs"] if c["model_used"] == "baseline"]
        lines.append(
            f"  the model fell back to the baseline (too little history) as of {', '.join(fallback)}"
        )
    return "\n".join(lines)
