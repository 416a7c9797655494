"""The columnar path of an invoice import (``services/columnar.py``) against the row-by-row path:
on any file, the same outcome (rows, created, errors in the same order, rejects file) and the same
ledger rows. Small blocks and batches make every boundary case (a block falling back, a batch
mixing both paths, duplicates across batches) happen on a few lines."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relance.core.errors import ValidationFailed
from relance.ingest.services import InvoiceWriter, columnar, file_import, rejects_path_for
from relance.ledger.models import Invoice

pytestmark = pytest.mark.django_db

HEADER = "invoice_ref,customer_ref,issue_date,due_date,currency,amount,po_number,status\n"


@pytest.fixture
def customers(make_customer):
    make_customer("C1", currency="EUR")
    make_customer("C2", currency="GBP")
    return make_customer("C3", currency="JPY")


def ledger_rows(entity: Any) -> list[tuple[Any, ...]]:
    return list(
        Invoice.objects.filter(entity=entity)
        .order_by("external_ref")
        .values_list(
            "external_ref",
            "customer__external_ref",
            "issue_date",
            "due_date",
            "currency",
            "amount",
            "po_number",
            "status",
            "voided_on",
        )
    )


def import_both_ways(path: Any, entity: Any, **options: Any) -> list[tuple[Any, Any, Any, int]]:
    """(outcome or the file-level error, ledger rows, rejects file, blocks taken by columns) per path;
    each import is rolled back afterwards."""
    results = []
    for columnar_path in (True, False):
        calls = {"columns": 0}
        original = InvoiceWriter.add_columns

        def counted(self: InvoiceWriter, columns: Any, original: Any = original, calls: Any = calls) -> None:
            calls["columns"] += 1
            original(self, columns)

        InvoiceWriter.add_columns = counted  # type: ignore[method-assign]
        try:
            with transaction.atomic():
                try:
                    outcome: Any = file_import(
                        kind="invoices", path=path, entity=entity, columnar=columnar_path, **options
                    ).as_dict()
                except ValidationFailed as exc:
                    outcome = f"ValidationFailed: {exc}"
                rows = ledger_rows(entity)
                transaction.set_rollback(True)
        finally:
            InvoiceWriter.add_columns = original  # type: ignore[method-assign]
        rejects = rejects_path_for(path)
        text = rejects.read_text(encoding="utf-8") if rejects.exists() else None
        rejects.unlink(missing_ok=True)
        results.append((outcome, rows, text, calls["columns"]))
    return results


MIXED = (
    "".join(f"I{n},C1,2026-01-05,2026-02-04,EUR,{n}.50,PO-{n},open\n" for n in range(1, 9))
    + "I100,C9,2026-01-05,2026-02-04,EUR,10,,\n"  # unknown customer
    + "I101,C1,2026-02-30,2026-03-04,EUR,10,,\n"  # no such date (Arrow would roll it over)
    + "I102,C1,2026-01-05,2026-01-01,EUR,10,,\n"  # due before issue
    + "I103,C3,2026-01-05,2026-02-04,JPY,10.5,,\n"  # finer than the yen
    + "I104,C3,2026-01-05,2026-02-04,,100.00,,\n"  # the row path accepts 100.00 JPY
    + "I105,C1,2026-01-05,2026-02-04,EUR,0,,\n"  # not positive
    + "I106,C1,2026-01-05,2026-02-04,eur,5,,VOID\n"  # case folded on both paths
    + "I107,C1,2026-01-05,2026-02-04,EUR, 5 ,,\n"  # spaces: the row path strips them
    + " I108,C1,2026-01-05,2026-02-04,EUR,5,,\n"
    + "I1,C1,2026-01-05,2026-02-04,EUR,7,,\n"  # a duplicate from an earlier batch
    + "I109,C1,2026-01-05,2026-02-04,EUR,7,,\n"
    + "I109,C2,2026-01-05,2026-02-04,GBP,7,,\n"  # a duplicate in the same batch
    + "I110,C1,2026-01-05,2026-02-04,EUR,10,,draft\n"
    + "\n"  # a blank line: its block is read row by row
    + ",,,,,,,\n"  # only delimiters: skipped as blank
    + "I111,C1,2026-01-05,2026-02-04\n"  # short: padded, then the amount is missing
    + "I112,C1,2026-01-05,2026-02-04,EUR,10,,,extra\n"  # a cell too many
    + "I113,C1,2026-01-05,2026-02-04,EUR,10.5,PO é,open\n"  # not ASCII: the row path takes it
    + f"{'R' * 65},C1,2026-01-05,2026-02-04,EUR,10,,\n"  # a ref too long
    + "I114,C2,2026-01-05,2026-02-04,,0100.50,,\n"  # leading zero, the customer's currency
    + "I\\117,C1,2026-01-05,2026-02-04,EUR,10,PO\\1,\n"  # backslashes (escaped in COPY)
    + "I115,C1,0000-01-01,2026-02-04,EUR,10,,\n"  # year 0
    + "".join(f"J{n},C2,2026-01-05,2026-02-04,GBP,{n}.25,,open\n" for n in range(1, 9))
    + 'I116,C1,2026-01-05,2026-02-04,EUR,"1,5",,\n'  # a quote: the rest of the file row by row
    + "".join(f"K{n},C1,2026-01-05,2026-02-04,EUR,{n},,\n" for n in range(1, 5))
)


@pytest.mark.parametrize("skip_invalid", [False, True])
@pytest.mark.parametrize(("block_bytes", "batch_size"), [(200, 4), (1 << 20, 5000)])
def test_a_mixed_file_gives_the_same_rows_and_errors_both_ways(
    customers, entity, tmp_path, monkeypatch, skip_invalid, block_bytes, batch_size
):
    monkeypatch.setattr(columnar, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(columnar, "MOST_ROWS_FAIL", 1.0)  # keep failing rows in columnar blocks
    monkeypatch.setattr(InvoiceWriter, "batch_size", batch_size)
    path = tmp_path / "invoices.csv"
    path.write_text(HEADER + MIXED, encoding="utf-8")
    (fast, fast_rows, fast_rejects, blocks), (slow, slow_rows, slow_rejects, none) = import_both_ways(
        path, entity, skip_invalid=skip_invalid
    )
    assert none == 0 and (blocks > 0 or block_bytes > len(MIXED))  # one block with a quote: row path
    assert fast == slow
    assert fast_rows == slow_rows
    assert fast_rejects == slow_rejects
    assert slow["error_count"] == 13
    if skip_invalid:
        assert slow["committed"] and slow["created"] == len(slow_rows)
        amounts = {row[0]: row[5] for row in slow_rows}
        assert amounts["I114"] == Decimal("100.50") and amounts["I104"] == Decimal("100")
    else:
        assert not slow["committed"] and slow_rows == []


def test_a_re_import_gives_the_same_updates_both_ways(customers, entity, tmp_path, monkeypatch):
    """Not a first load: the columnar rows go through the writer's look-up of existing rows."""
    first = tmp_path / "first.csv"
    first.write_text(HEADER + "".join(f"I{n},C1,2026-01-05,2026-02-04,EUR,{n}.75,,\n" for n in range(1, 6)))
    assert file_import(kind="invoices", path=first, entity=entity).committed
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 200)
    monkeypatch.setattr(InvoiceWriter, "batch_size", 4)
    path = tmp_path / "invoices.csv"
    path.write_text(HEADER + MIXED, encoding="utf-8")
    (fast, fast_rows, fast_rejects, blocks), (slow, slow_rows, slow_rejects, _) = import_both_ways(
        path, entity, skip_invalid=True
    )
    assert blocks > 0
    assert fast == slow and slow["updated"] == 5
    assert fast_rows == slow_rows
    assert fast_rejects == slow_rejects


def test_a_clean_file_is_all_columnar_and_equal(customers, entity, tmp_path, monkeypatch):
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 300)
    monkeypatch.setattr(InvoiceWriter, "batch_size", 7)
    path = tmp_path / "invoices.csv"
    lines = [
        f"I{n:03d},C{n % 3 + 1},2026-01-{n % 28 + 1:02d},2026-03-01,{['EUR', 'GBP', 'JPY'][n % 3]},"
        f"{n + 1}{'.25' if n % 3 != 2 else ''},{'PO-' + str(n) if n % 2 else ''},{'void' if n % 5 == 0 else ''}"
        for n in range(60)
    ]
    path.write_bytes((HEADER + "\r\n".join(lines) + "\r\n").encode())  # CRLF line ends
    (fast, fast_rows, _, blocks), (slow, slow_rows, _, _) = import_both_ways(path, entity)
    assert blocks > 0
    assert fast == slow and fast["committed"] and fast["created"] == 60
    assert fast_rows == slow_rows
    amounts = {row[0]: row[5] for row in fast_rows}
    assert str(amounts["I001"]) in {"2.25", "2.2500"}


DUPLICATE = re.compile(r":(\d+): invoice_ref: expected a ref used only once .* on line (\d+)\)")


def test_a_lone_cr_and_duplicates_across_tiny_batches_give_the_same_errors_both_ways(
    customers, entity, tmp_path, monkeypatch
):
    """Found by the property test below. A lone CR ends a line for the csv module: the blocks
    after it start one line further. With batches of 2, a duplicate names the ref's first line
    (2), not an earlier duplicate of it, and the errors follow the file's order."""
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 40)
    monkeypatch.setattr(columnar, "MOST_ROWS_FAIL", 1.0)
    monkeypatch.setattr(InvoiceWriter, "batch_size", 2)
    path = tmp_path / "invoices.csv"
    row = b"I1,C1,2026-01-05,2026-02-04,,10,,\n"
    path.write_bytes(HEADER.encode() + row * 5 + b"0\r\xe0\xa0\x80\n" + row)
    (fast, fast_rows, fast_rejects, blocks), (slow, slow_rows, slow_rejects, _) = import_both_ways(
        path, entity, skip_invalid=False
    )
    assert blocks > 0
    assert fast == slow
    assert fast_rows == slow_rows == []
    assert fast_rejects == slow_rejects
    duplicates = [match.groups() for error in slow["errors"] if (match := DUPLICATE.search(error))]
    # Line 7 is "0", line 8 the U+0800 after the lone CR.
    assert duplicates == [("3", "2"), ("4", "2"), ("5", "2"), ("6", "2"), ("9", "2")]


line_cells = st.one_of(
    st.sampled_from(["", " ", "I1", "I2", "I3", "C1", "C2", "C3", "C9", "EUR", "eur", "JPY", "XXX"]),
    st.sampled_from(["open", "VOID", "draft", "2026-01-05", "2026-02-04", "2026-02-30", "0000-01-01"]),
    st.sampled_from(
        ["2026-2-4", " 2026-01-05", "10", "10.5", "0100.50", "0", "1e3", "1.23456", "99999999999999"]
    ),
    st.sampled_from(["100000000000000", "10.50", "0.001", '"1,5"', '"a', "x" * 65, "\u00e9t\u00e9", "\x01"]),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
)
good_row = st.tuples(
    st.sampled_from(["I1", "I2", "I3", "I4", "I5", "I6"]),
    st.sampled_from(["C1", "C2", "C3"]),
    st.sampled_from(["2026-01-05", "2026-01-31"]),
    st.sampled_from(["2026-02-04", "2026-03-01"]),
    st.sampled_from(["", "EUR", "GBP", "JPY"]),
    st.sampled_from(["10", "10.50", "7.2", "0100"]),
    st.sampled_from(["", "PO-1"]),
    st.sampled_from(["", "open", "void"]),
).map(list)
any_row = st.lists(line_cells, min_size=0, max_size=10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.one_of(good_row, good_row, any_row), min_size=1, max_size=14),
    newline=st.sampled_from(["\n", "\r\n"]),
    block_bytes=st.sampled_from([40, 200, 1 << 20]),
    batch_size=st.sampled_from([2, 3, 5000]),
    skip_invalid=st.booleans(),
)
def test_any_file_gives_the_same_rows_and_errors_both_ways(
    customers, entity, tmp_path, rows, newline, block_bytes, batch_size, skip_invalid
):
    path = tmp_path / "invoices.csv"
    path.write_bytes((HEADER + "".join(",".join(row) + newline for row in rows)).encode("utf-8"))
    original = (columnar.BLOCK_BYTES, columnar.MOST_ROWS_FAIL, InvoiceWriter.batch_size)
    columnar.BLOCK_BYTES, columnar.MOST_ROWS_FAIL, InvoiceWriter.batch_size = block_bytes, 1.0, batch_size
    try:
        (fast, fast_rows, fast_rejects, _), (slow, slow_rows, slow_rejects, _) = import_both_ways(
            path, entity, skip_invalid=skip_invalid
        )
    finally:
        columnar.BLOCK_BYTES, columnar.MOST_ROWS_FAIL, InvoiceWriter.batch_size = original
    assert fast == slow
    assert fast_rows == slow_rows
    assert fast_rejects == slow_rejects
