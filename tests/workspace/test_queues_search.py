"""Dispute, promise and plan queues (filters, SLA colouring, owners) and the global search."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from relance.audit.models import AuditEvent
from relance.core.actors import SYSTEM
from relance.workspace.models import DisputeAssignment
from relance.workspace.selectors import _amount


def _dispute(ws, ref, days_ago):
    from relance.cases.services import dispute_open

    invoice = (
        ws.late.invoices.get(external_ref=ref)
        if ref.startswith("INV-L")
        else ws.second.invoices.get(external_ref=ref)
    )
    return dispute_open(
        actor=SYSTEM,
        invoice=invoice,
        reason_code="pricing",
        on=ws.today - timedelta(days=days_ago),
        amount=Decimal("10"),
    )


def test_dispute_queue_colours_by_sla_and_assigns_owners(ws, client_for):
    old = _dispute(ws, "INV-L1", 20)  # the portal's SLA (10 days by default): 10 days past it
    near = _dispute(ws, "INV-S1", 8)
    fresh = _dispute(ws, "INV-L2", 1)
    manager = client_for(ws.manager)
    html = manager.get(reverse("workspace:disputes")).content.decode()
    assert "answered within 10 days" in html
    rows = html.split("<tbody>")[1].split("</tr>")
    assert "sla-past" in rows[0] and "10 d past SLA" in rows[0] and "INV-L1" in rows[0]
    assert "sla-near" in rows[1] and "INV-S1" in rows[1]
    assert "sla-ok" in rows[2] and "INV-L2" in rows[2]

    response = manager.post(reverse("workspace:dispute_assign", args=[old.pk]), {"owner": ws.bob.pk})
    assert response.status_code == 302
    assert DisputeAssignment.objects.get(dispute=old).owner == ws.bob
    assert AuditEvent.objects.filter(
        action="assign", object_type="cases.dispute", object_id=str(old.pk)
    ).exists()
    mine = manager.get(reverse("workspace:disputes"), {"owner": ws.bob.pk}).content.decode()
    assert "INV-L1" in mine and "INV-S1" not in mine
    unowned = manager.get(reverse("workspace:disputes"), {"owner": "none"}).content.decode()
    assert "INV-L1" not in unowned and "INV-S1" in unowned and "INV-L2" in unowned
    assert near and fresh


def test_dispute_owner_must_see_the_entity(ws, client_for):
    dispute = _dispute(ws, "INV-L1", 2)
    response = client_for(ws.manager).post(
        reverse("workspace:dispute_assign", args=[dispute.pk]), {"owner": ws.globex_manager.pk}
    )
    assert response.status_code == 404
    assert not DisputeAssignment.objects.exists()
    assert (
        client_for(ws.globex_manager)
        .post(reverse("workspace:dispute_assign", args=[dispute.pk]), {})
        .status_code
        == 404
    )


def test_promise_queue_marks_overdue_and_due_today(ws, client_for):
    from relance.cases.models import Promise
    from relance.cases.services import promise_add

    promise_add(
        actor=SYSTEM,
        customer=ws.late,
        promised_date=ws.today,
        on=ws.today,
        amount=Decimal("50"),
    )
    later = promise_add(
        actor=SYSTEM,
        customer=ws.second,
        promised_date=ws.today + timedelta(days=5),
        on=ws.today,
    )
    made = ws.today - timedelta(days=5)
    overdue = promise_add(actor=SYSTEM, customer=ws.other, promised_date=made, on=made, amount=Decimal("70"))
    Promise.objects.filter(pk=overdue.pk).update(promised_date=ws.today - timedelta(days=2))
    html = client_for(ws.manager).get(reverse("workspace:promises")).content.decode()
    rows = html.split("<tbody>")[1].split("</tr>")
    assert "Other Account SA" in rows[0] and ">overdue<" in rows[0]
    assert "Late Payer GmbH" in rows[1] and ">today<" in rows[1]
    assert "Second Buyer SARL" in rows[2] and ">upcoming<" in rows[2]
    mine = client_for(ws.manager).get(reverse("workspace:promises"), {"owner": ws.bob.pk}).content.decode()
    assert "Other Account SA" in mine and "Late Payer GmbH</a>" not in mine
    assert later


def test_plan_queue_shows_next_installment(ws, client_for):
    from relance.cases.services import plan_create

    plan_create(
        actor=SYSTEM,
        customer=ws.second,
        installments=3,
        first_due=ws.today - timedelta(days=1),
        starts_on=ws.today - timedelta(days=5),
    )
    html = client_for(ws.ana).get(reverse("workspace:plans")).content.decode()
    row = html.split("<tbody>")[1].split("</tr>")[0]
    assert "Second Buyer SARL" in row and "0 / 3" in row and ">overdue<" in row


def _search(client, query, **extra):
    return [
        (hit["kind"], hit["label"])
        for hit in client.get(reverse("workspace:search"), {"q": query, **extra}).json()["results"]
    ]


def test_search_by_name_reference_invoice_and_amount(ws, client_for, make_payment):
    from relance.ledger.services import allocation_create

    ana = client_for(ws.ana)
    late = [("customer", "Late Payer GmbH"), ("contact", "AP Late Payer GmbH")]  # and its contact
    assert _search(ana, "late pay") == late
    assert _search(ana, "payer") == late  # contains
    assert _search(ana, "c-sec")[0] == ("customer", "Second Buyer SARL")  # then its contact (ap@c-second)
    assert _search(ana, "INV-L") == [("invoice", "INV-L0"), ("invoice", "INV-L1"), ("invoice", "INV-L2")]
    assert _search(ana, "1234.56") == [("invoice", "INV-S1")]
    assert _search(ana, "1 234,56") == [("invoice", "INV-S1")]
    assert _search(ana, "1234.560") == [("invoice", "INV-S1")]  # the same Decimal
    assert _search(ana, "1234.57") == []
    # an open amount after a partial payment, when searching in one entity
    payment = make_payment(ws.second, "PAY-2", "234.56", ws.today)
    allocation_create(
        invoice=ws.second.invoices.get(), payment=payment, amount=Decimal("234.56"), on=ws.today
    )
    assert _search(ana, "1000", entity="acme") == [("invoice", "INV-S1")]
    assert _search(ana, "x") == []


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2))
def test_amounts_typed_by_people_parse_to_the_same_decimal(amount):
    plain = f"{amount:.2f}"
    english = f"{amount:,.2f}"
    french = english.replace(",", " ").replace(".", ",")
    german = english.replace(",", "X").replace(".", ",").replace("X", ".")
    for text in (plain, english, french, german):
        assert _amount(text) == amount, text


def test_not_amounts():
    assert _amount("INV-1") is None and _amount("acme") is None and _amount("..") is None
