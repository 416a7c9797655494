"""Payments: the rows of one payment gathered from anywhere in the input, staged, then written."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from relance.core.errors import FieldError
from relance.events.services import Emission, emit_many, wanted
from relance.ingest.records import (
    AllocationRecord,
    PaymentRecord,
    Record,
)
from relance.ingest.services.allocating import AllocatingWriter
from relance.ingest.services.bulk import (
    STATISTICS_EVERY_BATCHES,
    fresh_statistics,
    insert_into,
    insert_returning_ids,
    insert_rows,
)
from relance.ingest.services.invoices import invoice_states
from relance.ingest.services.rejects import (
    ALLOCATIONS_OVER_PAYMENT,
    EXPECTED_KNOWN_INVOICE,
    EXPECTED_SAME_PAYMENT,
    EXPECTED_UNIQUE_ALLOCATION,
    PAYMENT_HAS_BAD_ROW,
)
from relance.ingest.services.writer import Item
from relance.ledger.models import (
    Allocation,
    Customer,
    Payment,
)

PAYMENT_BATCH_SIZE = 500

#: The events a payment write may emit (``_emit``).
PAYMENT_EVENTS = ("payment.received", "payment.applied", "invoice.paid")


@dataclass
class _PaymentDraft:
    """The rows of one payment, gathered from anywhere in the input."""

    first: PaymentRecord
    amount: Decimal
    allocations: dict[str, AllocationRecord] = field(default_factory=dict)
    raws: list[Mapping[str, str | None] | None] = field(default_factory=list)
    lines: list[int | None] = field(default_factory=list)


@dataclass
class _NewPayment:
    """A payment to insert (a model instance per row would cost more than the insert itself)."""

    external_ref: str
    values: dict[str, Any]
    pk: int | None = None


@dataclass(frozen=True)
class _StagedRow:
    seq: int
    payment_ref: str
    line: int | None
    customer_ref: str
    date: date
    currency: str
    amount: Decimal
    invoice_ref: str | None
    method: str | None
    source: str
    raw: Mapping[str, str | None] | None
    returned_on: dt.date | None


STAGING_COLUMNS = [
    "seq",
    "payment_ref",
    "line",
    "customer_ref",
    "on_date",
    "currency",
    "amount",
    "invoice_ref",
    "method",
    "source",
    "raw",
    "returned_on",
]


class PaymentWriter(AllocatingWriter):
    """Payments are grouped by payment_ref before they are written, because the rows of one
    payment may be anywhere in the file. The rows wait in a temporary table (memory stays flat);
    at the end they are read back payment by payment, in the order each payment first appeared."""

    dated = True

    key_field = "payment_ref"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # As for invoices: a first load has nothing to look up (refs are unique within the input).
        self._first_load = not Payment.objects.filter(entity=self.entity).exists()
        self._staging = ""
        self._staged: list[tuple[Any, ...]] = []
        self._seq = 0

    def add(self, record: Record, raw: Mapping[str, str | None] | None) -> None:
        assert isinstance(record, PaymentRecord)
        parts: list[tuple[str | None, Decimal, int | None]] = [
            (a.invoice_ref, a.amount, a.line if a.line is not None else record.line)
            for a in record.allocations
        ]
        rest = record.amount - sum((amount for _, amount, _ in parts), Decimal(0))
        if rest < 0:
            self.reject(
                Item(record, raw), "allocations", ALLOCATIONS_OVER_PAYMENT.format(amount=record.amount)
            )
            return
        if rest > 0 or not parts:
            parts.append((None, rest if parts else record.amount, record.line))
        encoded = json.dumps(raw) if raw is not None else None
        for invoice_ref, amount, line in parts:
            self._seq += 1
            self._staged.append(
                (
                    self._seq,
                    record.payment_ref,
                    line,
                    record.customer_ref,
                    record.date.isoformat(),
                    record.currency,
                    str(amount),
                    invoice_ref,
                    record.method,
                    record.source,
                    encoded,
                    record.returned_on.isoformat() if record.returned_on is not None else None,
                )
            )
        if len(self._staged) >= self.batch_size:
            self._stage()

    def _stage(self) -> None:
        if not self._staging:
            self._staging = f"relance_pay_{uuid.uuid4().hex[:12]}"
            with connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE TEMPORARY TABLE {self._staging} (seq INTEGER PRIMARY KEY, payment_ref TEXT NOT NULL,"
                    " line INTEGER, customer_ref TEXT, on_date TEXT, currency TEXT, amount TEXT, invoice_ref TEXT,"
                    " method TEXT, source TEXT, raw TEXT, returned_on TEXT)"
                )
        insert_into(self._staging, STAGING_COLUMNS, self._staged)
        self._staged = []

    def finish(self) -> None:
        if self._staged or not self._staging:
            self._stage()
        table, order = self._staging, f"{self._staging}_order"
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE INDEX {table}_ref ON {table} (payment_ref)")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {order} AS"  # noqa: S608
                f" SELECT payment_ref, MIN(seq) AS first_seq FROM {table} GROUP BY payment_ref"
            )
            cursor.execute(f"CREATE INDEX {order}_seq ON {order} (first_seq)")
            if connection.vendor == "postgresql":
                # Temporary tables are never auto-analysed: without statistics the planner reads
                # the whole staging table for every batch of 500 payments.
                cursor.execute(f"ANALYZE {table}")
                cursor.execute(f"ANALYZE {order}")
        last = 0
        columns = ", ".join(STAGING_COLUMNS)
        while True:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT payment_ref, first_seq FROM {order} WHERE first_seq > %s"  # noqa: S608
                    " ORDER BY first_seq LIMIT %s",
                    [last, PAYMENT_BATCH_SIZE],
                )
                refs = cursor.fetchall()
                if not refs:
                    break
                last = refs[-1][1]
                marks = ", ".join(["%s"] * len(refs))
                cursor.execute(
                    f"SELECT {columns} FROM {table} WHERE payment_ref IN ({marks}) ORDER BY seq",  # noqa: S608
                    [ref for ref, _ in refs],
                )
                rows = [self._unstage(row) for row in cursor.fetchall()]
            groups: dict[str, list[_StagedRow]] = {}
            for row in rows:
                groups.setdefault(row.payment_ref, []).append(row)
            drafts = [draft for draft in map(self._draft, groups.values()) if draft is not None]
            self._write_payments(drafts)
            self._batches += 1
            if self._batches % STATISTICS_EVERY_BATCHES == 0:
                fresh_statistics(Payment, Allocation)  # both grow during the import
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {order}")
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        self._data_version_bump()  # this finish does not call ``Writer.finish``

    @staticmethod
    def _unstage(row: tuple[Any, ...]) -> _StagedRow:
        seq, ref, line, customer_ref, on, currency, amount, invoice_ref, method, source, raw, returned = row
        return _StagedRow(
            seq,
            ref,
            line,
            customer_ref,
            date.fromisoformat(str(on)),
            currency,
            Decimal(amount),
            invoice_ref,
            method,
            source or "",
            json.loads(raw) if raw else None,
            date.fromisoformat(str(returned)) if returned else None,
        )

    def _draft(self, rows: list[_StagedRow]) -> _PaymentDraft | None:
        """One payment from its rows; None (and every row rejected) when they disagree."""
        first = rows[0]
        record = PaymentRecord(
            first.payment_ref,
            first.customer_ref,
            first.date,
            first.currency,
            Decimal(0),
            (),
            first.method,
            first.line,
            first.source,
            first.returned_on,
        )
        draft = _PaymentDraft(first=record, amount=Decimal(0))
        for row in rows:
            for name in ("customer_ref", "date", "currency", "method", "returned_on"):
                if getattr(row, name) != getattr(first, name):
                    expected = EXPECTED_SAME_PAYMENT.format(
                        field=name, first=first.line, ref=first.payment_ref
                    )
                    self._reject_rows(rows, row, name, expected, getattr(row, name))
                    return None
            if row.invoice_ref is not None:
                seen = draft.allocations.get(row.invoice_ref)
                if seen is not None:
                    if self.deduplicate and seen.amount == row.amount:
                        self.merged_duplicates += 1
                        continue
                    expected = EXPECTED_UNIQUE_ALLOCATION.format(first=seen.line)
                    self._reject_rows(rows, row, "invoice_ref", expected, row.invoice_ref)
                    return None
                draft.allocations[row.invoice_ref] = AllocationRecord(row.invoice_ref, row.amount, row.line)
            draft.amount += row.amount
            draft.raws.append(row.raw)
            draft.lines.append(row.line)
        return draft

    def _reject_rows(
        self, rows: list[_StagedRow], bad: _StagedRow, name: str, expected: str, found: object
    ) -> None:
        for row in rows:
            if row is bad:
                error = FieldError(name, expected, str(found), row.line, row.source)
            else:
                message = PAYMENT_HAS_BAD_ROW.format(ref=row.payment_ref, line=bad.line)
                error = FieldError("payment_ref", message, row.payment_ref, row.line, row.source)
            self.sink.reject(row.raw, [error])

    def _reject_draft(
        self, draft: _PaymentDraft, name: str, expected: str, found: object, line: int | None
    ) -> None:
        first = draft.first
        line = line if line is not None else first.line
        for raw, row_line in zip(draft.raws or [None], draft.lines or [first.line], strict=False):
            if row_line == line:
                error = FieldError(name, expected, str(found), line, first.source)
            else:
                message = PAYMENT_HAS_BAD_ROW.format(ref=first.payment_ref, line=line)
                error = FieldError("payment_ref", message, first.payment_ref, row_line, first.source)
            self.sink.reject(raw, [error])

    def _write_payments(self, drafts: list[_PaymentDraft]) -> None:
        refs = [draft.first.payment_ref for draft in drafts]
        existing = (
            {}
            if self._first_load
            else {
                p.external_ref: p for p in Payment.objects.filter(entity=self.entity, external_ref__in=refs)
            }
        )
        old_allocations: dict[int, list[Allocation]] = defaultdict(list)
        for allocation in Allocation.objects.filter(payment_id__in=[p.pk for p in existing.values()]):
            old_allocations[allocation.payment_id or 0].append(allocation)
        states = invoice_states(
            self.entity,
            refs={ref for draft in drafts for ref in draft.allocations},
            ids={a.invoice_id for allocations in old_allocations.values() for a in allocations},
        )
        by_ref = {state.ref: state for state in states.values()}
        open_before = {pk: state.amount - state.allocated for pk, state in states.items()}
        new_allocations: list[tuple[Payment | _NewPayment, int, date, Decimal]] = []
        new_payments: list[_NewPayment] = []
        changed_payments: list[Payment] = []
        replaced_payment_ids: list[int] = []
        self.parser.customers_look_up(draft.first.customer_ref for draft in drafts)
        for draft in drafts:
            record = draft.first
            info = self.parser.customer(record.customer_ref)
            if info is None:
                from relance.ingest.parsing import EXPECTED_KNOWN_CUSTOMER

                self._reject_draft(draft, "customer_ref", EXPECTED_KNOWN_CUSTOMER, record.customer_ref, None)
                continue
            stored = existing.get(record.payment_ref)
            olds = old_allocations.get(stored.pk, []) if stored else []
            values: dict[str, Any] = {
                "customer_id": info.id,
                "date": record.date,
                "currency": record.currency,
                "amount": draft.amount,
            }
            if record.method is not None:
                values["method"] = record.method
            if record.returned_on is not None:
                values["returned_on"] = record.returned_on
            fields_changed = stored is None or any(getattr(stored, k) != v for k, v in values.items())
            wanted: dict[int, Decimal] = {}
            unknown = next((a for a in draft.allocations.values() if a.invoice_ref not in by_ref), None)
            if unknown is not None:
                self._reject_draft(
                    draft, "invoice_ref", EXPECTED_KNOWN_INVOICE, unknown.invoice_ref, unknown.line
                )
                continue
            for part in draft.allocations.values():
                wanted[by_ref[part.invoice_ref].id] = part.amount
            current = {a.invoice_id: a.amount for a in olds}
            allocations_changed = current != wanted or any(a.date != record.date for a in olds)
            if allocations_changed:
                released = {a.invoice_id: a.amount for a in olds}
                problem = None
                for part in draft.allocations.values():
                    state = by_ref[part.invoice_ref]
                    problem = self._allocation_problem(
                        state,
                        customer_id=info.id,
                        currency=record.currency,
                        on=record.date,
                        amount=part.amount,
                        released=released.get(state.id, Decimal(0)),
                    )
                    if problem:
                        self._reject_draft(draft, *problem, part.line)
                        break
                if problem:
                    continue
            if not fields_changed and not allocations_changed:
                self.unchanged += 1
                continue
            # New date, old date, and the dates of the allocations it may replace.
            self._touch(record.date, stored.date if stored is not None else None, *(a.date for a in olds))
            payment: Payment | _NewPayment
            if stored is None:
                payment = _NewPayment(record.payment_ref, values)
                new_payments.append(payment)
                self.created += 1
            else:
                payment = stored
                if fields_changed:
                    for key, value in values.items():
                        setattr(stored, key, value)
                    stored.updated_at = timezone.now()
                    changed_payments.append(stored)
                self.updated += 1
            if allocations_changed:
                if olds:
                    replaced_payment_ids.append(stored.pk if stored else 0)
                for allocation in olds:
                    if allocation.invoice_id in states:
                        states[allocation.invoice_id].allocated -= allocation.amount
                for invoice_id, amount in wanted.items():
                    states[invoice_id].allocated += amount
                    new_allocations.append((payment, invoice_id, record.date, amount))
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        entity_id = self.entity.pk
        ids = insert_returning_ids(
            Payment,
            ["entity_id", "customer_id", "external_ref", "date", "currency", "amount", "method"]
            + ["returned_on", "created_at", "updated_at"],
            [
                (
                    entity_id,
                    p.values["customer_id"],
                    p.external_ref,
                    p.values["date"],
                    p.values["currency"],
                    p.values["amount"],
                    p.values.get("method") or "",
                    p.values.get("returned_on"),
                    now,
                    now,
                )
                for p in new_payments
            ],
        )
        for new_payment in new_payments:
            new_payment.pk = ids[new_payment.external_ref]
        if changed_payments:
            Payment.objects.bulk_update(
                changed_payments,
                ["customer_id", "date", "currency", "amount", "method", "returned_on", "updated_at"],
            )
        if replaced_payment_ids:
            Allocation.objects.filter(payment_id__in=replaced_payment_ids).delete()
        insert_rows(
            Allocation,
            ["entity_id", "invoice_id", "payment_id", "date", "amount", "created_at", "updated_at"],
            [
                (entity_id, invoice_id, p.pk, on, amount, now, now)
                for p, invoice_id, on, amount in new_allocations
            ],
        )
        self._emit(new_payments, new_allocations, states, open_before)

    def _emit(
        self,
        new_payments: list[_NewPayment],
        new_allocations: list[tuple[Payment | _NewPayment, int, date, Decimal]],
        states: Mapping[int, Any],
        open_before: Mapping[int, Decimal],
    ) -> None:
        """The webhook events of this write, in its transaction: payment.received per new payment,
        payment.applied per allocation, invoice.paid per invoice this write settled."""
        if not new_payments and not new_allocations:
            return
        if not any(wanted(self.entity.pk, kind) for kind in PAYMENT_EVENTS):
            return  # nobody listens: not even the customers' refs are read
        customer_ids = {p.values["customer_id"] for p in new_payments} | {
            states[invoice_id].customer_id for _p, invoice_id, _on, _a in new_allocations
        }
        refs = {
            pk: {"id": pk, "external_ref": ref, "name": name}
            for pk, ref, name in Customer.objects.filter(pk__in=customer_ids).values_list(
                "pk", "external_ref", "name"
            )
        }
        emissions = [
            Emission(
                "payment.received",
                {
                    "payment": p.external_ref,
                    "amount": p.values["amount"],
                    "currency": p.values["currency"],
                    "received_on": p.values["date"],
                },
                p.values["customer_id"],
                refs[p.values["customer_id"]],
            )
            for p in new_payments
        ]
        settled: set[int] = set()
        for payment, invoice_id, on, amount in new_allocations:
            state = states[invoice_id]
            emissions.append(
                Emission(
                    "payment.applied",
                    {
                        "source": payment.external_ref,
                        "source_kind": "payment",
                        "invoice": state.ref,
                        "amount": amount,
                        "currency": state.currency,
                        "applied_on": on,
                    },
                    state.customer_id,
                    refs[state.customer_id],
                )
            )
            if (
                invoice_id not in settled
                and open_before[invoice_id] > 0
                and state.amount - state.allocated <= 0
            ):
                settled.add(invoice_id)
                emissions.append(
                    Emission(
                        "invoice.paid",
                        {
                            "invoice": state.ref,
                            "amount": state.amount,
                            "currency": state.currency,
                            "paid_on": on,
                        },
                        state.customer_id,
                        refs[state.customer_id],
                    )
                )
        emit_many(emissions, entity=self.entity)
