"""Credit insurance: setting the cover, the exposure above the insured limit, an expired cover, and
the credit manager's task before the insurer's declaration deadline (once per invoice)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

from relance.accounts.models import EntityAccess
from relance.core.errors import ValidationFailed
from relance.credit.models import CreditProfile, DeclarationTask
from relance.credit.selectors.insurance import insurance_status
from relance.credit.services.insurance import declaration_tasks_create, insurance_set
from relance.delivery.models import CallTask
from relance.ledger.models import ExchangeRate, Order, OrderStatus

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 9, 1)


@pytest.fixture
def customer(make_customer):
    return make_customer("C1", credit_limit=Decimal("100000"))


def _insure(customer, **fields):
    values: dict[str, Any] = {
        "insurer": "Allianz Trade",
        "policy": "P-77",
        "insured_limit": Decimal("50000"),
        "currency": "EUR",
        "cover_expires_on": date(2026, 12, 31),
        "declaration_days": 60,
    }
    values.update(fields)
    return insurance_set(customer=customer, **values)


def test_set_and_remove(customer) -> None:
    profile = _insure(customer)
    assert (profile.insurer, profile.insured_limit, profile.declaration_days) == ("Allianz Trade", 50000, 60)
    insurance_set(customer=customer, insurer="", insured_limit=None)
    profile = CreditProfile.objects.get(customer=customer)
    assert (profile.insurer, profile.insured_limit, profile.declaration_days) == ("", None, None)


def test_bad_input_is_refused_field_by_field(customer) -> None:
    with pytest.raises(ValidationFailed) as caught:
        insurance_set(customer=customer, insurer="X", insured_limit=None, currency="EURO", declaration_days=0)
    message = caught.value.message
    assert "insured_limit: required" in message
    assert "declaration_days: must be a positive" in message
    assert "insured_currency" in message
    assert not CreditProfile.objects.exists()


def test_exposure_above_the_insured_limit_and_an_expired_cover_are_flagged(customer, make_invoice) -> None:
    make_invoice(customer, "I1", "30000", date(2026, 7, 1), date(2026, 8, 1))
    _insure(customer)
    status = insurance_status(customer=customer, as_of=AS_OF)
    assert (status.insured, status.exposure, status.excess, status.flags) == (
        True,
        Decimal("30000"),
        Decimal(0),
        (),
    )
    make_invoice(customer, "I2", "25000", date(2026, 8, 20), date(2026, 9, 20))
    status = insurance_status(customer=customer, as_of=AS_OF)
    assert status.over_insured_limit
    assert status.excess == Decimal("5000")
    assert status.reasons == ("exposure €55,000.00 is €5,000.00 above the insured limit of €50,000.00",)
    expired = insurance_status(customer=customer, as_of=date(2027, 1, 1))
    assert expired.cover_expired
    assert expired.flags[0] == "cover_expired"
    assert "expired on 2026-12-31" in expired.reasons[0]


def test_other_currencies_are_said_not_converted(customer, make_invoice) -> None:
    make_invoice(customer, "U1", "100", date(2026, 7, 1), date(2026, 8, 1), currency="USD")
    _insure(customer)
    status = insurance_status(customer=customer, as_of=AS_OF)
    assert status.flags == ("exposure_not_converted",)
    assert status.exposure == Decimal(0)


def test_the_exposure_is_the_exposure_selectors_with_orders_and_rates(entity, customer, make_invoice) -> None:
    """The insurance's own sum counted open invoices in the insured currency only: it left out the
    unbilled orders and an invoice a stored rate converts. It reads the exposure selector now."""
    make_invoice(customer, "I1", "30000", date(2026, 7, 1), date(2026, 8, 1))
    make_invoice(customer, "U1", "10000", date(2026, 7, 1), date(2026, 8, 1), currency="USD")
    ExchangeRate.objects.create(
        entity=entity,
        rate_date=date(2026, 8, 1),
        base_currency="EUR",
        quote_currency="USD",
        rate=Decimal("1.25"),
    )
    Order.objects.create(
        entity=entity,
        customer=customer,
        external_ref="O1",
        order_date=date(2026, 8, 20),
        currency="EUR",
        amount=Decimal("15000"),
        status=OrderStatus.DELIVERED,
    )
    _insure(customer)
    status = insurance_status(customer=customer, as_of=AS_OF)
    assert (status.exposure, status.excess, status.flags) == (
        Decimal("53000"),  # 30,000 + 10,000 USD / 1.25 + 15,000 delivered, not invoiced
        Decimal("3000"),
        ("over_insured_limit",),
    )


def test_a_child_is_insured_by_itself_not_with_its_group(entity, make_customer, make_invoice) -> None:
    parent = make_customer("P", credit_limit=Decimal("100000"))
    child = make_customer("CH")
    child.parent = parent
    child.save()
    make_invoice(parent, "P1", "20000", date(2026, 7, 1), date(2026, 8, 1))
    make_invoice(child, "C1", "40000", date(2026, 7, 1), date(2026, 8, 1))
    _insure(parent)
    status = insurance_status(customer=parent, as_of=AS_OF)
    assert (status.exposure, status.flags) == (Decimal("20000"), ())


def test_an_uninsured_customer(customer) -> None:
    status = insurance_status(customer=customer, as_of=AS_OF)
    assert (status.insured, status.flags) == (False, ())


def test_a_task_for_the_credit_manager_once_per_invoice(entity, customer, make_invoice) -> None:
    manager = get_user_model().objects.create_user("cm", password="x")
    manager.groups.add(Group.objects.get_or_create(name="credit_manager")[0])
    EntityAccess.objects.create(user=manager, entity=entity)
    _insure(customer, declaration_days=60)
    # deadline = due + 60: 2026-07-05 → 2026-09-03 (in 2 days): a task
    make_invoice(customer, "NEAR", "1200", date(2026, 6, 5), date(2026, 7, 5))
    # 2026-07-20 → 2026-09-18 (17 days away): not yet
    make_invoice(customer, "LATER", "800", date(2026, 6, 20), date(2026, 7, 20))
    # 2026-06-25 → 2026-08-24: already past, not tasked
    make_invoice(customer, "PAST", "500", date(2026, 5, 25), date(2026, 6, 25))
    created = declaration_tasks_create(entity=entity, as_of=AS_OF)
    assert [(item.invoice_ref, item.deadline) for item in created] == [("NEAR", date(2026, 9, 3))]
    task = CallTask.objects.get(pk=created[0].task_id)
    assert task.assigned_to == manager
    assert "Declare the overdue invoice NEAR (€1,200.00 open" in task.script
    assert "to Allianz Trade under policy P-77 by 2026-09-03" in task.script
    assert declaration_tasks_create(entity=entity, as_of=date(2026, 9, 2)) == []  # once per invoice
    later = declaration_tasks_create(entity=entity, as_of=date(2026, 9, 11))  # LATER's deadline in 7 days
    assert [item.invoice_ref for item in later] == ["LATER"]
    assert DeclarationTask.objects.count() == 2


def test_no_task_for_a_paid_invoice_or_without_a_credit_manager(
    entity, customer, make_invoice, make_payment
) -> None:
    from relance.ledger.models import Allocation

    collector = get_user_model().objects.create_user("col", password="x")
    customer.collector = collector
    customer.save()
    _insure(customer, declaration_days=30)
    paid = make_invoice(customer, "PAID", "100", date(2026, 7, 1), date(2026, 8, 5))
    payment = make_payment(customer, "P1", "100", date(2026, 8, 20))
    Allocation.objects.create(
        entity=entity, invoice=paid, payment=payment, date=date(2026, 8, 20), amount=100
    )
    make_invoice(customer, "OPEN", "100", date(2026, 7, 1), date(2026, 8, 6))
    created = declaration_tasks_create(entity=entity, as_of=AS_OF)
    assert [item.invoice_ref for item in created] == ["OPEN"]
    assert CallTask.objects.get().assigned_to == collector  # no credit manager: the collector


def test_the_command(entity, customer, make_invoice) -> None:
    out = StringIO()
    call_command(
        "credit",
        "insurance",
        "set",
        "C1",
        "--insurer",
        "Coface",
        "--policy",
        "CF-1",
        "--limit",
        "20000",
        "--expires",
        "2027-03-31",
        "--declaration-days",
        "90",
        stdout=out,
    )
    assert out.getvalue().strip() == (
        "C1: insured by Coface (policy CF-1) up to €20,000.00, cover until 2027-03-31, "
        "overdues declared within 90 days"
    )
    make_invoice(customer, "I1", "25000", date(2026, 8, 1), date(2026, 8, 31))
    out = StringIO()
    call_command("credit", "insurance", "list", "--as-of", "2026-09-01", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["customers"][0]["customer_ref"] == "C1"
    assert (data["customers"][0]["exposure"], data["customers"][0]["excess"]) == ("25000.00", "5000.00")
    assert data["customers"][0]["flags"] == ["over_insured_limit"]
    out = StringIO()
    call_command("credit", "insurance", "list", "--as-of", "2026-09-01", stdout=out)
    assert "! exposure €25,000.00 is €5,000.00 above" in out.getvalue()
    with pytest.raises(CommandError, match="no customer 'NOPE'"):
        call_command("credit", "insurance", "set", "NOPE", "--insurer", "X", "--limit", "1")
