"""The import run: a file (or records) streamed through the writer of its kind in one transaction, and its outcome."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from django.db import transaction

from relance.core.errors import ErrorList, FieldError, ValidationFailed
from relance.ingest.mappings import BoundMapping, MappingFile, mapping_bind
from relance.ingest.parsing import COLUMNS, RowParser, check_kind, column_names
from relance.ingest.records import (
    Record,
    UpsertResult,
)
from relance.ingest.services.bulk import bulk_session
from relance.ingest.services.columnar import columnar_reader
from relance.ingest.services.credit_notes import CreditNoteWriter
from relance.ingest.services.customers import ContactWriter, CustomerWriter
from relance.ingest.services.disputes import DisputeWriter
from relance.ingest.services.invoices import InvoiceWriter
from relance.ingest.services.orders import OrderWriter
from relance.ingest.services.payments import PaymentWriter
from relance.ingest.services.rates import ExchangeRateWriter
from relance.ingest.services.rejects import EXPECTED_ROWS_PER_CELL, RejectSink
from relance.ingest.services.writer import Writer
from relance.ingest.sources import EXTRA_CELLS, HEADER_ONLY, open_table
from relance.ledger.models import (
    Entity,
)

WRITERS: dict[str, type[Writer]] = {
    "customers": CustomerWriter,
    "contacts": ContactWriter,
    "invoices": InvoiceWriter,
    "credit_notes": CreditNoteWriter,
    "payments": PaymentWriter,
    "orders": OrderWriter,
    "disputes": DisputeWriter,
    "exchange_rates": ExchangeRateWriter,
}


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
    #: What the apps listening to ``import_committed`` said (the data-quality monitoring).
    followed_by: tuple[str, ...] = ()

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
            "followed_by": list(self.followed_by),
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
    columnar: bool = True,
) -> ImportOutcome:
    """Import one file: stream, validate, write in batches in one transaction.

    The transaction is rolled back on a dry run, and when any row is invalid unless
    ``skip_invalid`` (then the valid rows are kept and the rejects written beside the input).
    Raises ``ValidationFailed`` for problems with the file as a whole (empty, missing columns).
    ``columnar=False`` reads every row the row-by-row way, even where the columnar path applies
    (``services/columnar.py``): the same rows and errors, slower (tests compare the two).
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
        with bulk_session(), transaction.atomic():
            parser = RowParser(kind, entity=entity, options=mapping.parse_options)
            writer = WRITERS[kind](entity=entity, parser=parser, sink=sink, deduplicate=mapping.deduplicate)
            feed = RowFeed(table, bound, parser, writer, sink)
            columns = columnar_reader(path, table, bound, mapping, kind) if columnar else None
            if columns is not None:
                table.close()
                rows, skipped = columns.stream(feed, parser, cast(InvoiceWriter, writer), progress)
            else:
                rows, skipped = _stream(table, feed, progress)
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
    followed_by: tuple[str, ...] = ()
    if committed:
        from relance.ingest.signals import import_committed

        answers = import_committed.send(sender=ImportOutcome, entity=entity, kind=kind, rows=rows)
        followed_by = tuple(str(answer) for _receiver, answer in answers if answer)
    return ImportOutcome(
        followed_by=followed_by,
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


def _import_audited(*, kind: str, entity: Entity, source: str, rows: int, writer: Writer) -> None:
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


class RowFeed:
    """Source rows the row-by-row way: the cell-count check, the mapping, validation, then the
    writer; a failing row goes to the sink with its ``FILE:LINE: field: expected …`` errors.
    The columnar path sends the rows it does not take here, so both report alike."""

    def __init__(
        self, table: Any, bound: BoundMapping, parser: RowParser, writer: Writer, sink: RejectSink
    ) -> None:
        self.rows = self.skipped = 0
        self.source = table.source
        self.width = len(table.header)
        self._apply = bound.apply
        self._parse = parser.parse
        self._add = writer.add
        self._sink = sink
        self.keeps_raw = sink.rejects_path is not None

    def __call__(self, line: int, raw: dict[str, str | None]) -> None:
        self.rows += 1
        if EXTRA_CELLS in raw:
            found = raw.pop(EXTRA_CELLS) or ""
            self._sink.reject(
                raw,
                [
                    FieldError(
                        "row",
                        EXPECTED_ROWS_PER_CELL.format(width=self.width),
                        f"{found} cells",
                        line,
                        self.source,
                    )
                ],
            )
            return
        cells = self._apply(raw)
        if cells is None:
            self.skipped += 1
            return
        try:
            record = self._parse(cells, line=line, source=self.source)
        except ErrorList as exc:
            self._sink.reject(raw, exc.errors)
            return
        # The original cells are only needed for the rejects file: don't hold them otherwise.
        self._add(record, raw if self.keeps_raw else None)


def _stream(table: Any, feed: RowFeed, progress: Progress | None) -> tuple[int, int]:
    for source_row in _rows(table):
        feed(source_row.line, source_row.cells)
        if progress is not None and feed.rows % 2000 == 0:
            progress(table.bytes_read, feed.rows)
    if progress is not None:
        progress(table.bytes_read, feed.rows)
    return feed.rows, feed.skipped


def _rows(table: Any) -> Iterator[Any]:
    yield from table.rows


def canonical_columns(kind: str) -> tuple[str, ...]:
    return column_names(kind)
