"""The Odoo connector against Odoo's documented JSON-RPC payloads (fixtures/odoo.json, respx)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
import respx

from relance.connectors.adapters.odoo import OdooAdapter
from relance.connectors.services import connector_set, sync_run
from relance.ledger.models import Allocation, Contact, CreditNote, Customer, Invoice, Payment
from tests.connectors.fakes import FakeOdoo

URL = "https://acme.odoo.example"


@pytest.fixture
def odoo():
    fake = FakeOdoo()
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{URL}/jsonrpc").mock(side_effect=fake.handler)
        yield fake


@pytest.fixture
def connector(entity):
    return connector_set(
        entity=entity, source="odoo", url=URL, options={"database": "acme", "page_size": "2"}
    )


def adapter(api_key: str = "odoo-key") -> OdooAdapter:
    return OdooAdapter(url=URL, database="acme", login="api@acme.example", api_key=api_key, page_size=2)


def test_first_sync_imports_partners_moves_payments_and_reconciliations(entity, connector, odoo):
    outcome = sync_run(connector=connector, adapter=adapter())

    assert outcome.committed and not outcome.errors
    assert outcome.streams["customers"].result.created == 2
    assert set(Customer.objects.filter(entity=entity).values_list("external_ref", flat=True)) == {
        "C-1001",
        "odoo-8",
    }
    dupont = Customer.objects.get(external_ref="C-1001")
    assert dupont.tax_id == "FR40303265045" and dupont.language == "fr"
    contact = Contact.objects.get(external_ref="odoo-12")
    assert (
        contact.customer == dupont and contact.email == "marie@dupont.fr" and contact.phone == "+33612345678"
    )
    invoice = Invoice.objects.get(external_ref="INV/2026/00001")
    assert (
        invoice.amount == Decimal("1200")
        and invoice.po_number == "PO-889"
        and str(invoice.due_date) == "2026-10-31"
    )
    assert Invoice.objects.get(external_ref="INV/2026/00003").status == "void"
    credit = CreditNote.objects.get(external_ref="RINV/2026/00001")
    assert credit.allocations.get().invoice.external_ref == "INV/2026/00002"
    # PBNK1/2026/00001 is reconciled with INV/2026/00001 for 500 (account.partial.reconcile);
    # PBNK1/2026/00002 has no reconciliation: unapplied cash.
    allocation = Allocation.objects.get(payment__external_ref="PBNK1/2026/00001")
    assert (allocation.invoice.external_ref, allocation.amount) == ("INV/2026/00001", Decimal("500"))
    assert Payment.objects.get(external_ref="PBNK1/2026/00002").allocations.count() == 0
    connector.refresh_from_db()
    assert connector.cursors["invoices"] == "2026-11-04 09:30:00"
    assert connector.cursors["credit_notes"] == "2026-11-04 10:00:00"
    assert connector.cursors["payments"] == "2026-11-05 08:00:00"


def test_second_sync_adds_nothing_and_pulls_from_the_cursor(entity, connector, odoo):
    sync_run(connector=connector, adapter=adapter())
    counts = (
        Customer.objects.count(),
        Invoice.objects.count(),
        Payment.objects.count(),
        Allocation.objects.count(),
    )
    connector.refresh_from_db()

    again = sync_run(connector=connector, adapter=adapter())

    assert again.committed
    assert all(stream.result.created == 0 and stream.result.updated == 0 for stream in again.streams.values())
    assert counts == (
        Customer.objects.count(),
        Invoice.objects.count(),
        Payment.objects.count(),
        Allocation.objects.count(),
    )
    # Only the records at or after each stream's cursor came back (the last one of each stream).
    assert again.streams["invoices"].rows == 1 and again.streams["customers"].rows == 1


def test_a_change_in_odoo_updates_the_record(entity, connector, odoo):
    sync_run(connector=connector, adapter=adapter())
    connector.refresh_from_db()
    move = next(record for record in odoo.data["account.move"] if record["id"] == 102)
    move.update(amount_total=500.5, write_date="2026-11-06 12:00:00")
    odoo.changed()

    outcome = sync_run(connector=connector, adapter=adapter())

    assert outcome.streams["invoices"].result.updated == 1
    assert Invoice.objects.get(external_ref="INV/2026/00002").amount == Decimal("500.5")


def test_a_bad_record_rejects_the_whole_sync_naming_the_record_and_field(entity, connector, odoo):
    move = next(record for record in odoo.data["account.move"] if record["id"] == 102)
    move["invoice_date_due"] = "2026-09-01"  # before its invoice date
    odoo.changed()

    outcome = sync_run(connector=connector, adapter=adapter())

    assert not outcome.committed
    assert any(
        error.startswith("odoo:account.move/102: due_date: expected a due date on or after")
        for error in outcome.errors
    )
    assert Customer.objects.count() == 0 and Invoice.objects.count() == 0
    connector.refresh_from_db()
    assert connector.cursors == {}


def test_dry_run_writes_nothing_and_pushes_nothing(entity, connector, odoo):
    outcome = sync_run(connector=connector, adapter=adapter(), dry_run=True)

    assert outcome.streams["invoices"].result.created == 3 and not outcome.committed
    assert Customer.objects.count() == 0
    connector.refresh_from_db()
    assert connector.cursors == {} and connector.last_sync_at is None
    assert odoo.pushed == []


def test_pushes_holds_resolutions_promises_and_portal_payments_once(entity, connector, odoo, relance_changes):
    sync_run(connector=connector, adapter=adapter())
    connector.refresh_from_db()
    relance_changes(entity, customer_ref="C-1001", invoice_ref="INV/2026/00001")

    outcome = sync_run(connector=connector, adapter=adapter())

    assert sorted(item["kind"] for item in outcome.pushed) == [
        "dispute_resolution",
        "hold",
        "payment",
        "promise",
    ]
    notes = [
        (model, args[0][0], kwargs["body"])
        for model, method, args, kwargs in odoo.pushed
        if method == "message_post"
    ]
    assert sorted(notes) == [
        (
            "account.move",
            101,
            "Relance: dispute of 50.00 EUR (Price or discount) resolved on 2026-11-20: Credit note issued",
        ),
        ("account.move", 101, "Relance: promise to pay 200.00 EUR by 2026-11-30 (open) for INV/2026/00001"),
        (
            "res.partner",
            7,
            "Relance: Hold (no dunning) from 2026-11-20 until further notice: bankruptcy filing checked",
        ),
    ]
    wizard = next(call for call in odoo.pushed if call[:2] == ("account.payment.register", "create"))
    assert wizard[2][0] == {"amount": "100.00", "payment_date": "2026-11-20", "communication": "pi_3PORTAL"}
    assert wizard[3]["context"] == {"active_model": "account.move", "active_ids": [101]}
    assert ("account.payment.register", "action_create_payments") in [call[:2] for call in odoo.pushed]

    pushed_before = len(odoo.pushed)
    again = sync_run(connector=connector, adapter=adapter())
    assert again.pushed == [] and len(odoo.pushed) == pushed_before


def test_a_pushed_payment_coming_back_from_odoo_is_not_imported_twice(
    entity, connector, odoo, relance_changes
):
    sync_run(connector=connector, adapter=adapter())
    connector.refresh_from_db()
    relance_changes(entity, customer_ref="C-1001", invoice_ref="INV/2026/00001")
    sync_run(connector=connector, adapter=adapter())
    connector.refresh_from_db()
    # Odoo made the payment from the wizard; its ref is Relance's payment ref.
    odoo.data["account.payment"].append(
        {"id": 203, "name": "PBNK1/2026/00003", "partner_id": [7, "Dupont SARL"], "amount": 100.0,
         "currency_id": [1, "EUR"], "date": "2026-11-20", "state": "posted", "payment_type": "inbound",
         "partner_type": "customer", "payment_method_line_id": [1, "Manual"], "ref": "pi_3PORTAL",
         "write_date": "2026-11-21 08:00:00"}
    )  # fmt: skip
    odoo.changed()

    outcome = sync_run(connector=connector, adapter=adapter())

    assert outcome.committed and outcome.streams["payments"].skipped_echoes == 1
    assert not Payment.objects.filter(external_ref="PBNK1/2026/00003").exists()


def test_a_refused_login_is_a_clear_error(entity, connector, odoo):
    from relance.connectors.adapters.base import ConnectorError

    with pytest.raises(ConnectorError, match="refused 'api@acme.example'"):
        sync_run(connector=connector, adapter=adapter(api_key="wrong"))
    assert Customer.objects.count() == 0


def test_odoo_rpc_errors_name_the_call():
    from relance.connectors.adapters.base import ConnectorError

    error = {"jsonrpc": "2.0", "id": 1, "error": {"code": 200, "message": "Odoo Server Error",
             "data": {"name": "builtins.ValueError", "message": "Invalid field 'ref' on model 'account.payment'"}}}  # fmt: skip
    with respx.mock() as router:
        router.post(f"{URL}/jsonrpc").mock(return_value=httpx.Response(200, json=error))
        with pytest.raises(
            ConnectorError, match=r"odoo common.login: builtins.ValueError: Invalid field 'ref'"
        ):
            adapter().uid()
