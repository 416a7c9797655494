"""Invoices: the hot path of large imports, and the state of invoices that allocations check."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from itertools import chain, repeat
from typing import Any

from django.db import connection
from django.db.models import Min, Sum
from django.utils import timezone

from relance.ingest.records import (
    InvoiceRecord,
    Record,
)
from relance.ingest.services.bulk import (
    FLOAT_DECIMALS,
    copy_text_into,
    fresh_statistics,
    insert_rows,
    server_cursor,
    update_rows,
)
from relance.ingest.services.rejects import (
    EXPECTED_ALLOCATED_COVERED,
    EXPECTED_ISSUE_BEFORE_ALLOCATIONS,
    EXPECTED_NO_ALLOCATIONS,
    SeenKeys,
    money_text,
)
from relance.ingest.services.writer import Item, Writer
from relance.ledger.models import (
    Allocation,
    Entity,
    Invoice,
    InvoiceStatus,
)


@dataclass(frozen=True)
class InvoiceColumns:
    """Consecutive invoice rows of a file, already valid, one Arrow array per column (the columnar
    path, ``services/columnar.py``): dates as ISO text, amounts as the text ``str(Decimal)`` gives,
    the currency resolved, ``""`` for an empty po_number or status. Python values are made a
    batch at a time, when the batch is written."""

    refs: Any
    customer_refs: Any
    customer_ids: Any
    issue_dates: Any
    due_dates: Any
    currencies: Any
    amounts: Any
    po_numbers: Any
    statuses: Any
    new_statuses: Any  # the status of a new invoice: the given one or "open"
    lines: range
    source: str
    raw_of: Callable[[int], dict[str, str | None]] | None = None  # the cells of a row, by index in its block
    first: int = 0  # index in its block of the first row

    def __len__(self) -> int:
        return len(self.lines)

    def split(self, count: int) -> tuple[InvoiceColumns, InvoiceColumns]:
        def part(start: int, stop: int) -> InvoiceColumns:
            arrays = {name: getattr(self, name).slice(start, stop - start) for name in self.ARRAYS}
            return replace(self, **arrays, lines=self.lines[start:stop], first=self.first + start)

        return part(0, count), part(count, len(self))

    ARRAYS = (
        "refs",
        "customer_refs",
        "customer_ids",
        "issue_dates",
        "due_dates",
        "currencies",
        "amounts",
        "po_numbers",
        "statuses",
        "new_statuses",
    )

    def values(self, name: str) -> list[Any]:
        return getattr(self, name).to_pylist()  # type: ignore[no-any-return]

    def items(self) -> list[Item]:
        """The rows as the records the row path would have made of them."""
        raw_of, first = self.raw_of, self.first
        columns = [self.values(name) for name in self.ARRAYS if name not in {"customer_ids", "new_statuses"}]
        return [
            Item(
                InvoiceRecord(
                    ref,
                    customer_ref,
                    date.fromisoformat(issue),
                    date.fromisoformat(due),
                    currency,
                    Decimal(amount),
                    po_number or None,
                    status or None,
                    line,
                    self.source,
                ),
                raw_of(first + index) if raw_of is not None else None,
            )
            for index, (
                ref,
                customer_ref,
                issue,
                due,
                currency,
                amount,
                po_number,
                status,
                line,
            ) in enumerate(zip(*columns, self.lines, strict=True))
        ]


class InvoiceWriter(Writer):
    """The hot path of large imports: raw executemany / COPY, no model instances."""

    key_field = "invoice_ref"
    # An invoice counts as of D only from its issue date on, whatever its status or void date:
    # the old and new issue dates bound every date a written row can change.
    dated = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._parts: list[Item | InvoiceColumns] = []
        self._pending = 0  # rows in _parts
        # A first load: every key reaching _write is new to this input (SeenKeys), and the entity
        # had no invoice before it, so there is nothing to look up.
        self._first_load = not Invoice.objects.filter(entity=self.entity).exists()
        if not self._first_load and self.bulk:
            fresh_statistics(Invoice)

    COLUMNS = ["customer_id", "issue_date", "due_date", "currency", "amount", "po_number", "status"]
    INSERT_COLUMNS = ["entity_id", "customer_id", "external_ref", "issue_date", "due_date", "currency"] + [
        "amount",
        "po_number",
        "status",
        "created_at",
        "updated_at",
    ]

    # -- the columnar path: batches mixing InvoiceColumns and the row path's Items ------------------
    # Batches hold the same rows as on the row path (``batch_size`` rows in file order), so the
    # duplicate errors, found when a batch is written, come out in the same order.

    def add(self, record: Record, raw: Any) -> None:
        if not self._pending:
            super().add(record, raw)
            return
        self._parts.append(Item(record, raw))
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush()

    def add_columns(self, columns: InvoiceColumns) -> None:
        if not self._pending:
            self._parts = list(self._buffer)  # rows of the row path still waiting come first
            self._pending = len(self._buffer)
            self._buffer = []
        self._parts.append(columns)
        self._pending += len(columns)
        while self._pending >= self.batch_size:
            self._write_parts(self.batch_size)

    def flush(self) -> None:
        if self._pending:
            self._write_parts(self._pending)
        else:
            super().flush()

    def _write_parts(self, count: int) -> None:
        batch: list[Item | InvoiceColumns] = []
        taken = 0
        while taken < count:
            part = self._parts.pop(0)
            size = 1 if isinstance(part, Item) else len(part)
            if taken + size > count:
                assert isinstance(part, InvoiceColumns)
                part, rest = part.split(count - taken)
                self._parts.insert(0, rest)
                size = len(part)
            batch.append(part)
            taken += size
        self._pending -= count
        self._write_columns(batch)

    def _write_columns(self, batch: list[Item | InvoiceColumns]) -> None:
        """The common case, a first load of distinct new refs, as one executemany/COPY built with
        ``zip``; anything else as records through ``_unique`` and ``_write``."""
        columns = [part for part in batch if isinstance(part, InvoiceColumns)]
        refs = [
            ref
            for part in batch
            for ref in ([part.record.invoice_ref] if isinstance(part, Item) else part.values("refs"))
        ]
        if len(set(refs)) != len(refs) or len(columns) != len(batch) or not self._first_load:
            self._write(self._unique(self._items(batch)))
            return
        lines = list(chain.from_iterable(part.lines for part in columns))
        if self._seen is None:
            self._seen = SeenKeys()
        found = self._seen.check_and_add(list(zip(refs, lines, repeat("", len(refs)), strict=True)))
        if found:
            fresh = []
            for item in self._items(batch):
                if item.record.key in found:
                    self._duplicate(item, *found[item.record.key], "")
                else:
                    fresh.append(item)
            self._write(fresh)
            return

        def column(name: str) -> Iterable[Any]:
            return chain.from_iterable(part.values(name) for part in columns)

        now = connection.ops.adapt_datetimefield_value(timezone.now())
        constants = {"entity_id": self.entity.pk, "created_at": now, "updated_at": now}
        issue_dates = list(column("issue_dates"))
        self._touch(date.fromisoformat(min(issue_dates)))
        if connection.vendor == "postgresql":
            # COPY text straight from the columns: refs and po numbers are printable ASCII (the
            # columnar checks), so a backslash is the only character to escape.
            import pyarrow as pa
            import pyarrow.compute as pc

            def text(name: str) -> Iterable[str]:
                for part in columns:
                    values = getattr(part, name)
                    if name == "customer_ids":
                        values = pc.cast(values, pa.string())
                    elif name in {"refs", "po_numbers"}:
                        values = pc.replace_substring(values, pattern="\\", replacement="\\\\")
                    yield from values.to_pylist()

            names = [
                "customer_ids",
                "refs",
                "issue_dates",
                "due_dates",
                "currencies",
                "amounts",
                "po_numbers",
            ]
            copy_lines = [
                "\t".join(row) for row in zip(*(text(name) for name in [*names, "new_statuses"]), strict=True)
            ]
            copy_text_into(Invoice, self.INSERT_COLUMNS[1:-2], copy_lines, constants)
            self.created += len(copy_lines)
            return
        rows = list(
            zip(
                column("customer_ids"),
                refs,
                issue_dates,
                column("due_dates"),
                column("currencies"),
                column("amounts"),
                column("po_numbers"),
                column("new_statuses"),
                strict=True,
            )
        )
        insert_rows(Invoice, self.INSERT_COLUMNS[1:-2], rows, constants)
        self.created += len(rows)

    @staticmethod
    def _items(batch: list[Item | InvoiceColumns]) -> list[Item]:
        return [item for part in batch for item in ([part] if isinstance(part, Item) else part.items())]

    def _write(self, batch: list[Item]) -> None:
        refs = [item.record.invoice_ref for item in batch]
        existing = {} if self._first_load else {row[1]: row for row in self._existing(refs)}
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        entity_id = self.entity.pk
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Item, tuple[Any, ...], tuple[Any, ...]]] = []
        customer = self.parser.customer
        for item in batch:
            record: InvoiceRecord = item.record
            info = customer(record.customer_ref)
            if info is None:
                self._customer_id(item)
                continue
            old = existing.get(record.invoice_ref)
            if old is None:
                inserts.append(
                    (
                        entity_id,
                        info.id,
                        record.invoice_ref,
                        record.issue_date,
                        record.due_date,
                        record.currency,
                        record.amount,
                        record.po_number or "",
                        record.status or InvoiceStatus.OPEN,
                        now,
                        now,
                    )
                )
                continue
            new = (
                info.id,
                record.issue_date,
                record.due_date,
                record.currency,
                record.amount,
                old[7] if record.po_number is None else record.po_number,
                old[8] if record.status is None else record.status,
            )
            if new == tuple(old[2:]):
                self.unchanged += 1
            else:
                updates.append((item, old, new))
        rows = self._checked_updates(updates, now)
        issue_index = self.COLUMNS.index("issue_date")  # in ``new``; ``old`` starts with id, ref
        old_issue = {old[0]: old[2 + issue_index] for _, old, _ in updates}
        self._touch(*(record[3] for record in inserts))
        self._touch(*(row[issue_index] for row in rows), *(old_issue[row[-1]] for row in rows))
        insert_rows(Invoice, self.INSERT_COLUMNS, inserts)
        update_rows(Invoice, [*self.COLUMNS, "updated_at"], rows)
        self._date_voids({item.record.invoice_ref: old for item, old, _ in updates}, rows)
        self.created += len(inserts)
        self.updated += len(rows)

    def _date_voids(self, olds: dict[str, tuple[Any, ...]], rows: list[tuple[Any, ...]]) -> None:
        """An invoice voided by this import is void from today on: reports as of earlier dates
        still count it. (One first imported as void has no date: it never counted.)"""
        status_index = self.COLUMNS.index("status")
        old_status = {old[0]: old[2 + status_index] for old in olds.values()}
        voided = [
            row[-1]
            for row in rows
            if row[status_index] == InvoiceStatus.VOID and old_status.get(row[-1]) != InvoiceStatus.VOID
        ]
        reopened = [
            row[-1]
            for row in rows
            if row[status_index] != InvoiceStatus.VOID and old_status.get(row[-1]) == InvoiceStatus.VOID
        ]
        if voided:
            Invoice.objects.filter(pk__in=voided).update(voided_on=timezone.localdate())
        if reopened:
            Invoice.objects.filter(pk__in=reopened).update(voided_on=None)

    def _existing(self, refs: list[str]) -> Iterable[tuple[Any, ...]]:
        """(id, external_ref, *COLUMNS) of the invoices among ``refs``, in one raw query.

        PostgreSQL gets one array parameter (far faster to plan than thousands of placeholders).
        SQLite stores decimals as REAL: amounts are read back as Django does (15 significant
        digits), so that an unchanged row compares equal.
        """
        quote = connection.ops.quote_name
        columns = ", ".join(quote(column) for column in ["id", "external_ref", *self.COLUMNS])
        table = quote(Invoice._meta.db_table)
        if connection.vendor == "postgresql":
            with server_cursor() as cursor:
                cursor.execute(
                    f"SELECT {columns} FROM {table} WHERE entity_id = %s AND external_ref = ANY(%s)",  # noqa: S608
                    [self.entity.pk, refs],
                )
                return cursor.fetchall()
        if connection.vendor != "sqlite":
            return Invoice.objects.filter(entity=self.entity, external_ref__in=refs).values_list(
                "id", "external_ref", *self.COLUMNS
            )
        amount_index = 2 + self.COLUMNS.index("amount")
        rows = []
        with connection.cursor() as cursor:
            marks = ", ".join(["%s"] * len(refs))
            cursor.execute(
                f"SELECT {columns} FROM {table} WHERE entity_id = %s AND external_ref IN ({marks})",  # noqa: S608
                [self.entity.pk, *refs],
            )
            for row in cursor.fetchall():
                row = list(row)
                value = row[amount_index]
                row[amount_index] = (
                    FLOAT_DECIMALS.create_decimal_from_float(value)
                    if isinstance(value, float)
                    else Decimal(value)
                )
                rows.append(tuple(row))
        return rows

    def _checked_updates(
        self, updates: list[tuple[Item, tuple[Any, ...], tuple[Any, ...]]], now: object
    ) -> list[tuple[Any, ...]]:
        """An invoice with allocations keeps its customer and currency, is not voided, and is not
        lowered below what is already allocated to it."""
        if not updates:
            return []
        ids = [old[0] for _, old, _ in updates]
        allocated: dict[int, tuple[Decimal, date]] = {
            invoice_id: (total, first)
            for invoice_id, total, first in Allocation.objects.filter(invoice_id__in=ids)
            .values("invoice_id")
            .annotate(total=Sum("amount"), first=Min("date"))
            .values_list("invoice_id", "total", "first")
        }
        rows = []
        for item, old, new in updates:
            total, first_allocation = allocated.get(old[0]) or (Decimal(0), None)
            if total:
                if first_allocation is not None and new[1] > first_allocation:
                    self.reject(
                        item,
                        "issue_date",
                        EXPECTED_ISSUE_BEFORE_ALLOCATIONS.format(first=first_allocation),
                        new[1],
                    )
                    continue
                if new[0] != old[2]:
                    self.reject(
                        item, "customer_ref", EXPECTED_NO_ALLOCATIONS.format(what="customer", kind="invoice")
                    )
                    continue
                if new[3] != old[5]:
                    self.reject(
                        item,
                        "currency",
                        EXPECTED_NO_ALLOCATIONS.format(what="currency", kind="invoice"),
                        new[3],
                    )
                    continue
                if new[6] == InvoiceStatus.VOID and old[8] != InvoiceStatus.VOID:
                    self.reject(
                        item, "status", EXPECTED_NO_ALLOCATIONS.format(what="status", kind="invoice"), "void"
                    )
                    continue
                if new[4] < total:
                    self.reject(
                        item,
                        "amount",
                        EXPECTED_ALLOCATED_COVERED.format(allocated=money_text(total)),
                        new[4],
                    )
                    continue
            rows.append((*new, now, old[0]))
        return rows


@dataclass
class InvoiceState:
    id: int
    ref: str
    customer_id: int
    currency: str
    issue_date: date
    status: str
    amount: Decimal
    allocated: Decimal


def invoice_states(
    entity: Entity, *, refs: Iterable[str] = (), ids: Iterable[int] = ()
) -> dict[int, InvoiceState]:
    refs, ids = list(refs), list(ids)
    if connection.vendor == "postgresql":
        return _invoice_states_postgresql(entity, refs, ids)
    invoices = Invoice.objects.filter(entity=entity)
    states: dict[int, InvoiceState] = {}
    for start in range(0, max(len(refs), len(ids)), 500):
        chunk_refs, chunk_ids = refs[start : start + 500], ids[start : start + 500]
        query = invoices.filter(external_ref__in=chunk_refs) | invoices.filter(pk__in=chunk_ids)
        for row in query.values_list(
            "id", "external_ref", "customer_id", "currency", "issue_date", "status", "amount"
        ):
            states[row[0]] = InvoiceState(*row, allocated=Decimal(0))
    found = list(states)
    for start in range(0, len(found), 500):
        for invoice_id, total in (
            Allocation.objects.filter(invoice_id__in=found[start : start + 500])
            .values("invoice_id")
            .annotate(total=Sum("amount"))
            .values_list("invoice_id", "total")
        ):
            states[invoice_id].allocated = total or Decimal(0)
    return states


def _invoice_states_postgresql(entity: Entity, refs: list[str], ids: list[int]) -> dict[int, InvoiceState]:
    """One query with two array parameters (the ORM's thousands of placeholders cost more to
    build and parse than the query takes to run)."""
    quote = connection.ops.quote_name
    invoices, allocations = quote(Invoice._meta.db_table), quote(Allocation._meta.db_table)
    with server_cursor() as cursor:
        cursor.execute(
            "SELECT i.id, i.external_ref, i.customer_id, i.currency, i.issue_date, i.status, i.amount,"  # noqa: S608
            f" COALESCE((SELECT SUM(a.amount) FROM {allocations} a WHERE a.invoice_id = i.id), 0)"
            f" FROM {invoices} i WHERE i.entity_id = %s AND (i.external_ref = ANY(%s) OR i.id = ANY(%s))",
            [entity.pk, refs, ids],
        )
        return {row[0]: InvoiceState(*row) for row in cursor.fetchall()}
