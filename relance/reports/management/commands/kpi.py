"""``relance kpi``: aging and every KPI as of a date, on the app database or any engine backend.

``relance kpi snapshot`` stores the dashboard's snapshots instead (``relance.reports.snapshots``)."""

from __future__ import annotations

import io
import json
import sys
from contextlib import nullcontext
from datetime import date
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from relance.core.calendar import parse_iso_date
from relance.core.errors import RelanceError
from relance.core.formatting import format_day, format_money
from relance.engine.formulas import GROUP_BY_CHOICES

if TYPE_CHECKING:
    from relance.engine.kpi import KpiReport

# (JSON key, label, one-line meaning, unit)
KPI_ROWS = (
    ("dso", "DSO", "ending AR ÷ credit sales × days in period", "days"),
    ("dso_average_ar", "DSO (average AR)", "(begin AR + end AR) ÷ 2 ÷ credit sales × days", "days"),
    ("dso_countback", "DSO (countback)", "days of latest sales it takes to account for AR", "days"),
    ("bpdso", "Best possible DSO", "current (not yet due) AR ÷ credit sales × days", "days"),
    ("add", "Average days delinquent", "DSO − best possible DSO", "days"),
    ("cei", "CEI", "share of collectible AR collected in the period", "%"),
    ("dbt", "Days beyond terms", "amount-weighted days paid after due (early = 0)", "days"),
    ("average_days_to_pay", "Average days to pay", "mean days from invoice to payment", "days"),
    ("weighted_average_days_to_pay", "Weighted avg days to pay", "amount-weighted invoice → payment", "days"),
    (
        "weighted_average_days_late",
        "Weighted avg days late",
        "amount-weighted payment − due (early < 0)",
        "days",
    ),
    ("average_days_late", "Average days late", "mean payment − due (early < 0)", "days"),
    ("turnover", "Receivables turnover", "credit sales ÷ average AR, for the period", "×"),
    ("turnover_annualised", "Turnover (annualised)", "turnover × 12 ÷ months in period", "×"),
)
GROUP_COLUMNS = ("ar_total", "ar_current", "ar_past_due", "dso", "bpdso", "add", "cei", "dbt")
MONEY_COLUMNS = ("ar_total", "ar_current", "ar_past_due")


def _date(text: str) -> date:
    try:
        return parse_iso_date(text)
    except RelanceError as exc:
        raise CommandError(exc.message) from None


class Command(BaseCommand):
    help = (
        "Aging and KPIs (DSO, countback DSO, best possible DSO, ADD, CEI, DBT, days to pay, turnover) "
        "as of a date. Reads the app database, or --backend URL (sqlite:///…, duckdb:///…, "
        "postgres://…, parquet:///DIR holding the engine tables). --json prints one JSON object: "
        "the report, or with --by {as_of, period_start, period_end, currency, group_by, groups: [report…]}. "
        "'relance kpi credit' prints the credit KPIs (docs/kpis.md, \"Credit KPIs\"). "
        "'relance kpi snapshot' stores the dashboard's KPI snapshots (every entity and currency, "
        "as of --as-of, default today, and the month-ends before it) for the current ledger version: "
        "run it after each import."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "action",
            nargs="?",
            choices=("snapshot", "credit"),
            help="snapshot: compute and store the dashboard's snapshots that the current ledger version lacks; "
            "credit: the credit KPIs (share of AR over limit, utilisation and score distributions, class "
            "migration, bad-debt ratio) as of --as-of (default today), over the period of --from",
        )
        parser.add_argument(
            "--as-of",
            metavar="DATE",
            help="Measure as of this date (YYYY-MM-DD); required, except for snapshot (default: today)",
        )
        parser.add_argument(
            "--months",
            type=int,
            default=12,
            help="snapshot: points of the dashboard's trend to fill: --as-of and the month-ends of the "
            "months before it (default 12)",
        )
        parser.add_argument(
            "--from",
            dest="period_start",
            metavar="DATE",
            help="First day of the period (default: start of the 3 calendar months ending with --as-of)",
        )
        parser.add_argument(
            "--by",
            choices=GROUP_BY_CHOICES,
            help="One row of KPIs per customer, segment or collector; with snapshot (segment or collector): "
            "also store every segment's (collector's) snapshots for the dashboard's filter, one engine pass per date",
        )
        parser.add_argument(
            "--entity",
            help="Entity name (app database; default: the only one; snapshot: every entity) "
            "or numeric id with --backend (default: all)",
        )
        parser.add_argument(
            "--currency",
            help="ISO 4217 currency (default: the entity's; with --backend, the only one present)",
        )
        parser.add_argument(
            "--backend",
            metavar="URL",
            help="Run on this engine backend instead of the app database, e.g. parquet:///data/ledger",
        )
        parser.add_argument(
            "--aging",
            metavar="BOUNDS",
            help="Aging buckets as inclusive upper bounds of days past due, e.g. 0,15,30,60,90 "
            "(default: RELANCE_AGING_BUCKETS, 0,30,60,90)",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of tables")
        parser.add_argument("--quiet", action="store_true", help="No progress display on stderr")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "snapshot":
            from relance.reports.snapshots import snapshot_command

            snapshot_command(self, options)
            return
        if options["action"] == "credit":
            from relance.reports.credit_kpis import credit_kpi_command

            credit_kpi_command(self, options)
            return
        if not options["as_of"]:
            raise CommandError("--as-of is required (YYYY-MM-DD)")
        as_of = _date(options["as_of"])
        period_start = _date(options["period_start"]) if options["period_start"] else None
        status = (
            Console(stderr=True).status("Computing KPIs…")
            if sys.stderr.isatty() and not options["quiet"] and not options["json"]
            else nullcontext()
        )
        try:
            with status:
                title, reports = self._reports(options, as_of, period_start)
        except RelanceError as exc:
            raise CommandError(exc.message) from None
        others = sorted(getattr(self, "_other_currencies", set()))
        if options["json"]:
            result = self._json(reports, options["by"], as_of, period_start)
            if not options["backend"]:
                result["other_currencies"] = others
            self.stdout.write(json.dumps(result, indent=2))
            return
        self._print(title, reports, options["by"])
        if others:
            self.stdout.write(
                f"This ledger also has invoices in {', '.join(others)}: amounts in different currencies are "
                "never added; see them with --currency."
            )

    def _reports(
        self, options: dict[str, Any], as_of: date, period_start: date | None
    ) -> tuple[str, list[KpiReport]]:
        from relance.engine.formulas import aging_from_bounds
        from relance.engine.kpi import KpiParams, compute_kpis  # Ibis: when it runs, not for --help

        currency = options["currency"].upper() if options["currency"] else None
        from relance.reports.selectors import configured_aging

        aging = aging_from_bounds(options["aging"]) if options["aging"] else configured_aging()
        if options["backend"]:
            from relance.engine.backends import connect

            entity = options["entity"]
            if entity is not None and not entity.isdigit():
                raise CommandError(f"--entity with --backend is a numeric entity id, not {entity!r}")
            ledger = connect(options["backend"])
            params = KpiParams(
                as_of=as_of,
                period_start=period_start,
                entity_id=int(entity) if entity else None,
                currency=currency,
                group_by=options["by"],
                aging=aging,
            )
            reports = compute_kpis(ledger.tables, params)
            currencies = sorted({report.currency for report in reports})
            if len(currencies) > 1:
                raise CommandError(
                    f"the ledger holds several currencies ({', '.join(currencies)}): choose one with --currency"
                )
            return options["backend"], reports
        from relance.ledger.selectors import entity_resolve
        from relance.reports.selectors import kpi_report

        entity_obj = entity_resolve(name=options["entity"])
        self._language = entity_obj.language
        reports = kpi_report(
            entity=entity_obj,
            as_of=as_of,
            period_start=period_start,
            group_by=options["by"],
            currency=currency,
            aging=aging,
        )
        from relance.ledger.selectors import currencies_in_use

        self._other_currencies = currencies_in_use(entity=entity_obj, as_of=as_of) - {
            (currency or entity_obj.currency).upper()
        }
        return entity_obj.name, reports

    @staticmethod
    def _json(
        reports: list[KpiReport], group_by: str | None, as_of: date, period_start: date | None
    ) -> dict[str, Any]:
        from relance.engine.kpi import KpiParams

        if group_by is None:
            if reports:
                return reports[0].to_json()
            period = KpiParams(as_of=as_of, period_start=period_start).period
            return {"as_of": as_of.isoformat(), "period_start": period.start.isoformat(), "currency": None}
        period = KpiParams(as_of=as_of, period_start=period_start).period
        return {
            "as_of": as_of.isoformat(),
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
            "currency": reports[0].currency if reports else None,
            "group_by": group_by,
            "groups": [report.to_json() for report in reports],
        }

    def _print(self, title: str, reports: list[KpiReport], group_by: str | None) -> None:
        buffer = io.StringIO()
        console = Console(file=buffer, width=110, force_terminal=False, color_system=None)
        if not reports:
            console.print(f"{title}: no ledger data in this currency.")
        elif group_by is None:
            self._print_one(console, title, reports[0])
        else:
            self._print_groups(console, title, reports, group_by)
        self.stdout.write(buffer.getvalue(), ending="")

    _language = "en"  # the entity's, for the app database; English for a --backend ledger

    def _money(self, amount: Decimal, report: KpiReport) -> str:
        return format_money(amount, report.currency, self._language)

    def _heading(self, report: KpiReport, title: str) -> str:
        day = partial(format_day, language=self._language, style="medium")
        return (
            f"{title} · {report.currency} · as of {day(report.as_of)} · "
            f"period {day(report.period_start)} – {day(report.period_end)}"
            f" ({report.days_in_period} days, {report.months_in_period} months)"
        )

    def _print_one(self, console: Console, title: str, report: KpiReport) -> None:
        data = report.to_json()
        console.print(self._heading(report, title))
        receivables = Table(title="Receivables", title_justify="left")
        receivables.add_column("")
        receivables.add_column("Amount", justify="right")
        receivables.add_column("% of open invoices", justify="right")
        gross = report.ar_gross_invoices
        for label, amount in report.aging:
            share = "" if not gross else f"{amount / gross * 100:.1f} %"
            receivables.add_row(f"  {label}", self._money(amount, report), share)
        money = partial(self._money, report=report)
        receivables.add_row(
            "Open invoices", money(report.ar_gross_invoices), f"{report.open_invoices} invoices"
        )
        receivables.add_row("− open credit notes", money(report.open_credits), "")
        receivables.add_row("− unapplied cash", money(report.unapplied_cash), "")
        receivables.add_row("Total AR", money(report.ar_total), "", style="bold")
        receivables.add_row("Total AR at the start of the period", money(report.ar_begin), "")
        receivables.add_row("Credit sales in the period", money(report.credit_sales), "invoiced − credited")
        receivables.add_row(
            "Invoices fully paid in the period",
            str(report.invoices_paid_in_period),
            money(report.amount_paid_in_period),
        )
        console.print(receivables)
        kpis = Table(title="KPIs", title_justify="left")
        kpis.add_column("KPI")
        kpis.add_column("Value", justify="right")
        kpis.add_column("Meaning")
        for key, label, meaning, unit in KPI_ROWS:
            value = data[key]
            places = 3 if key == "turnover" else 2
            shown = "—" if value is None else f"{value:.{places}f} {unit}"
            if key == "dso_countback" and report.dso_countback_stopped != "complete":
                shown += f" ({report.dso_countback_stopped.replace('_', ' ')})"
            kpis.add_row(label, shown, meaning)
        console.print(kpis)
        console.print(
            "— means not computable (no sales, or no invoice paid in the period). See docs/kpis.md."
        )

    @staticmethod
    def _cell(value: Any) -> str:
        if value is None:
            return "—"
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    def _print_groups(self, console: Console, title: str, reports: list[KpiReport], group_by: str) -> None:
        console.print(self._heading(reports[0], title))
        table = Table(title=f"KPIs by {group_by}", title_justify="left")
        table.add_column(group_by.capitalize())
        headers = {
            "ar_total": "Total AR",
            "ar_current": "Current",
            "ar_past_due": "Past due",
            "dso": "DSO",
            "bpdso": "BPDSO",
            "add": "ADD",
            "cei": "CEI %",
            "dbt": "DBT",
        }
        for column in GROUP_COLUMNS:
            table.add_column(headers[column], justify="right")
        for report in reports:
            data = report.to_json()
            cells = [
                self._money(getattr(report, column), report)
                if column in MONEY_COLUMNS
                else self._cell(data[column])
                for column in GROUP_COLUMNS
            ]
            table.add_row(report.group or "(none)", *cells)
        console.print(table)
