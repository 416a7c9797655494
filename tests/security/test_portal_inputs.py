"""Finding 8 of issue 12: hostile portal input is a form error or a 404, never a 5xx.

The payloads are in ``tests/security/corpus/portal/``; add a line there to try one more.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from relance.portal.links import token_for
from tests.security.corpus import lines

AMOUNTS = lines("portal/amounts.txt")
IDS = lines("portal/ids.txt")
REFS = lines("portal/refs.jsonl")


@pytest.mark.parametrize("amount", AMOUNTS)
def test_a_promise_for_a_strange_amount_is_a_form_error(client, url, today, amount):
    from relance.cases.models import Promise

    response = client.post(
        url("promise"),
        {"promised_date": str(today + timedelta(days=5)), "scope": "amount", "amount": amount},
    )
    assert response.status_code == 400, amount
    assert not Promise.objects.exists()


@pytest.mark.parametrize("amount", AMOUNTS)
def test_a_dispute_for_a_strange_amount_is_a_form_error(client, url, ledger, amount):
    from relance.cases.models import Dispute

    invoice = ledger["invoices"]["late"]
    response = client.post(url("dispute", invoice.pk), {"reason": "pricing", "amount": amount, "text": "x"})
    assert response.status_code == 400, amount
    assert not Dispute.objects.exists()


@pytest.mark.parametrize("value", IDS)
def test_a_strange_account_filter_is_not_found(client, url, value):
    assert client.get(url("items"), {"account": value}).status_code == 404
    assert client.get(url("statement_csv"), {"account": value}).status_code == 404


def test_an_account_of_the_link_still_filters_and_another_customers_is_not_found(client, url, ledger):
    child = ledger["child"]
    page = client.get(url("items"), {"account": child.pk})
    assert page.status_code == 200
    assert "INV-3" in page.content.decode() and "INV-1" not in page.content.decode()
    assert client.get(url("items"), {"account": ledger["stranger"].pk}).status_code == 404


@pytest.mark.parametrize("value", IDS)
def test_strange_ids_in_forms_and_paths_are_never_a_server_error(client, url, today, value):
    response = client.post(
        url("promise"), {"promised_date": str(today + timedelta(days=5)), "invoice": value}
    )
    assert response.status_code < 500
    response = client.post(url("plan"), {"installments": value, "first_due": str(today + timedelta(days=3))})
    assert response.status_code < 500
    # In a path, a number that cannot be a row id is no URL at all.
    token_path = url("overview")
    for path in (f"{token_path}invoices/{value}/", f"{token_path}cases/{value}/"):
        assert client.get(path).status_code == 404


@pytest.mark.parametrize("ref", REFS)
def test_statements_of_a_customer_whose_ref_holds_control_characters_download(client, ledger, ref):
    from relance.portal.links import link_create

    customer = ledger["parent"]
    customer.external_ref = ref
    customer.save(update_fields=["external_ref"])
    token = token_for(link_create(customer=customer, days=30))
    for name in ("statement_csv", "statement_pdf"):
        response = client.get(reverse(f"portal:{name}", args=[token]))
        assert response.status_code == 200, (name, ref)
        disposition = response["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert "\r" not in disposition and "\n" not in disposition
        assert "/" not in disposition.split("filename", 1)[1].replace("filename*=utf-8''", "")
