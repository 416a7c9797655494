"""The statement parsers on the real samples (compared with the OCA golden outputs) and on camt
documents of every version, MT940 subfields, CSV/XLSX with a mapping, and their errors."""

from __future__ import annotations

import ast
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from relance.cashapp.statements.camt import parse_camt
from relance.cashapp.statements.mt940 import parse_mt940, slash_tags
from relance.cashapp.statements.sniff import sniff_format
from relance.cashapp.statements.tabular import load_mapping, parse_tabular
from relance.core.errors import ErrorList
from tests.cashapp.samples import Entry, Statement, camt


@pytest.fixture
def bank_samples(shared_datasets: Path) -> Path:
    folder = shared_datasets / "bank"
    if not folder.is_dir():
        pytest.skip(f"SKIPPED: the bank statement samples are not at {folder} (see SOURCES.md there)")
    return folder


def _golden(path: Path) -> tuple[str, str, list[dict]]:
    return ast.literal_eval(path.read_text())


def _errors(excinfo: pytest.ExceptionInfo[ErrorList]) -> list[str]:
    return [str(error) for error in excinfo.value.errors]


@pytest.mark.parametrize("kind", ["053", "054"])
def test_camt_sample_matches_the_oca_golden_output(bank_samples: Path, kind: str) -> None:
    path = bank_samples / f"oca-test-camt{kind}.xml"
    currency, account, golden = _golden(bank_samples / f"oca-golden-camt{kind}.pydata")
    statements = parse_camt(path)
    assert len(statements) == len(golden)
    for statement, expected in zip(statements, golden, strict=True):
        assert statement.format == f"camt{kind}"
        assert statement.account_iban == account
        assert statement.account_currency == currency
        assert statement.statement_id == expected["name"]
        assert (statement.opening_balance or Decimal(0)) == Decimal(str(expected["balance_start"]))
        assert (statement.closing_balance or Decimal(0)) == Decimal(str(expected["balance_end_real"]))
        # A batch entry is split into its TxDtls: 3 entries, 4 lines in the camt.053 sample.
        assert len(statement.lines) == len(expected["transactions"])
        for line, transaction in zip(statement.lines, expected["transactions"], strict=True):
            assert line.amount == Decimal(str(transaction["amount"])).quantize(line.amount)
            assert line.booking_date == date.fromisoformat(transaction["date"])
            assert line.counterparty_name == transaction["partner_name"]
            assert line.counterparty_iban == transaction["account_number"]
            assert line.bank_transaction_code == transaction["transaction_type"]
            assert transaction["ref"] in (line.end_to_end_id, line.remittance_structured)
            assert line.currency == currency


def test_camt053_sample_reversal_batch_and_refs(bank_samples: Path) -> None:
    (statement,) = parse_camt(bank_samples / "oca-test-camt053.xml")
    debit, first, second, credit = statement.lines
    assert first.raw["reversal"] and second.raw["reversal"] and not credit.raw.get("reversal")
    assert first.raw["return_reason"] == "AC06"
    assert (first.raw["transaction"], second.raw["transaction"]) == (1, 2)
    # No AcctSvcrRef nor NtryRef in this file: a stable content hash, distinct per line.
    refs = [line.bank_ref for line in statement.lines]
    assert all(ref.startswith("h:") for ref in refs) and len(set(refs)) == 4
    assert refs == [line.bank_ref for line in parse_camt(bank_samples / "oca-test-camt053.xml")[0].lines]
    assert statement.positions[1].endswith(
        "oca-test-camt053.xml:144: statement 1234Test/1, entry 2 transaction 1"
    )
    assert (statement.period_start, statement.period_end) == (date(2014, 1, 5), date(2014, 1, 5))
    assert statement.sequence == "2"


def test_camt054_sample_structured_reference_and_servicer_ref(bank_samples: Path) -> None:
    (statement,) = parse_camt(bank_samples / "oca-test-camt054.xml")
    (line,) = statement.lines
    assert line.bank_ref == "98888208N8"  # the entry's AcctSvcrRef
    assert line.entry_ref == "NL0000000000000000000"
    assert line.remittance_structured == "000000000000000000000000003"
    assert line.raw["creditor_reference_type"] == "QRR"
    assert line.end_to_end_id == "ENDTOENDID-01"
    assert line.amount == Decimal("5.00") and line.is_credit


@pytest.mark.parametrize("version", range(2, 9))
def test_camt053_every_version(tmp_path: Path, version: int) -> None:
    document = camt(
        version,
        Statement(
            entries=(
                Entry("1405.31", servicer_ref="ASR-1", unstructured="INV-2026-0001", end_to_end="E2E-1"),
                Entry("120.00", creditor_ref="RF18539007547034", entry_ref="NTRY-2", charges="1.50"),
                Entry("90.00", sign="DBIT", name="Landlord", unstructured="rent"),
                Entry("300.00", transactions=(("100.00", "B-1"), ("200.00", "B-2")), servicer_ref="BATCH"),
                Entry("5.00", status="PDNG"),
            )
        ),
    )
    path = tmp_path / "statement.xml"
    path.write_bytes(document)
    assert sniff_format(path) == "camt053"
    (statement,) = parse_camt(path)
    assert statement.skipped == 1  # the pending entry
    refs = [line.bank_ref for line in statement.lines]
    assert refs[:2] == ["ASR-1", "NTRY-2"] and refs[3:] == ["BATCH/1", "BATCH/2"]
    first, second, debit, batch_one, batch_two = statement.lines
    assert (first.counterparty_name, first.counterparty_bic) == ("Dupont SARL", "AGRIFRPP")
    assert first.counterparty_iban == "FR7630006000011234567890189"
    assert first.remittance_unstructured == "INV-2026-0001" and first.end_to_end_id == "E2E-1"
    assert second.remittance_structured == "RF18539007547034"
    assert second.raw["charges"] == "1.50"
    assert debit.amount == Decimal("-90.00") and debit.counterparty_name == "Landlord"
    assert (batch_one.amount, batch_two.amount) == (Decimal("100.00"), Decimal("200.00"))
    assert (batch_one.end_to_end_id, batch_two.end_to_end_id) == ("B-1", "B-2")
    assert statement.opening_balance == Decimal("1000.00") and statement.closing_balance == Decimal("2000.00")


def test_camt054_several_accounts_and_currencies(tmp_path: Path) -> None:
    path = tmp_path / "notification.xml"
    path.write_bytes(
        camt(
            4,
            Statement("N-EUR", entries=(Entry("10.00", servicer_ref="A"),)),
            Statement(
                "N-USD",
                iban="DE89370400440532013000",
                currency="USD",
                entries=(Entry("20.00", currency="USD"),),
            ),
            kind="054",
        )
    )
    assert sniff_format(path) == "camt054"
    eur, usd = parse_camt(path)
    assert (eur.account_iban, eur.account_currency) == ("NL77ABNA0574908765", "EUR")
    assert (usd.account_iban, usd.account_currency, usd.lines[0].currency) == (
        "DE89370400440532013000",
        "USD",
        "USD",
    )
    assert eur.opening_balance is None


def test_identical_entries_without_reference_stay_two_lines(tmp_path: Path) -> None:
    path = tmp_path / "twice.xml"
    path.write_bytes(camt(2, Statement(entries=(Entry("50.00"), Entry("50.00")))))
    first, second = parse_camt(path)[0].lines
    assert second.bank_ref == first.bank_ref + "#2"


def test_camt_wrong_namespace_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "old.xml"
    path.write_bytes(
        camt(
            2, Statement(entries=(Entry("1.00"),)), namespace="urn:iso:std:iso:20022:tech:xsd:camt.053.001.01"
        )
    )
    with pytest.raises(ErrorList) as excinfo:
        parse_camt(path)
    (message,) = _errors(excinfo)
    assert message.startswith(f"{path}:1: file: expected an ISO 20022 camt.053 or camt.054 document")
    assert "found namespace 'urn:iso:std:iso:20022:tech:xsd:camt.053.001.01'" in message


def test_camt054_given_as_camt053_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "n.xml"
    path.write_bytes(camt(4, Statement(entries=(Entry("1.00"),)), kind="054"))
    with pytest.raises(ErrorList) as excinfo:
        parse_camt(path, expect="camt053")
    assert "expected a camt053 document (--format camt053)" in _errors(excinfo)[0]


def test_camt_malformed_entries_are_all_listed_with_line_and_entry(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    document = camt(
        5, Statement(entries=(Entry("12,50"), Entry("10.00"), Entry("3.00", booked="2026-13-01", sign="XXX")))
    )
    path.write_bytes(document)
    with pytest.raises(ErrorList) as excinfo:
        parse_camt(path)
    assert _errors(excinfo) == [
        f"{path}:5: statement STMT-1, entry 1: Amt: expected an amount such as 1405.31 with a currency (Ccy), found '12,50'",
        f"{path}:7: statement STMT-1, entry 3: CdtDbtInd: expected CRDT or DBIT, found 'XXX'",
        f"{path}:7: statement STMT-1, entry 3: BookgDt: expected a booking date (BookgDt/Dt or DtTm) YYYY-MM-DD, found '2026-13-01'",
        f"{path}:7: statement STMT-1, entry 3: ValDt: expected a value date YYYY-MM-DD, found '2026-13-01'",
    ]


def test_camt_not_well_formed(tmp_path: Path) -> None:
    path = tmp_path / "cut.xml"
    path.write_bytes(camt(2, Statement(entries=(Entry("1.00"),)))[:-40])
    with pytest.raises(ErrorList) as excinfo:
        parse_camt(path)
    assert _errors(excinfo)[0].startswith(f"{path}:")
    assert "file: expected well-formed XML, found" in _errors(excinfo)[0]


def test_camt_entities_are_not_expanded(tmp_path: Path) -> None:
    path = tmp_path / "xxe.xml"
    document = camt(2, Statement(entries=(Entry("1.00", unstructured="&xxe;"),))).decode()
    document = document.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    )
    path.write_text(document)
    try:
        statements = parse_camt(path)
    except ErrorList:
        return  # refused: fine too
    assert "root:" not in statements[0].lines[0].remittance_unstructured


def test_mt940_german_structured_subfields(bank_samples: Path) -> None:
    path = bank_samples / "mt940-betterplace-sepa_snippet.sta"
    assert sniff_format(path) == "mt940"
    first, second = parse_mt940(path)
    assert (len(first.lines), len(second.lines)) == (4, 7)  # 2 statements, 11 :61: lines
    assert first.account_iban == "50880050/0194787400888" and first.account_currency == "EUR"
    assert (first.opening_balance, first.closing_balance) == (Decimal("766656.49"), Decimal("1125250.4"))
    assert second.opening_balance == Decimal("-1970431.87")
    line = first.lines[0]
    assert line.amount == Decimal("50990.05") and line.bank_ref == "0724710333343453"
    assert (line.value_date, line.booking_date) == (date(2007, 9, 7), date(2007, 9, 4))
    assert line.counterparty_name == "KARL KAUFMANN"
    assert line.counterparty_iban == "DE14508800500194785000"
    assert line.counterparty_bic == "DRESDEFF508"
    assert line.end_to_end_id == "EndToEndId TFNR 22 004 00001"
    assert line.remittance_unstructured == "Verw CTSc-01 BC-PPP TFNr 22 004"
    assert line.raw["posting_text"] == "GUTSCHRIFT"
    assert first.lines[3].amount == Decimal("-1500.00")
    assert first.positions[0].endswith(
        "mt940-betterplace-sepa_snippet.sta:5: statement T089414086000001, entry 1"
    )


def test_mt940_abn_amro_free_text(bank_samples: Path) -> None:
    first, second = parse_mt940(bank_samples / "mt940-jejik-abnamro.sta")
    assert (len(first.lines), len(second.lines)) == (8, 2)  # 10 :61: lines
    assert (first.opening_balance, first.closing_balance) == (Decimal("3236.28"), Decimal("876.84"))
    assert first.account_iban == "517852257"
    line = first.lines[0]
    assert line.amount == Decimal("-9") and line.booking_date == date(2011, 5, 24)
    assert "BETREFT FACTUUR D.D. 20-05-2011" in line.remittance_unstructured
    assert line.bank_ref.startswith("h:")  # NONREF and no bank reference: a content hash


MT940_DUTCH = """:20:STMT-NL
:25:NL77ABNA0574908765
:28C:12/1
:60F:C261203EUR1000,00
:61:2612041204C1405,31NTRFNONREF//BREF-1
:86:/TRTP/SEPA OVERBOEKING/IBAN/NL46ABNA0499998748/BIC/ABNANL2A/NAME/Test Customer/REMI/INV-2026-0001 I
NV-2026-0002/EREF/NOTPROVIDED
:61:2612041204C120,00NTRFNONREF//BREF-2
:86:/CNTP/NL69ABNA0522123643/ABNANL2A/3rd party Media/AMSTERDAM/REMI/STRD/CUR/CDTRREFTP//CD/SCOR/ISSR/CUR
/CDTRREF/RF18539007547034/EREF/E2E-9
:62F:C261204EUR2525,31
-
"""


def test_mt940_dutch_slash_tags(tmp_path: Path) -> None:
    path = tmp_path / "ing.sta"
    path.write_text(MT940_DUTCH)
    (statement,) = parse_mt940(path)
    first, second = statement.lines
    assert (first.counterparty_name, first.counterparty_iban, first.counterparty_bic) == (
        "Test Customer",
        "NL46ABNA0499998748",
        "ABNANL2A",
    )
    assert first.remittance_unstructured == "INV-2026-0001 INV-2026-0002"
    assert first.end_to_end_id == ""  # NOTPROVIDED
    assert (second.counterparty_iban, second.counterparty_name) == ("NL69ABNA0522123643", "3rd party Media")
    assert second.remittance_structured == "RF18539007547034" and second.end_to_end_id == "E2E-9"
    assert statement.statement_id == "STMT-NL/12"
    assert slash_tags("no tags here") == {}


def test_mt940_malformed_statement_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.sta"
    path.write_text(
        MT940_DUTCH.replace("C1405,31NTRF", "C14X5,31NTRF").replace(":60F:C261203", ":60F:C261303")
    )
    with pytest.raises(ErrorList) as excinfo:
        parse_mt940(path)
    errors = _errors(excinfo)
    assert errors[0] == (f"{path}:4: statement STMT-NL: :60F:: expected a valid date YYMMDD, found '261303'")
    assert errors[1].startswith(f"{path}:5: statement STMT-NL, entry 1: :61:: expected a statement line")
    assert errors[1].endswith("found '2612041204C14X5,31NTRFNONREF//BREF-1'")


def test_mt940_not_a_statement(tmp_path: Path) -> None:
    path = tmp_path / "note.sta"
    path.write_text("hello\n")
    with pytest.raises(ErrorList) as excinfo:
        parse_mt940(path)
    assert _errors(excinfo) == [
        f"{path}:1: file: expected an MT940 statement (lines :20:, :25:, :60F:, :61:, :86:, :62F:)"
    ]


CSV = """Date;Montant;Libellé;Compte;Devise;Payeur
04/12/2026;1.405,31;INV-2026-0001;NL77 ABNA 0574 9087 65;EUR;Dupont SARL
04/12/2026;-754,25;Loyer;NL77 ABNA 0574 9087 65;EUR;Bailleur
05/12/2026;20,00;INV-9;DE89370400440532013000;USD;Acme Inc
"""
MAPPING = """kind: bank_lines
delimiter: ";"
date_format: "%d/%m/%Y"
decimal_separator: ","
thousands_separator: "."
columns:
  booking_date: Date
  amount: Montant
  remittance: Libellé
  account: Compte
  currency: Devise
  counterparty_name: Payeur
"""


def test_csv_with_a_mapping(tmp_path: Path) -> None:
    path, mapping = tmp_path / "export.csv", tmp_path / "bank.yaml"
    path.write_text(CSV)
    mapping.write_text(MAPPING)
    assert sniff_format(path) == "csv"
    eur, usd = parse_tabular(path, mapping=load_mapping(mapping))
    assert [line.amount for line in eur.lines] == [Decimal("1405.31"), Decimal("-754.25")]
    assert eur.account_iban == "NL77ABNA0574908765" and usd.account_currency == "USD"
    assert eur.lines[0].counterparty_name == "Dupont SARL"
    assert eur.lines[0].remittance_unstructured == "INV-2026-0001"
    assert eur.statement_id == usd.statement_id and eur.statement_id.startswith("csv-")
    assert eur.positions == (f"{path}:2: row", f"{path}:3: row")


def test_csv_errors_name_line_and_field(tmp_path: Path) -> None:
    path, mapping = tmp_path / "export.csv", tmp_path / "bank.yaml"
    path.write_text(CSV.replace("1.405,31", "1,405.31").replace("05/12/2026", "2026-12-05"))
    mapping.write_text(MAPPING)
    with pytest.raises(ErrorList) as excinfo:
        parse_tabular(path, mapping=load_mapping(mapping))
    assert _errors(excinfo) == [
        f"{path}:2: amount: expected an amount with ',' as decimal separator, found '1,405.31'",
        f"{path}:4: booking_date: expected a date in the format %d/%m/%Y, found '2026-12-05'",
    ]


def test_csv_credit_and_debit_columns_xlsx(tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["account", "currency", "booking_date", "credit", "debit", "bank_ref", "reference"])
    sheet.append(["NL77ABNA0574908765", "EUR", date(2026, 12, 4), 120.5, None, "R-1", "RF18539007547034"])
    sheet.append(["NL77ABNA0574908765", "EUR", date(2026, 12, 4), None, 30, "R-2", ""])
    path = tmp_path / "export.xlsx"
    workbook.save(path)
    assert sniff_format(path) == "csv"
    (statement,) = parse_tabular(path)
    assert [(line.bank_ref, line.amount) for line in statement.lines] == [
        ("R-1", Decimal("120.5")),
        ("R-2", Decimal("-30")),
    ]
    assert statement.lines[0].remittance_structured == "RF18539007547034"


def test_csv_without_an_amount_column(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("account,currency,booking_date\nNL77ABNA0574908765,EUR,2026-12-04\n")
    with pytest.raises(ErrorList) as excinfo:
        parse_tabular(path)
    assert _errors(excinfo) == [
        f"{path}:1: file: expected an amount column, or credit and debit columns (map them in the mapping file)"
    ]


def test_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\x00\x01\x02")
    with pytest.raises(ErrorList) as excinfo:
        sniff_format(path)
    assert _errors(excinfo)[0].startswith(
        f"{path}:1: file: expected a bank statement: camt.053/camt.054 XML, MT940"
    )


def test_the_documented_bank_mapping_loads() -> None:
    mapping = load_mapping(Path(__file__).resolve().parents[2] / "docs" / "mappings" / "bank-csv-eu.yaml")
    assert (mapping.decimal_separator, mapping.constants["currency"]) == (",", "EUR")
    assert mapping.columns["amount"] == "Montant"
