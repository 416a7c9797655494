"""Benchmark the workspace pages under load: worklist and customer 360, p50/p95 with concurrent clients.

    .venv/bin/python benchmarks/bench_workspace.py --invoices 2000000 \\
        --database-url postgres://relance:relance@127.0.0.1:5432/relance --clients 20 --requests 30

Data: the synthetic generator's ledger bulk-loaded into a fresh PostgreSQL database (as
``bench_run.py``: a database ``relance_bench_workspace`` created next to ``--database-url``), a
contact per customer, the shipped policies, ``--collectors`` collector users sharing the
customers round robin, then the real daily run (``run_start``) so the worklist exists.

Served by ``relance serve`` (gunicorn, ``--workers``/``--threads``) on 127.0.0.1. Each client
signs in through the real login form as one of the collectors and then, ``--requests`` times,
loads its worklist (``/w/worklist/``) and one of its customers (``/w/customers/<id>/``). The
simple approach in the same run is the dunning app's worklist
selector (``relance worklist``: every entry of the run read and filtered in Python).

``--predictions``: before serving, store a prediction run for every invoice open on the run's day
(issue 16; made-up but well-formed predictions, two drivers each: the cost measured is the
store's, ``relance.predict.services.prediction_run_store``, COPY on PostgreSQL), timed beside the
simple approach (Django's ``bulk_create`` of model objects, 5,000 a batch); the pages are then
served with the run stored, so the worklist's next best action (its SQL over the run's rows) is in
the timings.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import httpx  # noqa: E402
from bench_kpi import END, SCHEMAS, load_app_database, setup_django, timed  # noqa: E402
from bench_run import add_contacts_and_policies  # noqa: E402

PASSWORD = "bench horse battery staple"


def generate(invoices: int, customers: int, out: Path) -> dict[str, int]:
    """The synthetic ledger with exactly ``customers`` customers sharing ``invoices`` invoices."""
    import pyarrow.parquet as pq

    from relance.synthetic.generator import GeneratorConfig, iter_ledger_chunks
    from relance.synthetic.writers import write_parquet

    config = GeneratorConfig(invoices=invoices, customers=customers or None, end=END, seed=7)
    write_parquet(iter_ledger_chunks(config), out)
    return {name: pq.ParquetFile(out / f"{name}.parquet").metadata.num_rows for name in SCHEMAS}


def collectors_create(entity_id: int, count: int) -> list[str]:
    """``count`` collectors granted the entity, customers shared among them round robin (SQL)."""
    from django.db import connection

    from relance.accounts.services import user_create
    from relance.ledger.models import Entity

    entity = Entity.objects.get(pk=entity_id)
    users = [
        user_create(
            email=f"collector{n}@bench.test", role="collector", entity_names=[entity.name], password=PASSWORD
        )
        for n in range(count)
    ]
    ids = [user.pk for user in users]
    cases = " ".join(f"WHEN {n} THEN {pk}" for n, pk in enumerate(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE ledger_customer SET collector_id = CASE (id %% {count}) {cases} END WHERE entity_id = %s",  # noqa: S608
            [entity_id],
        )
        cursor.execute("ANALYZE")
    return [user.email for user in users]


def cpu_per_page(email: str, customer_ids: list[int], rounds: int = 30) -> list[tuple[str, str, str]]:
    """Server CPU of each page in this process (Django's test client, no HTTP): the measure that
    stays comparable on a shared machine, with the queries each page makes."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(email=email))
    pages = {
        "worklist /w/worklist/": lambda n: "/w/worklist/",
        "customer 360 /w/customers/<id>/": lambda n: f"/w/customers/{customer_ids[n % len(customer_ids)]}/",
    }
    lines = []
    for label, path in pages.items():
        for n in range(3):
            client.get(path(n))
        cpu = []
        for n in range(rounds):
            started = time.process_time()
            response = client.get(path(n))
            cpu.append(time.process_time() - started)
            if response.status_code != 200:
                raise SystemExit(f"{path(n)}: {response.status_code}")
        counts = []
        for n in range(5):
            with CaptureQueriesContext(connection) as queries:
                client.get(path(n))
            counts.append(len(queries))
        lines.append(
            (
                f"CPU per page (in process): {label}",
                f"p50 {statistics.median(cpu) * 1000:.1f} ms",
                f"p95 {percentile(cpu, 0.95) * 1000:.1f} ms, {min(counts)}-{max(counts)} queries, n={rounds}",
            )
        )
    return lines


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (Linux ``/proc``; 0 elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(url: str, workers: int, threads: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "relance.cli", "serve", "--port", str(port), "--workers", str(workers),
         "--threads", str(threads), "--no-access-log"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/login/", timeout=2).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.terminate()
            raise SystemExit("the server did not start")
        time.sleep(0.5)


def signed_in(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    page = client.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    response = client.post(
        "/login/",
        data={
            "username": email,
            "password": PASSWORD,
            "csrfmiddlewaretoken": token.group(1) if token else "",
        },
        headers={"Referer": f"{base}/login/"},
    )
    if response.status_code != 302:
        raise SystemExit(f"sign-in of {email} failed: {response.status_code}")
    return client


def load(
    base: str,
    emails: list[str],
    clients: int,
    requests: int,
    pages: Callable[[httpx.Client, random.Random], list[tuple[str, str]]],
    think: float = 0.0,
) -> dict[str, list[float]]:
    """``clients`` threads, each signed in as a collector, each making ``requests`` rounds of ``pages``."""
    timings: dict[str, list[float]] = {}
    errors: list[str] = []
    lock = threading.Lock()
    sessions = [signed_in(base, emails[n % len(emails)]) for n in range(clients)]
    barrier = threading.Barrier(clients)

    def work(number: int) -> None:
        try:
            rounds(number)
        except Exception as exc:  # a failed thread is a failed run, not fewer samples
            with lock:
                errors.append(f"client {number}: {exc!r}")

    def rounds(number: int) -> None:
        client = sessions[number]
        rng = random.Random(number)
        barrier.wait()
        for _ in range(requests):
            for label, path in pages(client, rng):
                if think:
                    time.sleep(rng.uniform(0.5, 1.5) * think)
                started = time.perf_counter()
                try:
                    response = client.get(path)
                except httpx.RemoteProtocolError:
                    # the server closed an idle keep-alive connection as it was reused: a browser
                    # retries an idempotent GET on a new one, and so do we (timed from the start)
                    response = client.get(path)
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code != 200:
                        errors.append(f"{path}: {response.status_code}")
                    timings.setdefault(label, []).append(elapsed)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for session in sessions:
        session.close()
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, first: {errors[0]}")
    return timings


def predictions_store(entity: Any, as_of: Any) -> list[tuple[str, str, str]]:
    """Store a prediction run of every invoice open at ``as_of`` twice — Django's bulk_create (the
    simple approach), then the store's COPY — and time both (wall and this process's CPU)."""
    from datetime import timedelta
    from decimal import Decimal

    from django.db import connection, transaction

    from relance.ledger.models import Allocation, Invoice
    from relance.ml.predictions import Driver, PredictionRunSummary
    from relance.ml.predictions import InvoicePrediction as Prediction
    from relance.predict.models import InvoicePrediction, PredictionRun
    from relance.predict.services import prediction_run_store

    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.id, i.currency, i.amount - COALESCE(SUM(a.amount), 0), i.due_date"  # noqa: S608
            f" FROM {quote(Invoice._meta.db_table)} i LEFT JOIN {quote(Allocation._meta.db_table)} a"
            f" ON a.invoice_id = i.id AND a.date <= %s WHERE i.entity_id = %s AND i.status <> 'void'"
            f" AND i.issue_date <= %s GROUP BY i.id HAVING i.amount - COALESCE(SUM(a.amount), 0) > 0",
            [as_of, entity.pk, as_of],
        )
        rows = cursor.fetchall()
    made: list[Prediction] = []
    for invoice_id, currency, open_amount, due in rows:
        late = (invoice_id * 7919) % 40 - 10
        median = max(as_of + timedelta(days=1), due + timedelta(days=late))
        drivers = (
            Driver("cust_days_late", float(late), f"usually pays {late} days late (+{abs(late)} days)"),
            Driver("contacts_90d", -2.0, "contacted 3 times in 90 days (-2 days)"),
        )
        made.append(
            Prediction(
                invoice_id=invoice_id, invoice_ref=str(invoice_id), customer_ref="", currency=currency,
                open_amount=Decimal(open_amount), as_of=as_of, p_late=((invoice_id * 31) % 100) / 100,
                expected_pay_date=median, pay_date_p10=median - timedelta(days=3),
                pay_date_p90=median + timedelta(days=9), drivers=drivers, model="survival",
            )
        )  # fmt: skip
    summary = PredictionRunSummary(as_of=as_of, model="survival", trained_rows=0, note="bench_workspace")

    def simple() -> None:
        with transaction.atomic():
            PredictionRun.objects.filter(entity=entity, as_of=as_of).delete()
            run = PredictionRun.objects.create(entity=entity, as_of=as_of, model="survival")
            InvoicePrediction.objects.bulk_create(
                (
                    InvoicePrediction(
                        run=run, entity=entity, invoice_id=p.invoice_id, as_of=p.as_of, currency=p.currency,
                        open_amount=p.open_amount, p_late=p.p_late, expected_pay_date=p.expected_pay_date,
                        pay_date_p10=p.pay_date_p10, pay_date_p90=p.pay_date_p90,
                        drivers=[d.to_json() for d in p.drivers],
                    )
                    for p in made
                ),
                batch_size=5_000,
            )  # fmt: skip
        PredictionRun.objects.filter(entity=entity, as_of=as_of).delete()

    lines = []
    for label, job in (
        ("simple: bulk_create of the run's rows", simple),
        ("store a prediction run (COPY)", lambda: prediction_run_store(entity=entity, summary=summary, predictions=made)),
    ):  # fmt: skip
        wall, cpu = time.perf_counter(), time.process_time()
        job()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        lines.append((label, f"{wall:.1f} s", f"{len(made):,} predictions, CPU {cpu:.1f} s (this process)"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return lines


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=200_000, help="synthetic invoices (default 200,000)")
    parser.add_argument("--database-url", default=os.environ.get("RELANCE_TEST_POSTGRES_URL", ""),
                        help="PostgreSQL server (a fresh database relance_bench_workspace is created on it)")  # fmt: skip
    parser.add_argument("--customers", type=int, default=100_000,
                        help="synthetic customers sharing the invoices (default 100,000; 0: the generator's "
                        "own ratio, 60 invoices per customer)")  # fmt: skip
    parser.add_argument("--collectors", type=int, default=10, help="collector users sharing the customers")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--requests", type=int, default=20, help="rounds per client (worklist + customer)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker (default 2)")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds each client waits between two pages (default 0: no think time, saturation)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the database (drop it by hand)")
    parser.add_argument("--predictions", action="store_true",
                        help="store a prediction run of the open invoices first (timed), served with it")  # fmt: skip
    parser.add_argument("--database-name", default="relance_bench_workspace",
                        help="the database created (default relance_bench_workspace)")  # fmt: skip
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the database a --keep run left (skips generating, loading and the run)")  # fmt: skip
    args = parser.parse_args()
    if not args.database_url:
        parser.error(
            "--database-url (or RELANCE_TEST_POSTGRES_URL) is required: the benchmark is for PostgreSQL"
        )

    import psycopg

    admin_url = args.database_url.replace("postgres://", "postgresql://", 1)
    name = args.database_name
    if not args.reuse:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
    url = args.database_url.rsplit("/", 1)[0] + f"/{name}"
    work = Path(tempfile.mkdtemp(prefix="relance-bench-workspace-"))
    lines: list[tuple[str, str, str]] = []
    server = None
    try:
        seconds_migrate, _ = timed(lambda: setup_django(url))
        from django.db import connection
        from django.utils import timezone

        from relance.dunning.models import DunningRun, WorklistEntry
        from relance.dunning.selectors import worklist_rows
        from relance.dunning.services import run_start
        from relance.ledger.models import Customer, Entity, Invoice

        if args.reuse:
            entity = Entity.objects.get(name="bench")
            run = DunningRun.objects.filter(entity=entity).order_by("-as_of").first()
            emails = sorted(
                Customer.objects.filter(entity=entity, collector__isnull=False)
                .values_list("collector__email", flat=True)
                .distinct()
            )
            lines.append(
                (
                    "reused database",
                    "",
                    f"{Invoice.objects.count():,} invoices, {Customer.objects.count():,} customers",
                )
            )
        else:
            seconds, counts = timed(lambda: generate(args.invoices, args.customers, work / "ledger"))
            lines.append(
                (
                    "generate Parquet",
                    f"{seconds:.1f} s",
                    f"{counts['invoices']:,} invoices, {counts['customers']:,} customers",
                )
            )
            seconds = seconds_migrate
            seconds_load, loaded = timed(lambda: load_app_database(work / "ledger"))
            entity_id = loaded["entity_id"]
            seconds_more, _ = timed(lambda: add_contacts_and_policies(entity_id))
            seconds_users, emails = timed(lambda: collectors_create(entity_id, args.collectors))
            lines.append(
                (
                    "load (migrate, COPY, contacts, collectors)",
                    f"{seconds + seconds_load + seconds_more + seconds_users:.1f} s",
                    "",
                )
            )
            entity = Entity.objects.get(pk=entity_id)
            today = timezone.localdate()
            seconds, outcome = timed(lambda: run_start(entity=entity, as_of=today, started_by="bench"))
            run = outcome.run
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # the run's rows, as autovacuum would soon (stable plans)
            lines.append(
                (
                    f"daily run {today}",
                    f"{seconds:.1f} s",
                    f"{WorklistEntry.objects.filter(run=run).count():,} worklist entries",
                )
            )

        if args.predictions:
            lines += predictions_store(entity, run.as_of)

        by_collector: dict[str, list[int]] = {}
        rows = WorklistEntry.objects.filter(run=run).values_list("customer__collector__email", "customer_id")
        for email, customer_id in rows:
            by_collector.setdefault(email, []).append(customer_id)
        all_ids = list(Customer.objects.filter(entity=entity).values_list("pk", flat=True)[:50_000])
        samples = {email: (ids or all_ids)[:500] for email, ids in by_collector.items()}

        started = time.perf_counter()
        _, simple_rows = worklist_rows(entity=entity, collector_email=emails[0])
        simple_worklist = time.perf_counter() - started

        lines += cpu_per_page(emails[0], samples.get(emails[0]) or all_ids)
        server, base = serve(url, args.workers, args.threads)

        def workspace_pages(client: httpx.Client, rng: random.Random) -> list[tuple[str, str]]:
            email = client.cookies.get("bench_email") or ""
            ids = samples.get(email) or all_ids
            return [
                ("worklist /w/worklist/", "/w/worklist/"),
                ("customer 360 /w/customers/<id>/", f"/w/customers/{rng.choice(ids)}/"),
            ]

        # each client remembers whose worklist it reads (for picking its own customers)
        original = signed_in

        def tagged(base_url: str, email: str) -> httpx.Client:
            client = original(base_url, email)
            client.cookies.set("bench_email", email)
            return client

        globals()["signed_in"] = tagged
        # warm-up: every worker compiles its templates and opens its connection
        load(base, emails, min(args.clients, 8), 2, workspace_pages)
        # one client alone: the pages' own latency, without queueing behind the other clients
        cpu_before = tree_cpu_seconds(server.pid)
        single = load(base, emails, 1, 15, workspace_pages)
        served = sum(len(values) for values in single.values())
        lines.append(
            (
                "1 client: gunicorn CPU per page (all processes)",
                f"{(tree_cpu_seconds(server.pid) - cpu_before) / served * 1000:.1f} ms",
                f"worklist and 360 alternately over HTTP, n={served} (PostgreSQL's CPU not included)",
            )
        )
        for label, values in single.items():
            lines.append((f"1 client: {label}", f"p95 {percentile(values, 0.95) * 1000:.0f} ms",
                          f"p50 {statistics.median(values) * 1000:.0f} ms, n={len(values)}"))  # fmt: skip
        load_before = os.getloadavg()[0]
        wall, timings = timed(
            lambda: load(base, emails, args.clients, args.requests, workspace_pages, args.think)
        )
        total = sum(len(v) for k, v in timings.items() if not k.startswith("simple"))
        lines.append(
            (
                "machine load average (1 min) before / after",
                "",
                f"{load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
            )
        )
        lines.append(
            (
                f"{args.clients} clients x {args.requests} rounds",
                f"{wall:.1f} s",
                f"{total / wall:.1f} requests/s, {args.workers} workers x {args.threads} threads, think {args.think} s",
            )
        )
        for label, values in timings.items():
            lines.append((label, f"p95 {percentile(values, 0.95) * 1000:.0f} ms",
                          f"p50 {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms, n={len(values)}"))  # fmt: skip
        lines.append(
            (
                "simple: worklist_rows (relance worklist)",
                f"{simple_worklist * 1000:.0f} ms",
                f"one collector's {len(simple_rows):,} rows, one call, no HTTP",
            )
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if not args.keep and not args.reuse:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    width = max(len(line[0]) for line in lines)
    size = "reused database" if args.reuse else f"{args.invoices:,} invoices"
    print(f"\nbench_workspace: {size}, PostgreSQL, {args.clients} concurrent clients")
    for label, value, note in lines:
        print(f"{label:<{width}}  {value:>14}  {note}")


if __name__ == "__main__":
    main()
