"""Entry point of the worker processes the process tests start (and of the benchmark).

``python tests/delivery/process_runner.py populate N`` queues N emails (one customer each);
``… state`` prints every row's key, status and Message-ID as JSON; anything else is a relance
command (``send``, ``worker``, ``migrate``). Compliance (H6) is switched to allow-all here: these
processes test delivery, not contact rules.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.delivery.process_settings"

import django

django.setup()

from relance.delivery import worker  # noqa: E402

worker.outbound_verdict = lambda message, now: worker._AllowAll()  # type: ignore[assignment]


def populate(count: int, start: int = 0) -> None:
    """Queue ``count`` emails in one transaction (one customer and contact each)."""
    from django.db import transaction

    from relance.ledger.services import entity_create_or_update

    entity, _ = entity_create_or_update(name="acme", currency="EUR", language="en", legal_name="ACME SAS")
    with transaction.atomic():
        for number in range(start, start + count):
            _populate_one(entity, number)


def _populate_one(entity: Any, number: int) -> None:
    from decimal import Decimal

    from relance.comms.types import RenderedMessage
    from relance.delivery.services import outbox_enqueue
    from relance.ledger.models import Contact, Customer

    customer, _ = Customer.objects.get_or_create(
        entity=entity,
        external_ref=f"C{number:06d}",
        defaults={"name": f"Customer {number}", "currency": "EUR"},
    )
    contact, _ = Contact.objects.get_or_create(
        customer=customer, defaults={"name": f"AP {number}", "email": f"ap{number}@example.com"}
    )
    text = f"Dear customer {number}, invoice INV-{number} of 1,200.00 EUR is overdue."
    outbox_enqueue(
        rendered=RenderedMessage(
            template_key="overdue_friendly",
            channel="email",
            language="en",
            subject=f"Invoice INV-{number} is overdue",
            text=text,
            html=f"<p>{text}</p>",
            rf_reference="RF18539007547034",
            amount_due=Decimal("1200.00"),
            currency="EUR",
            links={"opt_out": f"http://testserver/compliance/opt-out/{number}/"},
        ),
        customer=customer,
        channel="email",
        recipient=contact.email,
        idempotency_key=f"bench:{number}",
        contact=contact,
    )


def state() -> None:
    from relance.delivery.models import DeliveryEvent, OutboundMessage

    rows = list(OutboundMessage.objects.values("idempotency_key", "status", "message_id", "attempts"))
    workers: dict[str, int] = {}
    for detail in DeliveryEvent.objects.filter(kind="sent").values_list("detail", flat=True):
        name = (detail or {}).get("worker", "")
        workers[name] = workers.get(name, 0) + 1
    print(json.dumps({"rows": rows, "sent_by_worker": workers}))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "populate":
        populate(int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    elif command == "state":
        state()
    else:
        from django.core.management import execute_from_command_line

        execute_from_command_line(["relance", *sys.argv[1:]])
