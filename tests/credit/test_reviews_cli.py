"""``relance credit review run|list|decide``: JSON for machines, tables for people."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from relance.credit.models import CreditReview, ReviewStatus
from relance.ledger.services import customer_credit_terms_set
from tests.credit.conftest import AS_OF

pytestmark = pytest.mark.django_db


def credit(*args: str) -> str:
    out = StringIO()
    call_command("credit", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


@pytest.fixture
def breached(entity, book):
    customer_credit_terms_set(customer=book.prompt, credit_limit=Decimal("250"), payment_terms_days=30)
    return book


def test_run_list_and_accept(entity, breached) -> None:
    counts = json.loads(credit("review", "run", "--as-of", AS_OF.isoformat(), "--json"))
    assert counts["opened"] == 1 and counts["by_trigger"] == {"limit_breached": 1}
    assert counts["by_proposal"] == {"raise_limit": 1} and counts["entity"] == "acme"
    rows = json.loads(credit("review", "list", "--json"))
    assert len(rows) == 1
    row = rows[0]
    assert (row["customer_ref"], row["opened_on"], row["proposal"], row["proposed_limit"]) == (
        "P",
        AS_OF.isoformat(),
        "raise_limit",
        "330.0000",
    )
    assert row["triggers"] == [
        {
            "code": "limit_breached",
            "text": "Exposure €300.00 is over the €250.00 limit (120 % used).",
            "on": AS_OF.isoformat(),
        }
    ]
    assert row["reasons"] and row["reasons"][0].startswith("A good payer")
    table = credit("review", "list")
    assert "1 open credit review(s)" in table and "Raise the limit to €330.00" in table
    said = credit("review", "decide", str(row["id"]), "--accept", "--limit", "300", "--on", AS_OF.isoformat())
    assert said == f"Review {row['id']} of P accepted: raise the limit; limit €300.00, terms 30 days."
    assert CreditReview.objects.get().status == ReviewStatus.ACCEPTED
    assert "No open review." in credit("review", "list")


def test_run_prints_counts_for_people(entity, breached) -> None:
    text = credit("review", "run", "--as-of", AS_OF.isoformat())
    assert "1 review(s) opened" in text and "limit_breached" in text and "raise_limit" in text


def test_reject_and_refusals(entity, breached) -> None:
    from relance.ledger.services import entity_create_or_update

    credit("review", "run", "--as-of", AS_OF.isoformat())
    review = CreditReview.objects.get()
    other, _ = entity_create_or_update(name="other", currency="EUR", language="en", legal_name="Other")
    with pytest.raises(CommandError, match=f"no credit review {review.pk} in entity other"):
        credit("review", "decide", str(review.pk), "--accept", "--entity", "other")
    customer_credit_terms_set(customer=breached.prompt, credit_limit=Decimal("260"), payment_terms_days=30)
    with pytest.raises(
        CommandError, match="is stale: the limit is now €260.00 \\(was €250.00 when proposed\\)"
    ):
        credit("review", "decide", str(review.pk), "--accept", "--entity", "acme")
    credit("review", "run", "--as-of", AS_OF.isoformat(), "--entity", "acme")
    said = credit("review", "decide", str(review.pk), "--reject", "--note", "no", "--entity", "acme")
    assert said == f"Review {review.pk} of P rejected; nothing changed."
    with pytest.raises(CommandError, match="is already rejected"):
        credit("review", "decide", str(review.pk), "--accept", "--entity", "acme")
