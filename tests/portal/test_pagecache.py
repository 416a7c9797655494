"""The page cache serves repeat views without rebuilding them, and never serves a stale page:
a payment, a promise, another language, another day or another customer's link each get their own."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from relance.portal import selectors

pytestmark = pytest.mark.django_db


@pytest.fixture
def overview_calls(monkeypatch):
    calls = []
    real = selectors.portal_overview

    def counting(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(selectors, "portal_overview", counting)
    return calls


def _text(response) -> str:
    return response.content.decode().replace("\u202f", " ").replace("\xa0", " ")


def test_a_repeat_view_is_served_from_the_cache(client, url, overview_calls, django_assert_max_num_queries):
    first = client.get(url())
    assert first.status_code == 200 and len(overview_calls) == 1
    with django_assert_max_num_queries(3):  # the link, the data versions, nothing of the page's own
        second = client.get(url())
    assert second.content == first.content and len(overview_calls) == 1
    assert second["Cache-Control"] == "no-store"  # the browser still keeps nothing


def test_a_payment_shows_at_once(client, url, ledger, make_payment, today, overview_calls):
    from relance.ledger.services import allocation_create

    assert "2,000.00" in _text(client.get(url()))
    payment = make_payment(ledger["parent"], "PAY-2", "1200.00", today)
    allocation_create(
        invoice=ledger["invoices"]["late"], amount=Decimal("1200.00"), on=today, payment=payment
    )
    body = _text(client.get(url()))
    assert len(overview_calls) == 2
    assert "800.00" in body and "2,000.00" not in body


def test_a_promise_shows_at_once(client, url, ledger, today):
    from relance.cases.models import Promise

    assert "Your promises" not in client.get(url()).content.decode()
    Promise.objects.create(
        entity=ledger["parent"].entity,
        customer=ledger["parent"],
        created_on=today,
        promised_date=today + timedelta(days=7),
        amount=Decimal("1200.00"),
        currency="EUR",
    )
    assert "Your promises" in client.get(url()).content.decode()


def test_each_language_and_query_gets_its_own_page(client, url, overview_calls):
    english = client.get(url()).content.decode()
    french = client.get(url() + "?lang=fr").content.decode()
    assert english != french and len(overview_calls) == 2
    overdue = client.get(url("items") + "?state=overdue").content.decode()
    everything = client.get(url("items") + "?state=all").content.decode()
    assert "INV-2" not in overdue and "INV-2" in everything


def test_another_customers_link_never_gets_this_page(client, url, stranger_link):
    from django.urls import reverse

    from relance.portal.links import token_for

    assert "Parent SA" in client.get(url()).content.decode()
    body = client.get(reverse("portal:overview", args=[token_for(stranger_link)])).content.decode()
    assert "Stranger Ltd" in body and "Parent SA" not in body


def test_a_new_day_rebuilds_the_page(client, url, monkeypatch, today, overview_calls):
    from relance.portal import views

    client.get(url())
    monkeypatch.setattr(views.selectors, "portal_today", lambda entity: today + timedelta(days=1))
    client.get(url())
    assert len(overview_calls) == 2


def test_a_revoked_link_is_refused_even_with_its_page_cached(client, url, link):
    from django.utils import timezone

    assert client.get(url()).status_code == 200
    link.revoked_at = timezone.now()
    link.save(update_fields=["revoked_at"])
    assert client.get(url()).status_code == 410


def test_the_cache_can_be_switched_off(client, url, settings, overview_calls):
    settings.RELANCE_PORTAL_PAGE_CACHE = False
    client.get(url())
    client.get(url())
    assert len(overview_calls) == 2
