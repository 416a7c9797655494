"""Rejected rows and what they say: the ``RejectSink``, the messages of the ledger-wide rules, and
the temporary table of keys seen earlier in the input."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import connection

from relance.core.csvsafe import SafeCsvWriter
from relance.core.errors import FieldError
from relance.ingest.services.bulk import copy_rows, server_cursor

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


def money_text(value: Decimal) -> str:
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
            # SQLite: WITHOUT ROWID keeps the keys in one B-tree instead of a table and its index
            # (a quarter less CPU for a million keys).
            without_rowid = " WITHOUT ROWID" if connection.vendor == "sqlite" else ""
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self.table} (k TEXT PRIMARY KEY, line INTEGER, digest TEXT){without_rowid}"
            )

    def check_and_add(self, items: list[tuple[str, int | None, str]]) -> dict[str, tuple[int | None, str]]:
        """Return the keys of ``items`` already seen (with their first line and digest); remember the rest.

        ``items`` must not repeat a key.
        """
        if connection.vendor == "postgresql":
            return self._check_and_add_postgresql(items)
        found: dict[str, tuple[int | None, str]] = {}
        with connection.cursor() as cursor:
            if items and all(line is not None for _, line, _ in items):
                # The common case first: one INSERT OR IGNORE; when it stored every key, none
                # was seen before (a file's lines are distinct, so a stored line tells its row).
                cursor.executemany(
                    f"INSERT OR IGNORE INTO {self.table} (k, line, digest) VALUES (%s, %s, %s)",  # noqa: S608
                    items,
                )
                if cursor.rowcount == len(items):
                    return found
                lines = {key: line for key, line, _ in items}
                for start in range(0, len(items), self.CHUNK):
                    keys = [key for key, _, _ in items[start : start + self.CHUNK]]
                    marks = ", ".join(["%s"] * len(keys))
                    cursor.execute(f"SELECT k, line, digest FROM {self.table} WHERE k IN ({marks})", keys)  # noqa: S608
                    for key, line, digest in cursor.fetchall():
                        if line != lines[key]:
                            found[key] = (line, digest)
                return found
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
        with server_cursor() as cursor:
            cursor.execute(
                f"SELECT k, line, digest FROM {self.table} WHERE k = ANY(%s)",  # noqa: S608
                [[key for key, _, _ in items]],
            )
            found = {key: (line, digest) for key, line, digest in cursor.fetchall()}
            fresh = [item for item in items if item[0] not in found]
            if fresh:
                copy_rows(cursor, self.table, "k, line, digest", fresh)
        return found

    def close(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")
