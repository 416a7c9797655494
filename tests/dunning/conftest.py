"""Scenario helpers: a customer with contacts and invoices, the shipped policies, runs by command."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command

D = date.fromisoformat


def command(name: str, *args: str, **options: Any) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def command_json(name: str, *args: str) -> Any:
    return json.loads(command(name, *args, "--json"))


@dataclass
class Scenario:
    """One entity with the shipped policies (``standard`` by default) and helpers to drive it."""

    entity: Any
    make_customer: Any
    make_invoice: Any
    make_payment: Any
    customers: dict[str, Any] = field(default_factory=dict)

    def customer(
        self, ref: str = "C1", *, email: str = "ap@example.com", address: str = "1 rue X", **fields: Any
    ) -> Any:
        from relance.ledger.models import Contact

        customer = self.make_customer(ref, **fields)
        Contact.objects.create(customer=customer, email=email, postal_address=address, phone="+33612345678")
        self.customers[ref] = customer
        return customer

    def invoice(
        self, customer_ref: str, ref: str, amount: str, *, due: str, issued: str | None = None
    ) -> Any:
        due_date = D(due)
        issue = D(issued) if issued else due_date - timedelta(days=30)
        return self.make_invoice(self.customers[customer_ref], ref, amount, issue, due_date)

    def pay(self, customer_ref: str, ref: str, invoice_ref: str, amount: str, on: str) -> None:
        from relance.ledger.models import Invoice
        from relance.ledger.services import allocation_create

        payment = self.make_payment(self.customers[customer_ref], ref, amount, D(on))
        invoice = Invoice.objects.get(entity=self.entity, external_ref=invoice_ref)
        allocation_create(invoice=invoice, payment=payment, amount=Decimal(amount), on=D(on))

    def run(self, as_of: str, *extra: str) -> dict[str, Any]:
        result: dict[str, Any] = command_json("run", "--as-of", as_of, *extra)
        return result

    def days(self, start: str, end: str) -> dict[str, list[tuple[str, str, str, str]]]:
        """Run every day from ``start`` to ``end``; the days something happened → (customer, action, step, channel)."""
        happened = {}
        day = D(start)
        while day <= D(end):
            decisions = self.run(day.isoformat())["decisions"]
            if decisions:
                happened[day.isoformat()] = [
                    (row["customer_ref"], row["action"], row["step"], row["channel"] or "")
                    for row in decisions
                ]
            day += timedelta(days=1)
        return happened


@pytest.fixture
def scenario(entity, make_customer, make_invoice, make_payment) -> Scenario:
    command("policy", "import", "--defaults")
    command("policy", "assign", "standard", "--default")
    return Scenario(entity, make_customer, make_invoice, make_payment)


def decided(result: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """A run's decisions as readable rows: (customer, action, step, channel, invoices, amount due)."""
    return [
        (
            row["customer_ref"],
            row["action"],
            row["step"],
            row["channel"] or "",
            " ".join(row["invoice_refs"]),
            row["amount_due"].rstrip("0").rstrip("."),
        )
        for row in result["decisions"]
    ]


def walk(scenario: Scenario, table: list[tuple[str, list[tuple[str, ...]]]]) -> dict[str, dict[str, Any]]:
    """Run each day of ``table`` in order and compare what was decided with the expected rows.

    Every difference is reported at once, by day. Returns each day's run output.
    """
    outputs, differences = {}, []
    for day, expected in table:
        outputs[day] = scenario.run(day)
        got = decided(outputs[day])
        if got != list(expected):
            differences.append(f"{day}: expected {list(expected)}, got {got}")
    assert not differences, "\n".join(differences)
    return outputs
