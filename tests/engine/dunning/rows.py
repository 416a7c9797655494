"""Ledger plus dunning rows built in Python, for loading into any backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from tests.engine.ledgers import LedgerRows

ALL_CHANNELS = ("email", "sms", "letter", "call")


@dataclass
class DunningRows(LedgerRows):
    """``LedgerRows`` plus promises, disputes, plans, holds, channels, history and steps."""

    promises: list[dict[str, Any]] = field(default_factory=list)
    promise_invoices: list[dict[str, Any]] = field(default_factory=list)
    disputes: list[dict[str, Any]] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)
    plan_installments: list[dict[str, Any]] = field(default_factory=list)
    holds: list[dict[str, Any]] = field(default_factory=list)
    customer_channels: list[dict[str, Any]] = field(default_factory=list)
    contact_history: list[dict[str, Any]] = field(default_factory=list)
    invoice_steps: list[dict[str, Any]] = field(default_factory=list)
    customer_policy: list[dict[str, Any]] = field(default_factory=list)
    customer_profile: list[dict[str, Any]] = field(default_factory=list)
    customer_calendar: list[dict[str, Any]] = field(default_factory=list)
    customer_attributes: list[dict[str, Any]] = field(default_factory=list)

    def dunned_customer(
        self,
        ref: str,
        *,
        policy: str | None = "standard",
        channels: tuple[str, ...] = ALL_CHANNELS,
        risk: str = "",
        segment: str = "",
        credit_limit: str | None = None,
    ) -> int:
        customer_id = self.customer(ref, segment=segment)
        if policy is not None:
            self.customer_policy.append({"customer_id": customer_id, "policy_key": policy})
        for channel in channels:
            self.customer_channels.append({"customer_id": customer_id, "channel": channel})
        if risk or credit_limit is not None:
            self.customer_profile.append(
                {
                    "customer_id": customer_id,
                    "risk": risk,
                    "credit_limit": None if credit_limit is None else Decimal(credit_limit),
                }
            )
        return customer_id

    def promise(
        self,
        customer: int,
        promised: date,
        *,
        made: date,
        amount: str | int = 0,
        invoices: tuple[int, ...] = (),
    ) -> int:
        promise_id = len(self.promises) + 1
        self.promises.append(
            {
                "promise_id": promise_id,
                "customer_id": customer,
                "created_on": made,
                "promised_date": promised,
                "amount": Decimal(amount),
                "status": "open",
            }
        )
        for invoice in invoices:
            self.promise_invoices.append({"promise_id": promise_id, "invoice_id": invoice})
        return promise_id

    def dispute(
        self,
        invoice: int,
        amount: str | int,
        *,
        opened: date,
        resolved: date | None = None,
        customer: int = 1,
    ) -> None:
        self.disputes.append(
            {
                "dispute_id": len(self.disputes) + 1,
                "invoice_id": invoice,
                "customer_id": customer,
                "amount": Decimal(amount),
                "reason_code": "pricing",
                "opened_on": opened,
                "resolved_on": resolved,
            }
        )

    def plan(
        self, customer: int, starts: date, installments: list[tuple[date, str | int, date | None]]
    ) -> int:
        plan_id = len(self.plans) + 1
        self.plans.append(
            {
                "plan_id": plan_id,
                "customer_id": customer,
                "starts_on": starts,
                "status": "active",
                "currency": "EUR",
            }
        )
        for sequence, (due, amount, paid) in enumerate(installments, start=1):
            self.plan_installments.append(
                {
                    "plan_id": plan_id,
                    "sequence": sequence,
                    "due_date": due,
                    "amount": Decimal(amount),
                    "paid_on": paid,
                }
            )
        return plan_id

    def hold(self, customer: int, kind: str, starts: date, ends: date | None = None) -> None:
        self.holds.append(
            {"customer_id": customer, "kind": kind, "reason": "test", "starts_on": starts, "ends_on": ends}
        )

    def contacted(
        self, customer: int, on: date, step_key: str, channel: str = "email", *, contact: bool = True
    ) -> None:
        self.contact_history.append(
            {
                "customer_id": customer,
                "date": on,
                "step_key": step_key,
                "channel": channel,
                "is_contact": contact,
            }
        )

    def reached(self, invoice: int, step_key: str, step_index: int, on: date) -> None:
        self.invoice_steps.append(
            {"invoice_id": invoice, "step_key": step_key, "step_index": step_index, "reached_on": on}
        )

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        rows = super().rows()
        for name in (
            "promises",
            "promise_invoices",
            "disputes",
            "plans",
            "plan_installments",
            "holds",
            "customer_channels",
            "contact_history",
            "invoice_steps",
            "customer_policy",
            "customer_profile",
            "customer_calendar",
            "customer_attributes",
        ):
            rows[name] = getattr(self, name)
        return rows
