"""Benchmark the REST API in-process (Django test client, no network):

* bulk upsert (``POST /customers/bulk``, ``POST /invoices/bulk`` of up to 10,000 items) against
  the simple approach, one ``PUT /invoices/{ref}`` per invoice (run on a sample, extrapolated);
* cursor (keyset) pagination against OFFSET pagination, the simple approach, over every invoice:
  total time and the time of the deepest page.

    .venv/bin/python benchmarks/bench_api.py --customers 1000 --invoices 50000
    .venv/bin/python benchmarks/bench_api.py --database-url postgres://relance:relance@127.0.0.1/relance_bench

A fresh SQLite file is used by default (deleted afterwards). With ``--database-url`` the database
must be empty or disposable: the benchmark migrates it and writes an ``bench`` entity.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1000, help="customers to create (default 1000)")
    parser.add_argument("--invoices", type=int, default=50_000, help="invoices to create (default 50000)")
    parser.add_argument(
        "--put-sample", type=int, default=500, help="invoices sent one PUT each (default 500)"
    )
    parser.add_argument("--page-size", type=int, default=1000, help="items per page (default 1000)")
    parser.add_argument(
        "--database-url", default="", help="database to use (default: a temporary SQLite file)"
    )
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="relance-bench-api-")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{tmp.name}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    rows = run(args)
    print_table(rows, args)
    tmp.cleanup()


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from relance.api import selectors
    from relance.api.services import api_token_create
    from relance.ledger.services import entity_create_or_update

    entity, _ = entity_create_or_update(name="bench", currency="EUR")
    user = get_user_model().objects.create_superuser("bench-admin", password="x")
    secret = api_token_create(user=user, name="bench")[1]
    client = Client(headers={"Authorization": f"Bearer {secret}"})

    def post(path: str, body: Any) -> Any:
        response = client.post(f"/api/v1{path}", json.dumps(body), content_type="application/json")
        assert response.status_code == 200, response.content[:500]
        return response.json()

    rows: list[dict[str, Any]] = []
    start = time.perf_counter()
    customers = [
        {"customer_ref": f"C{n:06d}", "name": f"Customer {n}", "segment": "SMB"}
        for n in range(args.customers)
    ]
    for chunk in chunks(customers, 10_000):
        post("/customers/bulk", {"items": chunk})
    rows.append(
        row("POST /customers/bulk (≤10,000 per request)", args.customers, time.perf_counter() - start)
    )

    day = date(2025, 1, 1)

    def invoice(n: int) -> dict[str, Any]:
        issue = day + timedelta(days=n % 365)
        return {
            "invoice_ref": f"INV-{n:08d}",
            "customer_ref": f"C{n % args.customers:06d}",
            "issue_date": issue.isoformat(),
            "due_date": (issue + timedelta(days=30)).isoformat(),
            "amount": f"{100 + n % 900}.{n % 100:02d}",
        }

    start = time.perf_counter()
    for chunk in chunks([invoice(n) for n in range(args.invoices)], 10_000):
        post("/invoices/bulk", {"items": chunk})
    rows.append(row("POST /invoices/bulk (≤10,000 per request)", args.invoices, time.perf_counter() - start))

    start = time.perf_counter()
    for n in range(args.invoices, args.invoices + args.put_sample):
        body = invoice(n)
        response = client.put(
            f"/api/v1/invoices/{body.pop('invoice_ref')}", json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 201, response.content[:500]
    rows.append(
        row("PUT /invoices/{ref}, one per invoice (simple)", args.put_sample, time.perf_counter() - start)
    )

    total = args.invoices + args.put_sample
    start, deepest, pages, seen, cursor = time.perf_counter(), 0.0, 0, 0, None
    while True:
        page_start = time.perf_counter()
        params: dict[str, Any] = {"limit": args.page_size, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/invoices", params)
        deepest = time.perf_counter() - page_start
        body = response.json()
        seen, pages, cursor = seen + len(body["items"]), pages + 1, body["next_cursor"]
        if cursor is None:
            break
    assert seen == total, (seen, total)
    rows.append(row("GET /invoices, cursor pages", total, time.perf_counter() - start, pages, deepest))

    # The same pages fetched without HTTP or JSON: keyset (what the API does) vs LIMIT/OFFSET.
    from relance.api.pagination import paginate
    from relance.core.clock import SystemClock

    invoices = selectors.invoice_list(entity=entity, today=SystemClock().today())
    for name in ("keyset", "offset"):
        start, deepest, pages, seen, cursor = time.perf_counter(), 0.0, 0, 0, None
        while True:
            page_start = time.perf_counter()
            if name == "keyset":
                page = paginate(
                    invoices, orderings={"id": "id"}, order="id", cursor=cursor, limit=args.page_size
                )
                items, cursor = page.items, page.next_cursor
            else:
                items = list(invoices.order_by("id")[seen : seen + args.page_size + 1])[: args.page_size]
            deepest = time.perf_counter() - page_start
            pages, seen = pages + 1, seen + len(items)
            if (name == "keyset" and cursor is None) or (name == "offset" and len(items) < args.page_size):
                break
        assert seen == total, (name, seen, total)
        label = "keyset pages, rows only" if name == "keyset" else "LIMIT/OFFSET pages, rows only (simple)"
        rows.append(row(label, total, time.perf_counter() - start, pages, deepest))
    return rows


def chunks(items: list, size: int) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def row(name: str, count: int, seconds: float, pages: int = 0, last_page: float = 0.0) -> dict[str, Any]:
    return {"name": name, "count": count, "seconds": seconds, "pages": pages, "last_page": last_page}


def print_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    from django.db import connection

    print(
        f"\nRelance API benchmark — {connection.vendor}, {args.customers:,} customers, {args.invoices:,} invoices\n"
    )
    print("| approach | items | seconds | items/s | pages | last page ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        rate = r["count"] / r["seconds"] if r["seconds"] else 0
        pages = f"{r['pages']:,}" if r["pages"] else "–"
        last = f"{r['last_page'] * 1000:.1f}" if r["pages"] else "–"
        print(f"| {r['name']} | {r['count']:,} | {r['seconds']:.2f} | {rate:,.0f} | {pages} | {last} |")


if __name__ == "__main__":
    main()
