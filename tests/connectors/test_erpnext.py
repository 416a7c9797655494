"""The ERPNext connector against Frappe's documented REST payloads (fixtures/erpnext.json, respx),
and ``relance sync`` end to end (credentials from the environment)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import respx
from django.core.management import CommandError, call_command

from relance.connectors.models import PushedChange
from relance.connectors.services import connector_set
from relance.ledger.models import Allocation, Contact, CreditNote, Customer, Invoice, Payment
from tests.connectors.fakes import FakeERPNext

URL = "https://erp.acme.example"


@pytest.fixture
def erpnext(monkeypatch):
    monkeypatch.setenv("RELANCE_ERPNEXT_API_KEY", "key1")
    monkeypatch.setenv("RELANCE_ERPNEXT_API_SECRET", "secret1")
    fake = FakeERPNext()
    with respx.mock(assert_all_called=False) as router:
        router.route(host="erp.acme.example").mock(side_effect=fake.handler)
        yield fake


@pytest.fixture
def connector(entity):
    return connector_set(
        entity=entity, source="erpnext", url=URL, options={"page_size": "2", "company": "ACME"}
    )


def sync(capsys, *args: str) -> dict:
    call_command("sync", "erpnext", "--json", *args)
    return json.loads(capsys.readouterr().out)


def test_sync_imports_customers_contacts_invoices_returns_and_payment_entries(
    entity, connector, erpnext, capsys
):
    outcome = sync(capsys)

    assert outcome["committed"] and outcome["error_count"] == 0
    assert {kind: stream["created"] for kind, stream in outcome["pulled"].items()} == {
        "customers": 2, "contacts": 1, "invoices": 2, "credit_notes": 1, "payments": 1,
    }  # fmt: skip
    assert Customer.objects.get(external_ref="CUST-0001").name == "Dupont SARL"
    contact = Contact.objects.get(external_ref="Marie Curie-Dupont SARL")
    assert (
        contact.customer.external_ref == "CUST-0001"
        and contact.name == "Marie Curie"
        and contact.role == "billing"
    )
    assert Invoice.objects.get(external_ref="ACC-SINV-2026-00002").amount == Decimal("480.5")
    credit = CreditNote.objects.get(external_ref="ACC-SINV-2026-00003")
    assert (
        credit.amount == Decimal("100")
        and credit.allocations.get().invoice.external_ref == "ACC-SINV-2026-00002"
    )
    allocation = Allocation.objects.get(payment__external_ref="ACC-PAY-2026-00001")
    assert (allocation.invoice.external_ref, allocation.amount) == ("ACC-SINV-2026-00001", Decimal("500"))
    assert Payment.objects.get(external_ref="ACC-PAY-2026-00001").method == "Wire Transfer"
    connector.refresh_from_db()
    assert connector.cursors["customers"] == "2026-11-03 10:30:00.000000"


def test_running_sync_twice_adds_nothing(entity, connector, erpnext, capsys):
    sync(capsys)
    before = (
        Customer.objects.count(),
        Contact.objects.count(),
        Invoice.objects.count(),
        Allocation.objects.count(),
    )

    again = sync(capsys)

    assert all(stream["created"] == 0 and stream["updated"] == 0 for stream in again["pulled"].values())
    assert before == (
        Customer.objects.count(),
        Contact.objects.count(),
        Invoice.objects.count(),
        Allocation.objects.count(),
    )


def test_since_overrides_the_cursor_and_dry_run_writes_nothing(entity, connector, erpnext, capsys):
    sync(capsys)
    connector.refresh_from_db()
    cursors = dict(connector.cursors)
    erpnext.data["Sales Invoice"][1]["grand_total"] = 999.0  # ACC-SINV-2026-00002, modified 2026-11-04 09:00

    outcome = sync(capsys, "--since", "2026-11-04 09:00:00", "--dry-run")

    assert outcome["dry_run"] and not outcome["committed"]
    assert outcome["pulled"]["customers"]["rows"] == 0
    assert outcome["pulled"]["invoices"]["rows"] == 1 and outcome["pulled"]["invoices"]["updated"] == 1
    assert Invoice.objects.get(external_ref="ACC-SINV-2026-00002").amount == Decimal("480.5")
    connector.refresh_from_db()
    assert connector.cursors == cursors


def test_a_bad_record_is_named_and_nothing_is_written(entity, connector, erpnext, capsys):
    erpnext.data["Sales Invoice"][0]["currency"] = "EURO"

    with pytest.raises(CommandError, match="1 error\\(s\\); nothing was imported"):
        call_command("sync", "erpnext", "--quiet")

    err = capsys.readouterr().err
    assert "erpnext:Sales Invoice/ACC-SINV-2026-00001: currency: expected" in err
    assert Customer.objects.count() == 0


def test_missing_credentials_name_the_variable(entity, connector, erpnext, monkeypatch):
    monkeypatch.delenv("RELANCE_ERPNEXT_API_SECRET")
    with pytest.raises(CommandError, match="set the environment variable RELANCE_ERPNEXT_API_SECRET"):
        call_command("sync", "erpnext")


def test_a_sync_without_a_connector_says_how_to_add_one(entity):
    with pytest.raises(
        CommandError, match="no erpnext connector for entity acme: add one with relance connector set"
    ):
        call_command("sync", "erpnext")


def test_pushes_comments_and_a_submitted_payment_entry(entity, connector, erpnext, capsys, relance_changes):
    sync(capsys)
    relance_changes(entity, customer_ref="CUST-0001", invoice_ref="ACC-SINV-2026-00001")

    outcome = sync(capsys)

    assert len(outcome["pushed"]) == 4 and outcome["push_errors"] == []
    comments = [body for doctype, body in erpnext.pushed if doctype == "Comment"]
    assert {(c["reference_doctype"], c["reference_name"]) for c in comments} == {
        ("Customer", "CUST-0001"), ("Sales Invoice", "ACC-SINV-2026-00001"),
    }  # fmt: skip
    entry = next(body for doctype, body in erpnext.pushed if doctype == "Payment Entry")
    assert entry["party"] == "CUST-0001" and entry["docstatus"] == 1 and entry["company"] == "ACME"
    assert entry["reference_no"] == "pi_3PORTAL" and entry["paid_amount"] == "100.00"
    assert entry["references"] == [
        {
            "reference_doctype": "Sales Invoice",
            "reference_name": "ACC-SINV-2026-00001",
            "allocated_amount": "100.00",
        }
    ]
    assert PushedChange.objects.get(key="payment:pi_3PORTAL").external_id == "Payment Entry/NEW-PAY-4"

    assert sync(capsys)["pushed"] == []


def test_a_hold_changed_in_relance_is_pushed_again(entity, connector, erpnext, capsys, relance_changes):
    sync(capsys)
    changes = relance_changes(entity, customer_ref="CUST-0001", invoice_ref="ACC-SINV-2026-00001")
    sync(capsys)
    hold = changes["hold"]
    hold.reason = "released after payment plan"
    hold.save()

    outcome = sync(capsys)

    assert [item["key"] for item in outcome["pushed"]] == [f"hold:{hold.pk}"]


def test_since_re_reads_older_records_without_rewinding_the_cursor(entity, connector, erpnext, capsys):
    sync(capsys)
    connector.refresh_from_db()
    cursors = dict(connector.cursors)

    again = sync(capsys, "--since", "2020-01-01 00:00:00")

    assert again["committed"] and again["pulled"]["invoices"]["rows"] == 2
    assert again["pulled"]["invoices"]["unchanged"] == 2
    connector.refresh_from_db()
    assert connector.cursors == cursors


def test_connector_set_and_list(entity, capsys):
    call_command(
        "connector", "set", "erpnext", "--url", URL, "--option", "company=ACME SAS", "--interval", "15"
    )
    assert "credentials from RELANCE_ERPNEXT_*; every 15 min" in capsys.readouterr().out
    call_command("connector", "set", "erpnext", "--option", "page_size=100", "--interval", "0")
    capsys.readouterr()

    call_command("connector", "list", "--json")
    [row] = json.loads(capsys.readouterr().out)
    assert row["options"] == {"company": "ACME SAS", "page_size": "100"} and row["interval_minutes"] is None
    with pytest.raises(CommandError, match="--option: expected KEY=VALUE, found 'company'"):
        call_command("connector", "set", "erpnext", "--option", "company")
    with pytest.raises(CommandError, match="url: expected the odoo base URL"):
        call_command("connector", "set", "odoo")
