"""The owed amount has two computations: the engine's ``amount_due`` (SQL, for the whole ledger at
once: what the policy's conditions and the action see) and ``dunning.selectors.owed_summary``
(Python, one customer at send time: what the message, the portal and the PDF say). Both apply one
per-invoice rule — open amount on the date less the part under dispute, never below zero — so on
every action of a varied run they must give the same figure, or a customer is told one amount
and chased for another.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from relance.cases.services import dispute_open
from relance.core.actors import SYSTEM
from relance.demo.loader import ledger_load
from relance.dunning.models import DunningAction
from relance.dunning.selectors import owed_summary
from relance.dunning.services import policy_install_shipped, run_start
from relance.ledger.selectors import STILL_OWED, invoice_list_with_open
from relance.synthetic.generator import GeneratorConfig, generate_ledger

END = date(2026, 11, 23)
# A seed with subsidiaries, part payments, credit notes and unapplied cash.
VARIED = GeneratorConfig(seed=24, customers=60, months=12, end=END)

pytestmark = pytest.mark.django_db


def _disputes(entity, on: date) -> int:
    """Dispute a quarter of the open invoices: half of them wholly, half in part."""
    rng = random.Random(5)
    open_invoices = list(
        invoice_list_with_open(entity=entity, as_of=on).filter(open_amount__gt=STILL_OWED).order_by("pk")
    )
    chosen = rng.sample(open_invoices, k=len(open_invoices) // 4)
    for number, invoice in enumerate(chosen):
        whole = number % 2 == 0
        amount = invoice.open_amount if whole else (invoice.open_amount / 3).quantize(Decimal("0.01"))
        dispute_open(
            invoice=invoice,
            reason_code="pricing",
            on=max(invoice.issue_date, on - timedelta(days=rng.randint(0, 20))),
            amount=amount,
            actor=SYSTEM,
        )
    return len(chosen)


def test_every_action_asks_for_what_the_send_time_rule_says_is_owed(entity) -> None:
    ledger_load(ledger=generate_ledger(VARIED), entity=entity)
    disputed = _disputes(entity, END)
    policy_install_shipped(entity=entity)

    outcome = run_start(entity=entity, as_of=END)

    actions = list(
        DunningAction.objects.filter(run=outcome.run).select_related("customer").prefetch_related("invoices")
    )
    assert disputed > 10 and len(actions) > 20, "the run is not varied enough to compare anything"
    disagreements = []
    for action in actions:
        invoice_ids = [invoice.pk for invoice in action.invoices.all()]
        summary = owed_summary(customer=action.customer, as_of=END, invoice_ids=invoice_ids)
        owed = sum(
            (line.owed for line in summary.lines if line.currency == action.currency),
            Decimal(0),
        )
        if owed != action.amount_due:
            disagreements.append((action.customer.external_ref, action.step_key, action.amount_due, owed))
    assert disagreements == []
