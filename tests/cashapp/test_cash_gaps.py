"""Issue 17's last gaps: the relative amount tolerance (a setting, ``relance bank settings``, read
by the matcher's one amount rule), the applied-cash export carrying the write-off credit notes,
and a deduction worked as a portal dispute case (owner, answer deadline)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from relance.audit.models import AuditEvent
from relance.cashapp import matching
from relance.cashapp.models import BankLine, BankLineApplication
from relance.cashapp.selectors import application_write_offs, match_policy_for
from relance.core.actors import Actor
from tests.cashapp.test_match import Entry, imported
from tests.cashapp.test_residuals import IBAN, D, configure

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(entity):
    from relance.cashapp.services import bank_account_add

    return bank_account_add(entity=entity, account=IBAN, currency="EUR", name="main")


@pytest.fixture
def dupont(make_customer, make_invoice):
    customer = make_customer("C1", name="Dupont SARL")
    make_invoice(customer, "INV-2026-0001", "1405.31", D("2026-10-01"), D("2026-10-31"))
    return customer


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def match(entity):
    return matching.lines_match(entity=entity, actor=Actor.cli("alice"))


# --------------------------------------------------------------------------- relative tolerance


def test_settings_command_shows_and_changes_the_tolerance(entity) -> None:
    shown = json.loads(run("bank", "settings", "--json"))
    assert (shown["match_tolerance"], shown["match_tolerance_percent"]) == ("1.00", "0")
    changed = json.loads(run("bank", "settings", "--match-tolerance-percent", "0.5", "--json"))
    assert Decimal(changed["match_tolerance_percent"]) == Decimal("0.5")
    tolerance = match_policy_for(entity=entity).tolerance
    assert tolerance.allowance(Decimal("1000")) == Decimal("5.00")  # 0.5 % of 1000
    assert tolerance.allowance(Decimal("100")) == Decimal("1.00")  # the absolute is larger
    event = AuditEvent.objects.filter(object_type="cashapp.cashappsettings").get()
    assert (event.before["match_tolerance_percent"], event.after["match_tolerance_percent"]) == ("0", "0.5")


def test_settings_command_refuses_an_out_of_range_value(entity) -> None:
    with pytest.raises(CommandError, match="match_tolerance_percent"):
        run("bank", "settings", "--match-tolerance-percent", "200")
    with pytest.raises(CommandError, match="expected a number"):
        run("bank", "settings", "--match-tolerance", "a lot")
    assert json.loads(run("bank", "settings", "--json"))["match_tolerance_percent"] == "0"


@pytest.mark.parametrize(("percent", "within"), [(None, False), ("0.5", True)])
def test_a_deduction_within_the_relative_tolerance(
    tmp_path, entity, account, dupont, percent, within
) -> None:
    """1405.31 open, 1400.00 paid with the reference: 5.31 short is beyond 1.00 but within 0.5 %
    (7.03): the amount rule says so only with the relative tolerance."""
    if percent:
        configure(entity, match_tolerance_percent=Decimal(percent))
    imported(entity, tmp_path, Entry("1400.00", servicer_ref="A-1", unstructured="INV-2026-0001"))
    match(entity)
    line = BankLine.objects.get()
    assert any("within the tolerance" in reason for reason in line.reasons) is within
    if within:
        assert line.status == "applied"


# --------------------------------------------------------------------------- export of write-offs


def test_the_export_carries_the_write_off_credit_notes(tmp_path, entity, account, dupont) -> None:
    from relance.cashapp.decisions import line_unapply

    configure(entity, write_off_tolerance=Decimal("1.00"))
    imported(entity, tmp_path, Entry("1404.81", servicer_ref="A-1", unstructured="INV-2026-0001"))
    match(entity)
    application = BankLineApplication.objects.get()
    note_ref = f"{application.payment_ref}-WO1"
    rows = list(csv.DictReader(io.StringIO(run("bank", "export").lstrip("\ufeff"))))
    assert [(r["kind"], r["invoice_ref"], r["amount"], r["credit_note_ref"]) for r in rows] == [
        ("payment", "INV-2026-0001", "1404.81", ""),
        ("write_off", "INV-2026-0001", "0.50", note_ref),
    ]
    payments = sum(Decimal(r["amount"]) for r in rows if r["kind"] == "payment")
    assert payments == Decimal("1404.81")  # the payment rows still add up to the line
    (exported,) = json.loads(run("bank", "export", "--json"))
    assert exported["write_offs"] == [
        {
            "credit_note_ref": note_ref,
            "invoice_ref": "INV-2026-0001",
            "amount": "0.50",
            "reason": "payment difference of bank line A-1, under the tolerance of 1.00 EUR",
        }
    ]
    # Unapplied: the credit note leaves the ledger, the export still says what to reverse.
    line_unapply(entity=entity, line=application.line, reason="wrong", actor=Actor.cli("bob"))
    (reversed_,) = json.loads(run("bank", "export", "--json"))
    assert reversed_["state"] == "reversed" and reversed_["write_offs"] == exported["write_offs"]


def test_an_older_application_reads_its_write_offs_from_the_ledger(tmp_path, entity, account, dupont) -> None:
    """Applications written before the details were kept have the credit notes' refs only."""
    configure(entity, write_off_tolerance=Decimal("1.00"))
    imported(entity, tmp_path, Entry("1404.81", servicer_ref="A-1", unstructured="INV-2026-0001"))
    match(entity)
    application = BankLineApplication.objects.get()
    kept = application_write_offs(application)
    application.residual_records = {"credit_notes": [kept[0]["credit_note_ref"]]}
    application.save()
    assert application_write_offs(application) == kept


# --------------------------------------------------------------------------- deduction as a case


def test_a_deduction_is_a_portal_case_with_owner_and_deadline(
    tmp_path,
    entity,
    account,
    dupont,
    django_user_model,
    django_capture_on_commit_callbacks,
) -> None:
    from relance.cases.models import Dispute
    from relance.delivery.models import OutboundMessage
    from relance.ledger.models import Contact
    from relance.portal.links import link_create
    from relance.portal.selectors import case_sla, portal_disputes, portal_settings_for

    collector = django_user_model.objects.create_user("ana", password="x")
    dupont.collector = collector
    dupont.save()
    Contact.objects.create(customer=dupont, email="ap@example.com")
    configure(entity, write_off_tolerance=Decimal("1.00"), short_payment_action="deduction")
    imported(entity, tmp_path, Entry("1385.31", servicer_ref="A-1", unstructured="INV-2026-0001"))
    with django_capture_on_commit_callbacks(execute=True):
        match(entity)
    dispute = Dispute.objects.get()
    case = dispute.portal_case
    days = portal_settings_for(entity=entity).dispute_sla_days
    assert (case.owner, case.sla_due_on, case.link) == (
        collector,
        dispute.opened_on + timedelta(days=days),
        None,
    )
    link = link_create(customer=dupont)
    (shown,) = portal_disputes(link=link)
    assert shown.reason_code == "short_payment"
    assert (
        case_sla(case=shown.portal_case, dispute=shown, as_of=dispute.opened_on)["due_on"] == case.sla_due_on
    )
    assert OutboundMessage.objects.filter(template_key="dispute_received", customer=dupont).count() == 1
