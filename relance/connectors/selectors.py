"""Reads of the connectors: a connector by entity and source, and what must be pushed to the ERP."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from relance.cases.models import CustomerHold, Dispute, DisputeStatus, Promise
from relance.connectors.adapters.base import PushItem
from relance.connectors.models import Connector, PushedChange
from relance.core.errors import NotFound
from relance.ledger.models import Entity, Payment
from relance.portal.models import PortalCheckout


def connector_get(*, entity: Entity, source: str) -> Connector:
    connector = Connector.objects.filter(entity=entity, source=source).select_related("entity").first()
    if connector is None:
        raise NotFound(
            f"no {source} connector for entity {entity.name}: add one with "
            f"relance connector set {source} --entity {entity.name} --url …"
        )
    return connector


def connectors_due(*, now: datetime) -> list[Connector]:
    return list(
        Connector.objects.filter(interval_minutes__isnull=False)
        .filter(Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now))
        .select_related("entity")
        .order_by("next_sync_at", "id")
    )


def _money(amount: Decimal) -> str:
    """An amount at two places when that loses nothing (``200.0000`` → ``200.00``)."""
    cents = amount.quantize(Decimal("0.01"))
    return format(cents if cents == amount else amount, "f")


def _fingerprint(data: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _item(kind: str, key: str, customer_ref: str, data: dict[str, object]) -> PushItem:
    return PushItem(kind=kind, key=key, fingerprint=_fingerprint(data), customer_ref=customer_ref, data=data)


def push_candidates(*, connector: Connector) -> Iterator[PushItem]:
    """Every change made in Relance the ERP must know, oldest first: holds, resolved disputes,
    promises, and payments taken in the portal or applied from the bank. Items already pushed
    with the same fingerprint are left out (a second sync pushes nothing)."""
    entity_id = connector.entity_id
    since = Q(updated_at__gte=connector.push_since) if connector.push_since else Q()
    pushed = dict(PushedChange.objects.filter(connector=connector).values_list("key", "fingerprint"))
    items: list[PushItem] = []
    for hold in CustomerHold.objects.filter(since, entity_id=entity_id).select_related("customer"):
        until = hold.ends_on.isoformat() if hold.ends_on else "further notice"
        note = f"Relance: {hold.get_kind_display()} from {hold.starts_on} until {until}: {hold.reason}"
        items.append(_item("hold", f"hold:{hold.pk}", hold.customer.external_ref, {"note": note}))
    resolved = Dispute.objects.filter(since, entity_id=entity_id, status=DisputeStatus.RESOLVED)
    for dispute in resolved.select_related("customer", "invoice"):
        note = (
            f"Relance: dispute of {_money(dispute.amount)} {dispute.invoice.currency} ({dispute.get_reason_code_display()}) "
            f"resolved on {dispute.resolved_on}: {dispute.get_resolution_display()}"
        )
        data: dict[str, object] = {"note": note, "invoice_ref": dispute.invoice.external_ref}
        items.append(
            _item("dispute_resolution", f"dispute:{dispute.pk}", dispute.customer.external_ref, data)
        )
    for promise in (
        Promise.objects.filter(since, entity_id=entity_id)
        .select_related("customer")
        .prefetch_related("invoices")
    ):
        invoices = sorted(invoice.external_ref for invoice in promise.invoices.all())
        note = (
            f"Relance: promise to pay {_money(promise.amount)} {promise.currency} by {promise.promised_date} "
            f"({promise.status})" + (f" for {', '.join(invoices)}" if invoices else "")
        )
        data = {"note": note, "invoice_ref": invoices[0] if len(invoices) == 1 else None}
        items.append(_item("promise", f"promise:{promise.pk}", promise.customer.external_ref, data))
    taken_here = Q(bank_applications__isnull=False) | Q(pk__in=PortalCheckout.objects.values("payment_id"))
    payments = Payment.objects.filter(since, taken_here, entity_id=entity_id).distinct()
    for payment in payments.select_related("customer").prefetch_related("allocations__invoice"):
        allocations = [
            {"invoice_ref": allocation.invoice.external_ref, "amount": _money(allocation.amount)}
            for allocation in sorted(payment.allocations.all(), key=lambda allocation: allocation.pk)
        ]
        data = {
            "payment_ref": payment.external_ref,
            "date": payment.date.isoformat(),
            "amount": _money(payment.amount),
            "currency": payment.currency,
            "allocations": allocations,
        }
        items.append(_item("payment", f"payment:{payment.external_ref}", payment.customer.external_ref, data))
    for item in items:
        # A payment is pushed once: pushing it again would record the cash twice in the ERP.
        already = item.key in pushed if item.kind == "payment" else pushed.get(item.key) == item.fingerprint
        if not already:
            yield item


def pushed_payment_refs(*, connector: Connector) -> set[str]:
    """Relance's payment refs already pushed: the ERP sends them back, and they are not imported."""
    keys = PushedChange.objects.filter(connector=connector, key__startswith="payment:").values_list(
        "key", flat=True
    )
    return {key.removeprefix("payment:") for key in keys}
