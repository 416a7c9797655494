"""Two entities, users in several roles, a standard policy and today's run with a worklist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from tests.delivery.conftest import smtp_server, smtp_settings  # noqa: F401  (a real SMTP server)

PASSWORD = "correct horse battery 9"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@dataclass
class Workspace:
    acme: Any
    globex: Any
    today: date
    late: Any  # acme, collected by ana, most overdue
    second: Any  # acme, collected by ana
    other: Any  # acme, collected by bob
    globex_customer: Any
    ana: Any  # collector, acme
    bob: Any  # collector, acme
    manager: Any  # credit manager, acme
    auditor: Any  # auditor, acme
    globex_manager: Any  # credit manager, globex only
    policy: Any


def _invoice(customer, ref, amount, days_past_due, today):
    from relance.ledger.models import Invoice

    due = today - timedelta(days=days_past_due)
    return Invoice.objects.create(
        entity=customer.entity,
        customer=customer,
        external_ref=ref,
        issue_date=due - timedelta(days=30),
        due_date=due,
        currency=customer.currency,
        amount=Decimal(amount),
    )


def _recorded_run(entity, today, rows):
    """A run as the engine would have recorded it (no engine: fast), with worklist entries."""
    from datetime import UTC, datetime

    from relance.dunning.models import DunningRun, WorklistEntry

    now = datetime.now(UTC)
    run = DunningRun.objects.create(entity=entity, as_of=today, started_at=now, finished_at=now, counts={})
    for customer, amount, days, broken in rows:
        factors = {  # the engine's shape: value and points per factor
            "overdue_amount": {"value": str(amount), "points": round(amount / 100, 1)},
            "days_past_due": {"value": days, "points": days / 2},
            "broken_promises": {"value": broken, "points": 10.0 * broken},
        }
        WorklistEntry.objects.create(
            run=run,
            customer=customer,
            currency=customer.currency,
            priority=sum(factor["points"] for factor in factors.values()),
            overdue_amount=Decimal(str(amount)),
            max_days_past_due=days,
            broken_promises=broken,
            days_since_contact=None,
            factors=factors,
        )
    return run


def build_workspace(run: bool = False) -> Workspace:
    from relance.accounts.services import user_create
    from relance.dunning.services import policy_import, run_start, segment_policy_assign
    from relance.engine.dunning.defaults import default_policies
    from relance.engine.dunning.policy import policy_to_dict
    from relance.ledger.models import Contact, Customer, Payment
    from relance.ledger.services import allocation_create, entity_create_or_update

    today = timezone.localdate()
    acme, _ = entity_create_or_update(name="acme", currency="EUR", language="en", legal_name="ACME SAS")
    globex, _ = entity_create_or_update(name="globex", currency="USD", legal_name="Globex Inc")
    ana = user_create(email="ana@acme.test", role="collector", entity_names=["acme"], password=PASSWORD)
    bob = user_create(email="bob@acme.test", role="collector", entity_names=["acme"], password=PASSWORD)
    manager = user_create(
        email="cm@acme.test", role="credit_manager", entity_names=["acme"], password=PASSWORD
    )
    auditor = user_create(email="audit@acme.test", role="auditor", entity_names=["acme"], password=PASSWORD)
    globex_manager = user_create(
        email="cm@globex.test", role="credit_manager", entity_names=["globex"], password=PASSWORD
    )

    def customer(entity, ref, name, collector=None, currency="EUR"):
        made = Customer.objects.create(
            entity=entity,
            external_ref=ref,
            name=name,
            currency=currency,
            collector=collector,
            credit_limit=Decimal(5000),
        )
        Contact.objects.create(
            customer=made, name=f"AP {name}", email=f"ap@{ref.lower()}.test", phone="+33612345678"
        )
        return made

    late = customer(acme, "C-LATE", "Late Payer GmbH", ana)
    second = customer(acme, "C-SECOND", "Second Buyer SARL", ana)
    other = customer(acme, "C-OTHER", "Other Account SA", bob)
    globex_customer = customer(globex, "G-1", "Globex Buyer LLC", None, "USD")
    _invoice(late, "INV-L1", "4200.00", 40, today)
    _invoice(late, "INV-L2", "300.00", 5, today)
    _invoice(second, "INV-S1", "1234.56", 20, today)
    _invoice(other, "INV-O1", "900.00", 25, today)
    _invoice(globex_customer, "INV-G1", "777.00", 30, today)
    paid = _invoice(late, "INV-L0", "500.00", 90, today)
    payment = Payment.objects.create(
        entity=acme,
        customer=late,
        external_ref="PAY-1",
        date=today - timedelta(days=80),
        currency="EUR",
        amount=Decimal(500),
    )
    allocation_create(invoice=paid, payment=payment, amount=Decimal(500), on=today - timedelta(days=80))

    standard = policy_to_dict(default_policies()["standard"])
    policy = None
    for entity in (acme, globex):
        made, _ = policy_import(entity=entity, spec=standard)
        segment_policy_assign(entity=entity, policy_key="standard")
        if entity == acme:
            policy = made
        if run and entity == acme:
            run_start(entity=entity, as_of=today)
    if not run:
        _recorded_run(acme, today, [(late, 4500, 40, 1), (second, 1234.56, 20, 0), (other, 900, 25, 0)])
        _recorded_run(globex, today, [(globex_customer, 777, 30, 0)])
    return Workspace(
        acme,
        globex,
        today,
        late,
        second,
        other,
        globex_customer,
        ana,
        bob,
        manager,
        auditor,
        globex_manager,
        policy,
    )


@pytest.fixture
def ws(db) -> Workspace:
    """Worklist from a recorded run (fast); ``ws_engine`` runs the real engine."""
    return build_workspace()


@pytest.fixture
def ws_engine(db) -> Workspace:
    return build_workspace(run=True)


@pytest.fixture
def client_for():
    def sign_in(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def sales(ws):
    """sam (sales) owns ``late`` (A) and ``ahead`` (nothing due yet), not ``second`` (B)."""
    from relance.accounts.services import user_create
    from relance.ledger.models import Customer

    sam = user_create(email="sam@acme.test", role="sales", entity_names=["acme"], password=PASSWORD)
    ws.late.sales_owner = sam
    ws.late.save(update_fields=["sales_owner"])
    ahead = Customer.objects.create(
        entity=ws.acme, external_ref="C-AHEAD", name="Aardvark Early SA", currency="EUR", sales_owner=sam
    )
    _invoice(ahead, "INV-A1", "800.00", -20, ws.today)  # due in 20 days: pre_due (-5) in 15
    paid_up = Customer.objects.create(
        entity=ws.acme, external_ref="C-PAID", name="Nothing Open SA", currency="EUR", sales_owner=sam
    )
    return sam, ahead, paid_up
