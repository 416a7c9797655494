# ruff: noqa: F811  (the fixtures imported from other test modules are parameters here)
"""Each event type is emitted by the service that makes its change, in that change's transaction."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from relance.core.actors import Actor
from relance.events.models import Event
from relance.webhooks.services import endpoint_create
from tests.cashapp.samples import Entry
from tests.cashapp.test_decisions import ALICE, account, imported, ledger, suggested  # noqa: F401
from tests.credit.applications_fixtures import *  # noqa: F403  (manager, submitted… fixtures)
from tests.dunning.conftest import scenario  # noqa: F401

D = date.fromisoformat
BOB = Actor.cli("bob")


@pytest.fixture(autouse=True)
def listening(db, allow_private):
    return endpoint_create(url="http://127.0.0.1:9/hooks")


def events(kind: str) -> list[dict]:
    return list(Event.objects.filter(type=kind).order_by("id").values_list("data", flat=True))


def test_the_payments_import_emits_received_applied_and_paid(entity, make_customer, make_invoice):
    from relance.ingest.records import AllocationRecord, PaymentRecord, upsert_records

    customer = make_customer("C1")
    make_invoice(customer, "F1", "100.00", D("2026-10-01"))
    make_invoice(customer, "F2", "100.00", D("2026-10-01"))
    record = PaymentRecord(
        payment_ref="P1",
        customer_ref="C1",
        date=D("2026-11-02"),
        currency="EUR",
        amount=Decimal("150.00"),
        allocations=(
            AllocationRecord("F1", Decimal("100.00"), None),
            AllocationRecord("F2", Decimal("50.00"), None),
        ),
    )
    upsert_records("payments", [record], entity=entity)
    [received] = events("payment.received")
    assert (
        received["payment"] == "P1"
        and received["amount"] == "150.00"
        and received["customer"]["external_ref"] == "C1"
    )
    assert [(e["invoice"], e["amount"]) for e in events("payment.applied")] == [
        ("F1", "100.00"),
        ("F2", "50.00"),
    ]
    assert [e["invoice"] for e in events("invoice.paid")] == ["F1"]
    upsert_records("payments", [record], entity=entity)  # unchanged: no new event
    assert Event.objects.filter(type="payment.received").count() == 1


def test_an_allocation_emits_applied_and_paid(entity, make_customer, make_invoice, make_payment):
    from relance.ledger.services import allocation_create

    customer = make_customer("C1")
    invoice = make_invoice(customer, "F1", "80.00", D("2026-10-01"))
    first = make_payment(customer, "P1", "30.00", D("2026-11-01"))
    second = make_payment(customer, "P2", "50.00", D("2026-11-02"))
    allocation_create(invoice=invoice, payment=first, amount=Decimal("30.00"), on=D("2026-11-01"))
    assert events("invoice.paid") == []
    allocation_create(invoice=invoice, payment=second, amount=Decimal("50.00"), on=D("2026-11-02"))
    assert [(e["source"], e["amount"]) for e in events("payment.applied")] == [
        ("P1", "30.00"),
        ("P2", "50.00"),
    ]
    [paid] = events("invoice.paid")
    assert (paid["invoice"], paid["amount"], paid["paid_on"]) == ("F1", "80.00", "2026-11-02")


def test_cases_emit_promises_disputes_plans_and_holds(entity, make_customer, make_invoice):
    from relance.cases import services as cases
    from relance.dunning.services import promise_settle

    customer = make_customer("C1")
    invoice = make_invoice(customer, "F1", "300.00", D("2026-10-01"), D("2026-10-31"))
    promise = cases.promise_add(
        customer=customer, promised_date=D("2026-11-10"), on=D("2026-11-01"), actor=BOB
    )
    assert events("promise.created")[0]["promised_date"] == "2026-11-10"
    assert events("promise.created")[0]["invoices"] == ["F1"]
    cases.promise_close(promise=promise, status="kept", actor=BOB)
    assert events("promise.kept")[0]["promise_id"] == promise.pk
    broken = cases.promise_add(
        customer=customer, promised_date=D("2026-11-12"), on=D("2026-11-11"), actor=BOB
    )
    promise_settle(entity=entity, as_of=D("2026-11-20"), policies={})
    assert events("promise.broken")[0]["promise_id"] == broken.pk

    dispute = cases.dispute_open(
        invoice=invoice, reason_code="pricing", on=D("2026-11-02"), amount=Decimal("50"), actor=BOB
    )
    assert events("dispute.opened")[0]["amount"] == "50.00"
    cases.dispute_resolve(dispute=dispute, resolution="rejected", on=D("2026-11-03"), actor=BOB)
    assert events("dispute.resolved")[0]["resolution"] == "rejected"

    plan = cases.plan_create(
        customer=customer, starts_on=D("2026-11-01"), installments=3, first_due=D("2026-11-15"), actor=BOB
    )
    [created] = events("plan.created")
    assert [i["amount"] for i in created["installments"]] == ["100.00", "100.00", "100.00"]
    cases.plan_installments_settle(entity=entity, as_of=D("2026-11-20"))
    cases.plan_installments_settle(entity=entity, as_of=D("2026-11-21"))  # told once
    assert [(e["plan_id"], e["sequence"]) for e in events("plan.installment_missed")] == [(plan.pk, 1)]

    hold = cases.hold_create(
        customer=customer, kind="hold", reason="talking to AP", starts_on=D("2026-11-01"), actor=BOB
    )
    assert events("hold.placed")[0]["reason"] == "talking to AP"
    cases.hold_end(hold=hold, on=D("2026-11-05"), actor=BOB)
    assert events("hold.released")[0]["ended_on"] == "2026-11-05"


def test_an_opt_out_and_a_credit_limit_change(entity, make_customer):
    from relance.compliance.services import contact_preference_set
    from relance.ledger.models import Contact
    from relance.ledger.services import customer_credit_terms_set

    customer = make_customer("C1", credit_limit=Decimal("1000"))
    contact = Contact.objects.create(customer=customer, email="ap@example.com")
    contact_preference_set(contact=contact, channel="email", opted_out=True, source="link")
    assert events("customer.opted_out") == [
        {
            "customer": {"id": customer.pk, "external_ref": "C1", "name": "Customer C1"},
            "contact_id": contact.pk,
            "channel": "email",
            "source": "link",
        }
    ]
    contact_preference_set(contact=contact, channel="email", opted_out=False, source="admin")
    assert len(events("customer.opted_out")) == 1
    customer_credit_terms_set(customer=customer, credit_limit=Decimal("2500"), payment_terms_days=30)
    [changed] = events("credit.limit_changed")
    assert (changed["limit"], changed["previous_limit"]) == ("2500.00", "1000.00")


def test_the_run_and_the_outbox_emit_run_completed_message_sent_and_bounced(scenario, monkeypatch):
    from relance.delivery import worker
    from relance.delivery.models import OutboundMessage
    from relance.delivery.services import message_mark_bounced
    from tests.dunning.conftest import command

    monkeypatch.setattr(worker, "outbound_verdict", lambda message, now: worker._AllowAll())
    scenario.customer("C1")
    scenario.invoice("C1", "F1", "500.00", due="2026-10-01")
    scenario.run("2026-11-02")
    [run] = events("run.completed")
    assert run["as_of"] == "2026-11-02" and run["actions"] >= 1 and "customer" not in run
    command("send", "--quiet")
    sent = events("message.sent")
    assert sent and sent[0]["channel"] == "email" and sent[0]["customer"]["external_ref"] == "C1"
    message = OutboundMessage.objects.filter(channel="email").first()
    assert message is not None
    message_mark_bounced(message=message, hard=True, reason="550 no such user")
    assert events("message.bounced")[0]["reason"] == "550 no such user"


def test_a_credit_application_decided(submitted, manager):
    from relance.credit.services.applications import application_decline

    application_decline(application=submitted, user=manager, reason="Company registered 2 months ago.")
    [decided] = events("credit.application_decided")
    assert decided["status"] == "declined" and decided["application_id"] == str(submitted.pk)


def test_a_bank_line_applied(tmp_path, entity, account, ledger):
    from relance.cashapp import decisions

    line = imported(entity, tmp_path, Entry("500.00", servicer_ref="A-1"))["A-1"]
    suggested(line, ("C1", "INV-2026-0002", "500.00"))
    decisions.line_accept(entity=entity, line=line, actor=ALICE)
    [applied] = events("bank_line.applied")
    assert applied["invoices"] == ["INV-2026-0002"] and applied["amount"] == "500.00"
    assert applied["customer"]["external_ref"] == "C1"
    assert events("payment.received")[0]["payment"] == applied["payment"]
