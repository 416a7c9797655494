"""Writes of the import: records → ledger rows, in batches, inside one transaction.

Records arrive one at a time (a file is never held in memory): each writer buffers a batch,
looks up the existing rows of the batch by external ref, and inserts or updates only what
changed. Rules that depend on the ledger (over-allocation, duplicate refs across the whole
input) are checked here; a failing record goes to the ``RejectSink`` and the others carry on so
that every error is reported. Whoever owns the transaction decides to commit or roll back.
"""

from __future__ import annotations

import decimal
import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import astuple, dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import Min, Model, Sum
from django.utils import timezone

from relance.core.csvsafe import SafeCsvWriter
from relance.core.errors import ErrorList, FieldError, ValidationFailed
from relance.ingest.mappings import BoundMapping, MappingFile, mapping_bind
from relance.ingest.parsing import COLUMNS, RowParser, check_kind, column_names
from relance.ingest.records import (
    AllocationRecord,
    ContactRecord,
    CreditNoteRecord,
    CustomerRecord,
    InvoiceRecord,
    PaymentRecord,
    Record,
    UpsertResult,
)
from relance.ingest.sources import EXTRA_CELLS, HEADER_ONLY, open_table
from relance.ledger.models import (
    Allocation,
    Contact,
    CreditNote,
    Customer,
    Entity,
    Invoice,
    InvoiceStatus,
    Payment,
)
from relance.ledger.selectors import customer_group_roots
from relance.ledger.services import (
    ALLOCATION_BEFORE_ISSUE,
    ALLOCATION_CURRENCY_MISMATCH,
    ALLOCATION_OTHER_CUSTOMER,
    ALLOCATION_VOID_INVOICE,
    data_version_bump,
)

BATCH_SIZE = 5000
STATISTICS_EVERY_BATCHES = 20  # re-ANALYZE tables that grow during a long import (PostgreSQL)
PAYMENT_BATCH_SIZE = 500
MAX_LISTED_ERRORS = 1000
EXPECTED_UNIQUE = "a {field} used only once in the file (it is already on line {first})"
EXPECTED_UNIQUE_ALLOCATION = "one row per invoice in a payment (invoice already on line {first})"
EXPECTED_KNOWN_INVOICE = "an invoice_ref already imported for this entity"
EXPECTED_KNOWN_PARENT = "a customer_ref in the database or in the file"
EXPECTED_TOP_LEVEL_PARENT = "a top-level customer (groups have one level: {parent} belongs to {grandparent})"
EXPECTED_NO_SUBSIDIARIES = "no parent_ref: {ref} has subsidiaries of its own (groups have one level)"
EXPECTED_NOT_OVER_INVOICE = "at most {open_amount} (what invoice {ref} still owes)"
EXPECTED_ALLOCATED_COVERED = "an amount of at least {allocated} (already allocated to invoices)"
EXPECTED_ISSUE_BEFORE_ALLOCATIONS = "an issue date on or before {first}, the date of its first allocation"
EXPECTED_NO_ALLOCATIONS = "no change of {what} while the {kind} has allocations"
EXPECTED_SAME_PAYMENT = "the same {field} as line {first} of payment {ref}"
EXPECTED_ROWS_PER_CELL = "{width} cells as in the header"
ALLOCATIONS_OVER_PAYMENT = "allocations totalling at most the payment amount {amount}"
PAYMENT_HAS_BAD_ROW = "every row of payment {ref} to be valid (line {line} is not)"


# ---------------------------------------------------------------------------------------------
# Rejects and the temporary table of seen keys
# ---------------------------------------------------------------------------------------------


class RejectSink:
    """Collects rejected rows: the first ``MAX_LISTED_ERRORS`` errors in memory, the count of
    all of them, and (with ``--skip-invalid``) the original rows in a formula-safe CSV."""

    def __init__(self, *, rejects_path: Path | None = None, header: list[str] | None = None) -> None:
        self.errors: list[FieldError] = []
        self.error_count = 0
        self.rejected_rows = 0
        self.rejects_path = rejects_path
        self._header = [name for name in (header or []) if name]
        self._writer: SafeCsvWriter | None = None
        self._stream: Any = None

    def reject(self, raw: Mapping[str, str | None] | None, errors: list[FieldError]) -> None:
        self.rejected_rows += 1
        self.error_count += len(errors)
        room = MAX_LISTED_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])
        if self.rejects_path is not None:
            if self._writer is None:
                self._stream = self.rejects_path.open("w", encoding="utf-8", newline="")
                self._writer = SafeCsvWriter(self._stream)
                self._writer.writerow([*self._header, "line", "error"])
            row = raw or {}
            line = errors[0].line if errors else None
            message = "; ".join(
                f"{error.field}: expected {error.expected}" + _found(error) for error in errors
            )
            self._writer.writerow([*(row.get(name) or "" for name in self._header), line or "", message])

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()


def _money_text(value: Decimal) -> str:
    """Amounts in messages read the same on every database: 1200.00, 300.5 → 300.50, 0.1234."""
    value = value.normalize()
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        value = value.quantize(Decimal("0.01"))
    return f"{value:f}"


def _found(error: FieldError) -> str:
    return f", found {error.found!r}" if error.found != "" else ""


class SeenKeys:
    """Keys met so far in this input, in a temporary table: memory stays flat however long the file.

    Each key keeps its first line and (when identical duplicates may be merged) a digest of the row.
    """

    CHUNK = 500

    def __init__(self) -> None:
        self.table = f"relance_seen_{uuid.uuid4().hex[:12]}"
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self.table} (k TEXT PRIMARY KEY, line INTEGER, digest TEXT)"
            )

    def check_and_add(self, items: list[tuple[str, int | None, str]]) -> dict[str, tuple[int | None, str]]:
        """Return the keys of ``items`` already seen (with their first line and digest); remember the rest.

        ``items`` must not repeat a key.
        """
        if connection.vendor == "postgresql":
            return self._check_and_add_postgresql(items)
        found: dict[str, tuple[int | None, str]] = {}
        with connection.cursor() as cursor:
            for start in range(0, len(items), self.CHUNK):
                keys = [key for key, _, _ in items[start : start + self.CHUNK]]
                marks = ", ".join(["%s"] * len(keys))
                cursor.execute(f"SELECT k, line, digest FROM {self.table} WHERE k IN ({marks})", keys)  # noqa: S608
                for key, line, digest in cursor.fetchall():
                    found[key] = (line, digest)
            fresh = [item for item in items if item[0] not in found]
            if fresh:
                cursor.executemany(f"INSERT INTO {self.table} (k, line, digest) VALUES (%s, %s, %s)", fresh)  # noqa: S608
        return found

    def _check_and_add_postgresql(
        self, items: list[tuple[str, int | None, str]]
    ) -> dict[str, tuple[int | None, str]]:
        """Two round trips: look the keys up with one array parameter, COPY the new ones in."""
        with _server_cursor() as cursor:
            cursor.execute(
                f"SELECT k, line, digest FROM {self.table} WHERE k = ANY(%s)",  # noqa: S608
                [[key for key, _, _ in items]],
            )
            found = {key: (line, digest) for key, line, digest in cursor.fetchall()}
            fresh = [item for item in items if item[0] not in found]
            if fresh:
                _copy_rows(cursor, self.table, "k, line, digest", fresh)
        return found

    def close(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")


_FLOAT_DECIMALS = decimal.Context(prec=15)  # as django.db.backends.sqlite3 reads DecimalField


def _server_cursor() -> Any:
    """A psycopg cursor with server-side binding: Django's client-side binding quotes every
    element of a large array parameter in Python, which dominates the cost of a batch."""
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES) if ("\\" in value or not value.isprintable()) else value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # int, Decimal, date: their str() is what COPY reads


def _copy_rows(cursor: Any, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    """COPY ``rows`` in one write: formatting the text here is several times faster than
    psycopg's per-value ``write_row``."""
    text = "".join("\t".join([_copy_text(value) for value in row]) + "\n" for row in rows)
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write(text.encode("utf-8"))


def _fresh_statistics(*models: type[Model]) -> None:
    """Refresh PostgreSQL's planner statistics of tables an import looks rows up in.

    Right after a bulk load the statistics still describe an empty table, and the planner then
    answers ``external_ref = ANY(…)`` by filtering every row of the entity, once per batch: a
    re-import becomes quadratic. Tables that grow during an import (payments, allocations) are
    analysed again every few batches; ANALYZE counts the transaction's own new rows. ANALYZE samples a fixed number of rows, so it costs well under
    a second even for millions of rows. Skipped (harmlessly) where not allowed.
    """
    if connection.vendor != "postgresql":
        return
    for model in models:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        except DatabaseError:
            pass


def _digest(record: Record) -> str:
    values = astuple(replace(record, line=None, source=""))
    return hashlib.blake2b(repr(values).encode(), digest_size=12).hexdigest()


def _insert_rows(model: type[Model], columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert many rows fast: PostgreSQL COPY, otherwise one executemany."""
    _insert_into(model._meta.db_table, columns, rows)


def _insert_into(table_name: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(table_name)
    names = ", ".join(quote(column) for column in columns)
    if connection.vendor == "postgresql":
        with _server_cursor() as cursor:
            _copy_rows(cursor, table, names, rows)
        return
    marks = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608


def _insert_returning_ids(
    model: type[Model], columns: list[str], rows: list[tuple[Any, ...]]
) -> dict[str, int]:
    """Insert rows (one of the columns is ``external_ref``) and return their ids by external ref,
    in one statement: no look-up afterwards on a table that grows during the import."""
    if not rows:
        return {}
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    if connection.vendor == "postgresql":
        # One array per column: a short statement, whatever the number of rows.
        types = [model._meta.get_field(column).db_type(connection) for column in columns]
        arrays = ", ".join(f"%s::{db_type}[]" for db_type in types)
        with _server_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(model._meta.db_table)} ({names}) SELECT * FROM unnest({arrays})"  # noqa: S608
                " RETURNING external_ref, id",
                [list(column) for column in zip(*rows, strict=True)],
            )
            return dict(cursor.fetchall())
    values = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES {values}"  # noqa: S608
            " RETURNING external_ref, id",
            [value for row in rows for value in row],
        )
        return dict(cursor.fetchall())


def _update_rows(model: type[Model], columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """``rows`` are (values…, id) tuples."""
    if not rows:
        return
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE id = %s",  # noqa: S608
            rows,
        )


# ---------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------


@dataclass
class _Item:
    record: Any
    raw: Mapping[str, str | None] | None


class _Writer:
    key_field = ""
    batch_size = BATCH_SIZE
    # Whether ``earliest`` covers every row this writer changes. Writers that do not track it
    # (customers: a segment regroups every date; contacts) bump for every date.
    dated = False

    def __init__(
        self,
        *,
        entity: Entity,
        parser: RowParser,
        sink: RejectSink,
        deduplicate: bool = False,
        bulk: bool = True,
    ) -> None:
        self.entity = entity
        # A file import may write millions of rows: worth refreshing planner statistics first.
        # An API call writes a handful: not worth an ANALYZE per request.
        self.bulk = bulk
        self.parser = parser
        self.sink = sink
        self.deduplicate = deduplicate
        self.merged_duplicates = 0
        self.created = self.updated = self.unchanged = 0
        self._buffer: list[_Item] = []
        self._seen: SeenKeys | None = None
        self._roots: dict[int, int] = {}
        # The earliest business date of the rows written: new rows' dates, updated rows' old and
        # new dates (``DataChange``: KPI snapshots as of earlier dates stay valid).
        self.earliest: date | None = None

    @property
    def result(self) -> UpsertResult:
        return UpsertResult(self.created, self.updated, self.unchanged)

    def add(self, record: Record, raw: Mapping[str, str | None] | None) -> None:
        self._buffer.append(_Item(record, raw))
        if len(self._buffer) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        batch, self._buffer = self._buffer, []
        if batch:
            self._write(self._unique(batch))

    def finish(self) -> None:
        self.flush()
        if self._seen is not None:
            self._seen.close()
        self._data_version_bump()

    def _data_version_bump(self) -> None:
        """Rows went in by COPY/bulk: no signals, so one bump with the earliest date written."""
        if self.created or self.updated:
            data_version_bump(entity_id=self.entity.pk, earliest=self.earliest if self.dated else None)

    def _touch(self, *dates: date | None) -> None:
        """Count ``dates`` (old and new dates of a row written) into ``earliest``."""
        for value in dates:
            if value is not None and (self.earliest is None or value < self.earliest):
                self.earliest = value

    def reject(self, item: _Item, field_name: str, expected: str, found: object = "") -> None:
        record = item.record
        self.sink.reject(item.raw, [FieldError(field_name, expected, str(found), record.line, record.source)])

    def _unique(self, batch: list[_Item]) -> list[_Item]:
        """Drop (and reject) records whose key was already met in this input."""
        local: dict[str, tuple[int | None, str]] = {}
        kept: list[_Item] = []
        for item in batch:
            key = item.record.key
            digest = _digest(item.record) if self.deduplicate else ""
            if key in local:
                self._duplicate(item, *local[key], digest)
                continue
            local[key] = (item.record.line, digest)
            kept.append(item)
        if self._seen is None:
            self._seen = SeenKeys()
        found = self._seen.check_and_add([(key, line, digest) for key, (line, digest) in local.items()])
        if not found:
            return kept
        fresh = []
        for item in kept:
            if item.record.key in found:
                self._duplicate(item, *found[item.record.key], local[item.record.key][1])
            else:
                fresh.append(item)
        return fresh

    def _duplicate(self, item: _Item, first_line: int | None, first_digest: str, digest: str) -> None:
        if self.deduplicate and digest == first_digest:
            self.merged_duplicates += 1
            return
        value = getattr(item.record, self.key_field, item.record.key)
        self.reject(item, self.key_field, EXPECTED_UNIQUE.format(field="ref", first=first_line), value)

    def _write(self, batch: list[_Item]) -> None:
        raise NotImplementedError

    def _customer_id(self, item: _Item) -> int | None:
        info = self.parser.customer(item.record.customer_ref)
        if info is None:
            from relance.ingest.parsing import EXPECTED_KNOWN_CUSTOMER

            self.reject(item, "customer_ref", EXPECTED_KNOWN_CUSTOMER, item.record.customer_ref)
            return None
        return info.id

    def _root(self, customer_id: int) -> int:
        """The group account of a customer (its parent, or itself), as ``allocation_create`` sees it."""
        if customer_id not in self._roots:
            self._roots.update(customer_group_roots(customer_ids={customer_id}))
        return self._roots[customer_id]


class CustomerWriter(_Writer):
    key_field = "customer_ref"
    FIELDS = (
        "name",
        "currency",
        "payment_terms_days",
        "credit_limit",
        "segment",
        "language",
        "country",
        "tax_id",
        "registration_id",
        "timezone",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # rows with a parent_ref, whether they were counted unchanged, and the customer's values
        # before this import (None when it created the customer) to undo a rejected row
        self._parents: list[tuple[_Item, bool, dict[str, Any] | None]] = []

    def _write(self, batch: list[_Item]) -> None:
        refs = [item.record.customer_ref for item in batch]
        existing = {
            c.external_ref: c for c in Customer.objects.filter(entity=self.entity, external_ref__in=refs)
        }
        contacts: dict[int, Contact] = {}
        ids = [c.pk for c in existing.values()]
        for billing in Contact.objects.filter(customer_id__in=ids, role="billing").order_by("-id"):
            contacts[billing.customer_id] = billing  # ends with the oldest billing contact
        to_create: list[Customer] = []
        to_update: list[Customer] = []
        changed_contacts: list[tuple[Customer, CustomerRecord]] = []
        for item in batch:
            record: CustomerRecord = item.record
            values = {
                name: getattr(record, name) for name in self.FIELDS if getattr(record, name) is not None
            }
            customer = existing.get(record.customer_ref)
            before = None if customer is None else {name: getattr(customer, name) for name in self.FIELDS}
            if customer is None:
                values.setdefault("currency", self.entity.currency)
                values.setdefault("language", self.entity.language)
                customer = Customer(entity=self.entity, external_ref=record.customer_ref, **values)
                to_create.append(customer)
                self.created += 1
                changed = True
            else:
                changed = False
                for name, value in values.items():
                    if getattr(customer, name) != value:
                        setattr(customer, name, value)
                        changed = True
                if changed:
                    to_update.append(customer)
                contact = contacts.get(customer.pk)
                if (record.email is not None or record.phone is not None) and (
                    contact is None
                    or (record.email is not None and contact.email != record.email)
                    or (record.phone is not None and contact.phone != record.phone)
                ):
                    changed = True
                if changed:
                    self.updated += 1
                else:
                    self.unchanged += 1
            if record.email is not None or record.phone is not None:
                changed_contacts.append((customer, record))
            if record.parent_ref is not None:
                self._parents.append((item, not changed, before))
        now = timezone.now()
        Customer.objects.bulk_create(to_create)
        if to_update:
            for customer in to_update:
                customer.updated_at = now
            Customer.objects.bulk_update(to_update, [*self.FIELDS, "updated_at"])
        self._primary_contacts(changed_contacts, contacts)
        for customer in [*to_create, *to_update]:
            self.parser.remember(customer)

    def _primary_contacts(
        self, pairs: list[tuple[Customer, CustomerRecord]], contacts: dict[int, Contact]
    ) -> None:
        new: list[Contact] = []
        changed: list[Contact] = []
        for customer, record in pairs:
            contact = contacts.get(customer.pk)
            if contact is None:
                new.append(
                    Contact(
                        customer=customer,
                        name=record.name,
                        role="billing",
                        email=record.email or "",
                        phone=record.phone or "",
                    )
                )
                continue
            before = (contact.email, contact.phone)
            if record.email is not None:
                contact.email = record.email
            if record.phone is not None:
                contact.phone = record.phone
            if (contact.email, contact.phone) != before:
                contact.updated_at = timezone.now()
                changed.append(contact)
        Contact.objects.bulk_create(new)
        if changed:
            Contact.objects.bulk_update(changed, ["email", "phone", "updated_at"])

    def finish(self) -> None:
        """Link parents once every row is in: a parent may come later in the file.

        Groups have one level (a parent is a top-level account, a subsidiary has none of its
        own), as ``allocation_create`` assumes. A row whose parent is refused is undone — a
        customer it created is removed, one it updated gets its old values back — so that
        ``--skip-invalid`` never keeps part of a rejected row.
        """
        super().finish()
        if not self._parents:
            return
        wanted = {item.record.parent_ref for item, _, _ in self._parents} | {
            item.record.customer_ref for item, _, _ in self._parents
        }
        ids: dict[str, tuple[int, int | None]] = {}
        wanted_list = sorted(wanted)
        for start in range(0, len(wanted_list), 500):
            for ref, pk, parent_id in Customer.objects.filter(
                entity=self.entity, external_ref__in=wanted_list[start : start + 500]
            ).values_list("external_ref", "id", "parent_id"):
                ids[ref] = (pk, parent_id)
        refs_by_id = {pk: ref for ref, (pk, _) in ids.items()}
        proposed = {
            item.record.customer_ref: ids[item.record.parent_ref][0]
            for item, _, _ in self._parents
            if item.record.customer_ref in ids and item.record.parent_ref in ids
        }
        parents_in_use = set(proposed.values()) | set(
            Customer.objects.filter(entity=self.entity, parent__isnull=False).values_list(
                "parent_id", flat=True
            )
        )
        for item, counted_unchanged, before in self._parents:
            record: CustomerRecord = item.record
            own = ids.get(record.customer_ref)
            if own is None:
                continue  # the customer itself was rejected
            parent = ids.get(record.parent_ref or "")
            problem: tuple[str, object] | None = None
            if parent is None:
                problem = (EXPECTED_KNOWN_PARENT, record.parent_ref)
            else:
                grandparent = proposed.get(record.parent_ref or "", parent[1])
                if grandparent is not None:
                    problem = (
                        EXPECTED_TOP_LEVEL_PARENT.format(
                            parent=record.parent_ref, grandparent=refs_by_id.get(grandparent, grandparent)
                        ),
                        record.parent_ref,
                    )
                elif own[0] in parents_in_use:
                    problem = (EXPECTED_NO_SUBSIDIARIES.format(ref=record.customer_ref), record.parent_ref)
            if problem is not None:
                self.reject(item, "parent_ref", *problem)
                self._undo(own[0], before, counted_unchanged)
                continue
            assert parent is not None
            if own[1] != parent[0]:
                Customer.objects.filter(pk=own[0]).update(parent_id=parent[0], updated_at=timezone.now())
                if counted_unchanged:
                    self.unchanged -= 1
                    self.updated += 1

    def _undo(self, customer_id: int, before: dict[str, Any] | None, counted_unchanged: bool) -> None:
        if before is None:
            Contact.objects.filter(customer_id=customer_id).delete()
            Customer.objects.filter(pk=customer_id).delete()
            self.created -= 1
        else:
            customer = Customer.objects.get(pk=customer_id)
            for name, value in before.items():
                setattr(customer, name, value)
            Customer.objects.filter(pk=customer_id).update(**before, search_text=customer.search_text_value())
            if counted_unchanged:
                self.unchanged -= 1
            else:
                self.updated -= 1


class ContactWriter(_Writer):
    key_field = "contact_ref"
    FIELDS = (
        "name",
        "role",
        "email",
        "phone",
        "preferred_channel",
        "postal_address",
        "opt_out_email",
        "opt_out_sms",
        "opt_out_letter",
        "opt_out_phone",
    )

    def _duplicate(self, item: _Item, first_line: int | None, first_digest: str, digest: str) -> None:
        if item.record.contact_ref is None:
            self.key_field = "email"
        super()._duplicate(item, first_line, first_digest, digest)
        self.key_field = "contact_ref"

    def _write(self, batch: list[_Item]) -> None:
        items = []
        for item in batch:
            customer_id = self._customer_id(item)
            if customer_id is not None:
                items.append((item, customer_id))
        refs = [item.record.contact_ref for item, _ in items if item.record.contact_ref]
        by_ref = {
            found.external_ref: found
            for found in Contact.objects.filter(customer__entity=self.entity, external_ref__in=refs).order_by(
                "-id"
            )
        }
        emails = [item.record.email for item, _ in items if not item.record.contact_ref]
        by_email: dict[tuple[int, str], Contact] = {}
        customer_ids = [customer_id for item, customer_id in items if not item.record.contact_ref]
        for found in Contact.objects.filter(customer_id__in=customer_ids, email__in=emails).order_by("-id"):
            by_email[(found.customer_id, found.email)] = found
        to_create: list[Contact] = []
        to_update: list[Contact] = []
        for item, customer_id in items:
            record: ContactRecord = item.record
            values = {
                name: getattr(record, name) for name in self.FIELDS if getattr(record, name) is not None
            }
            contact: Contact | None
            if record.contact_ref:
                contact = by_ref.get(record.contact_ref)
            else:
                contact = by_email.get((customer_id, record.email or ""))
            if contact is None:
                to_create.append(
                    Contact(customer_id=customer_id, external_ref=record.contact_ref or "", **values)
                )
                self.created += 1
                continue
            changed = contact.customer_id != customer_id
            contact.customer_id = customer_id
            for name, value in values.items():
                if getattr(contact, name) != value:
                    setattr(contact, name, value)
                    changed = True
            if changed:
                contact.updated_at = timezone.now()
                to_update.append(contact)
                self.updated += 1
            else:
                self.unchanged += 1
        Contact.objects.bulk_create(to_create)
        if to_update:
            Contact.objects.bulk_update(to_update, ["customer_id", *self.FIELDS, "updated_at"])


class InvoiceWriter(_Writer):
    """The hot path of large imports: raw executemany / COPY, no model instances."""

    key_field = "invoice_ref"
    # An invoice counts as of D only from its issue date on, whatever its status or void date:
    # the old and new issue dates bound every date a written row can change.
    dated = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # A first load: every key reaching _write is new to this input (SeenKeys), and the entity
        # had no invoice before it, so there is nothing to look up.
        self._first_load = not Invoice.objects.filter(entity=self.entity).exists()
        if not self._first_load:
            if self.bulk:
                _fresh_statistics(Invoice)

    COLUMNS = ["customer_id", "issue_date", "due_date", "currency", "amount", "po_number", "status"]

    def _write(self, batch: list[_Item]) -> None:
        refs = [item.record.invoice_ref for item in batch]
        existing = {} if self._first_load else {row[1]: row for row in self._existing(refs)}
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        entity_id = self.entity.pk
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[_Item, tuple[Any, ...], tuple[Any, ...]]] = []
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
        _insert_rows(
            Invoice,
            ["entity_id", "customer_id", "external_ref", "issue_date", "due_date", "currency", "amount"]
            + ["po_number", "status", "created_at", "updated_at"],
            inserts,
        )
        _update_rows(Invoice, [*self.COLUMNS, "updated_at"], rows)
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
            with _server_cursor() as cursor:
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
                    _FLOAT_DECIMALS.create_decimal_from_float(value)
                    if isinstance(value, float)
                    else Decimal(value)
                )
                rows.append(tuple(row))
        return rows

    def _checked_updates(
        self, updates: list[tuple[_Item, tuple[Any, ...], tuple[Any, ...]]], now: object
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
                        EXPECTED_ALLOCATED_COVERED.format(allocated=_money_text(total)),
                        new[4],
                    )
                    continue
            rows.append((*new, now, old[0]))
        return rows


@dataclass
class _InvoiceState:
    id: int
    ref: str
    customer_id: int
    currency: str
    issue_date: date
    status: str
    amount: Decimal
    allocated: Decimal


def _invoice_states(
    entity: Entity, *, refs: Iterable[str] = (), ids: Iterable[int] = ()
) -> dict[int, _InvoiceState]:
    refs, ids = list(refs), list(ids)
    if connection.vendor == "postgresql":
        return _invoice_states_postgresql(entity, refs, ids)
    invoices = Invoice.objects.filter(entity=entity)
    states: dict[int, _InvoiceState] = {}
    for start in range(0, max(len(refs), len(ids)), 500):
        chunk_refs, chunk_ids = refs[start : start + 500], ids[start : start + 500]
        query = invoices.filter(external_ref__in=chunk_refs) | invoices.filter(pk__in=chunk_ids)
        for row in query.values_list(
            "id", "external_ref", "customer_id", "currency", "issue_date", "status", "amount"
        ):
            states[row[0]] = _InvoiceState(*row, allocated=Decimal(0))
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


def _invoice_states_postgresql(entity: Entity, refs: list[str], ids: list[int]) -> dict[int, _InvoiceState]:
    """One query with two array parameters (the ORM's thousands of placeholders cost more to
    build and parse than the query takes to run)."""
    quote = connection.ops.quote_name
    invoices, allocations = quote(Invoice._meta.db_table), quote(Allocation._meta.db_table)
    with _server_cursor() as cursor:
        cursor.execute(
            "SELECT i.id, i.external_ref, i.customer_id, i.currency, i.issue_date, i.status, i.amount,"  # noqa: S608
            f" COALESCE((SELECT SUM(a.amount) FROM {allocations} a WHERE a.invoice_id = i.id), 0)"
            f" FROM {invoices} i WHERE i.entity_id = %s AND (i.external_ref = ANY(%s) OR i.id = ANY(%s))",
            [entity.pk, refs, ids],
        )
        return {row[0]: _InvoiceState(*row) for row in cursor.fetchall()}


class _AllocatingWriter(_Writer):
    """Shared rules of credit notes and payments: the checks of ``allocation_create``, in bulk."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.bulk:
            _fresh_statistics(Invoice, Allocation, CreditNote, Payment)
        self._batches = 0

    def _allocation_problem(
        self,
        state: _InvoiceState,
        *,
        customer_id: int,
        currency: str,
        on: date,
        amount: Decimal,
        released: Decimal,
    ) -> tuple[str, str, object] | None:
        if state.status == InvoiceStatus.VOID:
            return (
                "invoice_ref",
                "an open invoice (" + ALLOCATION_VOID_INVOICE.format(ref=state.ref) + ")",
                state.ref,
            )
        if currency != state.currency:
            message = ALLOCATION_CURRENCY_MISMATCH.format(
                source_currency=currency, invoice_currency=state.currency
            )
            return "currency", f"{state.currency}, the invoice's currency ({message})", currency
        if customer_id != state.customer_id and self._root(customer_id) != self._root(state.customer_id):
            return (
                "invoice_ref",
                "an invoice of the same customer account ("
                + ALLOCATION_OTHER_CUSTOMER.format(invoice=state.ref)
                + ")",
                state.ref,
            )
        if on < state.issue_date:
            message = ALLOCATION_BEFORE_ISSUE.format(date=on, issue_date=state.issue_date)
            return "date", f"a date on or after the invoice's issue date ({message})", on
        open_amount = state.amount - state.allocated + released
        if amount > open_amount:
            return (
                "amount",
                EXPECTED_NOT_OVER_INVOICE.format(open_amount=_money_text(open_amount), ref=state.ref),
                amount,
            )
        return None


class CreditNoteWriter(_AllocatingWriter):
    key_field = "credit_note_ref"
    dated = True

    def _write(self, batch: list[_Item]) -> None:
        self._batches += 1
        if self._batches % STATISTICS_EVERY_BATCHES == 0:
            _fresh_statistics(CreditNote, Allocation)  # both grow during the import
        refs = [item.record.credit_note_ref for item in batch]
        existing = {
            note.external_ref: note
            for note in CreditNote.objects.filter(entity=self.entity, external_ref__in=refs)
        }
        old_allocations: dict[int, list[Allocation]] = defaultdict(list)
        for allocation in Allocation.objects.filter(credit_note_id__in=[n.pk for n in existing.values()]):
            old_allocations[allocation.credit_note_id or 0].append(allocation)
        states = _invoice_states(
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
                        EXPECTED_ALLOCATED_COVERED.format(allocated=_money_text(allocated)),
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
        _insert_rows(
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
        _insert_rows(
            Allocation,
            ["entity_id", "invoice_id", "credit_note_id", "date", "amount", "created_at", "updated_at"],
            [
                (entity_id, invoice_id, n.pk, on, amount, now, now)
                for n, invoice_id, amount, on in new_allocations
            ],
        )


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
]


class PaymentWriter(_AllocatingWriter):
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
                _Item(record, raw), "allocations", ALLOCATIONS_OVER_PAYMENT.format(amount=record.amount)
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
                    " method TEXT, source TEXT, raw TEXT)"
                )
        _insert_into(self._staging, STAGING_COLUMNS, self._staged)
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
                _fresh_statistics(Payment, Allocation)  # both grow during the import
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {order}")
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        self._data_version_bump()  # this finish does not call ``_Writer.finish``

    @staticmethod
    def _unstage(row: tuple[Any, ...]) -> _StagedRow:
        seq, ref, line, customer_ref, on, currency, amount, invoice_ref, method, source, raw = row
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
        )
        draft = _PaymentDraft(first=record, amount=Decimal(0))
        for row in rows:
            for name in ("customer_ref", "date", "currency", "method"):
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
        states = _invoice_states(
            self.entity,
            refs={ref for draft in drafts for ref in draft.allocations},
            ids={a.invoice_id for allocations in old_allocations.values() for a in allocations},
        )
        by_ref = {state.ref: state for state in states.values()}
        new_allocations: list[tuple[Payment | _NewPayment, int, date, Decimal]] = []
        new_payments: list[_NewPayment] = []
        changed_payments: list[Payment] = []
        replaced_payment_ids: list[int] = []
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
        ids = _insert_returning_ids(
            Payment,
            ["entity_id", "customer_id", "external_ref", "date", "currency", "amount", "method"]
            + ["created_at", "updated_at"],
            [
                (
                    entity_id,
                    p.values["customer_id"],
                    p.external_ref,
                    p.values["date"],
                    p.values["currency"],
                    p.values["amount"],
                    p.values.get("method") or "",
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
                changed_payments, ["customer_id", "date", "currency", "amount", "method", "updated_at"]
            )
        if replaced_payment_ids:
            Allocation.objects.filter(payment_id__in=replaced_payment_ids).delete()
        _insert_rows(
            Allocation,
            ["entity_id", "invoice_id", "payment_id", "date", "amount", "created_at", "updated_at"],
            [
                (entity_id, invoice_id, p.pk, on, amount, now, now)
                for p, invoice_id, on, amount in new_allocations
            ],
        )


WRITERS: dict[str, type[_Writer]] = {
    "customers": CustomerWriter,
    "contacts": ContactWriter,
    "invoices": InvoiceWriter,
    "credit_notes": CreditNoteWriter,
    "payments": PaymentWriter,
}


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def records_upsert(*, kind: str, records: Iterable[Record], entity: Entity) -> UpsertResult:
    """See ``relance.ingest.records.upsert_records``."""
    check_kind(kind)
    sink = RejectSink()
    with transaction.atomic():
        parser = RowParser(kind, entity=entity, preload=False)
        writer = WRITERS[kind](entity=entity, parser=parser, sink=sink, bulk=False)
        for record in records:
            writer.add(record, None)
        writer.finish()
        if sink.error_count:
            raise ErrorList(sink.errors)
    return writer.result


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did (or, for a dry run or a rejected file, would have done)."""

    kind: str
    source: str
    rows: int
    result: UpsertResult
    committed: bool
    dry_run: bool
    rejected_rows: int
    error_count: int
    errors: list[FieldError]
    skipped_rows: int = 0
    merged_duplicates: int = 0
    ignored_columns: tuple[str, ...] = ()
    rejects_path: str | None = None
    encoding: str = ""
    delimiter: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "rows": self.rows,
            "created": self.result.created,
            "updated": self.result.updated,
            "unchanged": self.result.unchanged,
            "committed": self.committed,
            "dry_run": self.dry_run,
            "rejected_rows": self.rejected_rows,
            "error_count": self.error_count,
            "errors": [str(error) for error in self.errors],
            "skipped_rows": self.skipped_rows,
            "merged_duplicates": self.merged_duplicates,
            "ignored_columns": list(self.ignored_columns),
            "rejects_path": self.rejects_path,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
        }


Progress = Callable[[int, int], None]


def rejects_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.csv")


def file_import(
    *,
    kind: str,
    path: Path | str,
    entity: Entity,
    mapping: MappingFile | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    start: Callable[[int], None] | None = None,
) -> ImportOutcome:
    """Import one file: stream, validate, write in batches in one transaction.

    The transaction is rolled back on a dry run, and when any row is invalid unless
    ``skip_invalid`` (then the valid rows are kept and the rejects written beside the input).
    Raises ``ValidationFailed`` for problems with the file as a whole (empty, missing columns).
    """
    check_kind(kind)
    path = Path(path)
    mapping = mapping or MappingFile()
    expected = ", ".join(column.name for column in COLUMNS[kind])
    table = open_table(
        path,
        encoding=mapping.encoding,
        delimiter=mapping.delimiter,
        sheet=mapping.sheet,
        expected_columns=expected,
    )
    try:
        bound = mapping_bind(mapping, kind=kind, header=table.header, source=table.source)
    except ValidationFailed:
        table.close()
        raise
    if start is not None:
        start(table.total_bytes)
    write_rejects = skip_invalid and not dry_run
    sink = RejectSink(rejects_path=rejects_path_for(path) if write_rejects else None, header=table.header)
    rows = skipped = 0
    try:
        with transaction.atomic():
            parser = RowParser(kind, entity=entity, options=mapping.parse_options)
            writer = WRITERS[kind](entity=entity, parser=parser, sink=sink, deduplicate=mapping.deduplicate)
            rows, skipped = _stream(table, bound, parser, writer, sink, progress)
            writer.finish()
            if rows == 0:
                raise ValidationFailed(HEADER_ONLY.format(source=table.source))
            failed = sink.error_count > 0
            committed = not dry_run and (not failed or skip_invalid)
            if not committed:
                transaction.set_rollback(True)
            else:
                _import_audited(kind=kind, entity=entity, source=table.source, rows=rows, writer=writer)
    finally:
        sink.close()
    if sink.rejects_path is not None and not sink.rejected_rows and sink.rejects_path.exists():
        sink.rejects_path.unlink()
    return ImportOutcome(
        kind=kind,
        source=table.source,
        rows=rows,
        result=writer.result,
        committed=committed,
        dry_run=dry_run,
        rejected_rows=sink.rejected_rows,
        error_count=sink.error_count,
        errors=sink.errors,
        skipped_rows=skipped,
        merged_duplicates=writer.merged_duplicates,
        ignored_columns=bound.ignored_columns,
        rejects_path=str(sink.rejects_path) if sink.rejects_path is not None and sink.rejected_rows else None,
        encoding=table.encoding,
        delimiter=table.delimiter,
    )


def _import_audited(*, kind: str, entity: Entity, source: str, rows: int, writer: _Writer) -> None:
    """One audit event per committed import (not one per row: imports are bulk writes)."""
    from relance.audit.services import audit_record

    audit_record(
        action="import",
        entity=entity,
        object_type=f"ledger.{kind}",
        object_repr=source,
        after={
            "rows": rows,
            "created": writer.result.created,
            "updated": writer.result.updated,
            "unchanged": writer.result.unchanged,
        },
    )


def _stream(
    table: Any,
    bound: BoundMapping,
    parser: RowParser,
    writer: _Writer,
    sink: RejectSink,
    progress: Progress | None,
) -> tuple[int, int]:
    rows = skipped = 0
    parse = parser.parse
    apply = bound.apply
    add = writer.add
    source = table.source
    width = len(table.header)
    keep_raw = sink.rejects_path is not None
    for source_row in _rows(table):
        rows += 1
        if progress is not None and rows % 2000 == 0:
            progress(table.bytes_read, rows)
        raw = source_row.cells
        if EXTRA_CELLS in raw:
            found = raw.pop(EXTRA_CELLS) or ""
            sink.reject(
                raw,
                [
                    FieldError(
                        "row",
                        EXPECTED_ROWS_PER_CELL.format(width=width),
                        f"{found} cells",
                        source_row.line,
                        source,
                    )
                ],
            )
            continue
        cells = apply(raw)
        if cells is None:
            skipped += 1
            continue
        try:
            record = parse(cells, line=source_row.line, source=source)
        except ErrorList as exc:
            sink.reject(raw, exc.errors)
            continue
        # The original cells are only needed for the rejects file: don't hold them otherwise.
        add(record, raw if keep_raw else None)
    if progress is not None:
        progress(table.bytes_read, rows)
    return rows, skipped


def _rows(table: Any) -> Iterator[Any]:
    yield from table.rows


def canonical_columns(kind: str) -> tuple[str, ...]:
    return column_names(kind)
