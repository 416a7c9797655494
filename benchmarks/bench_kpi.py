"""Benchmark the KPI engine: every KPI in one run, against a simple pandas computation.

    .venv/bin/python benchmarks/bench_kpi.py --invoices 10000000 --backend duckdb
    .venv/bin/python benchmarks/bench_kpi.py --invoices 1000000 --backend sqlite
    .venv/bin/python benchmarks/bench_kpi.py --invoices 1000000 --backend postgres \\
        --database-url postgres://relance:relance@127.0.0.1:5432/relance

Data: the synthetic generator (``relance.synthetic``) writes a Parquet ledger (or ``--parquet
DIR`` reuses one). ``duckdb`` runs the engine on that Parquet directory (``parquet:///DIR``);
``sqlite`` and ``postgres`` bulk-load it into the *app database* (Django's migrated tables, a
fresh SQLite file or a fresh PostgreSQL database created next to ``--database-url``) and run
the engine through the app binding, exactly as ``relance kpi`` and the dashboard do. Load time
is reported but is not part of the KPI time.

The simple approach: pandas reads the same Parquet files into memory and computes the same
AR, aging, sales and paid-invoice sums with merges and group-bys. Both must agree to the cent.

    .venv/bin/python benchmarks/bench_kpi.py --command --parquet DIR --repeat 2

``--command`` times whole processes instead, each alone (wall, CPU, peak RSS): ``relance kpi
--backend parquet://DIR`` against the floor query in a bare ``python -c 'import duckdb'``.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv
import pyarrow.parquet as pq

from benchmarks.processes import run_process
from relance.engine.backends import connect
from relance.engine.formulas import DEFAULT_AGING
from relance.engine.kpi import KpiParams, KpiReport, compute_kpis
from relance.engine.schema import MONEY_SCALE, SCHEMAS

END = date(2026, 11, 23)


def cpu_seconds() -> float:
    """CPU time of this process and its threads (DuckDB's workers, SQLite; not a PostgreSQL server)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(job: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = job()
    return time.perf_counter() - started, result


def floor_sql(parquet: Path, as_of: date, start: date) -> str:
    """The floor: aging + AR + DSO per currency in one DuckDB query straight over the Parquet
    (invoices left-joined with their allocation sums; no credits, cash, countback or payment
    timing)."""
    days = (as_of - start).days + 1
    buckets = ", ".join(
        f"SUM(CASE WHEN due_date {condition} THEN open ELSE 0 END) AS bucket_{index}"
        for index, condition in enumerate(
            [
                f">= DATE '{as_of}'",
                f"BETWEEN DATE '{as_of - timedelta(days=30)}' AND DATE '{as_of - timedelta(days=1)}'",
                f"BETWEEN DATE '{as_of - timedelta(days=60)}' AND DATE '{as_of - timedelta(days=31)}'",
                f"BETWEEN DATE '{as_of - timedelta(days=90)}' AND DATE '{as_of - timedelta(days=61)}'",
                f"< DATE '{as_of - timedelta(days=90)}'",
            ]
        )
    )
    query = f"""
        WITH paid AS (
            SELECT invoice_id, SUM(amount) AS paid FROM read_parquet('{parquet / "allocations.parquet"}')
            WHERE date <= DATE '{as_of}' GROUP BY invoice_id
        ), open_items AS (
            SELECT i.currency, i.due_date, i.issue_date, i.amount, i.amount - COALESCE(p.paid, 0) AS open
            FROM read_parquet('{parquet / "invoices.parquet"}') AS i LEFT JOIN paid AS p USING (invoice_id)
            WHERE i.status <> 'void' AND i.issue_date <= DATE '{as_of}'
        )
        SELECT currency, SUM(open) AS ar, {buckets},
            SUM(CASE WHEN issue_date >= DATE '{start}' THEN amount ELSE 0 END) AS sales,
            SUM(open) / NULLIF(SUM(CASE WHEN issue_date >= DATE '{start}' THEN amount ELSE 0 END), 0)
                * {days} AS dso
        FROM open_items GROUP BY currency
    """  # noqa: S608
    return query


def duckdb_floor(parquet: Path, as_of: date, start: date) -> int:
    """The floor query in this process; the number of rows."""
    import duckdb

    with duckdb.connect() as connection:
        return len(connection.execute(floor_sql(parquet, as_of, start)).fetchall())


FLOOR_SCRIPT = """
import sys, duckdb
print(len(duckdb.connect().execute(sys.stdin.read()).fetchall()))
"""


def commands(parquet: Path, as_of: date, start: date, currency: str, repeat: int) -> None:
    """Whole processes, as a user runs them, alternated ``repeat`` times: the floor query in a bare
    ``python -c 'import duckdb'`` (all currencies), ``relance kpi --backend parquet://DIR
    --currency C --json`` (with and without Django's system checks, which import the URLs and
    with them the API) and ``relance kpi --help`` (the start-up alone). Best of each by CPU."""
    relance = str(Path(sys.executable).with_name("relance"))
    kpi = [relance, "kpi", "--backend", f"parquet://{parquet.resolve()}", "--as-of", as_of.isoformat(),
           "--currency", currency, "--json", "--quiet"]  # fmt: skip
    jobs = {
        "floor: one DuckDB query, `python -c`": ([sys.executable, "-c", FLOOR_SCRIPT], floor_sql(parquet, as_of, start)),
        f"`relance kpi … --currency {currency} --json`, whole command": (kpi, ""),
        # Django's own option: what the command costs once start-up skips the URL checks (issue 20)
        "the same with `--skip-checks`": ([*kpi, "--skip-checks"], ""),
        "start-up alone: `relance kpi --help`": ([relance, "kpi", "--help"], ""),
    }  # fmt: skip
    load_before = os.getloadavg()
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in jobs}
    for _ in range(repeat):
        for name, (command, stdin) in jobs.items():
            runs[name].append(run_process(command, stdin)[:3])
    load_after = os.getloadavg()
    invoices = pq.ParquetFile(parquet / "invoices.parquet").metadata.num_rows
    floor_name = next(iter(jobs))
    floor_wall, floor_cpu, _ = min(runs[floor_name], key=lambda run: run[1])
    print(
        f"\nKPI command benchmark: {invoices:,} invoices in {parquet}, as of {as_of}; best of {repeat} by CPU"
    )
    print(f"load average (1, 5, 15 min) before {' '.join(f'{v:.2f}' for v in load_before)}, "
          f"after {' '.join(f'{v:.2f}' for v in load_after)}\n")  # fmt: skip
    print(
        "| process | wall s | CPU s (user + sys) | peak RSS MiB | × floor wall | × floor CPU | every run: wall / CPU s |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, measured in runs.items():
        wall, cpu, rss = min(measured, key=lambda run: run[1])
        every = ", ".join(f"{w:.2f} / {c:.2f}" for w, c, _ in measured)
        print(
            f"| {name} | {wall:.2f} | {cpu:.2f} | {rss:,.0f} | {wall / floor_wall:.1f} | {cpu / floor_cpu:.1f} | {every} |"
        )


def kpi_command(parquet: Path, as_of: date, currency: str, *, help_only: bool = False) -> tuple[float, float]:
    """``relance kpi --backend parquet://DIR`` as a command, start-up included (or, with
    ``help_only``, ``relance kpi --help``: the start-up alone). (wall s, CPU s of the child)"""
    import subprocess

    relance = str(Path(sys.executable).with_name("relance"))
    command = [relance, "kpi", "--help"] if help_only else [
        relance, "kpi", "--backend", f"parquet://{parquet.resolve()}", "--as-of", as_of.isoformat(),
        "--currency", currency, "--json", "--quiet",
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def generate(invoices: int, out: Path) -> dict[str, int]:
    from relance.synthetic.generator import GeneratorConfig, iter_ledger_chunks
    from relance.synthetic.writers import write_parquet

    write_parquet(iter_ledger_chunks(GeneratorConfig(invoices=invoices, end=END, seed=7)), out)
    return {name: pq.ParquetFile(out / f"{name}.parquet").metadata.num_rows for name in SCHEMAS}


# --- app database -----------------------------------------------------------------------------


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


# engine table → (Django model name, {django field: engine column})
DJANGO_TABLES = {
    "customers": ("Customer", {"id": "customer_id", "external_ref": "external_ref", "name": "name",
                               "parent": "parent_id", "currency": "currency", "segment": "segment",
                               "payment_terms_days": "payment_terms_days", "language": "language",
                               "country": "country"}),
    "invoices": ("Invoice", {"id": "invoice_id", "customer": "customer_id", "issue_date": "issue_date",
                             "due_date": "due_date", "currency": "currency", "amount": "amount",
                             "status": "status"}),
    "credit_notes": ("CreditNote", {"id": "credit_note_id", "customer": "customer_id", "date": "date",
                                    "currency": "currency", "amount": "amount"}),
    "payments": ("Payment", {"id": "payment_id", "customer": "customer_id", "date": "date",
                             "currency": "currency", "amount": "amount"}),
    "allocations": ("Allocation", {"invoice": "invoice_id", "payment": "payment_id",
                                   "credit_note": "credit_note_id", "date": "date", "amount": "amount"}),
}  # fmt: skip


def django_table(name: str, source: pa.Table, entity_id: int) -> tuple[str, pa.Table]:
    """``source`` as the rows of the Django table: every concrete column, as text (or null)."""
    from django.apps import apps

    model_name, fields = DJANGO_TABLES[name]
    model = apps.get_model("ledger", model_name)
    now = datetime.now().astimezone().isoformat()
    rows = source.num_rows
    columns: dict[str, pa.Array] = {}
    for field in model._meta.concrete_fields:
        if field.primary_key and field.name not in fields:
            continue  # allocations: let the database number them
        if field.name in fields:
            value = source[fields[field.name]]
            if field.name == "segment":
                value = pc.fill_null(value, "")
        elif field.name == "entity":
            value = pa.array(np.full(rows, entity_id))
        elif field.name == "external_ref":
            value = pc.binary_join_element_wise(
                model_name.upper(), pc.cast(source.column(0), pa.string()), "-"
            )
        elif field.name in {"created_at", "updated_at"}:
            value = pa.array([now] * rows, pa.string())
        else:
            default = field.get_default()
            value = (
                pa.nulls(rows, pa.string())
                if default is None
                else pa.array([str(default)] * rows, pa.string())
            )
        if not pa.types.is_string(value.type):
            value = pc.cast(value, pa.string())
        columns[field.column] = value
    return model._meta.db_table, pa.table(columns)


def load_app_database(parquet: Path) -> dict[str, Any]:
    from django.db import connection, transaction

    from relance.ledger.services import entity_create_or_update

    entity, _ = entity_create_or_update(name="bench", currency="EUR", language="en")
    with transaction.atomic(), connection.cursor() as cursor:
        for name in ("customers", "invoices", "credit_notes", "payments", "allocations"):
            table_name, rows = django_table(name, pq.read_table(parquet / f"{name}.parquet"), entity.pk)
            column_list = ", ".join(f'"{column}"' for column in rows.column_names)
            if connection.vendor == "postgresql":
                buffer = io.BytesIO()
                pyarrow.csv.write_csv(rows, buffer, pyarrow.csv.WriteOptions(include_header=False))
                with cursor.cursor.copy(
                    f'COPY "{table_name}" ({column_list}) FROM STDIN WITH (FORMAT csv)'
                ) as copy:
                    copy.write(buffer.getvalue())
            else:
                marks = ", ".join("?" for _ in rows.column_names)
                sql = f'INSERT INTO "{table_name}" ({column_list}) VALUES ({marks})'  # noqa: S608
                raw = connection.connection
                for batch in rows.to_batches(200_000):
                    raw.executemany(sql, zip(*(column.to_pylist() for column in batch.columns), strict=True))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"entity_id": entity.pk}


def app_engine(entity_id: int, params: KpiParams) -> list[KpiReport]:
    from relance.ledger.binding import app_ledger

    ledger = app_ledger()
    return compute_kpis(ledger.tables, params, backend=ledger.backend)


def read_app_database() -> int:
    """What the simple approach would pay first on the app database: every ledger row into pandas."""
    from django.apps import apps
    from django.db import connection

    rows = 0
    for model_name, fields in DJANGO_TABLES.values():
        model = apps.get_model("ledger", model_name)
        columns = ", ".join(
            f'"{model._meta.get_field(name).column}"' for name in fields if name != "external_ref"
        )
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT {columns} FROM "{model._meta.db_table}"')  # noqa: S608
            frame = pd.DataFrame(cursor.fetchall())
        rows += len(frame)
    return rows


# --- the simple approach ------------------------------------------------------------------------


def pandas_kpis(parquet: Path, as_of: date, start: date) -> dict[str, dict[str, Any]]:
    """The same numbers with pandas: whole tables in memory, merges and group-bys."""
    read = {name: pq.read_table(parquet / f"{name}.parquet").to_pandas() for name in SCHEMAS}
    day_before = pd.Timestamp(start - timedelta(days=1))
    a, s = pd.Timestamp(as_of), pd.Timestamp(start)

    def units(series: pd.Series) -> pd.Series:
        return (series.astype("float64") * MONEY_SCALE).round().astype("int64")

    def dates(frame: pd.DataFrame, *names: str) -> pd.DataFrame:
        for name in names:
            frame[name] = pd.to_datetime(frame[name])
        return frame

    inv = dates(read["invoices"], "issue_date", "due_date")
    alloc = dates(read["allocations"], "date")
    credit = dates(read["credit_notes"], "date")
    cash = dates(read["payments"], "date")
    inv = inv[(inv.status != "void") & (inv.issue_date <= a)].copy()
    inv["units"] = units(inv.amount)
    alloc = alloc[alloc.date <= a].copy()
    alloc["units"] = units(alloc.amount)
    alloc["begin"] = np.where(alloc.date <= day_before, alloc.units, 0)
    alloc["cash"] = np.where(alloc.payment_id.notna(), alloc.units, 0)
    alloc["cash_begin"] = np.where(alloc.payment_id.notna(), alloc.begin, 0)
    alloc["cash_date"] = alloc.date.where(alloc.payment_id.notna())  # NaT for credit notes
    per_invoice = alloc.groupby("invoice_id").agg(
        end=("units", "sum"), begin=("begin", "sum"), cash=("cash", "sum"),
        cash_begin=("cash_begin", "sum"), last=("cash_date", "max"),
    )  # fmt: skip
    inv = inv.merge(per_invoice, left_on="invoice_id", right_index=True, how="left")
    inv[["end", "begin", "cash", "cash_begin"]] = inv[["end", "begin", "cash", "cash_begin"]].fillna(0)
    inv["open"] = inv.units - inv.end
    inv["open_begin"] = np.where(inv.issue_date <= day_before, inv.units - inv.begin, 0)
    inv["dpd"] = (a - inv.due_date).dt.days
    # docs/kpis.md "Paid in the period": covered by A, not by S − 1, and cash took part (an
    # invoice settled by credit notes alone is not paid); paid on its last cash allocation.
    paid = inv[(inv.end >= inv.units) & (inv.begin < inv.units) & (inv.cash > 0)]
    late = (paid["last"] - paid.due_date).dt.days
    result: dict[str, dict[str, Any]] = {}
    for currency, group in inv.groupby("currency"):
        c = credit[(credit.currency == currency) & (credit.date <= a)]
        p = cash[(cash.currency == currency) & (cash.date <= a)]
        g_paid = paid[paid.currency == currency]
        g_late = late[paid.currency == currency]
        credit_alloc = (group.end - group.cash).sum()
        open_credits = units(c.amount).sum() - credit_alloc
        unapplied = units(p.amount).sum() - group.cash.sum()
        ar_total = group.open.sum() - open_credits - unapplied
        begin_credits = units(c[c.date <= day_before].amount).sum() - (group.begin - group.cash_begin).sum()
        begin_cash = units(p[p.date <= day_before].amount).sum() - group.cash_begin.sum()
        sales = group[group.issue_date >= s].units.sum() - units(c[c.date >= s].amount).sum()
        aging = {
            bucket.label: group.open[
                ((bucket.low is None) | (group.dpd >= (bucket.low or 0)))
                & ((bucket.high is None) | (group.dpd <= (bucket.high or 0)))
            ].sum()
            for bucket in DEFAULT_AGING.buckets
        }
        weights = g_paid.units
        result[currency] = {
            "ar_total": Decimal(int(ar_total)).scaleb(-4),
            "ar_begin": Decimal(int(group.open_begin.sum() - begin_credits - begin_cash)).scaleb(-4),
            "credit_sales": Decimal(int(sales)).scaleb(-4),
            "aging": {label: Decimal(int(value)).scaleb(-4) for label, value in aging.items()},
            "invoices_paid_in_period": len(g_paid),
            "dbt": float((weights * g_late.clip(lower=0)).sum() / weights.sum()) if len(g_paid) else None,
        }
    return result


def compare(reports: list[KpiReport], expected: dict[str, dict[str, Any]]) -> str:
    for report in reports:
        want = expected.get(report.currency)
        if want is None:
            return f"pandas has no {report.currency}"
        got = {
            "ar_total": report.ar_total,
            "ar_begin": report.ar_begin,
            "credit_sales": report.credit_sales,
            "aging": dict(report.aging),
            "invoices_paid_in_period": report.invoices_paid_in_period,
        }
        for key, value in got.items():
            if value != want[key]:
                return f"MISMATCH {report.currency} {key}: engine {value} != pandas {want[key]}"
        if report.dbt is not None and abs(float(report.dbt) - want["dbt"]) > 1e-6:
            return f"MISMATCH {report.currency} dbt: engine {report.dbt} != pandas {want['dbt']}"
    return "identical"


def scratch_database(database_url: str, name: str) -> tuple[str, Callable[[], None]]:
    """A fresh, empty PostgreSQL database ``name`` next to ``database_url``: its URL and a
    function that drops it (closing Django's connections first)."""
    import psycopg

    admin_url = database_url.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')

    return database_url.rsplit("/", 1)[0] + f"/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--invoices", type=int, default=1_000_000, help="invoices to generate (default 1,000,000)"
    )
    parser.add_argument("--backend", choices=("duckdb", "sqlite", "postgres"), default="duckdb")
    parser.add_argument(
        "--parquet", type=Path, help="use this Parquet ledger directory instead of generating"
    )
    parser.add_argument("--database-url", default=os.environ.get("RELANCE_TEST_POSTGRES_URL", ""),
                        help="PostgreSQL server for --backend postgres (a fresh database is created on it)")  # fmt: skip
    parser.add_argument("--as-of", type=date.fromisoformat, default=END, help=f"as-of date (default {END})")
    parser.add_argument("--repeat", type=int, default=2, help="engine runs (the first is cold)")
    parser.add_argument("--by", choices=("customer", "segment", "collector"), help="group the KPIs")
    parser.add_argument("--skip-pandas", action="store_true", help="do not run the pandas comparison")
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    parser.add_argument("--command", action="store_true",
                        help="only whole processes: `relance kpi` against the floor query in a bare Python, "
                             "each alone (wall, CPU, peak RSS), --repeat times; needs --parquet")  # fmt: skip
    parser.add_argument(
        "--currency", default="EUR", help="--command: the currency `relance kpi` reports (default EUR)"
    )
    args = parser.parse_args()
    if args.command:
        if args.parquet is None:
            parser.error("--command needs --parquet DIR")
        commands(
            args.parquet, args.as_of, KpiParams(as_of=args.as_of).period.start, args.currency, args.repeat
        )
        return

    work = Path(tempfile.mkdtemp(prefix="relance-bench-kpi-"))
    parquet = args.parquet or work / "ledger"
    lines: list[tuple[str, str, str]] = []
    cleanup: list[Callable[[], None]] = []
    try:
        if args.parquet is None:
            seconds, counts = timed(lambda: generate(args.invoices, parquet))
            lines.append(
                (
                    "generate Parquet (synthetic)",
                    f"{seconds:.2f}",
                    ", ".join(f"{k} {v:,}" for k, v in counts.items()),
                )
            )
        invoices = pq.ParquetFile(parquet / "invoices.parquet").metadata.num_rows
        params = KpiParams(as_of=args.as_of, group_by=args.by)
        if args.backend == "duckdb":

            def run() -> list[KpiReport]:
                ledger = connect(f"parquet://{parquet.resolve()}")
                return compute_kpis(ledger.tables, params)
        else:
            if args.backend == "sqlite":
                url = f"sqlite:///{work / 'app.sqlite3'}"
            else:
                if not args.database_url:
                    parser.error("--backend postgres needs --database-url (or RELANCE_TEST_POSTGRES_URL)")
                url, drop = scratch_database(args.database_url, "relance_bench_kpi")

                if not args.keep:
                    cleanup.append(drop)
            seconds, _ = timed(lambda: setup_django(url))
            seconds_load, loaded = timed(lambda: load_app_database(parquet))
            lines.append(
                (
                    f"load into the app database ({args.backend})",
                    f"{seconds + seconds_load:.2f}",
                    "migrate + bulk insert + ANALYZE",
                )
            )
            params = KpiParams(as_of=args.as_of, entity_id=loaded["entity_id"], group_by=args.by)

            def run() -> list[KpiReport]:
                return app_engine(loaded["entity_id"], params)

        runs = []
        reports: list[KpiReport] = []
        for index in range(args.repeat):
            cpu_before = cpu_seconds()
            seconds, reports = timed(run)
            cpu = cpu_seconds() - cpu_before
            runs.append(seconds)
            lines.append((f"engine, all KPIs, run {index + 1}" + (" (cold)" if index == 0 else ""), f"{seconds:.2f}",
                          f"{len(reports)} reports; {invoices / seconds:,.0f} invoices/s; CPU {cpu:.2f} s"))  # fmt: skip
        if args.backend == "duckdb" and args.by is None:
            for index in range(args.repeat):
                cpu_before = cpu_seconds()
                seconds, _ = timed(lambda: duckdb_floor(parquet, args.as_of, params.period.start))
                cpu = cpu_seconds() - cpu_before
                lines.append((f"floor: aging + AR + DSO in one DuckDB query, run {index + 1}", f"{seconds:.2f}",
                              f"CPU {cpu:.2f} s; engine / floor {runs[index] / seconds:.1f}×"))  # fmt: skip
            currency = sorted(report.currency for report in reports)[0] if reports else "EUR"
            start_seconds, start_cpu = kpi_command(parquet, args.as_of, currency, help_only=True)
            whole_seconds, whole_cpu = kpi_command(parquet, args.as_of, currency)
            lines.append((f"`relance kpi --backend parquet://… --currency {currency} --json`, whole command",
                          f"{whole_seconds:.2f}", f"CPU {whole_cpu:.2f} s; minus start-up "
                          f"{whole_seconds - start_seconds:.2f} s"))  # fmt: skip
            lines.append(
                ("start-up alone: `relance kpi --help`", f"{start_seconds:.2f}", f"CPU {start_cpu:.2f} s")
            )
        verdict = "not compared"
        if not args.skip_pandas:
            seconds_read, _ = timed(lambda: [pq.read_table(parquet / f"{n}.parquet") for n in SCHEMAS])
            seconds, expected = timed(lambda: pandas_kpis(parquet, args.as_of, params.period.start))
            verdict = compare(reports, expected) if args.by is None else "not compared (grouped)"
            lines.append(("simple: pandas in memory (read + compute)", f"{seconds:.2f}",
                          f"of which Parquet read ~{seconds_read:.2f} s; results {verdict}"))  # fmt: skip
            if args.backend != "duckdb":
                seconds, rows = timed(read_app_database)
                lines.append(("simple on the app database: only reading its rows into pandas", f"{seconds:.2f}",
                              f"{rows:,} rows; then the compute above"))  # fmt: skip
        print(f"\nKPI engine benchmark: {invoices:,} invoices, backend {args.backend}, as of {args.as_of}, "
              f"period {params.period}\n")  # fmt: skip
        print("| step | seconds | notes |\n|---|---:|---|")
        for step, seconds_text, note in lines:
            print(f"| {step} | {seconds_text} | {note} |")
        for report in reports:
            data = report.to_json()
            print(f"\n{report.currency}: AR {data['ar_total']}, DSO {data['dso']}, countback {data['dso_countback']}, "
                  f"BPDSO {data['bpdso']}, CEI {data['cei']}, DBT {data['dbt']}, WAP {data['weighted_average_days_to_pay']}")  # fmt: skip
        if verdict.startswith("MISMATCH"):
            sys.exit(1)
    finally:
        for job in cleanup:
            job()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"\ndata kept in {work}")


if __name__ == "__main__":
    main()
