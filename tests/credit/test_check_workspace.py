"""The customer 360's credit panel, a bureau report's raw payload and "Room to grow": what each role
sees, and scoping (another entity's customer, another owner's account: 404)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from relance.accounts import roles
from relance.cases.models import CreditHold
from relance.credit.models import BureauReport, CreditProfile, CreditReview, CreditScore

pytestmark = pytest.mark.django_db
SECRET = "bureau eyes only"


def signed_in(entity, role: str, email: str) -> tuple[Client, object]:
    from relance.accounts.services import user_create

    user = user_create(email=email, role=role, entity_names=[entity.name])
    client = Client()
    client.force_login(user)
    return client, user


def score(customer, risk_class: str, value: int, days_beyond_terms: str | None = "-1.0", late_share="0.0"):
    return CreditScore.objects.create(
        entity=customer.entity,
        customer=customer,
        as_of=timezone.localdate(),
        scorecard_key="standard",
        scorecard_version=1,
        score=value,
        risk_class=risk_class,
        reasons=[
            {
                "factor": "days_beyond_terms",
                "value": days_beyond_terms,
                "points": 0,
                "text": "pays within terms",
            },
            {"factor": "late_share", "value": late_share, "points": 0, "text": "rarely late"},
            {"factor": "utilisation", "value": "80.0", "points": 6, "text": "uses 80 % of its limit"},
        ],
    )


@pytest.fixture
def account(entity, make_customer, make_invoice):
    today = timezone.localdate()
    customer = make_customer("C-1", credit_limit=Decimal("1000"))
    make_invoice(customer, "I1", "800", today - timedelta(days=5), today + timedelta(days=25))
    score(customer, "B", 22)
    CreditProfile.objects.create(
        entity=entity,
        customer=customer,
        limit_expires_on=today + timedelta(days=90),
        insurer="Allianz Trade",
        insured_limit=Decimal("700"),
        declaration_days=60,
    )
    CreditHold.objects.create(entity=entity, customer=customer, placed_on=today, reason="cheque returned")
    CreditReview.objects.create(
        entity=entity,
        customer=customer,
        opened_on=today,
        proposal="raise_limit",
        proposed_limit=Decimal("1500"),
        currency="EUR",
        reasons=["pays within terms at 80 % utilisation"],
    )
    report = BureauReport.objects.create(
        entity=entity,
        customer=customer,
        provider="creditsafe",
        reported_on=today,
        bureau_score=77,
        rating="B",
        recommended_limit=Decimal("1200"),
        raw_payload={"secret": SECRET},
    )
    return customer, report


def panel_of(client: Client, customer) -> str:
    response = client.get(reverse("workspace:customer_credit", args=[customer.pk]), {"fragment": "1"})
    assert response.status_code == 200
    return response.content.decode()


def test_the_360_has_a_slot_that_loads_the_panel(entity, account) -> None:
    customer, _ = account
    client, _ = signed_in(entity, roles.COLLECTOR, "col@acme.test")
    page = client.get(reverse("workspace:customer", args=[customer.pk])).content.decode()
    assert 'id="credit-panel"' in page and reverse("workspace:customer_credit", args=[customer.pk]) in page
    whole = client.get(reverse("workspace:customer_credit", args=[customer.pk]))
    assert whole.status_code == 200 and "← Back to the account" in whole.content.decode()


def test_the_panel_shows_score_reasons_limit_exposure_holds_review_insurance(entity, account) -> None:
    customer, _ = account
    client, _ = signed_in(entity, roles.COLLECTOR, "col@acme.test")
    html = panel_of(client, customer)
    for text in (
        "Score <strong>22</strong>",
        "uses 80 % of its limit",
        "€1,000.00",  # the limit
        "80.00 %",  # utilisation
        "€200.00",  # available
        "cheque returned",
        "proposes <strong>raise the limit</strong>",
        "Allianz Trade",
        "exposure above the insured limit",
        reverse("workspace:customer_why", args=[customer.pk]),
    ):
        assert text in html, text
    assert "Bureau report" not in html and SECRET not in html


@pytest.mark.parametrize(
    ("role", "email"), [(roles.SALES, "sam@acme.test"), (roles.SUPPORT, "sue@acme.test")]
)
def test_sales_and_support_see_reasons_and_holds_never_the_bureau(entity, account, role, email) -> None:
    customer, report = account
    client, user = signed_in(entity, role, email)
    if role == roles.SALES:
        customer.sales_owner = user
        customer.save()
    html = panel_of(client, customer)
    assert "uses 80 % of its limit" in html and "cheque returned" in html
    assert "Bureau report" not in html and SECRET not in html
    url = reverse("workspace:customer_bureau_report", args=[customer.pk, report.pk])
    assert client.get(url).status_code == 403


def test_a_credit_manager_sees_the_bureau_summary_and_may_open_the_payload(entity, account) -> None:
    customer, report = account
    client, _ = signed_in(entity, roles.CREDIT_MANAGER, "cm@acme.test")
    html = panel_of(client, customer)
    assert "Bureau report" in html and "€1,200.00" in html and SECRET not in html
    payload = client.get(reverse("workspace:customer_bureau_report", args=[customer.pk, report.pk]))
    assert payload.status_code == 200 and SECRET in payload.content.decode()


def test_another_entitys_customer_and_another_owners_account_are_404(entity, account, make_customer) -> None:
    from relance.ledger.services import entity_create_or_update

    customer, report = account
    globex = entity_create_or_update(name="globex", currency="USD", legal_name="Globex Inc")[0]
    theirs = make_customer("G-1", entity=globex, currency="USD", credit_limit=Decimal("5"))
    manager, _ = signed_in(entity, roles.CREDIT_MANAGER, "cm@acme.test")
    assert manager.get(reverse("workspace:customer_credit", args=[theirs.pk])).status_code == 404
    other, _ = signed_in(globex, roles.CREDIT_MANAGER, "cm@globex.test")
    for url in (
        reverse("workspace:customer_credit", args=[customer.pk]),
        reverse("workspace:customer_bureau_report", args=[customer.pk, report.pk]),
    ):
        assert other.get(url).status_code == 404
    sales, _ = signed_in(entity, roles.SALES, "sam@acme.test")  # owns nothing
    assert sales.get(reverse("workspace:customer_credit", args=[customer.pk])).status_code == 404


def test_room_to_grow_lists_good_payers_near_their_limit_with_a_proposal(
    entity, make_customer, make_invoice
) -> None:
    today = timezone.localdate()
    client, sam = signed_in(entity, roles.SALES, "sam@acme.test")

    def account(ref, limit, used, risk_class="A", owner=sam, **score_kw):
        customer = make_customer(ref, credit_limit=Decimal(limit), sales_owner=owner)
        make_invoice(customer, f"I-{ref}", used, today - timedelta(days=3), today + timedelta(days=27))
        score(customer, risk_class, 10, **score_kw)
        return customer

    grow = account("GROW", "10000", "8000")  # 80 %: 15,000 proposed
    capped = account("CAPPED", "10000", "9500")
    BureauReport.objects.create(
        entity=entity, customer=capped, provider="dnb", reported_on=today, recommended_limit=Decimal("12345")
    )
    account("LOW", "10000", "5000")  # 50 %
    account("CLASS-C", "10000", "9000", risk_class="C")
    account("LATE", "10000", "9000", days_beyond_terms="12.0")
    account("UNKNOWN", "10000", "9000", days_beyond_terms=None)
    account("NOT-MINE", "10000", "9000", owner=None)

    html = client.get(reverse("workspace:room_to_grow")).content.decode()

    assert f'id="grow-{grow.pk}"' in html and "€15,000.00" in html
    assert f'id="grow-{capped.pk}"' in html and "€12,000.00" in html and "the bureau's recommendation" in html
    assert html.index("CAPPED") < html.index("GROW")  # the most used first
    for ref in ("LOW", "CLASS-C", "LATE", "UNKNOWN", "NOT-MINE"):
        assert f"<small>{ref}</small>" not in html, ref
    manager, _ = signed_in(entity, roles.CREDIT_MANAGER, "cm@acme.test")
    assert "<small>NOT-MINE</small>" in manager.get(reverse("workspace:room_to_grow")).content.decode()
