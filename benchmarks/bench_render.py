"""Benchmark message rendering (relance.comms.services.message_render) for real customers.

    .venv/bin/python benchmarks/bench_render.py --messages 10000
    .venv/bin/python benchmarks/bench_render.py --invoices 50000 --messages 10000 --simple 300

Data: the synthetic generator's ledger (``--invoices``, default 20,000), bulk-loaded into a fresh
SQLite app database (as ``bench_kpi.py``), with an IBAN/BIC on the entity and one billing
contact per customer. Every customer with open invoices as of the run date is a recipient; the
messages cycle over them and over the reminder keys (overdue_friendly, overdue_firm,
final_notice, pre_due_friendly), each with its own message key (so its own RF reference and
QR code). Timed, in the same run:

* shipped: ``message_render`` e-mail (subject, text, HTML with the EPC QR code as PNG);
* shipped, no QR: the same without the QR code (an entity without IBAN, or a non-euro one);
* shipped, SMS: the short channel;
* simple: the same e-mail with the template compiled again for every message (no compiled-
  template cache), as a naive ``Template(source).render()`` per message would do; run on
  ``--simple`` messages (default 500).

The statement PDF attached to firm and final notices is left out (see bench_letters.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kpi import END, cpu_seconds, generate, load_app_database, setup_django, timed

KEYS = ("overdue_friendly", "overdue_firm", "final_notice", "pre_due_friendly")


def prepare(entity_id: int) -> list[Any]:
    """IBAN, contacts; the customers with open invoices as of END, with their contact."""
    from django.db import transaction

    from relance.ledger.models import Contact, Customer, Entity
    from relance.ledger.selectors import STILL_OWED, invoice_list_with_open

    entity = Entity.objects.get(pk=entity_id)
    entity.iban, entity.bic, entity.legal_name = "FR7630006000011234567890189", "AGRIFRPP", "Bench SAS"
    entity.address = "12 rue de la Paix\n75002 Paris"
    entity.save()
    with transaction.atomic():
        ids = list(Customer.objects.filter(entity_id=entity_id).values_list("id", flat=True))
        Contact.objects.bulk_create(
            (Contact(customer_id=pk, name=f"Contact {pk}", email=f"ap{pk}@example.com") for pk in ids),
            batch_size=5000,
        )
    open_ids = set(
        invoice_list_with_open(entity=entity, as_of=END)
        .filter(open_amount__gt=STILL_OWED)
        .values_list("customer_id", flat=True)
    )
    customers = list(
        Customer.objects.filter(pk__in=open_ids).select_related("entity", "collector", "sales_owner")
    )
    contacts = {contact.customer_id: contact for contact in Contact.objects.filter(customer_id__in=open_ids)}
    return [(customer, contacts.get(customer.pk)) for customer in customers]


def render_many(
    recipients: list[Any], count: int, channel: str, before_each: Callable[[], None] | None = None
) -> int:
    from relance.comms.services import message_render

    total_chars = 0
    for number in range(count):
        customer, contact = recipients[number % len(recipients)]
        if before_each is not None:
            before_each()
        rendered = message_render(
            customer=customer,
            template_key=KEYS[number % len(KEYS)],
            channel=channel,
            as_of=END,
            contact=contact,
            message_key=f"bench/{number}",
        )
        total_chars += len(rendered.text) + len(rendered.html)
    return total_chars


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=20_000, help="invoices to generate (default 20,000)")
    parser.add_argument("--messages", type=int, default=10_000, help="e-mails to render (default 10,000)")
    parser.add_argument("--simple", type=int, default=500, help="messages for the no-cache run (default 500)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="relance-bench-render-"))
    try:
        seconds, counts = timed(lambda: generate(args.invoices, work / "ledger"))
        print(f"generated {counts['invoices']:,} invoices in {seconds:.1f} s", file=sys.stderr)
        setup_django(f"sqlite:///{work / 'app.sqlite3'}")
        from django.conf import settings

        settings.RELANCE_PUBLIC_URL = "https://ar.example.com"
        loaded = load_app_database(work / "ledger")
        recipients = prepare(loaded["entity_id"])
        print(f"{len(recipients):,} customers with open invoices", file=sys.stderr)

        from relance.comms import rendering, services

        services._statement = lambda *args: None  # type: ignore[assignment]  # PDFs: bench_letters.py
        render_many(recipients, min(50, args.messages), "email")  # warm the compiled-template cache

        rows: list[tuple[str, int, float, float]] = []

        def run(label: str, count: int, channel: str, before_each: Callable[[], None] | None = None) -> None:
            cpu = cpu_seconds()
            start = time.perf_counter()
            render_many(recipients, count, channel, before_each)
            wall = time.perf_counter() - start
            rows.append((label, count, wall, cpu_seconds() - cpu))

        run("shipped: e-mail (text + HTML + QR PNG)", args.messages, "email")
        formats = dict(services.QR_FORMAT)
        services.QR_FORMAT.clear()
        run("shipped: e-mail without QR code", args.messages, "email")
        services.QR_FORMAT.update(formats)
        run("shipped: SMS", args.messages, "sms")

        def forget() -> None:
            rendering._compiled.cache_clear()
            for env in rendering._environments.values():
                env.cache.clear() if env.cache is not None else None

        run("simple: compile the template for every message", args.simple, "email", forget)

        print(f"\n{'approach':<48} {'messages':>9} {'wall s':>8} {'msg/s':>8} {'CPU ms/msg':>11}")
        for label, count, wall, cpu in rows:
            print(f"{label:<48} {count:>9,} {wall:>8.2f} {count / wall:>8.1f} {1000 * cpu / count:>11.2f}")
        print(f"\nload average: {' '.join(f'{value:.1f}' for value in os.getloadavg())}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
