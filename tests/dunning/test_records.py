"""Promises, disputes, plans and holds through their commands and services."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.management.base import CommandError

from relance.cases import selectors as case_selectors
from relance.cases import services as case_services
from relance.cases.models import CustomerHold, Dispute, Installment, PaymentPlan, Promise
from relance.core.actors import SYSTEM
from relance.core.errors import Conflict, ValidationFailed
from relance.dunning import services
from tests.dunning.conftest import D, command, command_json


@pytest.fixture
def ledger(scenario):
    scenario.customer("C1")
    scenario.customer("C2")
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    scenario.invoice("C1", "F2", "500.00", due="2026-04-30")
    scenario.invoice("C2", "G1", "200.00", due="2026-03-31")
    return scenario


def test_promise_defaults_to_every_open_invoice_and_its_open_amount(ledger):
    ledger.pay("C1", "P1", "F1", "300.00", "2026-04-02")
    row = command_json("promise", "add", "--customer", "C1", "--date", "2026-04-20", "--on", "2026-04-05")
    assert row["amount"] == "1200.0000" and row["invoice_refs"] == ["F1", "F2"]
    assert row["status"] == "open" and row["created_on"] == "2026-04-05"
    one = command_json(
        "promise",
        "add",
        "--customer",
        "C1",
        "--date",
        "2026-04-20",
        "--invoice",
        "F2",
        "--amount",
        "100",
        "--on",
        "2026-04-05",
    )
    assert one["amount"] == "100.0000" and one["invoice_refs"] == ["F2"]
    listed = command_json("promise", "list", "--customer", "C1", "--open")
    assert [row["id"] for row in listed] == [row["id"], one["id"]]
    command("promise", "cancel", str(one["id"]))
    assert Promise.objects.get(pk=one["id"]).status == "cancelled"
    with pytest.raises(CommandError, match="is cancelled, not open"):
        command("promise", "keep", str(one["id"]))


def test_promise_refusals(ledger):
    with pytest.raises(
        CommandError,
        match=r"the promised date 2026-04-01 is before the day the promise is made \(2026-04-05\)",
    ):
        command("promise", "add", "--customer", "C1", "--date", "2026-04-01", "--on", "2026-04-05")
    with pytest.raises(CommandError, match="invoice G1 belongs to customer C2, not C1"):
        command(
            "promise",
            "add",
            "--customer",
            "C1",
            "--date",
            "2026-04-20",
            "--invoice",
            "G1",
            "--on",
            "2026-04-05",
        )
    ledger.pay("C2", "P2", "G1", "200.00", "2026-04-02")
    with pytest.raises(CommandError, match="customer C2 has no open invoice on 2026-04-05"):
        command("promise", "add", "--customer", "C2", "--date", "2026-04-20", "--on", "2026-04-05")
    with pytest.raises(CommandError, match="invoice G1 has nothing open on 2026-04-05"):
        command(
            "promise",
            "add",
            "--customer",
            "C2",
            "--date",
            "2026-04-20",
            "--invoice",
            "G1",
            "--on",
            "2026-04-05",
        )
    with pytest.raises(CommandError, match="no invoice 'NOPE'"):
        command("promise", "add", "--customer", "C1", "--date", "2026-04-20", "--invoice", "NOPE")
    assert not Promise.objects.exists()


def test_dispute_open_part_then_rest_then_nothing_left(ledger):
    first = command_json(
        "dispute", "open", "--invoice", "F1", "--reason", "pricing", "--amount", "400", "--on", "2026-04-03"
    )
    assert first["amount"] == "400.0000" and first["status"] == "open"
    rest = command_json("dispute", "open", "--invoice", "F1", "--reason", "quality", "--on", "2026-04-04")
    assert rest["amount"] == "600.0000"
    with pytest.raises(
        CommandError,
        match=r"invoice F1 has 0.0000 open and not already disputed on 2026-04-05; cannot dispute 1",
    ):
        command(
            "dispute", "open", "--invoice", "F1", "--reason", "other", "--amount", "1", "--on", "2026-04-05"
        )
    listed = command_json("dispute", "list")
    assert [row["id"] for row in listed] == [first["id"], rest["id"]]


def test_dispute_resolve(ledger):
    opened = command_json("dispute", "open", "--invoice", "F1", "--reason", "pricing", "--on", "2026-04-03")
    with pytest.raises(
        CommandError, match=r"cannot be resolved \(2026-04-01\) before it was opened \(2026-04-03\)"
    ):
        command("dispute", "resolve", str(opened["id"]), "--resolution", "rejected", "--on", "2026-04-01")
    resolved = command_json(
        "dispute", "resolve", str(opened["id"]), "--resolution", "rejected", "--on", "2026-04-10"
    )
    assert resolved["status"] == "resolved" and resolved["resolved_on"] == "2026-04-10"
    with pytest.raises(CommandError, match="is already resolved"):
        command("dispute", "resolve", str(opened["id"]), "--resolution", "rejected", "--on", "2026-04-11")
    # Once resolved, the amount can be disputed again (a new case).
    again = case_services.dispute_open(
        actor=SYSTEM, invoice=Dispute.objects.get().invoice, reason_code="other", on=D("2026-04-12")
    )
    assert again.amount == Decimal("1000.0000")


def test_dispute_unknown_reason_is_refused(ledger):
    invoice = ledger.customers["C1"].invoices.get(external_ref="F1")
    with pytest.raises(ValidationFailed, match="unknown dispute reason 'angry'"):
        case_services.dispute_open(actor=SYSTEM, invoice=invoice, reason_code="angry", on=D("2026-04-03"))


def test_plan_splits_without_losing_a_cent(ledger):
    ledger.pay("C1", "P1", "F1", "0.01", "2026-04-01")
    plan = command_json(
        "plan",
        "create",
        "--customer",
        "C1",
        "--installments",
        "3",
        "--first",
        "2026-05-01",
        "--every",
        "30",
        "--on",
        "2026-04-10",
    )
    amounts = [Decimal(item["amount"]) for item in plan["installments"]]
    assert amounts == [Decimal("500.00"), Decimal("500.00"), Decimal("499.99")]
    assert sum(amounts) == Decimal("1499.99")
    assert [item["due_date"] for item in plan["installments"]] == ["2026-05-01", "2026-05-31", "2026-06-30"]
    assert plan["invoice_refs"] == ["F1", "F2"]
    with pytest.raises(CommandError, match=r"already has an active payment plan"):
        command(
            "plan",
            "create",
            "--customer",
            "C1",
            "--installments",
            "2",
            "--first",
            "2026-05-01",
            "--on",
            "2026-04-10",
        )
    command("plan", "cancel", "--customer", "C1")
    assert PaymentPlan.objects.get().status == "cancelled"


def test_plan_refusals(ledger):
    with pytest.raises(CommandError, match="a plan needs 1 to 120 installments, not 0"):
        command(
            "plan",
            "create",
            "--customer",
            "C1",
            "--installments",
            "0",
            "--first",
            "2026-05-01",
            "--on",
            "2026-04-10",
        )
    with pytest.raises(
        CommandError, match=r"the first installment \(2026-04-01\) cannot be due before the plan starts"
    ):
        command(
            "plan",
            "create",
            "--customer",
            "C1",
            "--installments",
            "2",
            "--first",
            "2026-04-01",
            "--on",
            "2026-04-10",
        )


def test_installments_are_marked_paid_from_payments_to_the_plan_invoices(ledger):
    customer = ledger.customers["C1"]
    plan = case_services.plan_create(
        actor=SYSTEM,
        customer=customer,
        starts_on=D("2026-04-10"),
        installments=3,
        first_due=D("2026-05-01"),
        total=Decimal("900"),
    )
    ledger.pay("C1", "P1", "F1", "250.00", "2026-04-30")
    ledger.pay("C1", "P2", "F1", "100.00", "2026-05-20")
    assert case_services.plan_installments_settle(entity=ledger.entity, as_of=D("2026-05-10")) == 0
    assert case_services.plan_installments_settle(entity=ledger.entity, as_of=D("2026-05-25")) == 1
    paid = dict(Installment.objects.filter(plan=plan).values_list("sequence", "paid_on"))
    assert paid == {1: D("2026-05-20"), 2: None, 3: None}
    ledger.pay("C1", "P3", "F1", "550.00", "2026-06-01")
    assert case_services.plan_installments_settle(entity=ledger.entity, as_of=D("2026-06-01")) == 2
    plan.refresh_from_db()
    assert plan.status == "completed"


def test_hold_add_list_remove(ledger):
    command(
        "hold",
        "add",
        "--customer",
        "C1",
        "--kind",
        "legal",
        "--reason",
        "lawyer involved",
        "--on",
        "2026-04-01",
    )
    command(
        "hold",
        "add",
        "--customer",
        "C1",
        "--reason",
        "credit review",
        "--on",
        "2026-04-05",
        "--until",
        "2026-04-30",
    )
    on_3 = command_json("hold", "list", "--customer", "C1", "--on", "2026-04-03")
    assert [row["kind"] for row in on_3] == ["legal"]
    on_10 = command_json("hold", "list", "--customer", "C1", "--on", "2026-04-10")
    assert [row["kind"] for row in on_10] == ["legal", "hold"]
    assert "1 hold(s) of C1 lifted from 2026-04-12" in command(
        "hold", "remove", "--customer", "C1", "--kind", "hold", "--on", "2026-04-12"
    )
    assert [
        row["kind"] for row in command_json("hold", "list", "--customer", "C1", "--on", "2026-04-12")
    ] == ["legal"]
    assert CustomerHold.objects.get(kind="hold").ends_on == D("2026-04-11")
    with pytest.raises(CommandError, match="customer C1 has no hold hold in force on 2026-04-13"):
        command("hold", "remove", "--customer", "C1", "--kind", "hold", "--on", "2026-04-13")
    assert (
        case_selectors.hold_list_in_force(customer=ledger.customers["C1"], on=date(2026, 3, 31)).count() == 0
    )


def test_hold_needs_a_reason_and_a_sane_period(ledger):
    customer = ledger.customers["C1"]
    with pytest.raises(ValidationFailed, match="a hold needs a reason"):
        case_services.hold_create(
            actor=SYSTEM, customer=customer, kind="hold", reason=" ", starts_on=D("2026-04-01")
        )
    with pytest.raises(ValidationFailed, match=r"a hold cannot end \(2026-03-01\) before it starts"):
        case_services.hold_create(
            actor=SYSTEM,
            customer=customer,
            kind="hold",
            reason="x",
            starts_on=D("2026-04-01"),
            ends_on=D("2026-03-01"),
        )


def test_plan_conflict_is_a_conflict(ledger):
    customer = ledger.customers["C2"]
    case_services.plan_create(
        actor=SYSTEM, customer=customer, starts_on=D("2026-04-01"), installments=1, first_due=D("2026-04-15")
    )
    with pytest.raises(Conflict):
        case_services.plan_create(
            actor=SYSTEM,
            customer=customer,
            starts_on=D("2026-04-01"),
            installments=1,
            first_due=D("2026-04-15"),
        )


@pytest.mark.parametrize(
    ("timezone", "today"),
    [("UTC", "2026-04-01"), ("Pacific/Auckland", "2026-04-02"), ("America/Los_Angeles", "2026-04-01")],
)
def test_today_is_the_entitys_business_day(ledger, monkeypatch, timezone, today):
    """At 11:30 UTC on 1 April it is already 2 April in Auckland: records made without --on say so."""
    from datetime import UTC, datetime

    from relance.core.clock import FrozenClock
    from relance.dunning import cli

    monkeypatch.setattr(cli, "CLOCK", FrozenClock(datetime(2026, 4, 1, 11, 30, tzinfo=UTC)))
    ledger.entity.timezone = timezone
    ledger.entity.save()
    row = command_json("promise", "add", "--customer", "C1", "--date", "2026-04-20")
    assert row["created_on"] == today
    hold_out = command("hold", "add", "--customer", "C2", "--reason", "x")
    assert f"from {today}" in hold_out


def test_promise_settle_marks_kept_only_when_paid_by_date_plus_grace(ledger):
    from relance.dunning.selectors import policy_map

    customer = ledger.customers["C1"]
    on_time = case_services.promise_add(
        actor=SYSTEM,
        customer=customer,
        promised_date=D("2026-04-20"),
        on=D("2026-04-05"),
        invoices=[customer.invoices.get(external_ref="F1")],
    )
    late = case_services.promise_add(
        actor=SYSTEM,
        customer=customer,
        promised_date=D("2026-04-20"),
        on=D("2026-04-05"),
        invoices=[customer.invoices.get(external_ref="F2")],
    )
    loose = case_services.promise_add(
        actor=SYSTEM,
        customer=ledger.customers["C2"],
        promised_date=D("2026-04-20"),
        on=D("2026-04-05"),
        amount=Decimal("150"),
    )
    loose.invoices.clear()  # a promise of an amount only (as the portal may record one)
    ledger.pay("C1", "P1", "F1", "1000.00", "2026-04-23")  # the last day of the 3 days' grace
    ledger.pay("C1", "P2", "F2", "500.00", "2026-04-24")  # one day too late
    ledger.pay("C2", "P3", "G1", "150.00", "2026-04-10")  # no invoices promised: payments count
    policies = policy_map(entity=ledger.entity)
    assert services.promise_settle(entity=ledger.entity, as_of=D("2026-04-22"), policies=policies) == 1
    # 2026-05-01: the first is kept; the second was paid a day after its date plus grace: broken.
    assert services.promise_settle(entity=ledger.entity, as_of=D("2026-05-01"), policies=policies) == 2
    statuses = {promise.pk: promise.status for promise in Promise.objects.all()}
    assert statuses == {on_time.pk: "kept", late.pk: "broken", loose.pk: "kept"}
