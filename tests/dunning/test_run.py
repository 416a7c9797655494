"""``relance run``: one transaction, one run per entity and date, forward only, never two at a time.

The apply step is tested with a recorded ``decide`` (a fixed engine answer), so that what the
app writes is checked independently of the engine's rules; the scenarios use the real engine.
"""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest
from django.core.management.base import CommandError

from relance.cases import services as case_services
from relance.core.actors import SYSTEM
from relance.core.errors import Conflict, ValidationFailed
from relance.dunning import selectors, services
from relance.dunning.models import (
    DunningAction,
    DunningRun,
    InvoiceStep,
    Suppression,
    WorklistEntry,
)
from relance.engine.dunning.contract import (
    DECISION_COLUMNS,
    INVOICE_STEP_COLUMNS,
    SUPPRESSED_COLUMNS,
    WORKLIST_COLUMNS,
    Decisions,
)
from tests.dunning.conftest import D, command, command_json


def table(columns, rows):
    return pa.Table.from_pylist(rows, schema=pa.schema(list(columns.items())))


def recorded(customer, invoices, calls):
    """A ``decide`` that answers one grouped overdue reminder for ``invoices``, and records its calls."""

    def decide(tables, policies, *, as_of, backend=None, run_at=None):
        calls.append((as_of, sorted(policies)))
        ids = [invoice.pk for invoice in invoices]
        decision = {
            "decision_id": 1,
            "customer_id": customer.pk,
            "entity_id": customer.entity_id,
            "currency": "EUR",
            "policy_key": "standard",
            "kind": "overdue",
            "step_key": "reminder_2",
            "step_index": 2,
            "offset_days": 15,
            "action": "message",
            "channel": "email",
            "channels": ["email", "letter"],
            "tone": "neutral",
            "template_key": "overdue_neutral",
            "invoice_ids": ids,
            "invoice_count": len(invoices),
            "amount_due": Decimal("1500.0000"),
            "max_days_past_due": 20,
            "broken_promise": False,
            "catch_up": True,
            "reasons": [{"code": "step_due", "detail": "d"}, {"code": "catch_up", "detail": "c"}],
        }
        steps = [
            {
                "invoice_id": invoice.pk,
                "decision_id": 1,
                "step_key": "reminder_2",
                "step_index": 2,
                "reached_on": as_of,
            }
            for invoice in invoices
        ]
        suppressed = [{"customer_id": customer.pk, "invoice_id": None, "reason": "cadence", "detail": "x"}]
        worklist = [
            {
                "customer_id": customer.pk,
                "currency": "EUR",
                "priority": 42.5,
                "overdue_amount": Decimal("1500.0000"),
                "max_days_past_due": 20,
                "risk": "",
                "broken_promises": 0,
                "days_since_contact": None,
                "factors": {
                    "overdue_amount": {"value": Decimal("1500.0000"), "points": 30},
                    "days_past_due": {"value": 20, "points": 3.33},
                    "risk": {"value": "", "points": 0},
                    "broken_promises": {"value": 0, "points": 0},
                    "days_since_contact": {"value": None, "points": 10},
                },
            }
        ]
        return Decisions(
            as_of=as_of,
            decisions=table(DECISION_COLUMNS, [decision]),
            invoice_steps=table(INVOICE_STEP_COLUMNS, steps),
            suppressed=table(SUPPRESSED_COLUMNS, suppressed),
            worklist=table(WORKLIST_COLUMNS, worklist),
        )

    return decide


@pytest.fixture
def two_invoices(scenario):
    customer = scenario.customer("C1")
    invoices = [
        scenario.invoice("C1", "F1", "1000.00", due="2026-03-31"),
        scenario.invoice("C1", "F2", "500.00", due="2026-04-10"),
    ]
    return scenario, customer, invoices


def test_apply_writes_the_run_its_actions_steps_suppressions_and_worklist(two_invoices):
    scenario, customer, invoices = two_invoices
    calls: list[object] = []
    outcome = services.run_start(
        entity=scenario.entity, as_of=D("2026-04-20"), decide_fn=recorded(customer, invoices, calls)
    )
    assert calls == [(D("2026-04-20"), ["high_risk", "standard", "white_glove"])]
    assert outcome.created and outcome.run is not None
    [action] = DunningAction.objects.all()
    assert (action.customer, action.on, action.step_key, action.channel, action.is_contact) == (
        customer,
        D("2026-04-20"),
        "reminder_2",
        "email",
        True,
    )
    assert action.catch_up and action.amount_due == Decimal("1500") and action.status == "queued"
    assert sorted(action.invoices.values_list("external_ref", flat=True)) == ["F1", "F2"]
    assert [code["code"] for code in action.reasons] == ["step_due", "catch_up"]
    assert InvoiceStep.objects.filter(action=action, step_key="reminder_2").count() == 2
    assert Suppression.objects.get().reason == "cadence"
    assert WorklistEntry.objects.get().factors["overdue_amount"]["points"] == 30
    assert outcome.counts == {
        "decisions": 1,
        "actions": {"message": 1},
        "contacts": 1,
        "invoices_advanced": 2,
        "suppressed": {"cadence": 1},
        "worklist": 1,
    }
    [decision] = outcome.decisions
    assert decision["customer_ref"] == "C1" and decision["invoice_refs"] == ["F1", "F2"]
    assert decision["step"] == "reminder_2" and decision["offset_days"] == 15
    assert decision["amount_due"] == "1500.0000" and decision["catch_up"] is True
    # What the run stored reads back as what it decided.
    assert selectors.run_decisions(run=outcome.run) == outcome.decisions


def test_a_second_run_of_the_same_date_adds_nothing_and_does_not_decide_again(two_invoices):
    scenario, customer, invoices = two_invoices
    calls: list[object] = []
    decide = recorded(customer, invoices, calls)
    first = services.run_start(entity=scenario.entity, as_of=D("2026-04-20"), decide_fn=decide)
    second = services.run_start(entity=scenario.entity, as_of=D("2026-04-20"), decide_fn=decide)
    assert len(calls) == 1
    assert not second.created and second.run == first.run
    assert second.decisions == first.decisions
    assert (DunningRun.objects.count(), DunningAction.objects.count(), InvoiceStep.objects.count()) == (
        1,
        1,
        2,
    )


def test_runs_move_forward_only(two_invoices):
    scenario, customer, invoices = two_invoices
    decide = recorded(customer, invoices, [])
    services.run_start(entity=scenario.entity, as_of=D("2026-04-20"), decide_fn=decide)
    with pytest.raises(
        Conflict, match="was already run for 2026-04-20: runs move forward, so 2026-04-19 cannot"
    ):
        services.run_start(entity=scenario.entity, as_of=D("2026-04-19"), decide_fn=decide)


def test_dry_run_writes_nothing_even_installments(two_invoices):
    scenario, customer, invoices = two_invoices
    plan = case_services.plan_create(
        actor=SYSTEM, customer=customer, starts_on=D("2026-04-01"), installments=1, first_due=D("2026-04-15")
    )
    scenario.pay("C1", "P1", "F1", "1000.00", "2026-04-12")
    scenario.pay("C1", "P2", "F2", "500.00", "2026-04-12")
    outcome = services.run_start(
        entity=scenario.entity,
        as_of=D("2026-04-20"),
        dry_run=True,
        decide_fn=recorded(customer, invoices, []),
    )
    assert outcome.run is None and outcome.dry_run and len(outcome.decisions) == 1
    assert not DunningRun.objects.exists() and not DunningAction.objects.exists()
    assert plan.installments.get().paid_on is None
    services.run_start(
        entity=scenario.entity, as_of=D("2026-04-20"), decide_fn=recorded(customer, invoices, [])
    )
    assert plan.installments.get().paid_on == D("2026-04-12")


def test_no_policy_is_refused_clearly(entity):
    with pytest.raises(ValidationFailed, match=r"entity acme has no dunning policy: import one"):
        services.run_start(entity=entity, as_of=D("2026-04-20"))
    with pytest.raises(CommandError, match="has no dunning policy"):
        command("run", "--as-of", "2026-04-20")


def test_run_command_json_and_table(scenario):
    scenario.customer("C1")
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    dry = command_json("run", "--as-of", "2026-03-26", "--dry-run")
    assert dry["status"] == "dry_run" and dry["run_id"] is None
    [decision] = dry["decisions"]
    assert {
        key: decision[key]
        for key in ("customer_ref", "action", "step", "offset_days", "channel", "invoice_refs", "amount_due")
    } == {
        "customer_ref": "C1",
        "action": "message",
        "step": "pre_due",
        "offset_days": -5,
        "channel": "email",
        "invoice_refs": ["F1"],
        "amount_due": "1000.0000",
    }
    assert decision["reasons"][0]["code"] == "step_due"
    text = command("run", "--as-of", "2026-03-26")
    assert "Run" in text and "applied" in text and "pre_due" in text and "F1" in text
    again = command("run", "--as-of", "2026-03-26")
    assert "Already run for this date: nothing added" in again and "pre_due" in again
    assert command_json("run", "--as-of", "2026-03-26")["status"] == "already_applied"


def test_worklist_reads_the_latest_run_and_filters_by_collector(two_invoices, django_user_model):
    scenario, customer, invoices = two_invoices
    with pytest.raises(CommandError, match="has no dunning run yet"):
        command("worklist")
    anna = django_user_model.objects.create_user(username="anna", email="Anna@example.com")
    customer.collector = anna
    customer.save()
    services.run_start(
        entity=scenario.entity, as_of=D("2026-04-20"), decide_fn=recorded(customer, invoices, [])
    )
    payload = command_json("worklist", "--collector", "anna@example.com")
    assert payload["as_of"] == "2026-04-20"
    [row] = payload["rows"]
    assert row["customer_ref"] == "C1" and row["priority"] == 42.5 and row["collector"] == "Anna@example.com"
    assert row["days_since_contact"] is None and row["factors"]["overdue_amount"]["points"] == 30
    assert command_json("worklist", "--collector", "bob@example.com")["rows"] == []
    text = command("worklist")
    assert "42.5" in text and "C1" in text and "never" in text


@pytest.mark.django_db(transaction=True)
def test_a_second_concurrent_run_refuses(entity, make_customer, make_invoice):
    """While one run holds the entity's lock, another (any date) refuses, clearly.

    PostgreSQL: the lock row is locked FOR UPDATE NOWAIT. SQLite: the lock row's write takes the
    database's write lock, and the second writer fails ("database is locked") after the busy
    timeout.
    """
    from django.db import connections

    command("policy", "import", "--defaults")
    command("policy", "assign", "standard", "--default")
    customer = make_customer("C1")
    invoices = [make_invoice(customer, "F1", "100", date(2026, 3, 1), date(2026, 3, 31))]
    inside, release, errors = threading.Event(), threading.Event(), []

    def slow_decide(tables, policies, *, as_of, backend=None, run_at=None):
        inside.set()
        release.wait(10)
        return recorded(customer, invoices, [])(tables, policies, as_of=as_of, backend=backend)

    def first_run():
        try:
            services.run_start(entity=entity, as_of=D("2026-04-20"), decide_fn=slow_decide)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=first_run)
    thread.start()
    try:
        assert inside.wait(10)
        with pytest.raises(Conflict, match="another dunning run of entity acme is in progress"):
            services.run_start(
                entity=entity, as_of=D("2026-04-21"), decide_fn=recorded(customer, invoices, [])
            )
    finally:
        release.set()
        thread.join(20)
    assert errors == [] and DunningRun.objects.get().as_of == D("2026-04-20")
    # Once the first has finished, the next one runs.
    services.run_start(entity=entity, as_of=D("2026-04-21"), decide_fn=recorded(customer, invoices, []))
    assert DunningRun.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_engine_runs_inside_the_runs_transaction(entity, make_customer, make_invoice):
    """The engine's temporary tables must not commit the run halfway (Ibis's SQLite ``begin()``
    commits by default): a failure after decide leaves nothing behind, lock row update included."""
    from django.db import transaction

    from relance.dunning.models import DunningLock

    command("policy", "import", "--defaults")
    command("policy", "assign", "standard", "--default")
    customer = make_customer("C1")
    from relance.ledger.models import Contact

    Contact.objects.create(customer=customer, email="ap@example.com")
    make_invoice(customer, "F1", "1000", date(2026, 3, 1), date(2026, 3, 31))
    DunningLock.objects.create(entity=entity)

    class Failure(Exception):
        pass

    with pytest.raises(Failure), transaction.atomic():  # noqa: PT012  (a failure after the run, inside its transaction)
        outcome = services.run_start(entity=entity, as_of=D("2026-03-26"))
        assert len(outcome.decisions) == 1
        raise Failure
    assert not DunningRun.objects.exists() and not DunningAction.objects.exists()
    assert DunningLock.objects.get(entity=entity).locked_at is None


def test_the_run_command_queues_its_messages_once(scenario):
    from relance.delivery.models import OutboundMessage

    customer = scenario.customer("C1")
    [billing_email] = [contact.email for contact in customer.contacts.all() if contact.email]
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    first = command_json("run", "--as-of", "2026-03-26")
    assert first["queued"]["created"] == 1 and first["queued"]["by_channel"] == {"email": 1}
    message = OutboundMessage.objects.get()
    assert (message.recipient, message.template_key, message.status) == (
        billing_email,
        "pre_due_friendly",
        "queued",
    )
    assert "F1" in message.body_text
    again = command_json("run", "--as-of", "2026-03-26")
    assert again["queued"]["created"] == 0 and again["queued"]["existing"] == 1
    assert OutboundMessage.objects.count() == 1
    assert command_json("run", "--as-of", "2026-03-27", "--no-queue")["queued"] is None
