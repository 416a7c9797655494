"""Which parser a statement file needs, from its first bytes (and its name for XLSX)."""

from __future__ import annotations

import re
from pathlib import Path

from relance.cashapp.statements.base import FORMATS, file_error
from relance.cashapp.statements.mt940 import looks_like_mt940

HEAD_BYTES = 8192
CAMT_NAMESPACE = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:camt\.(05\d)\.")
UNKNOWN_FORMAT = (
    "a bank statement: camt.053/camt.054 XML, MT940, or CSV/XLSX (with --format csv and a mapping); "
    "say which with --format " + "|".join(FORMATS)
)


def sniff_format(path: Path, *, source: str = "") -> str:
    """``camt053``, ``camt054``, ``mt940`` or ``csv``; an error naming the file when it is none."""
    path = Path(path)
    source = source or str(path)
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        return "csv"
    with path.open("rb") as stream:
        head = stream.read(HEAD_BYTES)
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not text:
        raise file_error(source, f"{UNKNOWN_FORMAT}, found an empty file")
    if text.startswith(b"<"):
        found = CAMT_NAMESPACE.search(head)
        if found is not None and found.group(1) == b"054":
            return "camt054"
        return "camt053"  # the camt parser names a wrong namespace precisely
    if looks_like_mt940(head.decode("latin-1")):
        return "mt940"
    if path.suffix.lower() in {".csv", ".txt", ".tsv"} or b"\n" in head:
        return "csv"
    raise file_error(source, UNKNOWN_FORMAT, 1)
