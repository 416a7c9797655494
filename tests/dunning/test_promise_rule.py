"""The app and the engine tell a promise's state by the same rule, on the same facts.

The app's reading (``case_selectors.promise_state_on``: what ``promise_settle`` writes back and what
the send-time check pauses for) and the engine's (the states ``decide`` acts on, from the app's
tables bound to the contract) must agree on every case, including the boundary days.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from relance.cases import selectors as case_selectors
from relance.cases import services as case_services
from relance.cases.models import Promise
from relance.core.actors import SYSTEM
from relance.dunning import selectors, services
from relance.dunning.binding import app_dunning_tables
from relance.engine.dunning.decide import open_invoice_frame
from relance.engine.dunning.rules.promises import _promise_states
from tests.dunning.conftest import D

PROMISED = "2026-04-20"  # the standard policy's grace is 3 days: the promise ends 2026-04-23


@pytest.fixture
def ledger(scenario):
    # Parsed cadences are cached per (entity id, policy key, version) for the process; another
    # test's policy at the same ids would otherwise leak its grace days in.
    selectors._CADENCE_CACHE.clear()
    scenario.customer("C1")
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    scenario.invoice("C1", "F2", "500.00", due="2026-03-31")
    return scenario


CASES = [
    # (what is promised, payments (invoice, amount, day), as-of, state)
    ("invoices", [], "2026-04-10", "active"),
    ("invoices", [("F1", "1000.00", "2026-04-08")], "2026-04-10", "active"),  # one of two paid
    ("invoices", [("F1", "1000.00", "2026-04-08"), ("F2", "500.00", "2026-04-09")], "2026-04-10", "kept"),
    ("invoices", [], "2026-04-23", "active"),  # the end itself still pauses
    ("invoices", [], "2026-04-24", "broken"),  # the day after
    ("invoices", [("F1", "1000.00", "2026-04-20"), ("F2", "500.00", "2026-04-23")], "2026-04-30", "kept"),
    # paid a day after the end: broken (nothing is owed any more, so nothing is chased either)
    ("invoices", [("F1", "1000.00", "2026-04-20"), ("F2", "500.00", "2026-04-24")], "2026-04-30", "broken"),
    ("amount", [("F1", "299.99", "2026-04-08")], "2026-04-10", "active"),
    ("amount", [("F1", "300.00", "2026-04-08")], "2026-04-10", "kept"),
    ("amount", [("F1", "100.00", "2026-04-08"), ("F2", "200.00", "2026-04-23")], "2026-04-28", "kept"),
    ("amount", [("F1", "100.00", "2026-04-08"), ("F2", "200.00", "2026-04-24")], "2026-04-28", "broken"),
    ("amount", [("F1", "300.00", "2026-04-04")], "2026-04-10", "active"),  # paid before it was made
]


def engine_states(entity, as_of):
    backend, tables = app_dunning_tables(entity=entity)
    policies = selectors.policy_map(entity=entity)
    base = open_invoice_frame(tables, policies, as_of)
    frame = _promise_states(tables, policies, base, as_of, backend)
    return dict(zip(frame.promise_id.tolist(), frame.state.tolist(), strict=True))


@pytest.mark.parametrize(("promised", "payments", "as_of", "state"), CASES)
def test_the_app_and_the_engine_agree(ledger, promised, payments, as_of, state):
    customer = ledger.customers["C1"]
    if promised == "invoices":
        promise = case_services.promise_add(
            actor=SYSTEM, customer=customer, promised_date=D(PROMISED), on=D("2026-04-05")
        )
    else:
        promise = case_services.promise_add(
            actor=SYSTEM,
            customer=customer,
            promised_date=D(PROMISED),
            on=D("2026-04-05"),
            amount=Decimal("300"),
        )
        promise.invoices.clear()  # a promise of an amount only (as the portal may record one)
    for number, (invoice, amount, day) in enumerate(payments):
        ledger.pay("C1", f"P{number}", invoice, amount, day)
    promise.refresh_from_db()

    app = case_selectors.promise_state_on(promise=promise, as_of=D(as_of), grace_days=3)
    engine = engine_states(ledger.entity, D(as_of))[promise.pk]
    pausing = selectors.promise_pausing(customer=customer, on=D(as_of))
    assert (app, engine) == (state, state)
    assert (pausing == promise) == (state == "active")

    # What the run writes back is that state; the engine then reads the written status alike.
    services.promise_settle(
        entity=ledger.entity, as_of=D(as_of), policies=selectors.policy_map(entity=ledger.entity)
    )
    written = Promise.objects.get(pk=promise.pk).status
    assert written == {"active": "open"}.get(state, state)
    if written != "kept":  # a kept promise is no longer read by the engine
        assert engine_states(ledger.entity, D(as_of))[promise.pk] == state
