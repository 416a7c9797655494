"""Credit notes and their allocations."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from relance.ingest.records import (
    CreditNoteRecord,
)
from relance.ingest.services.allocating import AllocatingWriter
from relance.ingest.services.bulk import STATISTICS_EVERY_BATCHES, fresh_statistics, insert_rows
from relance.ingest.services.invoices import invoice_states
from relance.ingest.services.rejects import (
    EXPECTED_ALLOCATED_COVERED,
    EXPECTED_KNOWN_INVOICE,
    EXPECTED_NO_ALLOCATIONS,
    money_text,
)
from relance.ingest.services.writer import Item
from relance.ledger.models import (
    Allocation,
    CreditNote,
)


class CreditNoteWriter(AllocatingWriter):
    key_field = "credit_note_ref"
    dated = True

    def _write(self, batch: list[Item]) -> None:
        self._batches += 1
        if self._batches % STATISTICS_EVERY_BATCHES == 0:
            fresh_statistics(CreditNote, Allocation)  # both grow during the import
        refs = [item.record.credit_note_ref for item in batch]
        existing = {
            note.external_ref: note
            for note in CreditNote.objects.filter(entity=self.entity, external_ref__in=refs)
        }
        old_allocations: dict[int, list[Allocation]] = defaultdict(list)
        for allocation in Allocation.objects.filter(credit_note_id__in=[n.pk for n in existing.values()]):
            old_allocations[allocation.credit_note_id or 0].append(allocation)
        states = invoice_states(
            self.entity,
            refs={item.record.invoice_ref for item in batch if item.record.invoice_ref},
            ids={a.invoice_id for allocations in old_allocations.values() for a in allocations},
        )
        by_ref = {state.ref: state for state in states.values()}
        new_notes: list[CreditNote] = []
        changed_notes: list[CreditNote] = []
        replaced_note_ids: list[int] = []
        new_allocations: list[tuple[CreditNote, int, Decimal, date]] = []
        for item in batch:
            record: CreditNoteRecord = item.record
            customer_id = self._customer_id(item)
            if customer_id is None:
                continue
            note = existing.get(record.credit_note_ref)
            olds = old_allocations.get(note.pk, []) if note else []
            values = {
                "customer_id": customer_id,
                "date": record.date,
                "currency": record.currency,
                "amount": record.amount,
            }
            if record.reason is not None:
                values["reason"] = record.reason
            fields_changed = note is None or any(getattr(note, k) != v for k, v in values.items())
            wanted: tuple[int, Decimal, date] | None = None
            if record.invoice_ref:
                state = by_ref.get(record.invoice_ref)
                if state is None:
                    self.reject(item, "invoice_ref", EXPECTED_KNOWN_INVOICE, record.invoice_ref)
                    continue
                wanted = (state.id, record.amount, record.date)
                current = sorted((a.invoice_id, a.amount, a.date) for a in olds)
                allocations_changed = current != [wanted]
                if allocations_changed:
                    released = sum((a.amount for a in olds if a.invoice_id == state.id), Decimal(0))
                    problem = self._allocation_problem(
                        state,
                        customer_id=customer_id,
                        currency=record.currency,
                        on=record.date,
                        amount=record.amount,
                        released=released,
                    )
                    if problem:
                        self.reject(item, *problem)
                        continue
            else:
                allocations_changed = False
                allocated = sum((a.amount for a in olds), Decimal(0))
                if olds and record.amount < allocated:
                    self.reject(
                        item,
                        "amount",
                        EXPECTED_ALLOCATED_COVERED.format(allocated=money_text(allocated)),
                        record.amount,
                    )
                    continue
                if (
                    olds
                    and note is not None
                    and (record.currency != note.currency or customer_id != note.customer_id)
                ):
                    what = "currency" if record.currency != note.currency else "customer"
                    self.reject(item, what, EXPECTED_NO_ALLOCATIONS.format(what=what, kind="credit note"))
                    continue
            if not fields_changed and not allocations_changed:
                self.unchanged += 1
                continue
            # New date, old date, and the dates of the allocations it may replace.
            self._touch(record.date, note.date if note is not None else None, *(a.date for a in olds))
            if note is None:
                note = CreditNote(entity=self.entity, external_ref=record.credit_note_ref, **values)
                new_notes.append(note)
                self.created += 1
            else:
                if fields_changed:
                    for key, value in values.items():
                        setattr(note, key, value)
                    note.updated_at = timezone.now()
                    changed_notes.append(note)
                self.updated += 1
            if allocations_changed and wanted is not None:
                for allocation in olds:
                    if allocation.invoice_id in states:
                        states[allocation.invoice_id].allocated -= allocation.amount
                if olds:
                    replaced_note_ids.append(note.pk)
                new_allocations.append((note, *wanted))
                states[wanted[0]].allocated += wanted[1]
        self._save(new_notes, changed_notes, replaced_note_ids, new_allocations)

    def _save(
        self,
        new_notes: list[CreditNote],
        changed_notes: list[CreditNote],
        replaced_note_ids: list[int],
        new_allocations: list[tuple[CreditNote, int, Decimal, date]],
    ) -> None:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        entity_id = self.entity.pk
        insert_rows(
            CreditNote,
            ["entity_id", "customer_id", "external_ref", "date", "currency", "amount", "reason"]
            + ["created_at", "updated_at"],
            [
                (entity_id, n.customer_id, n.external_ref, n.date, n.currency, n.amount, n.reason, now, now)
                for n in new_notes
            ],
        )
        if new_notes:
            ids = dict(
                CreditNote.objects.filter(
                    entity=self.entity, external_ref__in=[n.external_ref for n in new_notes]
                ).values_list("external_ref", "id")
            )
            for note in new_notes:
                note.pk = ids[note.external_ref]
        if changed_notes:
            CreditNote.objects.bulk_update(
                changed_notes, ["customer_id", "date", "currency", "amount", "reason", "updated_at"]
            )
        if replaced_note_ids:
            Allocation.objects.filter(credit_note_id__in=replaced_note_ids).delete()
        insert_rows(
            Allocation,
            ["entity_id", "invoice_id", "credit_note_id", "date", "amount", "created_at", "updated_at"],
            [
                (entity_id, invoice_id, n.pk, on, amount, now, now)
                for n, invoice_id, amount, on in new_allocations
            ],
        )
