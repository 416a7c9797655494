"""Entry point of the worker processes the process tests start (and of the benchmark).

``python tests/delivery/process_runner.py populate N`` queues N emails (one customer each);
``… populate-dunning N [CHANGED_PERCENT]`` queues N dunning messages of one run (each with its
customer, contact, open invoices and action; for a share of them the facts change after queueing);
``… state`` prints every row's key, status and Message-ID as JSON; ``… outcome`` prints the
outbox's counts by status and the re-rendered count; anything else is a relance command (``send``,
``worker``, ``migrate``).

The send-time check (``relance.delivery.compliance.outbound_verdict``) is switched to allow-all
here (these processes test delivery, not contact rules), unless ``RELANCE_BENCH_CHECK=real``:
then the worker asks the real check, as in production (the benchmark's ``checked`` mode).
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

if os.environ.get("RELANCE_BENCH_CHECK", "") != "real":
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


def populate_dunning(count: int, changed_percent: float = 5.0) -> None:
    """Queue ``count`` dunning e-mails of one run, as ``relance run`` leaves them for the worker.

    Per message: a customer with a billing contact, one or two open invoices (past due), an
    ``overdue`` action of the entity's default policy ("standard", shipped) covering them, and the
    message asking for exactly what is owed (so the send-time check finds it unchanged). Then, for
    ``changed_percent`` of the messages, the facts change after queueing: every other one is paid
    in full (the check cancels it), the others in part (the check re-renders it). Ledger and run
    rows are bulk-created; each message goes through ``outbox_enqueue`` as in the plain populate.
    """
    from datetime import timedelta
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from relance.comms.types import RenderedMessage
    from relance.compliance.services import compliance_settings_update
    from relance.delivery.services import outbox_enqueue
    from relance.dunning.models import DunningAction, DunningRun
    from relance.dunning.services import policy_import_yaml, segment_policy_assign
    from relance.engine.dunning.defaults import POLICY_DIRECTORY
    from relance.engine.dunning.policy import policy_from_dict
    from relance.ledger.models import Allocation, Contact, Customer, Invoice, Payment
    from relance.ledger.services import entity_create_or_update

    entity, _ = entity_create_or_update(name="acme", currency="EUR", language="en", legal_name="ACME SAS")
    compliance_settings_update(entity=entity, quiet_hours_channels=[], allowed_weekdays=list(range(7)))
    [(policy, _)] = policy_import_yaml(
        entity=entity,
        text=(POLICY_DIRECTORY / "standard.yaml").read_text(encoding="utf-8"),
        source="standard.yaml",
    )
    segment_policy_assign(entity=entity, policy_key=policy.key)
    policy_of_standard = policy_from_dict(policy.spec)
    now = timezone.now()
    today = now.date()
    due = today - timedelta(days=10)
    first, second = Decimal("1200.00"), Decimal("345.60")
    with transaction.atomic():
        run = DunningRun.objects.create(entity=entity, as_of=today, started_at=now, finished_at=now)
        customers = Customer.objects.bulk_create(
            Customer(entity=entity, external_ref=f"C{n:06d}", name=f"Customer {n}", currency="EUR")
            for n in range(count)
        )
        contacts = Contact.objects.bulk_create(
            Contact(customer=c, name=f"AP {n}", email=f"ap{n}@example.com") for n, c in enumerate(customers)
        )
        invoices: list[list[Invoice]] = [
            [
                Invoice(
                    entity=entity,
                    customer=customer,
                    external_ref=f"INV-{n:06d}-{k}",
                    issue_date=due - timedelta(days=30),
                    due_date=due,
                    currency="EUR",
                    amount=amount,
                )
                for k, amount in enumerate((first, second)[: 1 + n % 2])
            ]
            for n, customer in enumerate(customers)
        ]
        Invoice.objects.bulk_create(invoice for own in invoices for invoice in own)
        owed = [sum((invoice.amount for invoice in own), Decimal(0)) for own in invoices]
        actions = DunningAction.objects.bulk_create(
            DunningAction(
                run=run,
                entity=entity,
                customer=customer,
                on=today,
                kind="overdue",
                policy_key=policy.key,
                policy_version=policy.version,
                step_key="reminder_1",
                step_index=1,
                offset_days=1,
                action="message",
                channel="email",
                step_channels=list(
                    policy_of_standard.steps[policy_of_standard.step_index("reminder_1")].channels
                ),
                is_contact=True,
                tone="friendly",
                template_key="overdue_friendly",
                currency="EUR",
                amount_due=owed[n],
                invoice_count=len(invoices[n]),
                max_days_past_due=(today - due).days,
                reasons=["reminder_1: 10 days past due"],
            )
            for n, customer in enumerate(customers)
        )
        through = DunningAction.invoices.through
        through.objects.bulk_create(
            through(dunningaction_id=action.pk, invoice_id=invoice.pk)
            for action, own in zip(actions, invoices, strict=True)
            for invoice in own
        )
        for n, (customer, contact, action) in enumerate(zip(customers, contacts, actions, strict=True)):
            refs = ", ".join(invoice.external_ref for invoice in invoices[n])
            text = f"Dear {customer.name}, invoices {refs} ({owed[n]:,.2f} EUR) are overdue."
            outbox_enqueue(
                rendered=RenderedMessage(
                    template_key="overdue_friendly",
                    channel="email",
                    language="en",
                    subject=f"Reminder: {refs} overdue",
                    text=text,
                    html=f"<p>{text}</p>",
                    rf_reference="RF18539007547034",
                    amount_due=owed[n],
                    currency="EUR",
                    links={"opt_out": f"http://testserver/compliance/opt-out/{n}/"},
                ),
                customer=customer,
                channel="email",
                recipient=contact.email,
                idempotency_key=f"bench:run:{run.pk}:action:{action.pk}",
                contact=contact,
                run=run,
                action=action,
                now=now,
            )
    # After queueing: the facts change for a share of the messages (spread over the queue).
    every = round(100 / changed_percent) if changed_percent > 0 else 0
    changed = range(every // 2, count, every) if every else range(0)
    with transaction.atomic():
        payments = Payment.objects.bulk_create(
            Payment(
                entity=entity,
                customer=customers[n],
                external_ref=f"PAY-{n:06d}",
                date=today,
                currency="EUR",
                amount=owed[n] if index % 2 == 0 else Decimal("300.00"),
            )
            for index, n in enumerate(changed)
        )
        Allocation.objects.bulk_create(
            Allocation(entity=entity, invoice=invoice, payment=payment, date=today, amount=amount)
            for index, (n, payment) in enumerate(zip(changed, payments, strict=True))
            for invoice, amount in (
                [(invoice, invoice.amount) for invoice in invoices[n]]
                if index % 2 == 0
                else [(invoices[n][0], Decimal("300.00"))]
            )
        )


def outcome() -> None:
    """The outbox after a run: messages by status and how many were re-rendered."""
    from django.db.models import Count

    from relance.delivery.models import DeliveryEvent, OutboundMessage

    statuses = dict(OutboundMessage.objects.values_list("status").annotate(n=Count("id")).order_by())
    rerendered = DeliveryEvent.objects.filter(kind="rerendered").count()
    print(json.dumps({"statuses": statuses, "rerendered": rerendered}))


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
    elif command == "populate-dunning":
        populate_dunning(int(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else 5.0)
    elif command == "state":
        state()
    elif command == "outcome":
        outcome()
    else:
        from django.core.management import execute_from_command_line

        execute_from_command_line(["relance", *sys.argv[1:]])
