"""Fixtures of the credit application tests: a link, good answers, files, users in each role."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
HTML = b"<html><script>alert(1)</script></html>"

GOOD_ANSWERS = {
    "legal_name": "Boulangerie Martin SARL",
    "trading_name": "Martin",
    "country": "FR",
    "vat": "FR40303265045",
    "siren": "303 265 045",
    "address_line1": "12 rue des Lilas",
    "postcode": "69003",
    "city": "Lyon",
    "ap_name": "Claire Martin",
    "ap_email": "claire@martin.example",
    "ap_phone": "06 12 34 56 78",
    "dm_name": "Paul Martin",
    "dm_email": "paul@martin.example",
    "dm_phone": "+33 6 98 76 54 32",
    "iban": "FR76 3000 6000 0112 3456 7890 189",
    "bic": "AGRIFRPP",
    "ref1_company": "Moulins de France",
    "ref1_contact": "Jean Dupont",
    "ref1_email": "jean@moulins.example",
    "requested_limit": "25000",
    "currency": "EUR",
    "requested_terms_days": "45",
}


def good_files() -> dict[str, list[SimpleUploadedFile]]:
    return {
        "doc_financial_statements": [SimpleUploadedFile("bilan-2025.pdf", PDF, "application/pdf")],
        "doc_registration_extract": [SimpleUploadedFile("kbis.png", PNG, "image/png")],
        "doc_signed_terms": [SimpleUploadedFile("cgv.pdf", PDF, "application/pdf")],
    }


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def upload_root(settings, tmp_path):
    settings.RELANCE_PORTAL_UPLOAD_ROOT = str(tmp_path / "uploads")
    from django.utils.functional import empty

    from relance.portal.models import upload_storage

    upload_storage._wrapped = empty  # type: ignore[assignment]  # the lazy storage picks the new root
    yield tmp_path / "uploads"
    upload_storage._wrapped = empty  # type: ignore[assignment]


@pytest.fixture
def globex(db):
    from relance.ledger.services import entity_create_or_update

    entity, _ = entity_create_or_update(name="globex", currency="USD", legal_name="Globex Inc")
    return entity


@pytest.fixture
def make_user(db):
    from relance.accounts.services import user_create

    def make(email: str, role: str, *entities, password: str = "correct horse battery 9"):
        return user_create(email=email, role=role, entity_names=[e.name for e in entities], password=password)

    return make


@pytest.fixture
def manager(make_user, entity):
    return make_user("manager@acme.example", "credit_manager", entity)


@pytest.fixture
def manager2(make_user, entity):
    return make_user("second@acme.example", "credit_manager", entity)


@pytest.fixture
def signed_in():
    def sign_in(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def prospect_link(entity, manager, mailoutbox):
    from relance.credit.services.applications import link_issue

    return link_issue(entity=entity, user=manager, email="claire@martin.example", language="fr")


@pytest.fixture
def submitted(prospect_link, upload_root):
    from relance.credit.services.applications import application_submit

    return application_submit(link=prospect_link.link, data=GOOD_ANSWERS, files=good_files())


@pytest.fixture
def customer(make_customer):
    from relance.ledger.models import Contact

    customer = make_customer("C-1042", name="Boulangerie Martin", credit_limit=Decimal("5000"), language="de")
    Contact.objects.create(customer=customer, name="Claire", email="billing@martin.example")
    return customer
