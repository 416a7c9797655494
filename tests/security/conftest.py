"""Fixtures of the security tests."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model


@pytest.fixture
def signed_in(client, entity, make_customer, make_invoice):
    customer = make_customer("C-1")
    make_invoice(
        customer, "INV-1", "100.00", date.today() - timedelta(days=70), date.today() - timedelta(days=40)
    )
    user = get_user_model().objects.create_superuser("boss", "b@example.com", "correct horse battery")
    client.force_login(user)
    return client, customer


from tests.portal.conftest import _clear_cache, ledger, link, stranger_link, today, url  # noqa: E402,F401
