"""Disputes from a file, written through the cases app's own services.

A dispute is few rows and many rules (the amount open and not yet disputed on the day, a void
invoice, a resolution after the opening), all in ``relance.cases.services.dispute_open`` and
``dispute_resolve``: each record goes through them, so an imported dispute is the same as one
opened on a page (its audit event, its ``dispute.opened`` event, its rules). A record whose
service refuses it is rejected with the service's message on the line of the file; the run then
rolls the whole file back, as every kind does.

The key is (invoice, opened_on): importing the same file again changes nothing; a row that now
gives a resolution resolves the open dispute; any other change to a recorded dispute is refused
(a dispute's amount and reason are changed in Relance, where the change is audited).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction

from relance.cases.models import Dispute, DisputeStatus
from relance.cases.services import INVOICE_VOID, dispute_open, dispute_resolve
from relance.core.actors import Actor
from relance.core.errors import ValidationFailed
from relance.ingest.records import DisputeRecord
from relance.ingest.services.writer import Item, Writer
from relance.ledger.models import Invoice, VersionScope

EXPECTED_KNOWN_INVOICE_REF = "an invoice_ref already imported for this entity"
EXPECTED_SAME_DISPUTE = "the {field} recorded for this dispute ({recorded}); a recorded dispute is changed in Relance, not by import"
IMPORT_ACTOR = Actor.system("import")


class DisputeWriter(Writer):
    key_field = "invoice_ref"
    dated = True
    scope = VersionScope.CASES

    def _data_version_bump(self) -> None:
        """Nothing to add: the services save row by row, and each save bumps the entity's
        ``cases`` data version (``relance.cases.apps``), never the ledger's."""

    def _write(self, batch: list[Item]) -> None:
        refs = {item.record.invoice_ref for item in batch}
        invoices = {
            invoice.external_ref: invoice
            for invoice in Invoice.objects.filter(entity=self.entity, external_ref__in=refs)
        }
        recorded = {
            (dispute.invoice_id, dispute.opened_on): dispute
            for dispute in Dispute.objects.filter(
                entity=self.entity, invoice__in=list(invoices.values())
            ).order_by("id")
        }
        for item in batch:
            record: DisputeRecord = item.record
            invoice = invoices.get(record.invoice_ref)
            if invoice is None:
                self.reject(item, "invoice_ref", EXPECTED_KNOWN_INVOICE_REF, record.invoice_ref)
                continue
            dispute = recorded.get((invoice.pk, record.opened_on))
            if dispute is None:
                self._open(item, invoice)
            else:
                self._update(item, dispute)

    def _open(self, item: Item, invoice: Invoice) -> None:
        """Open (and resolve) in one savepoint: with ``--skip-invalid`` a row is kept whole or not at all."""
        record: DisputeRecord = item.record
        field = "amount"
        try:
            with transaction.atomic():
                dispute = dispute_open(
                    invoice=invoice,
                    reason_code=record.reason_code,
                    on=record.opened_on,
                    amount=record.amount,
                    note=record.note or "",
                    actor=IMPORT_ACTOR,
                )
                if record.resolved_on is not None:
                    field = "resolved_on"
                    dispute_resolve(
                        dispute=dispute,
                        resolution=record.resolution or "",
                        on=record.resolved_on,
                        actor=IMPORT_ACTOR,
                    )
        except ValidationFailed as exc:
            # a void invoice, more than is open and not disputed on the day, or a bad resolution
            if exc.message == INVOICE_VOID.format(ref=invoice.external_ref):
                field = "invoice_ref"
            self.reject(item, field, exc.message, _found(record, field))
            return
        self._touch(record.opened_on)
        self.created += 1

    def _resolve(self, item: Item, dispute: Dispute, on: date) -> bool:
        record: DisputeRecord = item.record
        try:
            dispute_resolve(dispute=dispute, resolution=record.resolution or "", on=on, actor=IMPORT_ACTOR)
        except ValidationFailed as exc:
            self.reject(item, "resolved_on", exc.message, record.resolved_on)
            return False
        return True

    def _update(self, item: Item, dispute: Dispute) -> None:
        record: DisputeRecord = item.record
        for field, wanted, recorded in (
            ("reason_code", record.reason_code, dispute.reason_code),
            ("amount", record.amount, Decimal(dispute.amount) if record.amount is not None else None),
        ):
            if wanted != recorded:
                self.reject(item, field, EXPECTED_SAME_DISPUTE.format(field=field, recorded=recorded), wanted)
                return
        if record.resolved_on is None or (
            dispute.status == DisputeStatus.RESOLVED
            and (dispute.resolved_on, dispute.resolution) == (record.resolved_on, record.resolution)
        ):
            if record.resolved_on is None and dispute.status == DisputeStatus.RESOLVED:
                self.reject(
                    item,
                    "resolved_on",
                    EXPECTED_SAME_DISPUTE.format(field="resolution date", recorded=dispute.resolved_on),
                )
                return
            self.unchanged += 1
            return
        if dispute.status == DisputeStatus.RESOLVED:
            self.reject(
                item,
                "resolved_on",
                EXPECTED_SAME_DISPUTE.format(field="resolution date", recorded=dispute.resolved_on),
                record.resolved_on,
            )
            return
        if self._resolve(item, dispute, record.resolved_on):
            self._touch(record.resolved_on)
            self.updated += 1


def _found(record: DisputeRecord, field: str) -> object:
    value = getattr(record, field, "")
    return "" if value is None else value
