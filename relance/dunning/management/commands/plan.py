"""``relance plan create|show|cancel``: payment plans, which replace dunning by installment reminders."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.cases import selectors as case_selectors
from relance.cases import services as case_services
from relance.cases.models import PaymentPlan
from relance.core.actors import Actor
from relance.core.errors import RelanceError
from relance.dunning import cli
from relance.ledger.models import Entity


def _row(plan: PaymentPlan) -> dict[str, Any]:
    return {
        "id": plan.pk,
        "customer_ref": plan.customer.external_ref,
        "starts_on": plan.starts_on.isoformat(),
        "status": plan.status,
        "currency": plan.currency,
        "invoice_refs": sorted(invoice.external_ref for invoice in plan.invoices.all()),
        "installments": [
            {
                "sequence": item.sequence,
                "due_date": item.due_date.isoformat(),
                "amount": str(item.amount),
                "paid_on": item.paid_on.isoformat() if item.paid_on else None,
            }
            for item in plan.installments.order_by("sequence")
        ],
    }


class Command(BaseCommand):
    help = (
        "Create a payment plan for a customer (equal installments; while it is active, dunning "
        "sends installment reminders instead of steps), show the active plan, or cancel it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{create,show,cancel}")
        create = actions.add_parser("create", help="create a plan")
        cli.add_entity(create)
        create.add_argument("--customer", required=True, metavar="REF", help="Customer's external reference")
        create.add_argument(
            "--installments", required=True, type=int, metavar="N", help="Number of installments"
        )
        create.add_argument(
            "--first", required=True, metavar="DATE", help="Due date of the first installment"
        )
        create.add_argument(
            "--every", type=int, default=30, metavar="DAYS", help="Days between installments (30)"
        )
        create.add_argument(
            "--invoice",
            action="append",
            metavar="REF",
            help="Invoice covered (repeat; default: every open invoice of the customer)",
        )
        create.add_argument("--total", help="Total to pay (default: the open amount of the invoices covered)")
        create.add_argument("--note", default="", help="Free text kept with the plan")
        cli.add_on(create, "Day the plan starts")
        create.add_argument("--json", action="store_true", help="Print the plan as JSON")
        for name, text in (("show", "show the customer's active plan"), ("cancel", "cancel the active plan")):
            sub = actions.add_parser(name, help=text)
            cli.add_entity(sub)
            sub.add_argument("--customer", required=True, metavar="REF", help="Customer's external reference")
            sub.add_argument("--json", action="store_true", help="Print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        entity = cli.entity(options)
        customer = cli.customer(entity, options["customer"])
        try:
            if options["action"] == "create":
                plan = case_services.plan_create(
                    actor=Actor.cli(),
                    customer=customer,
                    starts_on=cli.business_day(options, entity),
                    installments=options["installments"],
                    first_due=cli.parse_date(options["first"]),
                    every_days=options["every"],
                    invoices=cli.invoices(entity, options["invoice"]),
                    total=cli.parse_money(options["total"]),
                    note=options["note"],
                )
                self._show(plan, options["json"], "Plan created", entity)
                return
            active = case_selectors.plan_active(customer=customer)
            if active is None:
                raise CommandError(f"customer {customer.external_ref} has no active payment plan")
            if options["action"] == "cancel":
                active = case_services.plan_cancel(actor=Actor.cli(), plan=active)
                self._show(active, options["json"], "Plan cancelled", entity)
            else:
                self._show(active, options["json"], "Active plan", entity)
        except RelanceError as exc:
            raise CommandError(exc.message) from None

    def _show(self, plan: PaymentPlan, as_json: bool, title: str, entity: Entity) -> None:
        row = _row(plan)
        if as_json:
            self.stdout.write(json.dumps(row, indent=2))
            return
        self.stdout.write(
            f"{title}: #{row['id']} for {row['customer_ref']} from {cli.day(plan.starts_on, entity)} "
            f"({row['status']}), "
            f"invoices {', '.join(row['invoice_refs'])}"
        )
        for item in plan.installments.order_by("sequence"):
            paid = f" paid {cli.day(item.paid_on, entity)}" if item.paid_on else ""
            amount = cli.money(item.amount, plan.currency, entity)
            self.stdout.write(f"  {item.sequence:>3}. {cli.day(item.due_date, entity)}  {amount}{paid}")
