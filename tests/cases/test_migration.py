"""The case models moved from ``dunning`` to ``cases`` with their rows (dunning.0013, cases.0001).

A database at the state before the split is filled through the historical models, migrated
forward, and read back through today's models: every row, link and permission is still there.
Runs on SQLite, and on PostgreSQL when ``DATABASE_URL`` points to it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE_SPLIT = [
    ("dunning", "0012_policyversion_author_comment"),
    ("portal", "0001_initial"),
    ("workspace", "0003_saved_view"),
    ("cases", None),
]
MOVED = ("promise", "dispute", "paymentplan", "installment", "customerhold", "contactlog", "credithold")


def _migrate(targets: list[tuple[str, str | None]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    loader = MigrationExecutor(connection).loader  # read again: what is applied now
    return loader.project_state(list(loader.applied_migrations)).apps


def _leaf_nodes() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_rows_made_before_the_split_are_read_by_the_cases_models(make_customer, make_invoice):
    customer = make_customer("C1")
    invoice = make_invoice(customer, "F1", "1200.00", date(2026, 1, 1), date(2026, 1, 31))
    old = _migrate(BEFORE_SPLIT)
    assert "promise" not in old.all_models["cases"]

    user = old.get_model("auth", "User").objects.create(username="collector")
    promise = old.get_model("dunning", "Promise").objects.create(
        entity_id=customer.entity_id,
        customer_id=customer.pk,
        created_on=date(2026, 2, 1),
        promised_date=date(2026, 2, 15),
        amount=Decimal("1200"),
        currency="EUR",
        created_by=user,
    )
    promise.invoices.set([invoice.pk])
    dispute = old.get_model("dunning", "Dispute").objects.create(
        entity_id=customer.entity_id,
        customer_id=customer.pk,
        invoice_id=invoice.pk,
        amount=Decimal("200"),
        reason_code="pricing",
        opened_on=date(2026, 2, 2),
    )
    plan = old.get_model("dunning", "PaymentPlan").objects.create(
        entity_id=customer.entity_id, customer_id=customer.pk, starts_on=date(2026, 2, 3), currency="EUR"
    )
    plan.invoices.set([invoice.pk])
    old.get_model("dunning", "Installment").objects.create(
        plan=plan, sequence=1, due_date=date(2026, 3, 3), amount=Decimal("600")
    )
    hold = old.get_model("dunning", "CustomerHold").objects.create(
        entity_id=customer.entity_id,
        customer_id=customer.pk,
        kind="legal",
        reason="lawyer's letter",
        starts_on=date(2026, 2, 4),
    )
    old.get_model("dunning", "ContactLog").objects.create(
        entity_id=customer.entity_id, customer_id=customer.pk, on=date(2026, 2, 5), channel="call"
    )
    old.get_model("dunning", "CreditHold").objects.create(
        entity_id=customer.entity_id, customer_id=customer.pk, placed_on=date(2026, 2, 6)
    )
    hand_off = old.get_model("dunning", "ExternalCollection").objects.create(
        entity_id=customer.entity_id,
        customer_id=customer.pk,
        handed_on=date(2026, 2, 7),
        amount=Decimal("1000"),
        currency="EUR",
        status_changed_on=date(2026, 2, 7),
    )
    hand_off.invoices.set([invoice.pk])
    old.get_model("portal", "DisputeCase").objects.create(dispute=dispute, sla_due_on=date(2026, 2, 9))
    old.get_model("workspace", "DisputeAssignment").objects.create(
        dispute=dispute, owner=user, assigned_at="2026-02-02T09:00:00Z"
    )
    old.get_model("audit", "AuditEvent").objects.create(
        at="2026-02-04T10:00:00Z", action="create", object_type="dunning.customerhold", object_id=str(hold.pk)
    )
    content_type = old.get_model("contenttypes", "ContentType")
    permission = old.get_model("auth", "Permission").objects.get(
        codename="add_customerhold", content_type__app_label="dunning"
    )
    user.user_permissions.add(permission)

    _migrate(_leaf_nodes())

    from django.contrib.auth.models import User
    from django.contrib.contenttypes.models import ContentType

    from relance.audit.models import AuditEvent
    from relance.cases.models import (
        ContactLog,
        CreditHold,
        CustomerHold,
        Dispute,
        ExternalCollection,
        PaymentPlan,
        Promise,
    )

    promise_now = Promise.objects.get(pk=promise.pk)
    assert (promise_now.amount, promise_now.created_by.username) == (Decimal("1200"), "collector")
    assert list(promise_now.invoices.values_list("external_ref", flat=True)) == ["F1"]
    dispute_now = Dispute.objects.get(pk=dispute.pk)
    assert (
        dispute_now.portal_case is not None and dispute_now.workspace_assignment.owner.username == "collector"
    )
    plan_now = PaymentPlan.objects.get(pk=plan.pk)
    assert [item.amount for item in plan_now.installments.all()] == [Decimal("600")]
    assert plan_now.invoices.count() == 1
    assert CustomerHold.objects.get(pk=hold.pk).reason == "lawyer's letter"
    assert ContactLog.objects.filter(customer=customer).count() == 1
    assert CreditHold.objects.filter(customer=customer).count() == 1
    assert ExternalCollection.objects.get(pk=hand_off.pk).invoices.count() == 1
    assert AuditEvent.objects.filter(object_type="cases.customerhold", object_id=str(hold.pk)).exists()
    assert not AuditEvent.objects.filter(object_type__startswith="dunning.customerhold").exists()
    assert not ContentType.objects.filter(app_label="dunning", model__in=MOVED).exists()
    assert content_type.objects.filter(app_label="cases", model__in=MOVED).count() == len(MOVED)
    assert User.objects.get(username="collector").has_perm("cases.add_customerhold")
