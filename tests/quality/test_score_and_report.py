"""The data-quality score, the fix list's order, the report command and the monitoring after an
import (relance.quality.score and relance.quality.report)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from relance.ledger.models import Contact
from relance.quality.score import ContactFacts, CustomerFacts, customer_score, freshness
from tests.dunning.conftest import command

TODAY = date(2026, 12, 7)
GOOD = ContactFacts(
    email="ap@dupont.fr",
    phone="+33612345678",
    postal_address="1 rue A\n75001 Paris",
    email_status="valid",
    phone_status="valid",
    address_status="valid",
    confirmed_on=TODAY - timedelta(days=10),
)


def test_a_complete_valid_recently_confirmed_customer_scores_100():
    scored = customer_score(CustomerFacts(1, "FR", "FR40303265045", "303265045", (GOOD,)), TODAY)
    assert (scored.score, scored.completeness, scored.validity, scored.freshness) == (100, 1.0, 1.0, 1.0)
    assert scored.problems == () and not scored.blocking


def test_each_part_lowers_the_score_and_says_why():
    bounced = ContactFacts(
        email="ap@dupont.fr", email_status="bounced", email_reason="hard bounce: 550 user unknown"
    )
    scored = customer_score(CustomerFacts(2, "FR", "FR40303265046", "", (bounced,)), TODAY)
    codes = [p.code for p in scored.problems]
    assert codes[0] == "no_reachable_address"  # the blocking problem first
    assert {"email_unusable", "no_phone", "no_postal_address", "tax_id_invalid", "never_confirmed"} <= set(
        codes
    )
    assert "550 user unknown" in next(p.detail for p in scored.problems if p.code == "email_unusable")
    # completeness: contact, e-mail, country, tax id of 6; validity: 0 of 2; never confirmed
    assert scored.completeness == pytest.approx(4 / 6) and scored.validity == 0.0 and scored.freshness == 0.0
    assert scored.score == round(100 * 0.4 * 4 / 6) and scored.blocking


def test_a_suspect_address_counts_half_and_no_contact_is_blocking():
    suspect = ContactFacts(email="info@dupont.fr", email_status="suspect", email_reason="generic mailbox")
    assert customer_score(CustomerFacts(3, "FR", "", "", (suspect,)), TODAY).validity == 0.5
    nobody = customer_score(CustomerFacts(4, "", "", "", ()), TODAY)
    assert nobody.problems[0].code == "no_contact" and nobody.blocking and nobody.score == 0


def test_freshness_is_full_for_a_year_then_falls_to_nothing_at_three():
    assert freshness(None, TODAY) == 0.0
    assert freshness(TODAY - timedelta(days=365), TODAY) == 1.0
    assert freshness(TODAY - timedelta(days=730), TODAY) == pytest.approx(0.5)
    assert freshness(TODAY - timedelta(days=1200), TODAY) == 0.0


@pytest.mark.django_db
def test_the_fix_list_puts_the_most_open_amount_at_stake_first(entity, make_customer, make_invoice):
    from relance.quality.report import fix_list

    today = date.today()
    small = make_customer("SMALL", country="FR")
    big = make_customer("BIG", country="FR")
    none = make_customer("NONE", country="FR")
    fine = make_customer("FINE", country="FR", tax_id="FR40303265045")
    for customer in (small, big, none):
        Contact.objects.create(customer=customer, email="noreply@dupont.fr", email_status="invalid")
    Contact.objects.create(
        customer=fine,
        email="ap@fine.fr",
        phone="+33612345678",
        postal_address="1 rue A\n75001 Paris",
        email_status="valid",
        phone_status="valid",
        address_status="valid",
        confirmed_on=today,
    )
    make_invoice(small, "S1", "100.00", today - timedelta(days=40), today - timedelta(days=10))
    make_invoice(big, "B1", "5000.00", today - timedelta(days=40), today - timedelta(days=10))
    make_invoice(fine, "F1", "9000.00", today - timedelta(days=40), today - timedelta(days=10))
    rows = fix_list(entity=entity, today=today)
    assert [row.external_ref for row in rows] == ["BIG", "SMALL", "NONE"]  # FINE has nothing to fix
    assert rows[0].open_amount == Decimal("5000.00")
    only = fix_list(entity=entity, today=today, problem="no_country")
    assert only == []


@pytest.mark.django_db
def test_the_report_command_and_the_monitoring_after_an_import(entity, tmp_path):
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "customer_ref,name,currency,country,email\n"
        "C1,Dupont SA,EUR,FR,ap@dupont.fr\n"
        "C2,Martin SARL,EUR,FR,noreply@martin.fr\n"
    )
    out = command("import", "customers", str(customers))
    assert "Data quality: score" in out and "new" in out
    assert Contact.objects.get(customer__external_ref="C2").email_status == "invalid"
    data = json.loads(command("quality", "report", "--json", "--fix-list", "5"))
    assert data["customers"] == 2 and 0 <= data["score"] <= 100
    codes = {item["code"]: item["customers"] for item in data["problems"]}
    assert codes["email_unusable"] == 1 and codes["no_reachable_address"] == 1
    assert data["fix_list"][0]["customer_ref"] == "C2"
    assert data["last_check"]["trigger"] == "import:customers" and data["last_check"]["new_problems"] >= 2

    # A second import that fixes C2's address: its problems are resolved, none is new.
    customers.write_text("customer_ref,name,currency,country,email\nC2,Martin SARL,EUR,FR,compta@martin.fr\n")
    command("import", "customers", str(customers))
    contact = Contact.objects.get(customer__external_ref="C2")
    assert (contact.email, contact.email_status) == ("compta@martin.fr", "valid")  # checked again
    data = json.loads(command("quality", "report", "--json"))
    assert data["last_check"]["new_problems"] == 0 and data["last_check"]["resolved"] >= 2
    assert "email_unusable" not in {item["code"] for item in data["problems"]}
    human = command("quality", "report", "--fix-list", "3")
    assert "data quality" in human and "Problems" in human
