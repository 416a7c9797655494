"""Reading tabular files row by row: CSV (any common encoding and delimiter) and XLSX.

Rows are yielded one at a time with their physical line number (header = line 1; for XLSX the
sheet's row number) so that memory does not grow with the file and errors point at the line.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from relance.core.errors import ValidationFailed

EXTRA_CELLS = "\x00extra"  # key under which a row with more cells than the header says how many
SAMPLE_BYTES = 1 << 20
PREFERRED_ENCODINGS = (
    "cp1252",
    "cp1250",
    "cp1251",
    "iso8859_15",
)  # encoding and delimiter are guessed from the first MiB
DELIMITERS = ",;\t|"
EMPTY_FILE = "{source}: the file is empty: expected a header line with the columns {columns}"
HEADER_ONLY = "{source}: the file has a header but no data rows"
NOT_DECODABLE = "{source}:{line}: cannot decode the file as {encoding}; set `encoding:` in a mapping file"
XLSX_UNREADABLE = "{source}: not a readable XLSX workbook ({error})"
DUPLICATE_HEADER = "{source}:1: the column {column!r} appears twice in the header"
NO_SUCH_SHEET = "{source}: no sheet named {sheet!r} (sheets: {sheets})"
CELL_TOO_LONG = (
    "{source}:{line}: a cell is longer than {limit:,} characters (the most any column takes): "
    "is the delimiter or the quoting right?"
)

# XLSX is a zip of XML: a few kilobytes can declare a sheet of 17 billion cells or inflate to
# gigabytes. These bounds are checked before and while reading (docs/security.md).
XLSX_MAX_UNCOMPRESSED = 1 << 30  # bytes, all members together
XLSX_MAX_RATIO = 100  # uncompressed / compressed, for members over XLSX_RATIO_FLOOR
XLSX_RATIO_FLOOR = 1 << 20
XLSX_MAX_ROWS = 1_048_576  # Excel's own limit
XLSX_MAX_COLUMNS = 256  # far more than any import kind has
XLSX_MAX_CELLS = 50_000_000
XLSX_TOO_LARGE = (
    "{source}: the workbook inflates to {size:,} bytes, over the limit of {limit:,}: "
    "split it or export it as CSV"
)
XLSX_BOMB = (
    "{source}: the workbook member {member} inflates {ratio:,.0f} times (over {limit}): "
    "refused as a zip bomb; export it as CSV"
)
XLSX_TOO_WIDE = "{source}:{line}: the header has {width:,} columns, over the limit of {limit}"
XLSX_TOO_MANY_ROWS = "{source}:{line}: the sheet has more than {limit:,} rows"
XLSX_TOO_MANY_CELLS = "{source}:{line}: the sheet has more than {limit:,} cells: split it"


@dataclass(frozen=True)
class SourceRow:
    line: int
    cells: dict[str, str | None]


@dataclass
class Table:
    """An open input: its header, a generator of rows and how far reading has got."""

    source: str
    header: list[str]
    rows: Iterator[SourceRow]
    total_bytes: int
    encoding: str = ""
    delimiter: str = ""
    _position: Any = field(default=None, repr=False)
    _close: Any = field(default=None, repr=False)

    def close(self) -> None:
        """Close the file now (a generator that never started would not run its ``finally``)."""
        if self._close is not None:
            self._close()

    @property
    def bytes_read(self) -> int:
        if not self._position:
            return 0
        try:
            return int(self._position())
        except ValueError:  # the file is closed: everything was read
            return self.total_bytes


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM) when the sample decodes as such; otherwise charset-normalizer's guess."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # final=False: a multi-byte character cut by the end of the sample is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = sorted(from_bytes(sample), key=lambda match: match.chaos)
    if not matches:
        return "cp1252"
    # Short samples fit many single-byte code pages equally well; among the least chaotic
    # readings prefer Windows-1252 (Western Europe and the Americas), the usual non-UTF-8 export.
    least = matches[0].chaos + 0.01
    plausible = [match for match in matches if match.chaos <= least]
    for preferred in PREFERRED_ENCODINGS:
        if any(preferred in match.could_be_from_charset for match in plausible):
            return preferred
    return str(matches[0].encoding)


def detect_delimiter(text_sample: str) -> str:
    """csv.Sniffer over the first lines, checked against the header; falls back to header counts."""
    lines = text_sample.splitlines()
    header = lines[0] if lines else ""
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=DELIMITERS)
        if dialect.delimiter in header:
            return dialect.delimiter
    except csv.Error:
        pass
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def open_table(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    expected_columns: str = "",
) -> Table:
    path = Path(path)
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        return _open_xlsx(path, sheet=sheet, expected_columns=expected_columns)
    return _open_csv(path, encoding=encoding, delimiter=delimiter, expected_columns=expected_columns)


def _check_header(source: str, header: list[str]) -> list[str]:
    cleaned = [(name or "").strip() for name in header]
    seen: set[str] = set()
    for name in cleaned:
        if name and name in seen:
            raise ValidationFailed(DUPLICATE_HEADER.format(source=source, column=name))
        seen.add(name)
    return cleaned


def _open_csv(path: Path, *, encoding: str | None, delimiter: str | None, expected_columns: str) -> Table:
    source = str(path)
    total = path.stat().st_size
    with path.open("rb") as probe:
        sample = probe.read(SAMPLE_BYTES)
    if not sample.strip():
        raise ValidationFailed(EMPTY_FILE.format(source=source, columns=expected_columns))
    encoding = encoding or detect_encoding(sample)
    text_sample = sample.decode(encoding, errors="ignore")
    if delimiter is None:
        delimiter = detect_delimiter(text_sample.lstrip("\ufeff"))

    raw = path.open("rb")
    # surrogateescape: an undecodable byte reaches its row (see rows()), so the error names its
    # line rather than the line where the decoder's read-ahead happened to be.
    text = io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        text.close()
        raise ValidationFailed(EMPTY_FILE.format(source=source, columns=expected_columns)) from None
    except UnicodeDecodeError:
        text.close()
        raise ValidationFailed(NOT_DECODABLE.format(source=source, line=1, encoding=encoding)) from None
    except csv.Error as exc:
        text.close()
        raise _csv_error(source, 1, exc) from None
    try:
        "".join(header).encode("utf-8")
    except UnicodeEncodeError:
        text.close()
        raise ValidationFailed(NOT_DECODABLE.format(source=source, line=1, encoding=encoding)) from None
    header = _check_header(source, header)
    if not any(header):
        text.close()
        raise ValidationFailed(EMPTY_FILE.format(source=source, columns=expected_columns))

    def rows() -> Iterator[SourceRow]:
        try:
            yield from csv_rows(reader, header, source=source, encoding=encoding)
        finally:
            text.close()

    return Table(source, header, rows(), total, encoding, delimiter, _position=raw.tell, _close=text.close)


CSV_UNREADABLE = "{source}:{line}: not readable as CSV ({error})"


def csv_rows(
    reader: Any, header: list[str], *, source: str, encoding: str, first_line: int = 1
) -> Iterator[SourceRow]:
    """The rows of a ``csv.reader`` as ``SourceRow`` with their physical line numbers, blank rows
    skipped. ``first_line`` is the line the reader starts at: 1 for a whole file, the line of a
    block's first row when a part of a file is read row by row (the columnar import's fallback)."""
    width = len(header)
    offset = first_line - 1
    next_line = reader.line_num + 1 + offset
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise ValidationFailed(
                NOT_DECODABLE.format(source=source, line=next_line, encoding=encoding)
            ) from None
        except csv.Error as exc:
            raise _csv_error(source, next_line, exc) from None
        line = next_line
        next_line = reader.line_num + 1 + offset
        joined = "".join(cells)
        if not joined or joined.isspace():  # no cell with anything but blanks
            continue
        if not joined.isascii():
            try:
                joined.encode("utf-8")
            except UnicodeEncodeError:
                raise ValidationFailed(
                    NOT_DECODABLE.format(source=source, line=line, encoding=encoding)
                ) from None
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        row: dict[str, str | None] = dict(zip(header, cells, strict=False))
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            row[EXTRA_CELLS] = str(len(cells))
        yield SourceRow(line, row)


def _csv_error(source: str, line: int, error: csv.Error) -> ValidationFailed:
    """``csv.Error`` at ``line``: a cell over the csv module's size limit (131,072 characters by
    default, far more than any column takes) or broken quoting."""
    if "field larger than field limit" in str(error):
        return ValidationFailed(CELL_TOO_LONG.format(source=source, line=line, limit=csv.field_size_limit()))
    return ValidationFailed(CSV_UNREADABLE.format(source=source, line=line, error=error))


def _xlsx_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # repr gives the shortest text that round-trips: 55.94, not 55.939999999999998.
        return str(Decimal(repr(value))) if value == value else "nan"
    return str(value)


def check_xlsx_archive(path: Path) -> None:
    """Refuse a workbook whose zip would inflate past the limits, before any XML is parsed."""
    source = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationFailed(XLSX_UNREADABLE.format(source=source, error=exc)) from None
    total = sum(member.file_size for member in members)
    if total > XLSX_MAX_UNCOMPRESSED:
        raise ValidationFailed(XLSX_TOO_LARGE.format(source=source, size=total, limit=XLSX_MAX_UNCOMPRESSED))
    for member in members:
        if member.file_size <= XLSX_RATIO_FLOOR:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > XLSX_MAX_RATIO:
            raise ValidationFailed(
                XLSX_BOMB.format(source=source, member=member.filename, ratio=ratio, limit=XLSX_MAX_RATIO)
            )


def _open_xlsx(path: Path, *, sheet: str | None, expected_columns: str) -> Table:
    """Read-only, streaming, and blind to the sheet's declared ``<dimension>``: openpyxl pads every
    row to the declared width and height, so a forged ``A1:XFD1048576`` would make a 5 KB file
    produce 17 billion empty cells. Rows are read as wide as the header, and counted."""
    from openpyxl import load_workbook

    source = str(path)
    check_xlsx_archive(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ValidationFailed(XLSX_UNREADABLE.format(source=source, error=exc)) from None
    if sheet is not None:
        if sheet not in workbook.sheetnames:
            workbook.close()
            raise ValidationFailed(
                NO_SUCH_SHEET.format(source=source, sheet=sheet, sheets=", ".join(workbook.sheetnames))
            )
        worksheet = workbook[sheet]
    else:
        worksheet = workbook.worksheets[0]
    # The declared height is only a progress hint; reading ignores both declared bounds.
    declared_rows = min(getattr(worksheet, "max_row", None) or 0, XLSX_MAX_ROWS)
    worksheet.reset_dimensions()  # type: ignore[union-attr]
    try:
        header_line, header = _xlsx_header(worksheet, source, expected_columns)
    except BaseException:
        workbook.close()
        raise
    width = len(header)
    iterator = worksheet.iter_rows(min_row=header_line + 1, max_col=width, values_only=True)
    progress = {"row": header_line}
    blank = (None,) * width  # what openpyxl yields for a row missing from the XML

    def rows() -> Iterator[SourceRow]:
        try:
            for line, values in enumerate(iterator, start=header_line + 1):
                progress["row"] = line
                if line > XLSX_MAX_ROWS:
                    raise ValidationFailed(
                        XLSX_TOO_MANY_ROWS.format(source=source, line=line, limit=XLSX_MAX_ROWS)
                    )
                if (line - header_line) * width > XLSX_MAX_CELLS:
                    raise ValidationFailed(
                        XLSX_TOO_MANY_CELLS.format(source=source, line=line, limit=XLSX_MAX_CELLS)
                    )
                if values == blank:
                    continue
                cells = [_xlsx_text(value) for value in values]
                if all(cell is None or not cell.strip() for cell in cells):
                    continue
                yield SourceRow(line, dict(zip(header, cells, strict=False)))
        finally:
            workbook.close()

    # Progress for XLSX counts rows (the compressed size says little about how far we are).
    return Table(
        source,
        header,
        rows(),
        declared_rows,
        "xlsx",
        "",
        _position=lambda: progress["row"],
        _close=workbook.close,
    )


XLSX_HEADER_SEARCH_ROWS = 1000
XLSX_NO_HEADER = "{source}: no header row in the first {rows:,} rows: expected the columns {columns}"


def _xlsx_header(worksheet: Any, source: str, expected_columns: str) -> tuple[int, list[str]]:
    """The first non-empty row, at most ``XLSX_MAX_COLUMNS`` wide (one more column is read to
    tell a too-wide header from a full one)."""
    rows = worksheet.iter_rows(max_col=XLSX_MAX_COLUMNS + 1, values_only=True)
    for line, values in enumerate(rows, start=1):
        if line > XLSX_HEADER_SEARCH_ROWS:
            raise ValidationFailed(
                XLSX_NO_HEADER.format(source=source, rows=XLSX_HEADER_SEARCH_ROWS, columns=expected_columns)
            )
        names = [_xlsx_text(value) or "" for value in values]
        if not any(name.strip() for name in names):
            continue
        while names and not names[-1].strip():
            names.pop()
        if len(names) > XLSX_MAX_COLUMNS:
            raise ValidationFailed(
                XLSX_TOO_WIDE.format(source=source, line=line, width=len(names), limit=XLSX_MAX_COLUMNS)
            )
        return line, _check_header(source, names)
    raise ValidationFailed(EMPTY_FILE.format(source=source, columns=expected_columns))
