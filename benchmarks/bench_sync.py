"""Benchmark of `relance sync odoo`: N invoices pulled from a fake Odoo over loopback HTTP and
imported, vs importing the same rows from CSV files, in the same run.

    .venv/bin/python benchmarks/bench_sync.py --invoices 20000 --customers 2000

The fake Odoo is a real HTTP server on 127.0.0.1 answering Odoo's documented JSON-RPC payloads
(``res.partner`` and ``account.move`` records shaped like tests/connectors/fixtures/odoo.json;
the same fake the tests mount on respx). Reported: the first sync (pull + validate + write), the
pull alone, a second sync (everything unchanged: the idempotence check), and the CSV import of
the same canonical rows into a second entity (customers then invoices, ``relance import``'s code).
Both entities must end with the same invoices and the same total, else MISMATCH and exit 1.
Wall and CPU seconds are given side by side (the machine may be shared).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def odoo_data(invoices: int, customers: int) -> dict[str, list[dict[str, object]]]:
    """Deterministic Odoo records: companies and posted customer invoices."""
    partners = [
        {"id": 1000 + n, "name": f"Customer {n}", "ref": f"C{n:06d}", "email": f"ap{n}@example.com", "phone": False,
         "vat": False, "company_registry": False, "lang": "fr_FR", "country_id": [75, "France"], "parent_id": False,
         "is_company": True, "type": "contact", "function": False, "write_date": "2026-01-01 00:00:00"}
        for n in range(customers)
    ]  # fmt: skip
    start = date(2025, 1, 1)
    moves = []
    for n in range(invoices):
        issued = start + timedelta(days=n % 300)
        moves.append(
            {"id": 10_000 + n, "name": f"INV/2025/{n:07d}", "move_type": "out_invoice", "state": "posted",
             "commercial_partner_id": [1000 + n % customers, f"Customer {n % customers}"],
             "invoice_date": issued.isoformat(), "invoice_date_due": (issued + timedelta(days=30)).isoformat(),
             "amount_total": float(f"{(n * 7919) % 99_000 + 100}.{n % 100:02d}"), "currency_id": [1, "EUR"],
             "ref": f"PO-{n % 5000}", "reversed_entry_id": False, "payment_state": "not_paid",
             "amount_residual": 0.0, "write_date": f"2026-01-02 {n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}"}
        )  # fmt: skip
    return {"res.partner": partners, "account.move": moves, "account.payment": [], "account.move.line": [],
            "account.partial.reconcile": []}  # fmt: skip


def serve(fake: object) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, answer = fake.answer(body)  # type: ignore[attr-defined]
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def timed(label: str, results: dict[str, dict[str, float]], run):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), cpu_seconds()
    value = run()
    results[label] = {"wall_s": round(time.perf_counter() - wall, 3), "cpu_s": round(cpu_seconds() - cpu, 3)}
    return value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ.setdefault("SECRET_KEY", "bench-sync")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    try:
        sys.exit(run(args, work))
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> int:
    from django.db.models import Sum

    from relance.connectors.adapters.odoo import OdooAdapter
    from relance.connectors.services import connector_set, sync_run
    from relance.ingest.services import file_import
    from relance.ledger.models import Invoice
    from relance.ledger.services import entity_create_or_update
    from tests.connectors.fakes import FakeOdoo

    fake = FakeOdoo(odoo_data(args.invoices, args.customers))
    server = serve(fake)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    synced, _ = entity_create_or_update(name="synced", currency="EUR", language="en", legal_name="Synced")
    imported, _ = entity_create_or_update(
        name="imported", currency="EUR", language="en", legal_name="Imported"
    )
    connector = connector_set(entity=synced, source="odoo", url=url, options={"database": "bench"})

    def adapter() -> OdooAdapter:
        return OdooAdapter(
            url=url, database="bench", login="bench", api_key="odoo-key", page_size=args.page_size
        )

    results: dict[str, dict[str, float]] = {}
    pulled: dict[str, list[dict[str, str | None]]] = {"customers": [], "invoices": []}

    def pull_only() -> None:
        source = adapter()
        for kind in pulled:
            for page in source.pull(kind, None):
                pulled[kind].extend(row.cells for row in page.rows)

    timed("pull only (HTTP + mapping)", results, pull_only)
    first = timed(
        "sync, first (pull + validate + write)",
        results,
        lambda: sync_run(connector=connector, adapter=adapter()),
    )
    connector.refresh_from_db()
    fake.changed()
    second = timed(
        "sync, again (all unchanged)", results, lambda: sync_run(connector=connector, adapter=adapter())
    )

    paths = {}
    for kind, rows in pulled.items():
        path = paths[kind] = work / f"{kind}.csv"
        columns = sorted({column for row in rows for column in row})
        with path.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=columns)
            writer.writeheader()
            writer.writerows({key: value or "" for key, value in row.items()} for row in rows)

    def csv_import() -> None:
        for kind in ("customers", "invoices"):
            outcome = file_import(kind=kind, path=paths[kind], entity=imported)
            assert outcome.committed, outcome.errors[:5]

    timed("CSV import of the same rows", results, csv_import)
    server.shutdown()

    totals = {
        name: Invoice.objects.filter(entity=entity).aggregate(n=Sum(1), total=Sum("amount"))
        for name, entity in (("synced", synced), ("imported", imported))
    }
    counts = {name: Invoice.objects.filter(entity__name=name).count() for name in totals}
    sums = {name: str(value["total"]) for name, value in totals.items()}
    ok = (
        first.committed
        and counts["synced"] == counts["imported"] == args.invoices
        and sums["synced"] == sums["imported"]
        and second.streams["invoices"].result.unchanged == 1  # from the cursor: the last second only
        and second.streams["invoices"].result.created == 0
    )
    report = {
        "invoices": args.invoices,
        "customers": args.customers,
        "page_size": args.page_size,
        "timings": results,
        "invoices_per_s": {
            label: round(args.invoices / timing["wall_s"]) if timing["wall_s"] else None
            for label, timing in results.items()
        },
        "counts": counts,
        "totals": sums,
        "ok": ok,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"bench_sync: {args.invoices:,} invoices, {args.customers:,} customers, pages of {args.page_size}"
        )
        for label, timing in results.items():
            rate = report["invoices_per_s"][label]
            print(
                f"  {label:<40} {timing['wall_s']:>8.2f} s wall {timing['cpu_s']:>8.2f} s CPU  {rate:>8,} invoices/s"
            )
        print(f"  invoices: {counts}; totals: {sums}")
        print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    main()
