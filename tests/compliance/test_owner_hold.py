"""The sales owner's "hold escalation for N days, I'm on it" link."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from relance.cases.models import CustomerHold
from relance.compliance import links
from relance.compliance.services import HOLD_REASON_REQUIRED, owner_hold_create
from relance.core.errors import ValidationFailed


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user("olivia", "olivia@acme.test", "pw")


@pytest.fixture
def customer(make_customer, make_invoice, owner):
    customer = make_customer("C1", sales_owner=owner)
    make_invoice(customer, "INV-1", "1200.00", date(2020, 1, 1), date(2020, 1, 31))
    return customer


def hold_path(url: str) -> str:
    return url.removeprefix("http://testserver")


def test_the_link_is_absolute_signed_and_bound_to_owner_customer_and_days(customer, owner):
    url = links.owner_hold_url(customer, owner, 7)
    assert url.startswith("http://testserver/compliance/hold/")
    link = links.owner_hold_token_read(url.rstrip("/").rsplit("/", 1)[1])
    assert (link.customer_id, link.owner_id, link.days) == (customer.pk, owner.pk, 7)
    with pytest.raises(ValueError):
        links.owner_hold_url(customer, owner, 0)


def test_anonymous_visitors_are_sent_to_sign_in(customer, owner, client):
    path = hold_path(links.owner_hold_url(customer, owner, 7))
    response = client.get(path)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not CustomerHold.objects.exists()


def test_another_user_cannot_use_the_owners_link(customer, owner, client):
    intruder = get_user_model().objects.create_user("ivan", "ivan@acme.test", "pw")
    client.force_login(intruder)
    path = hold_path(links.owner_hold_url(customer, owner, 7))
    assert client.get(path).status_code == 403
    assert client.post(path, {"reason": "mine now", "days": "7"}).status_code == 403
    assert not CustomerHold.objects.exists()


def test_the_owner_sees_the_account_and_holds_the_escalation(customer, owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    path = hold_path(links.owner_hold_url(customer, owner, 10))
    page = client.get(path)
    assert page.status_code == 200
    body = page.content.decode()
    assert (
        customer.name in body
        and "1,200.00" in body.replace("\u202f", ",").replace("\xa0", ",")
        or "1200" in body
    )
    assert 'value="10"' in body
    csrf = page.cookies["csrftoken"].value
    response = client.post(
        path, {"reason": "Meeting their CFO on Friday", "days": "5", "csrfmiddlewaretoken": csrf}
    )
    assert response.status_code == 200 and "Escalation held" in response.content.decode()
    hold = CustomerHold.objects.get()
    today = timezone.now().date()  # the entity's zone is UTC
    assert (hold.kind, hold.created_by, hold.starts_on, hold.ends_on) == (
        "hold",
        owner,
        today,
        today + timedelta(days=5),
    )
    assert hold.reason == "Sales owner: Meeting their CFO on Friday"
    assert hold.created_at is not None


def test_a_reason_is_required(customer, owner, client):
    client.force_login(owner)
    response = client.post(hold_path(links.owner_hold_url(customer, owner, 7)), {"reason": "  ", "days": "7"})
    assert response.status_code == 400 and HOLD_REASON_REQUIRED in response.content.decode()
    assert (
        client.post(
            hold_path(links.owner_hold_url(customer, owner, 7)), {"reason": "x", "days": "lots"}
        ).status_code
        == 400
    )
    assert not CustomerHold.objects.exists()


def test_expired_and_forged_links(customer, owner, client, settings):
    client.force_login(owner)
    path = hold_path(links.owner_hold_url(customer, owner, 7))
    assert client.get(path[:-4] + "AAA/").status_code == 404
    settings.RELANCE_HOLD_LINK_MAX_AGE = -1
    response = client.get(path)
    assert response.status_code == 410 and "expired" in response.content.decode()


def test_the_service_uses_the_collections_hold_service(customer, owner):
    with pytest.raises(ValidationFailed):
        owner_hold_create(customer=customer, owner=owner, reason="ok", days=0, on=date(2026, 3, 2))
    hold = owner_hold_create(customer=customer, owner=owner, reason="x" * 500, days=3, on=date(2026, 3, 2))
    assert len(hold.reason) == 200 and hold.ends_on == date(2026, 3, 5)


def test_a_former_sales_owner_can_no_longer_hold(customer, owner, client):
    successor = get_user_model().objects.create_user("sam", "sam@acme.test", "pw")
    path = hold_path(links.owner_hold_url(customer, owner, 7))
    customer.sales_owner = successor
    customer.save()
    client.force_login(owner)
    response = client.post(path, {"reason": "still mine", "days": "7"})
    assert response.status_code == 403 and "no longer" in response.content.decode()
    assert not CustomerHold.objects.exists()
