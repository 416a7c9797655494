"""The promise rule alone: end, cut-off and state from the facts (relance.core.promises)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from relance.core.promises import PaidByCutoff, PromiseTerms, promise_state

D = date.fromisoformat
TERMS = PromiseTerms(promised_date=D("2026-04-20"), grace_days=3)  # ends 2026-04-23


def invoices(linked: int, still_open: int) -> PaidByCutoff:
    return PaidByCutoff(linked_invoices=linked, still_open=still_open, paid=Decimal(0), amount=Decimal(100))


def amount_only(paid: str) -> PaidByCutoff:
    return PaidByCutoff(linked_invoices=0, still_open=0, paid=Decimal(paid), amount=Decimal(100))


def test_end_is_the_promised_date_plus_grace_and_the_cutoff_stops_there():
    assert TERMS.end == D("2026-04-23")
    assert TERMS.cutoff(D("2026-04-10")) == D("2026-04-10")
    assert TERMS.cutoff(D("2026-04-23")) == D("2026-04-23")
    assert TERMS.cutoff(D("2026-05-01")) == D("2026-04-23")
    assert TERMS.running_on(D("2026-04-23")) and not TERMS.running_on(D("2026-04-24"))
    assert PromiseTerms(promised_date=D("2026-04-20"), grace_days=0).end == D("2026-04-20")


@pytest.mark.parametrize(
    ("written", "paid", "as_of", "state"),
    [
        ("open", invoices(2, 1), "2026-04-10", "active"),
        ("open", invoices(2, 0), "2026-04-10", "kept"),
        ("open", invoices(2, 1), "2026-04-23", "active"),  # the end itself still pauses
        ("open", invoices(2, 1), "2026-04-24", "broken"),  # the day after the end
        ("open", invoices(2, 0), "2026-04-24", "kept"),  # paid by the cut-off (the end)
        ("open", amount_only("99.99"), "2026-04-15", "active"),
        ("open", amount_only("100"), "2026-04-15", "kept"),
        ("open", amount_only("99.99"), "2026-05-01", "broken"),
        ("open", amount_only("150"), "2026-05-01", "kept"),
        ("broken", invoices(1, 0), "2026-04-10", "broken"),  # a written status is final
        ("kept", invoices(1, 1), "2026-05-01", "kept"),
        ("cancelled", invoices(1, 1), "2026-04-10", "cancelled"),
    ],
)
def test_state_from_the_facts(written, paid, as_of, state):
    assert promise_state(written_status=written, terms=TERMS, paid=paid, as_of=D(as_of)) == state


def test_an_open_promise_needs_what_was_paid():
    with pytest.raises(ValueError, match="cut-off"):
        promise_state(written_status="open", terms=TERMS, paid=None, as_of=D("2026-04-10"))
