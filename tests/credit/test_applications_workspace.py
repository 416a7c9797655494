# ruff: noqa: F811  (the fixtures imported from applications_fixtures are parameters here)
"""The back office's application pages: scoping (another entity's application is a 404 on every
route), who sees what (status and a decline's reason for everyone who reads applications; bank
details, contacts and files for credit managers), who decides, four eyes through the pages, and
the documents on the customer page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from relance.credit.models import ApplicationLink, ApplicationStatus, CreditApplication
from relance.credit.services import applications as svc
from tests.credit.applications_fixtures import (  # noqa: F401
    GOOD_ANSWERS,
    _fresh_cache,
    customer,
    globex,
    good_files,
    make_user,
    manager,
    manager2,
    prospect_link,
    signed_in,
    submitted,
    upload_root,
)

pytestmark = pytest.mark.django_db


def _routes(application_id: int, document_id: int) -> list[tuple[str, str]]:
    return [
        ("get", reverse("workspace:credit_application", args=[application_id])),
        ("post", reverse("workspace:credit_application_review", args=[application_id])),
        ("post", reverse("workspace:credit_application_approve", args=[application_id])),
        ("post", reverse("workspace:credit_application_decline", args=[application_id])),
        ("post", reverse("workspace:credit_application_request_info", args=[application_id])),
        ("get", reverse("workspace:credit_application_file", args=[application_id, document_id])),
    ]


def test_another_entitys_application_is_a_404_on_every_route(submitted, globex, make_user, signed_in) -> None:
    other = make_user("boss@globex.example", "credit_manager", globex)
    client = signed_in(other)
    document = submitted.documents.first()
    for method, url in _routes(submitted.pk, document.pk):
        response = getattr(client, method)(
            url, {"reason": "x", "limit": "1", "terms_days": "30", "text": "x"}
        )
        assert response.status_code == 404, url
    listed = client.get(reverse("workspace:credit_applications") + "?status=all")
    assert "Boulangerie Martin SARL" not in listed.content.decode()
    assert CreditApplication.objects.get().status == ApplicationStatus.SUBMITTED


def test_a_credit_manager_sees_everything_and_downloads_files(submitted, manager, signed_in) -> None:
    client = signed_in(manager)
    listed = client.get(reverse("workspace:credit_applications")).content.decode()
    assert "Boulangerie Martin SARL" in listed and "Send the link" in listed
    page = client.get(reverse("workspace:credit_application", args=[submitted.pk])).content.decode()
    assert "FR7630006000011234567890189" in page and "bilan-2025.pdf" in page and 'id="approve"' in page
    document = submitted.documents.get(kind="financial_statements")
    download = client.get(reverse("workspace:credit_application_file", args=[submitted.pk, document.pk]))
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert (
        download["Content-Disposition"].startswith("attachment")
        and download["X-Content-Type-Options"] == "nosniff"
    )


@pytest.mark.parametrize("role", ["support", "collector"])
def test_support_and_collectors_see_the_status_and_why_not_the_bank_details(
    submitted, manager, make_user, signed_in, entity, role
) -> None:
    svc.application_decline(application=submitted, user=manager, reason="Registered two months ago.")
    user = make_user(f"{role}@acme.example", role, entity)
    client = signed_in(user)
    page = client.get(reverse("workspace:credit_application", args=[submitted.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Declined" in html and "Registered two months ago." in html
    assert (
        "FR7630006000011234567890189" not in html and "bilan-2025.pdf" not in html and "claire@" not in html
    )
    document = submitted.documents.first()
    assert (
        client.get(reverse("workspace:credit_application_file", args=[submitted.pk, document.pk])).status_code
        == 404
    )


@pytest.mark.parametrize("role", ["support", "collector", "auditor"])
def test_only_credit_managers_decide(submitted, make_user, signed_in, entity, role) -> None:
    client = signed_in(make_user(f"{role}@acme.example", role, entity))
    for name, data in (
        ("workspace:credit_application_review", {}),
        ("workspace:credit_application_approve", {"limit": "100", "terms_days": "30"}),
        ("workspace:credit_application_decline", {"reason": "no"}),
        ("workspace:credit_application_request_info", {"text": "more"}),
    ):
        assert client.post(reverse(name, args=[submitted.pk]), data).status_code == 403
    assert (
        client.post(reverse("workspace:credit_application_link_send"), {"email": "a@b.example"}).status_code
        == 403
    )
    assert CreditApplication.objects.get().status == ApplicationStatus.SUBMITTED
    assert ApplicationLink.objects.count() == 1


def test_sales_see_the_applications_of_their_own_customers_only(
    entity, manager, customer, make_user, signed_in, upload_root
) -> None:
    sales = make_user("sales@acme.example", "sales", entity)
    issued = svc.link_issue(entity=entity, user=manager, customer=customer)
    mine = svc.application_submit(link=issued.link, data=GOOD_ANSWERS, files=good_files())
    prospect = svc.link_issue(entity=entity, user=manager, email="p@prospect.example")
    theirs = svc.application_submit(link=prospect.link, data=GOOD_ANSWERS, files=good_files())
    client = signed_in(sales)
    assert client.get(reverse("workspace:credit_application", args=[mine.pk])).status_code == 404
    customer.sales_owner = sales
    customer.save()
    page = client.get(reverse("workspace:credit_application", args=[mine.pk]))
    assert page.status_code == 200 and "FR7630006000011234567890189" not in page.content.decode()
    assert client.get(reverse("workspace:credit_application", args=[theirs.pk])).status_code == 404


def test_four_eyes_through_the_pages(submitted, manager, manager2, signed_in) -> None:
    url = reverse("workspace:credit_application_approve", args=[submitted.pk])
    terms = {"limit": "75000", "terms_days": "60", "expires_on": "", "customer_ref": "C-9001"}
    first = signed_in(manager)
    assert first.post(url, terms).status_code == 302
    page = first.get(reverse("workspace:credit_application", args=[submitted.pk])).content.decode()
    assert 'id="four-eyes"' in page and "manager@acme.example" in page
    again = first.post(url, terms)
    assert again.status_code == 400 and "second approver" in again.content.decode()
    assert CreditApplication.objects.get().status == ApplicationStatus.IN_REVIEW
    assert signed_in(manager2).post(url, terms).status_code == 302
    application = CreditApplication.objects.get()
    assert application.status == ApplicationStatus.APPROVED
    assert (application.customer.external_ref, application.customer.credit_limit) == (
        "C-9001",
        Decimal("75000"),
    )
    customer_page = first.get(reverse("workspace:customer", args=[application.customer_id])).content.decode()
    assert 'id="credit-documents"' in customer_page and "bilan-2025.pdf" in customer_page


def test_decline_and_information_request_through_the_pages(submitted, manager, signed_in, mailoutbox) -> None:
    client = signed_in(manager)
    refused = client.post(
        reverse("workspace:credit_application_request_info", args=[submitted.pk]), {"text": " "}
    )
    assert refused.status_code == 400
    asked = client.post(
        reverse("workspace:credit_application_request_info", args=[submitted.pk]),
        {"text": "The 2025 accounts."},
    )
    assert asked.status_code == 302
    assert CreditApplication.objects.get().status == ApplicationStatus.INFO_REQUESTED
    assert "The 2025 accounts." in mailoutbox[-1].body


def test_links_are_sent_and_revoked_from_the_list(entity, manager, customer, signed_in, mailoutbox) -> None:
    client = signed_in(manager)
    assert (
        client.post(
            reverse("workspace:credit_application_link_send"),
            {"email": "new@prospect.example", "language": "es"},
        ).status_code
        == 302
    )
    link = ApplicationLink.objects.get(email="new@prospect.example")
    assert link.language == "es" and mailoutbox[-1].to == ["new@prospect.example"]
    assert (
        client.post(reverse("workspace:credit_application_link_send"), {"customer_ref": "C-1042"}).status_code
        == 302
    )
    assert ApplicationLink.objects.filter(customer=customer, email="billing@martin.example").exists()
    assert client.post(reverse("workspace:credit_application_link_revoke", args=[link.pk])).status_code == 302
    link.refresh_from_db()
    assert link.revoked_at is not None
