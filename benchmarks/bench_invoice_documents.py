"""Benchmark invoice PDFs: ``relance documents import`` of a folder, and the portal's PDF links.

N invoices (default 2,000) each get a PDF of K KB (default 60) in a temporary folder. Timed:

* the first import (every file attached), a second import of the same folder (every file
  ``unchanged``: compared by SHA-256, nothing written) and a dry run — against the simple
  approach of storing every file again on each run (a new row and file per PDF, no comparison);
* the open-items page's "which invoices have a PDF": one query for a page of 50 invoice ids
  (``invoice_ids_with_document``) against one ``EXISTS`` query per invoice of the page.

    .venv/bin/python benchmarks/bench_invoice_documents.py
    .venv/bin/python benchmarks/bench_invoice_documents.py --invoices 5000 --pdf-kb 200 \\
        --database-url postgres://relance:relance@127.0.0.1:5432/relance_bench

The database must be empty or disposable (it is migrated; a ``bench-documents`` entity is
replaced). Without ``--database-url`` a temporary SQLite file is used. Files are written to a
temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=2000, help="invoices, one PDF each (default 2000)")
    parser.add_argument("--pdf-kb", type=int, default=60, help="size of each PDF in KB (default 60)")
    parser.add_argument("--pages", type=int, default=200, help="pages of 50 looked up (default 200)")
    parser.add_argument("--database-url", default="", help="database (default: a temporary SQLite file)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-documents-"))
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ["RELANCE_INVOICE_DOCUMENT_ROOT"] = str(work / "store")  # read once, when models load
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    try:
        run(args, work)
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    from django.core.files.base import ContentFile
    from django.db import connection

    from relance.ledger.document_import import documents_import
    from relance.ledger.documents import document_root
    from relance.ledger.models import Customer, Entity, Invoice, InvoiceDocument
    from relance.ledger.selectors import invoice_ids_with_document
    from relance.ledger.services import entity_create_or_update

    assert document_root().is_relative_to(work), document_root()
    old = Entity.objects.filter(name="bench-documents").first()
    if old is not None:
        InvoiceDocument.objects.filter(entity=old).delete()
        Invoice.objects.filter(entity=old).delete()
        Customer.objects.filter(entity=old).delete()
    entity, _ = entity_create_or_update(name="bench-documents", currency="EUR")
    customers = Customer.objects.bulk_create(
        [Customer(entity=entity, external_ref=f"C{i}", name=f"C{i}", currency="EUR") for i in range(20)]
    )
    start = date(2026, 1, 1)
    Invoice.objects.bulk_create(
        [
            Invoice(
                entity=entity,
                customer=customers[i % 20],
                external_ref=f"INV-{i:06d}",
                issue_date=start,
                due_date=start + timedelta(days=30),
                currency="EUR",
                amount=Decimal("100.00"),
            )
            for i in range(args.invoices)
        ]
    )
    folder = work / "pdfs"
    folder.mkdir()
    filler = b"%" * (args.pdf_kb * 1024)
    for i in range(args.invoices):
        (folder / f"INV-{i:06d}.pdf").write_bytes(
            b"%PDF-1.4\n%" + str(i).encode() + b"\n" + filler + b"\n%%EOF\n"
        )

    rows: list[tuple[str, float, str]] = []

    def timed(label: str, action, note: str = "") -> None:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        outcome = action()
        seconds = time.perf_counter() - started
        rows.append((label, seconds, note or _counts(outcome)))

    timed("import, first run", lambda: documents_import(entity=entity, directory=folder))
    timed("import again (all unchanged)", lambda: documents_import(entity=entity, directory=folder))
    timed("import --dry-run", lambda: documents_import(entity=entity, directory=folder, dry_run=True))

    invoices = {invoice.external_ref: invoice for invoice in Invoice.objects.filter(entity=entity)}

    def store_everything_again() -> None:
        for path in sorted(folder.iterdir()):
            invoice = invoices[path.stem]
            content = path.read_bytes()
            document = InvoiceDocument(
                entity=entity, invoice=invoice, sha256="-", size=len(content), original_name=path.name
            )
            document.file.save(path.name, ContentFile(content), save=False)
            document.save()

    timed("simple: store every file again", store_everything_again, f"{args.invoices} new rows and files")

    ids = list(Invoice.objects.filter(entity=entity).order_by("id").values_list("id", flat=True))
    pages = [ids[(n * 50) % max(1, len(ids) - 50) :][:50] for n in range(args.pages)]
    one_query, per_row = [], []
    for page in pages:
        started = time.perf_counter()
        found = invoice_ids_with_document(invoice_ids=page)
        one_query.append(time.perf_counter() - started)
        started = time.perf_counter()
        naive = {pk for pk in page if InvoiceDocument.objects.filter(invoice_id=pk).exists()}
        per_row.append(time.perf_counter() - started)
        assert found == naive

    print(
        f"\ninvoice documents: {args.invoices:,} PDFs of {args.pdf_kb} KB, {connection.vendor}, "
        f"{os.cpu_count()} CPUs\n"
    )
    print(f"{'step':<34} {'seconds':>9} {'files/s':>9}  outcome")
    for label, seconds, note in rows:
        print(f"{label:<34} {seconds:>9.2f} {args.invoices / seconds:>9,.0f}  {note}")
    print(f"\n{'PDF links of a page of 50':<34} {'p50 ms':>9} {'p95 ms':>9}")
    for label, samples in (
        ("one query for the page", one_query),
        ("simple: one EXISTS per invoice", per_row),
    ):
        ordered = sorted(samples)
        p95 = ordered[int(len(ordered) * 0.95) - 1] * 1000
        print(f"{label:<34} {statistics.median(samples) * 1000:>9.2f} {p95:>9.2f}")


def _counts(outcome: object) -> str:
    if outcome is None:
        return ""
    return (
        f"attached {len(outcome.attached):,}, unchanged {len(outcome.unchanged):,}, "  # type: ignore[attr-defined]
        f"rejected {len(outcome.rejected):,}"  # type: ignore[attr-defined]
    )


if __name__ == "__main__":
    main()
