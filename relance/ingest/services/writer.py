"""The writer of one record kind: buffers a batch, finds its existing rows by ref, inserts or updates
what changed, rejects what breaks a rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from relance.core.errors import FieldError
from relance.ingest.parsing import RowParser
from relance.ingest.records import (
    Record,
    UpsertResult,
)
from relance.ingest.services.bulk import record_digest
from relance.ingest.services.rejects import EXPECTED_UNIQUE, RejectSink, SeenKeys
from relance.ledger.models import (
    Entity,
    VersionScope,
)
from relance.ledger.selectors import customer_group_roots
from relance.ledger.services import (
    data_version_bump,
)

BATCH_SIZE = 5000


@dataclass
class Item:
    record: Any
    raw: Mapping[str, str | None] | None


class Writer:
    key_field = ""
    batch_size = BATCH_SIZE
    # Whether ``earliest`` covers every row this writer changes. Writers that do not track it
    # (customers: a segment regroups every date; contacts) bump for every date.
    dated = False
    # The data version the rows count in (orders: their own scope, outside the KPIs' ledger).
    scope: str = VersionScope.LEDGER

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
        self._buffer: list[Item] = []
        self._seen: SeenKeys | None = None
        self._roots: dict[int, int] = {}
        # The earliest business date of the rows written: new rows' dates, updated rows' old and
        # new dates (``DataChange``: KPI snapshots as of earlier dates stay valid).
        self.earliest: date | None = None

    @property
    def result(self) -> UpsertResult:
        return UpsertResult(self.created, self.updated, self.unchanged)

    def add(self, record: Record, raw: Mapping[str, str | None] | None) -> None:
        self._buffer.append(Item(record, raw))
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
            data_version_bump(
                entity_id=self.entity.pk, scope=self.scope, earliest=self.earliest if self.dated else None
            )

    def _touch(self, *dates: date | None) -> None:
        """Count ``dates`` (old and new dates of a row written) into ``earliest``."""
        for value in dates:
            if value is not None and (self.earliest is None or value < self.earliest):
                self.earliest = value

    def reject(self, item: Item, field_name: str, expected: str, found: object = "") -> None:
        record = item.record
        self.sink.reject(item.raw, [FieldError(field_name, expected, str(found), record.line, record.source)])

    def _unique(self, batch: list[Item]) -> list[Item]:
        """Drop (and reject) records whose key was already met in this input.

        The keys of earlier batches are looked up first, so that every duplicate names the key's
        first line in the file and the errors come out in file order, whatever the batch size.
        """
        first: dict[str, tuple[int | None, str]] = {}  # the first row of each key in this batch
        digests = []
        for item in batch:
            digest = record_digest(item.record) if self.deduplicate else ""
            digests.append(digest)
            first.setdefault(item.record.key, (item.record.line, digest))
        if self._seen is None:
            self._seen = SeenKeys()
        earlier = self._seen.check_and_add([(key, line, digest) for key, (line, digest) in first.items()])
        kept: list[Item] = []
        for item, digest in zip(batch, digests, strict=True):
            key = item.record.key
            if key in earlier:
                self._duplicate(item, *earlier[key], digest)
                continue
            earlier[key] = first[key]
            kept.append(item)
        return kept

    def _duplicate(self, item: Item, first_line: int | None, first_digest: str, digest: str) -> None:
        if self.deduplicate and digest == first_digest:
            self.merged_duplicates += 1
            return
        value = getattr(item.record, self.key_field, item.record.key)
        self.reject(item, self.key_field, EXPECTED_UNIQUE.format(field="ref", first=first_line), value)

    def _write(self, batch: list[Item]) -> None:
        raise NotImplementedError

    def _customer_id(self, item: Item) -> int | None:
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
