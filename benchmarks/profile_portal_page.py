"""The whole portal overview page (cache off: a customer's first view) through Django's test
client, in process: CPU per page, each query's time (``connection.execute_wrapper``), on
PostgreSQL each query's planning against execution (``EXPLAIN ANALYZE``), then a cProfile.

    DB=postgres://relance:relance@127.0.0.1:5432/relance_x .venv/bin/python benchmarks/profile_portal_page.py
    DB=… .venv/bin/python benchmarks/profile_portal_page.py 2000 --html /tmp/page.html

``DB`` is a disposable database (a temporary SQLite file by default); the ledger is
``bench_portal.py``'s (2,000 open invoices by default). ``--html`` writes the page's bytes (to
compare two checkouts: the page must stay byte-identical).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from typing import Any

ROOT = os.environ.get("ROOT", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("invoices", type=int, nargs="?", default=2000)
    parser.add_argument("--pages", type=int, default=50, help="pages timed (default 50)")
    parser.add_argument("--html", default="", help="write the page's bytes to this file")
    parser.add_argument("--profile", type=int, default=20, help="pages under cProfile (0: none)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    os.environ.update(
        DATABASE_URL=os.environ.get("DB", f"sqlite:///{tmp}/bench.sqlite3"),
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="bench-" + "x" * 60,
        SECURE_SSL_REDIRECT="false",
        RELANCE_CACHE_LOCATION=f"{tmp}/cache",
        RELANCE_PORTAL_PAGE_CACHE="false",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    import bench_portal

    path, _customer_id = bench_portal.build_ledger(args.invoices)
    client = Client(HTTP_HOST="localhost")

    def page() -> bytes:
        response = client.get(path)
        assert response.status_code == 200, response.status_code
        return response.content

    for _ in range(10):  # warm-up: compiled fixed SQL, prepared statements (5th run on a connection)
        content = page()
    if args.html:
        with open(args.html, "wb") as out:
            out.write(content)

    cpu, wall = [], []
    for _ in range(args.pages):
        start, start_cpu = time.perf_counter(), time.process_time()
        page()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    print(
        f"page ({args.invoices:,} open invoices, {connection.vendor}): CPU median {statistics.median(cpu):.2f} ms,"
        f" min {min(cpu):.2f}; wall median {statistics.median(wall):.2f} ms, min {min(wall):.2f}"
    )

    timings: dict[str, list[float]] = defaultdict(list)
    seen: dict[str, tuple[str, Any]] = {}

    def timer(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings[sql].append((time.perf_counter() - start) * 1000)
            seen.setdefault(sql, (sql, params))

    with connection.execute_wrapper(timer):
        for _ in range(args.pages):
            page()
    per_page = sum(len(found) for found in timings.values()) / args.pages
    total = sum(statistics.median(found) * len(found) / args.pages for found in timings.values())
    print(f"\nqueries a page: {per_page:.1f}, their wall time (median each) {total:.2f} ms")
    for sql, found in sorted(timings.items(), key=lambda item: -statistics.median(item[1])):
        print(f"  {statistics.median(found):6.3f} ms ×{len(found) / args.pages:.0f}  {sql[:150]}")

    if connection.vendor == "postgresql":
        print("\nEXPLAIN ANALYZE (planning / execution ms), client-side bound, not prepared:")
        for sql, params in seen.values():
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            with connection.cursor() as cursor:
                plans, runs = [], []
                for _ in range(5):
                    cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
                    explained: Any = cursor.fetchone()[0]
                    explained = explained[0] if isinstance(explained, list) else explained
                    plans.append(explained["Planning Time"])
                    runs.append(explained["Execution Time"])
            print(f"  {statistics.median(plans):6.3f} / {statistics.median(runs):6.3f}  {sql[:120]}")

    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.profile):
            page()
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(45)


if __name__ == "__main__":
    main()
