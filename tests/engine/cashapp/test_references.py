"""References: keys, slips forgiven in words, RF and QR references, tokens in remittance text."""

from __future__ import annotations

import pytest

from relance.core.payment_refs import invoice_qr_reference, invoice_rf_reference, rf_reference
from relance.engine.cashapp import references as refs


@pytest.mark.parametrize(
    ("written", "reference"),
    [
        ("INV-2024-0012", "INV-2024-0012"),
        ("inv 2024/0012", "INV-2024-0012"),
        ("2024-0012", "INV-2024-0012"),  # prefix missing
        ("INV20240012", "INV-2024-0012"),  # separators missing
        ("2O24-OO12", "INV-2024-0012"),  # O read for 0
        ("FA 000123", "FA123"),  # leading zeros
        ("12I45", "12145"),  # I for 1 (a leading letter reads as a prefix: the fuzzy pass forgives it)
        ("5S8B", "5588"),  # S for 5, B for 8
    ],
)
def test_written_forms_share_the_key(written: str, reference: str) -> None:
    assert refs.reference_key(written) == refs.reference_key(reference)


def test_different_numbers_keep_different_keys() -> None:
    assert refs.reference_key("INV-2024-0012") != refs.reference_key("INV-2024-0013")
    assert refs.reference_key("INV-2024-0012") != refs.reference_key("INV-2025-0012")


def test_forgiven_says_what_was_forgiven() -> None:
    token = refs.Token("2O24-0012", refs.reference_key("2O24-0012"))
    words = refs.forgiven(token, "INV-2024-0012")
    assert "without the prefix INV" in words
    assert "one O read as 0" in words
    exact = refs.Token("INV-2024-0012", refs.reference_key("INV-2024-0012"))
    assert refs.forgiven(exact, "INV-2024-0012") == ""


def test_tokens_in_unstructured_remittance() -> None:
    found = refs.tokens("INV 2024-0012, 2024-0013 / PO 4711")
    keys = {t.key for t in found}
    assert refs.reference_key("INV-2024-0012") in keys
    assert refs.reference_key("2024-0013") in keys
    assert "4711" in keys
    # a reference split by a space is read whole too
    assert refs.reference_key("4070986529") in {t.key for t in refs.tokens("receipt 407098652 9")}
    # a reference glued to a word
    assert refs.reference_key("7507592439") in {t.key for t in refs.tokens("NO 0: 7507592439NO 1: 22")}


def test_short_numbers_are_not_references() -> None:
    # "paid 12" reads as the short form PAID:12: only a reference PAID-0012 would be found by it
    assert [t.key for t in refs.tokens("paid 12 items")] == ["PAID:12"]
    assert refs.tokens("12 items") == []


def test_a_short_reference_written_in_full_is_a_reference() -> None:
    """INV-000015's key is "15", too short alone; written with its prefix or its zeros it counts."""
    assert refs.short_forms("INV-000015", 4) == ["INV:15", ":000015"]
    assert refs.short_forms("INV-2024-0012", 4) == []  # a long key is looked up as it is
    assert refs.short_forms("INV-15", 4) == ["INV:15"]
    assert refs.short_forms("15", 4) == [] and refs.short_forms("A1", 4) == []
    for written in ("INV-000015", "inv 000015", "INV000015", "Inv-15", "RF for INV-000015"):
        assert "INV:15" in {t.key for t in refs.tokens(written)}, written
    assert [t.key for t in refs.tokens("invoice 000015")] == [":000015"]
    (rf,) = refs.tokens("", invoice_rf_reference("INV-000015"))
    assert rf.source == "rf" and rf.key == "INV:15"
    # bare short numbers, alone or beside a word, are still not references
    assert refs.tokens("15 of 3 items, 015") == []
    assert all(refs.is_short_form(t.key) for t in refs.tokens("CN-000015"))


def test_rf_reference_carries_the_invoice_ref_and_validates() -> None:
    rf = invoice_rf_reference("INV-2024-0012")
    assert rf.startswith("RF") and rf.endswith("INV20240012")
    assert refs.validate_rf(rf)
    broken = rf[:2] + ("00" if rf[2:4] != "00" else "01") + rf[4:]
    assert not refs.validate_rf(broken)
    (token,) = refs.tokens("", rf)
    assert token.source == "rf" and token.key == refs.reference_key("INV-2024-0012")
    assert "check digits valid" in refs.forgiven(token, "INV-2024-0012")


def test_rf_with_wrong_check_digits_is_read_as_plain_text() -> None:
    rf = invoice_rf_reference("INV-2024-0012")
    broken = rf[:2] + ("00" if rf[2:4] != "00" else "01") + rf[4:]
    assert all(t.source != "rf" for t in refs.tokens(broken))


def test_long_ref_gets_the_hashed_rf() -> None:
    long_ref = "X" * 30
    assert invoice_rf_reference(long_ref) == rf_reference(f"invoice:{long_ref}")


def test_qr_reference_mod10_recursive() -> None:
    qr = invoice_qr_reference("INV-2024-0012")
    assert qr is not None and len(qr) == 27 and refs.validate_qr(qr)
    assert refs.validate_qr("21 00000 00003 13947 14300 09017")  # the SIX example
    assert not refs.validate_qr("210000000003139471430009016")
    spaced = " ".join(qr[i : i + 5] for i in range(0, 27, 5))
    found = [t for t in refs.tokens(f"QR {spaced}") if t.source == "qr"]
    assert found and found[0].key == refs.reference_key("20240012")
    assert invoice_qr_reference("no digits") is None


def test_fuzzy_distance_one_slip_for_long_keys_only() -> None:
    assert refs.fuzzy_distance("100000000002450", "10000000002450") == 1  # a digit dropped
    assert refs.fuzzy_distance("6928031232", "9628031232") == 1  # two swapped
    assert refs.fuzzy_distance("4711", "4712") is None  # too short to forgive
    assert refs.fuzzy_distance("6928031232", "6928039999") is None
