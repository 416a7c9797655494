"""``relance bank import``: idempotent per statement and entry, all or nothing, only for linked
accounts, debits stored and never matched; ``relance bank account`` and ``relance bank lines``."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from relance.cashapp.models import BankLine, BankStatement
from relance.cashapp.services import bank_account_add, bank_statement_import
from relance.core.errors import Conflict, ErrorList, ValidationFailed
from tests.cashapp.samples import Entry, Statement, camt

pytestmark = pytest.mark.django_db

IBAN = "NL77ABNA0574908765"


def bank(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("bank", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def account(entity):
    return bank_account_add(entity=entity, account="NL77 ABNA 0574 9087 65", currency="EUR", name="ABN main")


def _write(tmp_path: Path, name: str, *statements: Statement, version: int = 2) -> Path:
    path = tmp_path / name
    path.write_bytes(camt(version, *statements))
    return path


DAY_ONE = (
    Entry("1405.31", servicer_ref="A-1", unstructured="INV-2026-0001"),
    Entry("754.25", sign="DBIT", servicer_ref="A-2", name="Landlord"),
    Entry("300.00", servicer_ref="A-3", transactions=(("100.00", "B-1"), ("200.00", "B-2"))),
)


def test_import_stores_statement_and_lines(tmp_path, entity, account) -> None:
    path = _write(tmp_path, "day1.xml", Statement("S-1", entries=DAY_ONE))
    out, _ = bank("import", str(path))
    assert out.strip() == f"{path}: camt053, 1 statement(s) (1 new); 4 line(s) added, 0 already imported"
    statement = BankStatement.objects.get()
    assert (statement.statement_id, statement.format, statement.account) == ("S-1", "camt053", account)
    assert (statement.opening_balance, statement.closing_balance) == (Decimal("1000"), Decimal("2000"))
    assert statement.sequence == "7" and len(statement.sha256) == 64
    lines = {line.bank_ref: line for line in BankLine.objects.all()}
    assert set(lines) == {"A-1", "A-2", "A-3/1", "A-3/2"}
    assert lines["A-1"].status == "unmatched" and lines["A-1"].direction == "credit"
    # A debit is stored, with status debit: never matched.
    assert (lines["A-2"].status, lines["A-2"].direction, lines["A-2"].amount) == (
        "debit",
        "debit",
        Decimal("-754.25"),
    )
    assert lines["A-1"].remittance_unstructured == "INV-2026-0001"
    assert lines["A-1"].counterparty_iban == "FR7630006000011234567890189"


def test_same_file_twice_adds_nothing(tmp_path, entity, account) -> None:
    path = _write(tmp_path, "day1.xml", Statement("S-1", entries=DAY_ONE))
    bank("import", str(path))
    before = list(BankLine.objects.values_list("id", "bank_ref", "updated_at").order_by("id"))
    out, _ = bank("import", str(path), "--json")
    outcome = json.loads(out)
    assert (outcome["lines_added"], outcome["lines_known"], outcome["statements_created"]) == (0, 4, 0)
    assert list(BankLine.objects.values_list("id", "bank_ref", "updated_at").order_by("id")) == before
    assert BankStatement.objects.count() == 1


def test_overlapping_statement_adds_only_new_entries(tmp_path, entity, account) -> None:
    bank("import", str(_write(tmp_path, "day1.xml", Statement("S-1", entries=DAY_ONE))))
    # The next statement repeats A-1 (by account + bank_ref) and brings one new entry.
    overlap = Statement("S-2", entries=(DAY_ONE[0], Entry("50.00", servicer_ref="A-4")))
    outcome = bank_statement_import(entity=entity, path=_write(tmp_path, "day2.xml", overlap, version=8))
    assert (outcome.lines_added, outcome.lines_known, outcome.statements_created) == (1, 1, 1)
    assert BankLine.objects.count() == 5
    assert BankLine.objects.get(bank_ref="A-4").statement.statement_id == "S-2"
    assert BankLine.objects.get(bank_ref="A-1").statement.statement_id == "S-1"


def test_entries_without_reference_are_idempotent(tmp_path, entity, account) -> None:
    path = _write(tmp_path, "noref.xml", Statement("S-9", entries=(Entry("10.00"), Entry("10.00"))))
    bank_statement_import(entity=entity, path=path)
    bank_statement_import(entity=entity, path=path)
    assert sorted(ref[-2:] for ref in BankLine.objects.values_list("bank_ref", flat=True))[0] == "#2"
    assert BankLine.objects.count() == 2


def test_account_not_linked_is_refused_and_nothing_written(tmp_path, entity, account) -> None:
    path = _write(
        tmp_path,
        "two.xml",
        Statement("S-1", entries=DAY_ONE),
        Statement(
            "S-USD", iban="DE89370400440532013000", currency="USD", entries=(Entry("5.00", currency="USD"),)
        ),
    )
    with pytest.raises(CommandError, match=r"1 error\(s\); nothing was imported"):
        bank("import", str(path))
    assert not BankStatement.objects.exists() and not BankLine.objects.exists()
    with pytest.raises(ErrorList) as excinfo:
        bank_statement_import(entity=entity, path=path)
    assert [str(error) for error in excinfo.value.errors] == [
        f"{path}:7: statement S-USD: account: expected an account linked to entity acme (link it with "
        "`relance bank account add DE89370400440532013000 --currency USD`), found 'DE89370400440532013000 USD'"
    ]
    # Linked in another currency only: the error says so.
    bank_account_add(entity=entity, account="DE89370400440532013000", currency="EUR")
    with pytest.raises(ErrorList) as excinfo:
        bank_statement_import(entity=entity, path=path)
    assert str(excinfo.value.errors[0]).endswith(
        "— it is linked in EUR only, found 'DE89370400440532013000 USD'"
    )
    bank_account_add(entity=entity, account="DE89370400440532013000", currency="USD")
    outcome = bank_statement_import(entity=entity, path=path)
    assert outcome.lines_added == 5 and {s.currency for s in outcome.statements} == {"EUR", "USD"}


def test_another_entitys_account_is_not_linked(tmp_path, entity, account) -> None:
    from relance.ledger.services import entity_create_or_update

    other, _ = entity_create_or_update(name="globex", currency="EUR", legal_name="Globex")
    path = _write(tmp_path, "day1.xml", Statement("S-1", entries=DAY_ONE))
    with pytest.raises(ErrorList, match="1 error"):
        bank_statement_import(entity=other, path=path)
    assert not BankLine.objects.exists()


def test_malformed_file_names_file_and_entry_and_writes_nothing(tmp_path, entity, account) -> None:
    path = _write(tmp_path, "bad.xml", Statement("S-1", entries=(DAY_ONE[0], Entry("abc", servicer_ref="X"))))
    err = io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("bank", "import", str(path), stdout=io.StringIO(), stderr=err)
    assert err.getvalue().strip() == (
        f"{path}:6: statement S-1, entry 2: Amt: expected an amount such as 1405.31 with a currency (Ccy), found 'abc'"
    )
    assert (
        str(excinfo.value)
        == "1 error(s); nothing was imported (fix the file, or link the account, and import it again)"
    )
    assert not BankLine.objects.exists() and not BankStatement.objects.exists()


def test_wrong_namespace_and_unknown_format(tmp_path, entity, account) -> None:
    path = tmp_path / "camt052.xml"
    path.write_bytes(
        camt(2, Statement(entries=DAY_ONE), namespace="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02")
    )
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("bank", "import", str(path), "--json", stdout=out, stderr=io.StringIO())
    outcome = json.loads(out.getvalue())
    assert outcome["error_count"] == 1
    assert "found namespace 'urn:iso:std:iso:20022:tech:xsd:camt.052.001.02'" in outcome["errors"][0]
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x00\x01")
    with pytest.raises(CommandError):
        bank("import", str(blob))
    mt = tmp_path / "s.sta"
    mt.write_text(":20:X\n:25:NL77ABNA0574908765\n:28C:1/1\n:60F:C261203EUR1,00\n:62F:C261203EUR1,00\n")
    with pytest.raises(ErrorList, match="1 error"):
        bank_statement_import(entity=entity, path=mt, format="camt053")
    assert not BankLine.objects.exists()


def test_mt940_and_csv_imports(tmp_path, entity, account) -> None:
    mt = tmp_path / "s.sta"
    mt.write_text(
        ":20:MT-1\n:25:NL77ABNA0574908765\n:28C:1/1\n:60F:C261203EUR1000,00\n"
        ":61:2612041204C25,00NTRFNONREF//BREF-1\n:86:/NAME/Dupont/REMI/INV-1/\n:62F:C261204EUR1025,00\n-\n"
    )
    outcome = bank_statement_import(entity=entity, path=mt)
    assert (outcome.format, outcome.lines_added) == ("mt940", 1)
    csv = tmp_path / "export.csv"
    csv.write_text(
        "booking_date,amount,bank_ref,remittance\n2026-12-04,25.00,BREF-1,INV-1\n2026-12-05,-3.00,BREF-2,fee\n"
    )
    mapping = tmp_path / "bank.yaml"
    mapping.write_text("constants:\n  account: NL77ABNA0574908765\n  currency: EUR\n")
    out, _ = bank("import", str(csv), "--mapping", str(mapping), "--json")
    # BREF-1 came with the MT940 statement: the CSV export of the same account adds only BREF-2.
    assert (json.loads(out)["lines_added"], json.loads(out)["lines_known"]) == (1, 1)
    with pytest.raises(ErrorList, match="1 error"):
        bank_statement_import(entity=entity, path=mt, mapping=mapping)


def test_account_add_and_list(entity) -> None:
    out, _ = bank("account", "add", "nl77 abna 0574 9087 65", "--currency", "eur", "--name", "ABN main")
    assert out.strip() == "linked NL77ABNA0574908765 EUR (ABN main) to entity acme"
    bank("account", "add", "50880050/0194787400888", "--currency", "EUR")
    out, _ = bank("account", "list", "--json")
    assert json.loads(out) == [
        {"account": "50880050/0194787400888", "currency": "EUR", "name": ""},
        {"account": "NL77ABNA0574908765", "currency": "EUR", "name": "ABN main"},
    ]
    with pytest.raises(CommandError, match="already linked"):
        bank("account", "add", "NL77ABNA0574908765", "--currency", "EUR")
    with pytest.raises(CommandError, match="invalid IBAN"):
        bank("account", "add", "NL77ABNA0574908766", "--currency", "EUR")
    with pytest.raises(CommandError, match="unknown currency"):
        bank("account", "add", "NL77ABNA0574908765", "--currency", "EURO")


def test_account_add_refuses_duplicates_as_conflict(entity, account) -> None:
    with pytest.raises(Conflict):
        bank_account_add(entity=entity, account=IBAN, currency="EUR")
    with pytest.raises(ValidationFailed):
        bank_account_add(entity=entity, account="  ", currency="EUR")


def test_lines_command(tmp_path, entity, account) -> None:
    bank("import", str(_write(tmp_path, "day1.xml", Statement("S-1", entries=DAY_ONE))))
    out, _ = bank("lines", "--json")
    lines = json.loads(out)
    assert [line["bank_ref"] for line in lines] == ["A-1", "A-2", "A-3/1", "A-3/2"]
    first = lines[0]
    assert {
        key: first[key] for key in ("amount", "currency", "date", "status", "allocations", "suggestions")
    } == {
        "amount": "1405.31",
        "currency": "EUR",
        "date": "2026-12-04",
        "status": "unmatched",
        "allocations": [],
        "suggestions": [],
    }
    assert first["confidence"] is None and first["reasons"] == []
    out, _ = bank("lines", "--status", "unmatched", "--json")
    assert [line["bank_ref"] for line in json.loads(out)] == ["A-1", "A-3/1", "A-3/2"]
    out, _ = bank("lines", "--status", "applied")
    assert out.strip() == "no bank lines with status applied"
    out, _ = bank("lines")
    assert "1405.31 EUR  unmatched  A-1  Dupont SARL  INV-2026-0001" in out


def test_stored_lines_as_the_matcher_takes_them(tmp_path, entity, account) -> None:
    from relance.cashapp.selectors import bank_line_data, unmatched_credit_lines
    from relance.cashapp.statements.camt import parse_camt

    reversal = Entry("40.00", servicer_ref="R-1", reversal=True)
    path = _write(tmp_path, "day1.xml", Statement("S-1", entries=(*DAY_ONE, reversal)))
    bank_statement_import(entity=entity, path=path)
    lines = list(unmatched_credit_lines(entity=entity))
    assert [line.bank_ref for line in lines] == ["A-1", "A-3/1", "A-3/2"]  # no debit, no reversal
    parsed = {data.bank_ref: data for data in parse_camt(path)[0].lines}
    for line in lines:
        assert bank_line_data(line) == parsed[line.bank_ref]
