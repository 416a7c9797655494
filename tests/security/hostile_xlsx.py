"""Builds the hostile workbooks of tests/security/corpus/imports/ (run as a script to rebuild them).

Each is a real, tiny XLSX that openpyxl opens; the hostility is in the XML: a forged
``<dimension>``, a row number far past Excel's last row, or a sheet that inflates a thousandfold.
"""

from __future__ import annotations

import io
import re
import sys
import zipfile
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus" / "imports"
HEADER = ["invoice_ref", "customer_ref", "issue_date", "due_date", "currency", "amount"]
ROWS = [["FD-1", "C1", "2026-01-05", "2026-02-04", "EUR", "10.00"]]


def _workbook(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _rewrite_sheet(data: bytes, rewrite) -> bytes:  # type: ignore[no-untyped-def]
    """The same workbook with ``xl/worksheets/sheet1.xml`` passed through ``rewrite``."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for member in source.infolist():
            content = source.read(member.filename)
            if member.filename == "xl/worksheets/sheet1.xml":
                content = rewrite(content.decode()).encode()
            target.writestr(member.filename, content, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return out.getvalue()


def forged_dimension() -> bytes:
    """Two real rows and a blank cell on Excel's last row; the sheet declares A1:XFD1048576, so a
    reader that trusts it pads a million rows to 16,384 cells each (17 billion cells)."""

    def forge(xml: str) -> str:
        xml = re.sub(r'<dimension ref="[^"]*"\s*/>', '<dimension ref="A1:XFD1048576"/>', xml)
        last = '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t></t></is></c></row>'
        return xml.replace("</sheetData>", last + "</sheetData>")

    return _rewrite_sheet(_workbook([HEADER, *ROWS]), forge)


def far_row() -> bytes:
    """A third row numbered past Excel's last row (1,048,576), its cell in the last column."""
    return _rewrite_sheet(
        _workbook([HEADER, *ROWS]),
        lambda xml: xml.replace(
            "</sheetData>",
            '<row r="5000000"><c r="XFD5000000" t="inlineStr"><is><t>x</t></is></c></row></sheetData>',
        ),
    )


def zip_bomb() -> bytes:
    """A sheet padded with 40 MB of identical empty rows, which deflate about 1000:1."""
    padding = '<row><c r="Z1"/></row>' * 1_800_000
    return _rewrite_sheet(
        _workbook([HEADER, *ROWS]), lambda xml: xml.replace("</sheetData>", padding + "</sheetData>")
    )


BUILDERS = {"forged_dimension.xlsx": forged_dimension, "far_row.xlsx": far_row, "zip_bomb.xlsx": zip_bomb}


def main() -> int:
    CORPUS.mkdir(parents=True, exist_ok=True)
    for name, build in BUILDERS.items():
        (CORPUS / name).write_bytes(build())
        print(name, (CORPUS / name).stat().st_size, "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
