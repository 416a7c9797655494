"""The columnar path of a large invoice import: a CSV read into Arrow a block at a time, checked a
column at a time, written in batches without a Python object per row.

It takes the canonical invoices layout (UTF-8, the canonical column names, no mapping, plain
numbers and ISO dates) and, within it, the rows whose every cell is plainly valid: printable ASCII
refs, ``YYYY-MM-DD`` dates that exist, amounts of plain digits within the currency's minor units,
a known customer. Every other row (and every block that is not plain CSV: quotes, blank lines,
lone CRs, cells of another width) goes through the row-by-row path (``RowFeed``) at its place in
the file, so an import reports the same ``FILE:LINE: field: expected …`` errors, rejects the same
rows and writes the same ledger rows either way (``tests/ingest/test_columnar.py`` compares them).
The file is still one transaction: all or nothing.

Money stays exact: amounts are read as text, checked with a pattern and written as that text
(what ``str(Decimal)`` gives), never as floats.
"""

from __future__ import annotations

import csv
import io
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relance.core.money import iso_currencies
from relance.ingest.parsing import ParseOptions, RowParser
from relance.ingest.services.invoices import InvoiceColumns, InvoiceWriter
from relance.ingest.sources import csv_rows

if TYPE_CHECKING:
    from relance.ingest.mappings import BoundMapping, MappingFile
    from relance.ingest.services.run import RowFeed

NEWLINE = ord("\n")
BLOCK_BYTES = 2 << 20  # about 33,000 invoice rows: memory stays flat, Arrow's per-call cost is spread
# A block where more rows than this share fail the plain checks is read row by row as a whole
# (the same result; cheaper than building each row's cells out of Arrow).
MOST_ROWS_FAIL = 0.5

# Printable ASCII without surrounding spaces (nothing to strip, no control character), 1 to 64 long.
PLAIN_TEXT = r"[!-~](?:[ -~]{0,62}[!-~])?"
REQUIRED_TEXT = rf"^{PLAIN_TEXT}$"
OPTIONAL_TEXT = rf"^(?:{PLAIN_TEXT})?$"
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
PLAIN_AMOUNT = r"^[0-9]{1,14}(?:\.[0-9]{1,4})?$"  # as parsing._PLAIN_AMOUNT
STATUSES = ("", "open", "void")
TEXT_COLUMNS = ("invoice_ref", "customer_ref", "po_number")


def columnar_reader(
    path: Path, table: Any, bound: BoundMapping, mapping: MappingFile, kind: str
) -> ColumnarInvoices | None:
    """The columnar reader of this file, or None when the row-by-row path must read all of it."""
    if kind != "invoices" or path.suffix.lower() in {".xlsx", ".xlsm"}:
        return None
    if (
        table.encoding not in {"utf-8", "utf-8-sig"}
        or len(table.delimiter) != 1
        or table.delimiter in '"\r\n'
    ):
        return None
    if not bound.identity or mapping.deduplicate or mapping.parse_options != ParseOptions():
        return None
    with path.open("rb") as stream:
        first = stream.readline()
    # The header must be one physical line (line numbers then count newlines).
    if (
        b'"' in first
        or b"\r" in first.rstrip(b"\r\n")
        or first.endswith(b"\r")
        and not first.endswith(b"\r\n")
    ):
        return None
    return ColumnarInvoices(path, table, len(first))


class ColumnarInvoices:
    """Reads the file after its header in blocks of whole lines; see the module docstring."""

    def __init__(self, path: Path, table: Any, data_start: int) -> None:
        self.path = path
        self.source = table.source
        self.header: list[str] = list(table.header)
        self.encoding = table.encoding
        self.delimiter = table.delimiter
        self.data_start = data_start
        self.total_bytes = table.total_bytes
        self._names = [f"c{index}" for index in range(len(self.header))]
        position = {name: index for index, name in enumerate(self.header) if name}
        self._index = {
            name: position.get(name)
            for name in (*TEXT_COLUMNS, "issue_date", "due_date", "currency", "amount", "status")
        }

    def stream(
        self,
        feed: RowFeed,
        parser: RowParser,
        writer: InvoiceWriter,
        progress: Callable[[int, int], None] | None,
    ) -> tuple[int, int]:
        customers = parser.known_customers()
        checks = _Checks(parser, customers) if customers is not None else None
        line, offset = 2, self.data_start
        with self.path.open("rb") as stream:
            stream.seek(offset)
            while True:
                # A block of whole lines, read into one buffer (no copy: memory stays flat).
                data = bytearray(BLOCK_BYTES)
                cut = stream.readinto(data)
                if not cut:
                    break
                del data[cut:]
                if data[-1] != NEWLINE:
                    data += stream.readline()
                    cut = len(data)
                block = memoryview(data)
                if data.find(b'"', 0, cut) >= 0 or checks is None:
                    # Quoted cells may hold newlines: the rest of the file is read row by row.
                    stream.seek(offset)
                    self._rows(
                        io.TextIOWrapper(
                            stream, encoding=self._text_encoding, errors="surrogateescape", newline=""
                        ),
                        line,
                        feed,
                        progress,
                        offset,
                    )
                    break
                lines = data.count(b"\n", 0, cut) + (0 if data[cut - 1] == NEWLINE else 1)
                lone_carriage_returns = data.count(b"\r", 0, cut) - data.count(b"\r\n", 0, cut)
                self._block(block, lone_carriage_returns, line, lines, feed, writer, checks)
                # The csv module ends a line at a lone CR too: the next block starts that much further.
                line += lines + lone_carriage_returns
                offset += cut
                if progress is not None:
                    progress(offset, feed.rows)
        if progress is not None:
            progress(self.total_bytes, feed.rows)
        return feed.rows, feed.skipped

    @property
    def _text_encoding(self) -> str:
        return "utf-8"  # a BOM only starts the file, before the header

    def _rows(
        self,
        text: Any,
        line: int,
        feed: RowFeed,
        progress: Callable[[int, int], None] | None = None,
        offset: int = 0,
    ) -> None:
        """Rows the row-by-row way, from ``line`` on (the reader of ``sources.csv_rows``)."""
        reader = csv.reader(text, delimiter=self.delimiter)
        for row in csv_rows(reader, self.header, source=self.source, encoding=self.encoding, first_line=line):
            feed(row.line, row.cells)
            if progress is not None and feed.rows % 2000 == 0:
                progress(offset, feed.rows)

    def _block_rows(self, block: memoryview, line: int, feed: RowFeed) -> None:
        text = str(block, self._text_encoding, "surrogateescape")
        self._rows(io.StringIO(text, newline=""), line, feed)

    def _block(
        self,
        block: memoryview,
        lone_carriage_returns: int,
        line: int,
        lines: int,
        feed: RowFeed,
        writer: InvoiceWriter,
        checks: _Checks,
    ) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc
        from pyarrow import csv as arrow_csv

        if lone_carriage_returns:
            self._block_rows(block, line, feed)  # lone CRs end lines for the csv module
            return
        try:
            table = arrow_csv.read_csv(
                pa.BufferReader(pa.py_buffer(block)),
                read_options=arrow_csv.ReadOptions(column_names=self._names),
                parse_options=arrow_csv.ParseOptions(
                    delimiter=self.delimiter,
                    quote_char=False,
                    escape_char=False,
                    newlines_in_values=False,
                    ignore_empty_lines=False,
                ),
                convert_options=arrow_csv.ConvertOptions(
                    column_types=dict.fromkeys(self._names, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # A row of another width, a blank line, bytes that are not UTF-8: the row path says which.
            self._block_rows(block, line, feed)
            return
        limit = csv.field_size_limit()
        if table.num_rows != lines or any(
            (pc.max(pc.binary_length(column)).as_py() or 0) > limit for column in table.columns
        ):
            self._block_rows(block, line, feed)
            return

        def column(name: str) -> Any:
            index = self._index[name]
            if index is None:
                return arrow_empty_strings(table.num_rows)
            return table.column(index)

        ok, values = checks(column)
        failing = pc.indices_nonzero(pc.invert(ok)).to_pylist()
        if len(failing) > MOST_ROWS_FAIL * lines:
            self._block_rows(block, line, feed)
            return
        keep_raw = feed.keeps_raw
        header = self.header

        def raw_of(index: int) -> dict[str, str | None]:
            return dict(zip(header, [column[index].as_py() for column in table.columns], strict=False))

        start = 0
        for stop in [*failing, lines]:
            if stop > start:
                length = stop - start
                writer.add_columns(
                    InvoiceColumns(
                        refs=values["invoice_ref"].slice(start, length),
                        customer_refs=values["customer_ref"].slice(start, length),
                        customer_ids=values["customer_id"].slice(start, length),
                        issue_dates=values["issue_date"].slice(start, length),
                        due_dates=values["due_date"].slice(start, length),
                        currencies=values["currency"].slice(start, length),
                        amounts=values["amount"].slice(start, length),
                        po_numbers=values["po_number"].slice(start, length),
                        statuses=values["status"].slice(start, length),
                        new_statuses=values["new_status"].slice(start, length),
                        lines=range(line + start, line + stop),
                        source=self.source,
                        raw_of=raw_of if keep_raw else None,
                        first=start,
                    )
                )
                feed.rows += stop - start
            if stop < lines:
                raw = raw_of(stop)
                joined = "".join(value or "" for value in raw.values())
                if joined and not joined.isspace():  # blank rows are skipped, as the csv reader does
                    feed(line + stop, raw)
            start = stop + 1


class _Checks:
    """The vectorised form of ``RowParser._fast_invoice``: which rows are plainly valid, and their
    values as the row path would write them.

    Arrow turns Python values into arrays or scalars only after importing pandas (about 0.25 s of
    CPU and 40 MiB): every constant here is an array built from buffers, and every comparison with
    a constant is a pattern.
    """

    def __init__(self, parser: RowParser, customers: dict[str, Any]) -> None:
        refs = list(customers)
        self.parser = parser
        self.refs = arrow_strings(refs)
        self.ids = arrow_ints([customers[ref].id for ref in refs])
        self.currencies = arrow_strings([customers[ref].currency for ref in refs])
        self.iso = arrow_strings(sorted(iso_currencies()))
        self.statuses = arrow_strings(list(STATUSES))
        self.some_date = arrow_strings(["2000-01-01"])[0]

    def __call__(self, column: Callable[[str], Any]) -> tuple[Any, dict[str, Any]]:
        import pyarrow as pa
        import pyarrow.compute as pc

        def matches(values: Any, pattern: str) -> Any:
            return pc.match_substring_regex(values, pattern)

        def iso_date(values: Any) -> Any:
            laid_out = pc.and_(matches(values, ISO_DATE), pc.invert(pc.starts_with(values, "0000")))
            try:
                # The cast refuses a day that does not exist (2023-02-29): one pass when all do.
                pc.cast(pc.if_else(laid_out, values, self.some_date), pa.date32())
                return laid_out
            except pa.ArrowInvalid:
                # Row by row: strptime rolls 2023-02-29 over to 03-01, so the text must come back the same.
                parsed = pc.strptime(values, format="%Y-%m-%d", unit="s", error_is_null=True)
                return pc.and_(laid_out, pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), values))

        ref, customer_ref = column("invoice_ref"), column("customer_ref")
        issue, due, amount = column("issue_date"), column("due_date"), column("amount")
        status = pc.ascii_lower(column("status"))
        given_currency = pc.ascii_upper(column("currency"))
        no_currency = matches(given_currency, "^$")
        found = pc.index_in(customer_ref, value_set=self.refs)
        currency = pc.if_else(no_currency, pc.take(self.currencies, found), given_currency)
        checks = [
            matches(ref, REQUIRED_TEXT),
            matches(customer_ref, REQUIRED_TEXT),
            matches(column("po_number"), OPTIONAL_TEXT),
            pc.is_valid(found),
            iso_date(issue),
            iso_date(due),
            pc.greater_equal(due, issue),  # ISO dates compare as text
            matches(amount, PLAIN_AMOUNT),
            matches(amount, "[1-9]"),  # above zero
            pc.is_in(status, value_set=self.statuses),
            pc.or_(no_currency, pc.is_in(given_currency, value_set=self.iso)),
            pc.is_in(currency, value_set=self.iso),
        ]
        # No finer than the currency's minor unit as written (10.500 EUR, 10.5 JPY): else the
        # row path decides, as RowParser._fast_invoice does.
        decimals = pc.binary_length(pc.replace_substring_regex(amount, pattern=r"^[0-9]*\.?", replacement=""))
        iso = iso_currencies()
        distinct = [code for code in pc.unique(currency).to_pylist() if code in iso]
        places = arrow_ints([self.parser.minor_units(code) for code in distinct])
        checks.append(
            pc.less_equal(decimals, pc.take(places, pc.index_in(currency, value_set=arrow_strings(distinct))))
        )
        ok = checks[0]
        for check in checks[1:]:
            ok = pc.and_(ok, check)
        ok = pc.and_kleene(pc.is_valid(ok), ok)  # null (an unknown customer's currency…) is not valid

        # str(Decimal("0100.50")) is "100.50", str(Decimal("00.5")) "0.5".
        amount_text = pc.replace_substring_regex(
            pc.utf8_ltrim(amount, characters="0"), pattern=r"^\.", replacement="0."
        )
        values = {
            "invoice_ref": ref,
            "customer_ref": customer_ref,
            "customer_id": pc.take(self.ids, found),
            "issue_date": issue,
            "due_date": due,
            "currency": currency,
            "amount": amount_text,
            "po_number": column("po_number"),
            "status": status,
            "new_status": pc.replace_substring_regex(status, pattern="^$", replacement="open"),  # the default
        }
        return ok, values


def arrow_empty_strings(count: int) -> Any:
    import pyarrow as pa

    return pa.Array.from_buffers(
        pa.string(), count, [None, pa.py_buffer(bytes(4 * (count + 1))), pa.py_buffer(b"")]
    )


def arrow_strings(values: list[str]) -> Any:
    """A string array built from its buffers (no pandas import; see ``_Checks``)."""
    import pyarrow as pa

    encoded = [value.encode("utf-8") for value in values]
    offsets = array("i", [0])
    total = 0
    for value in encoded:
        total += len(value)
        offsets.append(total)
    return pa.Array.from_buffers(
        pa.string(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    )


def arrow_ints(values: list[int]) -> Any:
    import pyarrow as pa

    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(array("q", values))])
