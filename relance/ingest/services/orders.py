"""Orders: open and unbilled orders the ERP sends, upserted by order_ref (credit exposure)."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from relance.ingest.records import OrderRecord
from relance.ingest.services.bulk import insert_rows, update_rows
from relance.ingest.services.writer import Item, Writer
from relance.ledger.models import Order, OrderStatus, VersionScope

UPDATED_COLUMNS = ["customer_id", "order_date", "currency", "amount", "status", "updated_at"]


class OrderWriter(Writer):
    """Orders carry no allocations: a batch is one look-up, one insert and one update."""

    key_field = "order_ref"
    scope = VersionScope.ORDERS

    def _write(self, batch: list[Item]) -> None:
        refs = [item.record.order_ref for item in batch]
        existing = {
            order.external_ref: order
            for order in Order.objects.filter(entity=self.entity, external_ref__in=refs).only(
                "id", "external_ref", "customer_id", "order_date", "currency", "amount", "status"
            )
        }
        now = timezone.now()
        inserts: list[tuple[object, ...]] = []
        updates: list[tuple[object, ...]] = []
        for item in batch:
            record: OrderRecord = item.record
            customer_id = self._customer_id(item)
            if customer_id is None:
                continue
            stored = existing.get(record.order_ref)
            values = {
                "customer_id": customer_id,
                "order_date": record.date,
                "currency": record.currency,
                "amount": record.amount,
                # An absent status leaves a stored order's as it is; a new order is open.
                "status": record.status or (stored.status if stored is not None else OrderStatus.OPEN),
            }
            if stored is None:
                inserts.append((record.order_ref, *values.values()))
                self.created += 1
            elif any(getattr(stored, key) != value for key, value in values.items()):
                updates.append((*values.values(), now, stored.pk))
                self.updated += 1
            else:
                self.unchanged += 1
        stamp = connection.ops.adapt_datetimefield_value(now)
        insert_rows(
            Order,
            ["external_ref", "customer_id", "order_date", "currency", "amount", "status"],
            inserts,
            {"entity_id": self.entity.pk, "created_at": stamp, "updated_at": stamp},
        )
        update_rows(Order, UPDATED_COLUMNS, updates)
