"""Two entities, users in several roles, and clients signed in as them."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The login throttle counts in the cache: every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def globex(db):
    from relance.ledger.services import entity_create_or_update

    entity, _ = entity_create_or_update(name="globex", currency="USD", legal_name="Globex Inc")
    return entity


@pytest.fixture
def two_ledgers(entity, globex, make_customer):
    """One customer in each entity, with an invoice each."""
    from datetime import date
    from decimal import Decimal

    from relance.ledger.models import Invoice

    acme_customer = make_customer("A-1", name="Acme Buyer SARL")
    globex_customer = make_customer("G-1", name="Globex Buyer LLC", entity=globex, currency="USD")
    for customer, ref in ((acme_customer, "INV-A"), (globex_customer, "INV-G")):
        Invoice.objects.create(
            entity=customer.entity,
            customer=customer,
            external_ref=ref,
            issue_date=date(2024, 1, 1),
            due_date=date(2024, 1, 31),
            currency=customer.currency,
            amount=Decimal("100.00"),
        )
    return {"acme": acme_customer, "globex": globex_customer}


@pytest.fixture
def make_user(db):
    from relance.accounts.services import user_create

    def make(email: str, role: str, *entities, password: str = "correct horse battery 9"):
        return user_create(email=email, role=role, entity_names=[e.name for e in entities], password=password)

    return make


@pytest.fixture
def signed_in():
    def sign_in(user, **client_kwargs) -> Client:
        client = Client(**client_kwargs)
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def token_for():
    from relance.api.services import api_token_create

    def make(user) -> str:
        return api_token_create(user=user, name="tests")[1]

    return make
