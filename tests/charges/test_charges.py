"""The charges app: settings checked against the floor, the selector, the command."""

import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from relance.charges.models import EntityLateCharges
from relance.charges.selectors import late_charges_for
from relance.charges.services import late_charges_configure
from relance.core.errors import ValidationFailed
from relance.ledger import services as ledger

AS_OF = date(2024, 9, 30)


def test_every_rule_pack_has_a_jurisdiction_choice():
    """Checked here rather than when the models load: the rule packs are not needed to start."""
    from relance.charges.models import Jurisdiction
    from relance.core.late_charges import RULE_PACKS

    assert set(Jurisdiction.values) == set(RULE_PACKS)


@pytest.fixture
def customer(entity, make_customer, make_invoice, make_payment):
    customer = make_customer("C-1", name="Durand SARL")
    make_invoice(
        customer, "INV-EU", "10000.00", date(2024, 7, 1), date(2024, 8, 1)
    )  # §5.1: 60 days on 30 Sep
    make_invoice(customer, "INV-NOT-DUE", "500.00", date(2024, 9, 1), date(2024, 10, 1))
    paid_late = make_invoice(customer, "INV-PART", "2000.00", date(2024, 7, 1), date(2024, 8, 31))
    payment = make_payment(customer, "PAY-1", "1000.00", date(2024, 9, 10))
    ledger.allocation_create(
        invoice=paid_late, payment=payment, amount=Decimal("1000.00"), on=date(2024, 9, 10)
    )
    on_time = make_invoice(customer, "INV-ON-TIME", "300.00", date(2024, 6, 1), date(2024, 7, 1))
    early = make_payment(customer, "PAY-2", "300.00", date(2024, 6, 20))
    ledger.allocation_create(invoice=on_time, payment=early, amount=Decimal("300.00"), on=date(2024, 6, 20))
    make_invoice(customer, "INV-GBP", "5000.00", date(2024, 7, 1), date(2024, 8, 1), currency="GBP")
    return customer


def test_nothing_when_the_entity_has_not_enabled_charges(customer):
    assert late_charges_for(customer=customer, invoices=None, as_of=AS_OF) is None
    late_charges_configure(entity=customer.entity, enabled=False, jurisdiction="EU")
    assert late_charges_for(customer=customer, invoices=None, as_of=AS_OF) is None


def test_per_invoice_charges_and_totals_per_currency(customer):
    late_charges_configure(entity=customer.entity, enabled=True, jurisdiction="EU")
    summary = late_charges_for(customer=customer, invoices=None, as_of=AS_OF)
    lines = {line.invoice_ref: line for line in summary}
    assert set(lines) == {"INV-EU", "INV-PART", "INV-GBP"}  # not due / paid on time: nothing
    assert (lines["INV-EU"].interest, lines["INV-EU"].compensation, lines["INV-EU"].days_late) == (
        Decimal("201.37"),
        Decimal(40),
        60,
    )
    # INV-PART: 1,000 paid 10 days late + 1,000 still open 30 days late, 12.25 %: 3.36 + 10.07.
    part = lines["INV-PART"]
    assert [(p.amount, p.days_late, p.interest) for p in part.parts] == [
        (Decimal("1000.0000"), 10, Decimal("3.36")),
        (Decimal("1000.0000"), 30, Decimal("10.07")),
    ]
    assert part.interest == Decimal("13.43") and part.compensation == Decimal(40)
    assert lines["INV-GBP"].compensation_currency == "EUR"  # the EU pack's €40, whatever the invoice currency
    assert summary.totals["EUR"].interest == Decimal("214.80")
    assert summary.totals["EUR"].compensation == Decimal(120)
    assert summary.totals["GBP"].interest == lines["INV-GBP"].interest
    assert summary.totals["GBP"].compensation == 0
    assert summary.totals["EUR"].total == Decimal("334.80")


def test_only_the_given_invoices(customer):
    late_charges_configure(
        entity=customer.entity, enabled=True, jurisdiction="FR", include_compensation=False
    )
    invoices = list(customer.invoices.filter(external_ref="INV-EU"))
    summary = late_charges_for(customer=customer, invoices=invoices, as_of=AS_OF)
    assert [line.invoice_ref for line in summary] == ["INV-EU"]
    assert summary.lines[0].rate == Decimal("14.25") and summary.lines[0].compensation == 0


def test_contractual_rate_is_used_and_checked_against_the_french_floor(customer):
    with pytest.raises(ValidationFailed, match=r"below the FR minimum of 14.76 %"):
        late_charges_configure(
            entity=customer.entity, enabled=True, jurisdiction="FR", contractual_rate=Decimal("12"), on=AS_OF
        )
    late_charges_configure(
        entity=customer.entity, enabled=True, jurisdiction="FR", contractual_rate=Decimal("15"), on=AS_OF
    )
    summary = late_charges_for(customer=customer, invoices=None, as_of=AS_OF)
    assert {line.rate for line in summary} == {Decimal("15.0000")}


def test_model_validation_names_the_field(entity):
    settings = EntityLateCharges(
        entity=entity, enabled=True, jurisdiction="FR", contractual_rate=Decimal("1")
    )
    with pytest.raises(ValidationError) as caught:
        settings.full_clean()
    assert "3 × the legal rate" in caught.value.message_dict["contractual_rate"][0]
    settings = EntityLateCharges(entity=entity, enabled=True, jurisdiction="EU", margin_pp=Decimal("5"))
    with pytest.raises(ValidationError) as caught:
        settings.full_clean()
    assert "margin 5 pp is below the EU minimum of 8 pp" in caught.value.message_dict["margin_pp"][0]


def test_command_shows_charges_as_json_and_as_a_table(customer, capsys):
    late_charges_configure(entity=customer.entity, enabled=True, jurisdiction="UK")
    call_command("charges", "show", "--customer", "C-1", "--as-of", "2024-09-30", "--json")
    data = json.loads(capsys.readouterr().out)
    gbp = next(row for row in data["invoices"] if row["invoice"] == "INV-GBP")
    assert gbp["rate"] == "13.25" and gbp["compensation"] == "70" and gbp["compensation_currency"] == "GBP"
    assert data["totals"]["GBP"]["compensation"] == "240"  # UK bands: 10,000 → 100; 2,000 and 5,000 → 70
    call_command("charges", "show", "--customer", "C-1", "--as-of", "2024-09-30")
    out = capsys.readouterr().out
    assert "Late charges of C-1 as of Sep 30, 2024 (UK)" in out and "INV-GBP" in out
    assert "£70.00" in out and "GBP: interest £" in out and "compensation £240.00" in out


def test_command_refuses_when_not_enabled(customer):
    with pytest.raises(CommandError, match="late charges are not enabled for entity acme"):
        call_command("charges", "show", "--customer", "C-1")


def test_the_summary_is_a_list_of_invoice_charges(customer):
    """Templates iterate over it; comms' ``plain()`` turns it into a tuple of dicts."""
    late_charges_configure(entity=customer.entity, enabled=True, jurisdiction="EU")
    summary = late_charges_for(customer=customer, invoices=None, as_of=AS_OF)
    assert isinstance(summary, list) and len(summary) == 3 and summary.jurisdiction == "EU"
    assert [line.invoice_ref for line in summary] == ["INV-EU", "INV-GBP", "INV-PART"]
    on_time = late_charges_for(customer=customer, invoices=None, as_of=date(2024, 7, 1))
    assert on_time == [] and on_time is not None  # enabled, nothing late: empty, not None


def test_admin_refuses_a_french_rate_below_the_floor(admin_client, entity):
    url = "/admin/charges/entitylatecharges/add/"
    assert admin_client.get(url).status_code == 200
    form = {
        "entity": entity.pk,
        "enabled": "on",
        "jurisdiction": "FR",
        "contractual_rate": "5",
        "margin_pp": "",
    }
    response = admin_client.post(url, {**form, "include_compensation": "on"})
    assert response.status_code == 200 and "3 × the legal rate" in response.content.decode()
    assert not EntityLateCharges.objects.exists()
    response = admin_client.post(url, {**form, "contractual_rate": "20", "include_compensation": "on"})
    assert response.status_code == 302
    assert EntityLateCharges.objects.get().contractual_rate == Decimal(20)
