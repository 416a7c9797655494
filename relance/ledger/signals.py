"""Row-by-row saves and deletes bump the entity's data version (``services.data_version_bump``).

Bulk paths that bypass signals (imports, the demo loader, ``QuerySet.update``) bump it
themselves, once per batch.

A model ``dated_by`` business-date fields also tells the bump the earliest date it touched: the
minimum of those fields' new values and, for a row that existed, their old values (one
``pre_save`` query by primary key) — an invoice moved from January to March changes February
too. Without ``dated_by`` (customers: segment and collector regroup all their history) the bump
says "every date"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save

from relance.ledger.models import VersionScope

_OLD_DATES = "_relance_old_dates"


def bump_on_change(
    *senders: type[models.Model],
    scope: str = VersionScope.LEDGER,
    entity_of: Callable[[Any], int | None] | None = None,
    dated_by: tuple[str, ...] = (),
) -> None:
    """Connect ``senders``: models with an ``entity_id``, or ``entity_of(instance)`` to find it.

    ``dated_by`` names the date fields that place a row in the ledger's history (see the module)."""

    def remember_old_dates(sender: type[models.Model], instance: Any, **kwargs: Any) -> None:
        if kwargs.get("raw") or instance.pk is None:
            return  # a new row: nothing old to remember
        old = sender._default_manager.filter(pk=instance.pk).values_list(*dated_by).first()
        setattr(instance, _OLD_DATES, tuple(old) if old is not None else ())

    def receiver(sender: type[models.Model], instance: Any, **kwargs: Any) -> None:
        if kwargs.get("raw"):
            return  # fixtures loading
        entity_id = entity_of(instance) if entity_of else getattr(instance, "entity_id", None)
        if entity_id is None:
            return
        from relance.ledger.services import data_version_bump

        earliest = None
        if dated_by:
            old = instance.__dict__.pop(_OLD_DATES, ())
            earliest = _earliest([*(getattr(instance, name) for name in dated_by), *old])
        data_version_bump(entity_id=entity_id, scope=scope, earliest=earliest)

    for sender in senders:
        uid = f"relance.data_version.{scope}.{sender._meta.label}"
        if dated_by:
            pre_save.connect(remember_old_dates, sender=sender, dispatch_uid=uid + ".old", weak=False)
        post_save.connect(receiver, sender=sender, dispatch_uid=uid, weak=False)
        post_delete.connect(receiver, sender=sender, dispatch_uid=uid + ".delete", weak=False)


def _earliest(values: list[Any]) -> date | None:
    """The minimum of the dates among ``values`` (NULLs, e.g. no ``voided_on``, do not count);
    None — every date — when there is none."""
    dates = [value for value in values if isinstance(value, date)]
    return min(dates) if dates else None


def connect_ledger() -> None:
    from relance.ledger.models import (
        Allocation,
        CreditNote,
        Customer,
        ExchangeRate,
        Invoice,
        InvoiceDocument,
        Order,
        Payment,
    )

    # Not contacts: a bounced address must not make every cached KPI stale.
    # Customers: no date — a new segment or collector regroups every date's figures.
    bump_on_change(Customer)
    # An invoice counts as of D from its issue date on (``voided_on`` only ever narrows that).
    bump_on_change(Invoice, dated_by=("issue_date", "voided_on"))
    bump_on_change(CreditNote, Allocation, dated_by=("date",))
    # A returned payment stays in the ledger (the ERP reverses its allocations): its return date
    # is dated too, for whoever reads returns as of a date.
    bump_on_change(Payment, dated_by=("date", "returned_on"))
    # An invoice's PDF shows on the portal's cached pages (the download link) but in no figure:
    # its own scope, so that a folder of PDFs does not make the KPI snapshots stale.
    bump_on_change(InvoiceDocument, scope=VersionScope.DOCUMENTS)
    # Orders and rates feed credit exposure, not the receivables figures: their own scopes, so an
    # ERP's nightly orders feed leaves the KPI snapshots valid.
    bump_on_change(Order, scope=VersionScope.ORDERS)
    bump_on_change(ExchangeRate, scope=VersionScope.RATES)
