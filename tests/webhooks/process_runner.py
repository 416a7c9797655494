"""Entry point of the webhook processes the process test and the benchmark start.

``populate URL N CUSTOMERS``: an endpoint for URL and N ``invoice.paid`` events spread over
CUSTOMERS customers (``data.seq`` numbers each customer's events), in one transaction;
``emit-paced N INTERVAL CUSTOMERS``: N events, one commit each, INTERVAL seconds apart, printing
each event's id and commit time as JSON; ``state``: deliveries by status and attempts as JSON;
anything else is a relance command (``send``, ``worker``, ``migrate``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.webhooks.process_settings")

import django

django.setup()


def _entity_and_customers(count: int):  # type: ignore[no-untyped-def]
    from relance.ledger.models import Customer
    from relance.ledger.services import entity_create_or_update

    entity, _ = entity_create_or_update(name="acme", currency="EUR", language="en", legal_name="ACME SAS")
    customers = []
    for number in range(count):
        customer, _ = Customer.objects.get_or_create(
            entity=entity,
            external_ref=f"C{number:05d}",
            defaults={"name": f"Customer {number}", "currency": "EUR"},
        )
        customers.append(customer)
    return entity, customers


def _emit(entity, customer, seq: int):  # type: ignore[no-untyped-def]
    from relance.events.services import emit

    return emit(
        "invoice.paid",
        {
            "invoice": f"F-{customer.external_ref}-{seq}",
            "amount": "10.00",
            "currency": "EUR",
            "paid_on": "2026-12-01",
            "seq": seq,
        },
        entity=entity,
        customer=customer,
    )


def populate(url: str, count: int, customers: int) -> None:
    from django.db import transaction

    from relance.webhooks.models import WebhookEndpoint
    from relance.webhooks.services import endpoint_create

    entity, people = _entity_and_customers(customers)
    if not WebhookEndpoint.objects.filter(url=url).exists():
        endpoint_create(url=url, max_in_flight=int(os.environ.get("BENCH_MAX_IN_FLIGHT", "32")))
    with transaction.atomic():
        for number in range(count):
            _emit(entity, people[number % customers], number // customers)


def emit_paced(count: int, interval: float, customers: int) -> None:
    entity, people = _entity_and_customers(customers)
    committed = {}
    for number in range(count):
        event = _emit(entity, people[number % customers], 1000 + number // customers)
        committed[event.uid] = time.time()  # autocommit: the row is committed when emit returns
        time.sleep(interval)
    print(json.dumps(committed))


def state() -> None:
    from django.db.models import Count, Sum

    from relance.webhooks.models import WebhookDelivery

    rows = WebhookDelivery.objects.values("status").annotate(n=Count("id"), attempts=Sum("attempts"))
    print(json.dumps({row["status"]: {"n": row["n"], "attempts": row["attempts"]} for row in rows}))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "populate":
        populate(args[0], int(args[1]), int(args[2]))
    elif command == "emit-paced":
        emit_paced(int(args[0]), float(args[1]), int(args[2]))
    elif command == "state":
        state()
    else:
        from django.core.management import execute_from_command_line

        execute_from_command_line(["relance", command, *args])
