"""Row-by-row saves and deletes bump the entity's data version (``services.data_version_bump``).

Bulk paths that bypass signals (imports, the demo loader, ``QuerySet.update``) bump it
themselves, once per batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models
from django.db.models.signals import post_delete, post_save

from relance.ledger.models import VersionScope


def bump_on_change(
    *senders: type[models.Model],
    scope: str = VersionScope.LEDGER,
    entity_of: Callable[[Any], int | None] | None = None,
) -> None:
    """Connect ``senders``: models with an ``entity_id``, or ``entity_of(instance)`` to find it."""

    def receiver(sender: type[models.Model], instance: Any, **kwargs: Any) -> None:
        if kwargs.get("raw"):
            return  # fixtures loading
        entity_id = entity_of(instance) if entity_of else getattr(instance, "entity_id", None)
        if entity_id is None:
            return
        from relance.ledger.services import data_version_bump

        data_version_bump(entity_id=entity_id, scope=scope)

    for sender in senders:
        uid = f"relance.data_version.{scope}.{sender._meta.label}"
        post_save.connect(receiver, sender=sender, dispatch_uid=uid, weak=False)
        post_delete.connect(receiver, sender=sender, dispatch_uid=uid + ".delete", weak=False)


def connect_ledger() -> None:
    from relance.ledger.models import Allocation, CreditNote, Customer, Invoice, InvoiceDocument, Payment

    # Not contacts: a bounced address must not make every cached KPI stale.
    bump_on_change(Customer, Invoice, CreditNote, Payment, Allocation)
    # An invoice's PDF shows on the portal's cached pages (the download link).
    bump_on_change(InvoiceDocument)
