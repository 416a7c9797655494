"""The check after an import, set-based (``contacts_check_rows`` + the scores reused by the report),
gives the same statuses, scores and problems as the simple path: each contact validated as a
model row (``contacts_validate``), then each customer scored on its own (``customer_quality``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.db import transaction

from relance.ledger.models import Contact
from relance.quality.contacts_services import FIELDS, contacts_validate
from relance.quality.models import QualityProblem
from relance.quality.report import customer_quality, fix_list, quality_check, quality_report
from relance.quality.score import MONITORED

pytestmark = pytest.mark.django_db

TODAY = date(2026, 12, 7)

#: (customer fields, [contact fields]): every kind of address, status and identifier, shared
#: values (the bulk check checks each distinct value once), statuses a check must keep.
LEDGER: list[tuple[dict[str, str], list[dict[str, object]]]] = [
    (
        {"country": "FR", "tax_id": "FR40303265045", "registration_id": "303265045"},
        [
            {"email": "ap@dupont.fr", "phone": "+33612345678", "postal_address": "1 rue A\n75001 Paris"},
        ],
    ),
    (
        {"country": "FR", "tax_id": "FR40303265046"},
        [
            {"email": "noreply@dupont.fr", "phone": "+3361234", "postal_address": "1 rue A\nParis"},
            {"email": "info@dupont.fr", "name": "Zed", "role": "primary"},
        ],
    ),
    (
        {"country": "GB", "registration_id": "12345678"},
        [
            {
                "email": "ap@gmial.com",
                "phone": "+442079460000",
                "postal_address": "10 Downing St\nLondon SW1A 2AA",
            },
        ],
    ),
    ({"country": ""}, [{"email": "ap@yopmail.com", "postal_address": "5 Main St\nSpringfield"}]),
    ({"country": "DE"}, []),
    (
        {"country": "FR"},
        [
            {"email": "ap@dupont.fr", "email_status": "bounced", "email_reason": "hard bounce 550"},
            {"email": "ap@shared.fr", "phone": "0800 123 456", "confirmed_on": TODAY - timedelta(days=500)},
            {
                "email": "ap@shared.fr",
                "name": "Abel",
                "email_status": "valid",
                "postal_address": "9 rue B\n69001 Lyon",
            },
        ],
    ),
    (
        {"country": "FR", "tax_id": "FR40303265045"},
        [
            {
                "postal_address": "3 quai C\n13002 Marseille",
                "address_status": "returned",
                "address_reason": "moved",
            },
            {
                "email": "compta@client.example",
                "email_status": "valid",
                "confirmed_on": TODAY - timedelta(days=30),
            },
        ],
    ),
    ({"country": "ES"}, [{"phone": "+34917012315", "email": "x@[127.0.0.1]"}]),
]


@pytest.fixture
def varied(entity, make_customer):
    for n, (fields, contacts) in enumerate(LEDGER):
        customer = make_customer(f"Q{n}", **fields)
        for k, given in enumerate(contacts):
            values = dict(given)
            Contact.objects.create(customer=customer, name=str(values.pop("name", f"C{k}")), **values)
    return entity


class _RolledBack(Exception):
    pass


def simple_path(entity):
    """Statuses, scores and monitored problems the simple path gives, then rolled back."""
    out: dict[str, Any] = {}

    def run_and_roll_back():
        with transaction.atomic():
            out["checked"] = contacts_validate(entity=entity, only_unchecked=True).checked
            out["statuses"] = {c.pk: tuple(getattr(c, f) for f in FIELDS) for c in Contact.objects.all()}
            out["scores"] = {c.pk: customer_quality(customer=c, today=TODAY) for c in entity.customers.all()}
            out["report"] = quality_report(entity=entity, today=TODAY).as_dict()
            raise _RolledBack

    with pytest.raises(_RolledBack):
        run_and_roll_back()
    return out


def test_the_fast_check_gives_what_the_simple_path_gives(varied):
    simple = simple_path(varied)
    assert set(Contact.objects.values_list("email_status", flat=True)) >= {"unknown"}  # rolled back

    outcome = quality_check(entity=varied, trigger="test", today=TODAY)
    assert outcome.check.contacts_checked == simple["checked"]
    assert {c.pk: tuple(getattr(c, f) for f in FIELDS) for c in Contact.objects.all()} == simple["statuses"]
    assert outcome.scores == simple["scores"]
    problems = {
        (pk, p.code) for pk, item in simple["scores"].items() for p in item.problems if p.code in MONITORED
    }
    assert set(QualityProblem.objects.values_list("customer_id", "code")) == problems
    assert {p.detail for p in QualityProblem.objects.all()} == {
        next(p.detail for p in simple["scores"][pk].problems if p.code == code) for pk, code in problems
    }
    reused = quality_report(entity=varied, today=TODAY, scores=outcome.scores).as_dict()
    assert reused | {"last_check": None} == simple["report"] | {"last_check": None}
    assert fix_list(entity=varied, today=TODAY, scores=outcome.scores) == fix_list(entity=varied, today=TODAY)
    # every kind of outcome is in this ledger (the comparison is not vacuous)
    statuses = {s for row in simple["statuses"].values() for s in (row[0], row[2], row[5])}
    assert {"valid", "suspect", "invalid", "bounced", "returned"} <= statuses

    again = quality_check(entity=varied, trigger="test", today=TODAY)
    assert (again.check.contacts_checked, again.check.new_problems, again.check.resolved) == (0, 0, 0)
    assert again.scores == simple["scores"]
