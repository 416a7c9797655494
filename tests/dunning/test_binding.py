"""The app database bound to the engine's contract: every table has the contract's columns and rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from relance.cases import services as case_services
from relance.core.actors import SYSTEM
from relance.dunning import selectors, services
from relance.dunning.binding import app_dunning_tables
from relance.dunning.models import DunningAction
from relance.engine.dunning.contract import ALL_SCHEMAS
from relance.ledger.models import Contact, ContactStatus, Customer
from relance.ledger.services import entity_create_or_update
from tests.dunning.conftest import D


def rows(entity, name):
    backend, tables = app_dunning_tables(entity=entity)
    table = getattr(tables, name)
    assert list(table.schema().names) == list(ALL_SCHEMAS[name].names)
    return backend.to_pyarrow(table).to_pylist()


@pytest.mark.django_db
def test_every_table_compiles_and_runs_empty(entity):
    for name in ALL_SCHEMAS:
        assert rows(entity, name) == [], name


def test_customer_policy_segment_then_default_then_none(scenario, make_customer):
    other_entity, _ = entity_create_or_update(name="other")
    vip = make_customer("V", segment="vip")
    plain = make_customer("P", segment="smb")
    Customer.objects.create(entity=other_entity, external_ref="X", name="X", currency="EUR", segment="vip")
    services.segment_policy_assign(entity=scenario.entity, policy_key="white_glove", segment="vip")
    expected = {vip.pk: "white_glove", plain.pk: "standard"}
    assert _policies_three_ways(scenario.entity, [vip, plain]) == expected
    services.segment_policy_remove(entity=scenario.entity, segment="")
    assert _policies_three_ways(scenario.entity, [vip, plain]) == {vip.pk: "white_glove"}
    services.segment_policy_remove(entity=scenario.entity, segment="vip")
    assert _policies_three_ways(scenario.entity, [vip, plain]) == {}


def _policies_three_ways(entity, customers):
    """The one rule (dunning.selectors.PolicyAssignment), asked as the engine's table, for all the
    entity's customers and for each customer: the three answers must be one."""
    engine = {row["customer_id"]: row["policy_key"] for row in rows(entity, "customer_policy")}
    every = selectors.customer_policy_keys(entity_id=entity.pk)
    some = selectors.customer_policy_keys(entity_id=entity.pk, customer_ids=[c.pk for c in customers])
    each = {c.pk: key for c in customers if (key := selectors.customer_policy_key(customer=c))}
    assert engine == every == some == each
    return engine


def test_channels_respect_opt_outs_and_bad_addresses(entity, make_customer):
    a, b, c = make_customer("A"), make_customer("B"), make_customer("C")
    Contact.objects.create(customer=a, email="a@example.com", phone="+33612345678", opt_out_sms=True)
    Contact.objects.create(
        customer=b, email="b@example.com", email_status=ContactStatus.BOUNCING, postal_address="1 rue X"
    )
    Contact.objects.create(customer=b, email="b2@example.com", opt_out_email=True)
    Contact.objects.create(customer=c, postal_address="  ", opt_out_letter=False)
    got = sorted((row["customer_id"], row["channel"]) for row in rows(entity, "customer_channels"))
    assert got == sorted([(a.pk, "email"), (a.pk, "call"), (b.pk, "letter"), (b.pk, "registered_letter")])


def test_dated_records_are_bound_with_their_dates_and_amounts(scenario):
    customer = scenario.customer("C1")
    invoice = scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    promise = case_services.promise_add(
        actor=SYSTEM, customer=customer, promised_date=D("2026-04-20"), on=D("2026-04-05")
    )
    dispute = case_services.dispute_open(
        actor=SYSTEM, invoice=invoice, reason_code="pricing", on=D("2026-04-03"), amount=Decimal(400)
    )
    case_services.hold_create(
        actor=SYSTEM, customer=customer, kind="legal", reason="r", starts_on=D("2026-05-01")
    )
    plan = case_services.plan_create(
        actor=SYSTEM, customer=customer, starts_on=D("2026-04-10"), installments=2, first_due=D("2026-05-01")
    )
    [promise_row] = rows(scenario.entity, "promises")
    assert promise_row["promise_id"] == promise.pk and promise_row["promised_date"] == date(2026, 4, 20)
    assert promise_row["status"] == "open" and float(promise_row["amount"]) == 1000.0
    assert rows(scenario.entity, "promise_invoices") == [{"promise_id": promise.pk, "invoice_id": invoice.pk}]
    [dispute_row] = rows(scenario.entity, "disputes")
    assert dispute_row["dispute_id"] == dispute.pk and dispute_row["resolved_on"] is None
    assert float(dispute_row["amount"]) == 400.0 and dispute_row["opened_on"] == date(2026, 4, 3)
    [hold_row] = rows(scenario.entity, "holds")
    assert (
        hold_row["kind"] == "legal"
        and hold_row["starts_on"] == date(2026, 5, 1)
        and hold_row["ends_on"] is None
    )
    [plan_row] = rows(scenario.entity, "plans")
    assert plan_row["plan_id"] == plan.pk and plan_row["status"] == "active"
    installments = rows(scenario.entity, "plan_installments")
    assert [(row["sequence"], row["due_date"]) for row in installments] == [
        (1, date(2026, 5, 1)),
        (2, date(2026, 5, 31)),
    ]


def test_history_and_steps_come_from_earlier_runs(scenario):
    scenario.customer("C1")
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    scenario.run("2026-03-26")
    [history] = rows(scenario.entity, "contact_history")
    assert history["date"] == date(2026, 3, 26) and history["step_key"] == "pre_due"
    assert history["channel"] == "email" and history["is_contact"] is True
    [step] = rows(scenario.entity, "invoice_steps")
    assert (
        step["step_key"] == "pre_due" and step["step_index"] == 0 and step["reached_on"] == date(2026, 3, 26)
    )
    DunningAction.objects.update(status="cancelled")
    assert rows(scenario.entity, "contact_history") == []
