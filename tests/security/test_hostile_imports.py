# ruff: noqa: F811 - the fixtures imported from tests.ingest.conftest are used as arguments
"""Finding 6 of issue 12: hostile XLSX files are refused (or read as what they really hold) in
seconds, with a ``FILE: …`` error, whatever their XML declares. The files are in
tests/security/corpus/imports/ (``python tests/security/hostile_xlsx.py`` rebuilds them)."""

from __future__ import annotations

import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest

from relance.ingest import sources
from relance.ledger.models import Invoice
from tests.ingest.conftest import customers_loaded, run_import, write  # noqa: F401 - fixtures
from tests.security import hostile_xlsx

CORPUS = Path(__file__).parent / "corpus" / "imports"
SECONDS = 20  # each file takes well under a second; before the fix the first took > 10 minutes

pytestmark = pytest.mark.django_db


@contextmanager
def deadline(seconds: int):
    """Fail (rather than hang the suite) when the block runs longer than ``seconds``."""

    def expired(signum, frame):  # type: ignore[no-untyped-def]
        raise TimeoutError(f"still reading after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def hostile(tmp_path):
    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copyfile(CORPUS / name, target)
        return target

    return copy


@pytest.mark.parametrize("name", sorted(hostile_xlsx.BUILDERS))
def test_the_checked_in_corpus_is_what_the_builder_makes(name):
    """The corpus files are the builder's output (same sheet XML), so the tests below test what
    the builder documents."""
    import zipfile

    built = hostile_xlsx.BUILDERS[name]()
    import io

    with zipfile.ZipFile(CORPUS / name) as stored, zipfile.ZipFile(io.BytesIO(built)) as fresh:
        sheet = "xl/worksheets/sheet1.xml"
        assert stored.read(sheet) == fresh.read(sheet)


def test_a_forged_dimension_is_ignored_and_the_real_rows_import(customers_loaded, hostile, run_import):
    path = hostile("forged_dimension.xlsx")
    with deadline(SECONDS):
        run = run_import("invoices", path)
    assert run.ok, run.stderr + run.error
    assert run.outcome["created"] == 1
    assert Invoice.objects.filter(external_ref="FD-1").exists()


def test_a_forged_dimension_gives_the_header_its_real_width(hostile):
    table = sources.open_table(hostile("forged_dimension.xlsx"))
    try:
        assert table.header == hostile_xlsx.HEADER
        rows = list(table.rows)
    finally:
        table.close()
    assert [len(row.cells) for row in rows] == [len(hostile_xlsx.HEADER)]


def test_a_row_past_excels_last_row_is_refused_with_its_line(customers_loaded, hostile, run_import):
    path = hostile("far_row.xlsx")
    with deadline(SECONDS):
        run = run_import("invoices", path)
    assert not run.ok
    assert f"{path}:1048577: the sheet has more than 1,048,576 rows" in run.error
    assert not Invoice.objects.exists()


def test_a_zip_bomb_is_refused_before_parsing(customers_loaded, hostile, run_import):
    path = hostile("zip_bomb.xlsx")
    with deadline(SECONDS):
        run = run_import("invoices", path)
    assert not run.ok
    assert f"{path}: the workbook member xl/worksheets/sheet1.xml inflates" in run.error
    assert "refused as a zip bomb" in run.error


def test_a_workbook_over_the_total_size_limit_is_refused(hostile, monkeypatch):
    path = hostile("forged_dimension.xlsx")
    monkeypatch.setattr(sources, "XLSX_MAX_UNCOMPRESSED", 1000)
    with pytest.raises(sources.ValidationFailed, match=r"inflates to [\d,]+ bytes, over the limit of 1,000"):
        sources.open_table(path)


def test_a_header_wider_than_the_limit_is_refused(tmp_path, monkeypatch):
    from openpyxl import Workbook

    monkeypatch.setattr(sources, "XLSX_MAX_COLUMNS", 5)
    workbook = Workbook()
    workbook.active.append([f"c{n}" for n in range(8)])
    path = tmp_path / "wide.xlsx"
    workbook.save(path)
    with pytest.raises(
        sources.ValidationFailed, match=r"wide.xlsx:1: the header has 6 columns, over the limit of 5"
    ):
        sources.open_table(path)


def test_the_cell_budget_stops_a_long_sheet(tmp_path, monkeypatch):
    from openpyxl import Workbook

    monkeypatch.setattr(sources, "XLSX_MAX_CELLS", 12)
    workbook = Workbook()
    workbook.active.append(["a", "b", "c"])
    for n in range(10):
        workbook.active.append([n, n, n])
    path = tmp_path / "long.xlsx"
    workbook.save(path)
    table = sources.open_table(path)
    with pytest.raises(sources.ValidationFailed, match=r"long.xlsx:6: the sheet has more than 12 cells"):
        list(table.rows)
