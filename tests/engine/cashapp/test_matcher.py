"""The matcher: every rule with its reasons, the decision, the batch and the invariants."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relance.core.payment_refs import invoice_qr_reference, invoice_rf_reference
from relance.engine.cashapp.amounts import Tolerance, combinations
from relance.engine.cashapp.lines import BankLineData, KnownPayer, MatchResult, OpenItem
from relance.engine.cashapp.matcher import Matcher, MatchPolicy, Thresholds, match_lines
from relance.engine.cashapp.payers import initials, normalise_name

D = Decimal
DAY = date(2026, 12, 7)


def item(
    invoice_id: int,
    ref: str,
    amount: str,
    *,
    customer_id: int = 1,
    name: str = "Acme SAS",
    currency: str = "EUR",
    references: tuple[str, ...] = (),
    po: str = "",
    parent_id: int | None = None,
    parent_name: str = "",
    due: date | None = None,
) -> OpenItem:
    return OpenItem(
        invoice_id=invoice_id,
        invoice_ref=ref,
        customer_id=customer_id,
        customer_ref=f"C{customer_id}",
        customer_name=name,
        parent_id=parent_id,
        currency=currency,
        open_amount=D(amount),
        due_date=due or date(2026, 11, invoice_id % 28 + 1),
        issue_date=date(2026, 10, 1),
        references=references,
        po_number=po,
        parent_name=parent_name,
    )


def line(
    amount: str,
    text: str = "",
    *,
    structured: str = "",
    name: str = "",
    iban: str = "",
    currency: str = "EUR",
    ref: str = "L1",
) -> BankLineData:
    return BankLineData(
        bank_ref=ref,
        account_iban="FR7630006000011234567890189",
        account_currency=currency,
        booking_date=DAY,
        value_date=DAY,
        amount=D(amount),
        currency=currency,
        counterparty_name=name,
        counterparty_iban=iban,
        remittance_unstructured=text,
        remittance_structured=structured,
    )


LEDGER = [
    item(1, "INV-2024-0012", "1000.00"),
    item(2, "INV-2024-0013", "250.00"),
    item(3, "INV-2024-0014", "330.50", references=("ORD-77881",), po="PO-4711"),
    item(4, "INV-2024-0100", "1200.00", customer_id=2, name="Globex GmbH"),
    item(5, "INV-2024-0101", "80.00", customer_id=2, name="Globex GmbH"),
    item(6, "INV-2024-0102", "45.00", customer_id=2, name="Globex GmbH"),
]


def one(text_line: BankLineData, items: list[OpenItem] = LEDGER, **kwargs: object) -> MatchResult:
    (result,) = match_lines([text_line], items, **kwargs)  # type: ignore[arg-type]
    return result


def allocated(result: MatchResult) -> dict[int, Decimal]:
    assert result.chosen is not None
    return {a.invoice_id: a.amount for a in result.chosen.allocations}


def test_exact_reference_and_amount_applies_with_reasons() -> None:
    result = one(line("1000.00", "Payment INV-2024-0012"))
    assert result.status == "applied"
    assert allocated(result) == {1: D("1000.00")}
    reasons = result.chosen.reasons  # type: ignore[union-attr]
    assert "the invoice reference INV-2024-0012 is in the remittance text" in reasons
    assert "the amount equals the open amount of INV-2024-0012" in reasons
    assert result.chosen.confidence >= 0.95  # type: ignore[union-attr]


SHORT_REFS = [
    item(1, "INV-000015", "250.00", due=date(2026, 11, 1)),
    item(2, "INV-000016", "250.00", due=date(2026, 11, 2)),
    item(3, "INV-000151", "400.00", due=date(2026, 11, 3)),
    item(4, "INV-000025", "90.00", customer_id=2, name="Globex GmbH", references=("ORD-000015",)),
]


def test_a_short_reference_written_in_full_applies() -> None:
    """The generator's INV-000015 (key "15"): quoted in full or with its prefix, it is a reference."""
    for text in ("Payment INV-000015", "inv 15", "INV000015"):
        result = one(line("250.00", text), SHORT_REFS)
        assert result.status == "applied" and allocated(result) == {1: D("250.00")}, text
        assert result.chosen.reasons[0].startswith("the invoice reference INV-000015 is in the remittance")  # type: ignore[union-attr]
    zeros = one(line("250.00", "invoice 000015"), SHORT_REFS)
    assert allocated(zeros) == {1: D("250.00")}
    assert "without the prefix INV" in zeros.chosen.reasons[0]  # type: ignore[union-attr]
    order = one(line("90.00", "order ORD-000015"), SHORT_REFS)
    assert allocated(order) == {4: D("90.00")}  # the other reference, not INV-000015
    rf = one(line("250.00", structured=invoice_rf_reference("INV-000015")), SHORT_REFS)
    assert allocated(rf) == {1: D("250.00")}


def test_a_short_bare_number_or_a_slip_in_a_short_reference_is_not_applied() -> None:
    """Precision first: "15" alone, another prefix, or one digit off a short reference (the next
    invoice's number) never applies a line, even with the amount of an item."""
    for text in ("invoice 15", "15", "CN-000015", "INV-000017", "INV-00001"):
        result = one(line("250.00", text), SHORT_REFS)
        assert result.status != "applied", text
        assert not any("is in the remittance" in r for c in result.candidates for r in c.reasons), text
    # "INV-000015" never reads as INV-000151 (or the other way round)
    assert allocated(one(line("400.00", "INV-000151"), SHORT_REFS)) == {3: D("400.00")}
    assert one(line("400.00", "INV-000015"), SHORT_REFS).status != "applied"


def test_reference_with_an_ocr_slip_and_no_prefix() -> None:
    result = one(line("1000.00", "facture 2O24-0012"))
    assert result.status == "applied"
    assert allocated(result) == {1: D("1000.00")}
    reason = result.chosen.reasons[0]  # type: ignore[union-attr]
    assert "without the prefix INV" in reason and "one O read as 0" in reason


def test_other_reference_and_po_number() -> None:
    by_order = one(line("330.50", "your order ORD 77881"))
    assert allocated(by_order) == {3: D("330.50")}
    assert "the reference ORD-77881 is in the remittance text" in by_order.chosen.reasons[0]  # type: ignore[union-attr]
    by_po = one(line("330.50", "PO 4711"))
    assert allocated(by_po) == {3: D("330.50")}
    assert "purchase order PO-4711" in by_po.chosen.reasons[0]  # type: ignore[union-attr]


def test_rf_and_qr_references_find_the_invoice() -> None:
    rf = one(line("250.00", structured=invoice_rf_reference("INV-2024-0013")))
    assert allocated(rf) == {2: D("250.00")}
    assert "RF creditor reference" in rf.chosen.reasons[0]  # type: ignore[union-attr]
    qr = one(line("250.00", f"QRR {invoice_qr_reference('INV-2024-0013')}"))
    assert allocated(qr) == {2: D("250.00")}
    assert "QR reference" in qr.chosen.reasons[0]  # type: ignore[union-attr]


def test_one_slip_in_a_long_reference_within_the_payer() -> None:
    items = [item(1, "INV100000000022749", "500.00", references=("9647723133",))]
    result = one(line("500.00", "ref 9647732133", name="Acme SAS"), items)  # two digits swapped
    assert result.status == "applied"
    assert "one slip from the reference 9647723133" in result.chosen.reasons[0]  # type: ignore[union-attr]


def test_a_number_written_with_another_prefix_is_weaker() -> None:
    items = [item(1, "INV-883006", "100.00"), item(2, "INV-283006", "900.00", references=("ORD-883006",))]
    result = one(line("100.00", "Payment INV-883006", name="Acme SAS"), items)
    assert result.status == "applied" and allocated(result) == {1: D("100.00")}
    other = next(c for c in result.candidates if c.invoice_ids == (2,))
    assert "the reference ORD-883006 is in the remittance text (written with the prefix INV)" in other.reasons
    # a prefix the reference lacks, or a longer spelling of it, is no contradiction; nor a short
    # word read with it ("and INV-883006" joins to ANDINV883006)
    both = one(line("100.00", "Invoices INV-000001 and INV-883006", name="Acme SAS"), items)
    assert not any("written with the prefix" in r for r in both.chosen.reasons)  # type: ignore[union-attr]
    assert allocated(one(line("330.50", "Invoice 2024-0014"))) == {3: D("330.50")}


def test_within_tolerance_reports_the_shortfall() -> None:
    policy = MatchPolicy(tolerance=Tolerance(absolute=D("5.00")))
    result = one(line("996.50", "INV-2024-0012"), policy=policy)
    assert result.status == "applied"
    assert allocated(result) == {1: D("996.50")}
    assert result.chosen.shortfall == D("3.50")  # type: ignore[union-attr]
    assert any("3.50 EUR less than the open amount" in r for r in result.chosen.reasons)  # type: ignore[union-attr]
    tight = one(line("996.50", "INV-2024-0012"), policy=MatchPolicy(tolerance=Tolerance()))
    assert tight.chosen is None or tight.chosen.allocations[0].amount == D("996.50")


def test_percent_tolerance() -> None:
    tolerance = Tolerance(absolute=D("0"), percent=D("1"))
    assert tolerance.allows(D("1000.00"), D("990.00"))
    assert not tolerance.allows(D("1000.00"), D("989.99"))


def test_one_payment_for_several_invoices() -> None:
    result = one(line("1250.00", "INV 2024-0012, 2024-0013"))
    assert result.status == "applied"
    assert allocated(result) == {1: D("1000.00"), 2: D("250.00")}
    assert "the amount equals the open amounts of 2 invoices" in result.chosen.reasons  # type: ignore[union-attr]


def test_referenced_first_then_the_rest_from_the_customers_items() -> None:
    result = one(line("1330.50", "INV-2024-0012", name="Acme SAS"))
    assert result.candidates
    best = result.candidates[0]
    assert {a.invoice_id for a in best.allocations} == {1, 3}
    assert any("1 referenced and 1 more" in r for r in best.reasons)


def test_partial_payment_of_one_invoice() -> None:
    result = one(line("400.00", "INV-2024-0012", name="Acme SAS"))
    assert result.status == "applied"
    assert allocated(result) == {1: D("400.00")}
    assert result.chosen.shortfall == D("600.00")  # type: ignore[union-attr]
    assert any("a partial payment: 400.00 EUR of the 1,000.00 EUR open" in r for r in result.chosen.reasons)  # type: ignore[union-attr]


def test_overpayment_leaves_a_residual() -> None:
    result = one(line("1100.00", "INV-2024-0012"))
    overpaid = [c for c in result.candidates if c.residual == D("100.00")]
    assert overpaid and any("overpaid" in r for r in overpaid[0].reasons)
    assert overpaid[0].allocated == D("1000.00")


def test_amount_only_with_a_known_payer_is_suggested_not_applied() -> None:
    payers = [KnownPayer("DE89 3704 0044 0532 0130 00", 2)]
    result = one(line("80.00", "thanks", iban="DE89370400440532013000"), known_payers=payers)
    assert result.status == "suggested"
    top = result.candidates[0]
    assert top.invoice_ids == (5,)
    assert "the payer's IBAN paid this customer before" in top.reasons


def test_learned_payer_adds_confidence() -> None:
    policy = MatchPolicy(thresholds=Thresholds(auto_apply=0.99))
    text = line("1200.00", "INV-2024-0100", iban="DE89370400440532013000")
    without = one(text, policy=policy)
    learned = one(text, known_payers=[KnownPayer("DE89370400440532013000", 2)], policy=policy)
    assert learned.candidates[0].confidence > without.candidates[0].confidence
    assert "the payer's IBAN paid this customer before" in learned.candidates[0].reasons
    assert learned.status == "applied"


def test_payer_name_fuzzy_and_parent() -> None:
    items = [
        item(
            1,
            "A-99887766",
            "70.00",
            customer_id=5,
            name="Filiale Nord SARL",
            parent_id=9,
            parent_name="Groupe Dupont SA",
        )
    ]
    result = one(line("70.00", "A-99887766", name="GROUPE DUPONT"), items)
    assert any("the payer is the parent Groupe Dupont SA" in r for r in result.candidates[0].reasons)
    assert normalise_name("Dubois & Co. S.A.R.L.") == "dubois"
    assert normalise_name("Société Générale SA") == normalise_name("societe generale")
    assert "adl" in initials("Aurora Digital Labs")


def test_two_close_candidates_are_suggested_never_applied() -> None:
    items = [
        item(1, "INV-1", "100.00", customer_id=1),
        item(2, "INV-2", "100.00", customer_id=2, name="Other Ltd"),
    ]
    result = one(line("100.00", "payment"), items)
    assert result.status != "applied"
    # the same reference on two customers' invoices: ambiguous
    twins = [
        item(1, "FA-5511", "100.00", customer_id=1),
        item(2, "FA-5511", "100.00", customer_id=2, name="B"),
    ]
    twin = one(line("100.00", "FA-5511"), twins)
    assert twin.status == "suggested"
    assert len(twin.candidates) == 2


def test_debit_and_other_currency_are_not_matched() -> None:
    debit = one(line("-1000.00", "INV-2024-0012"))
    assert debit.status == "unmatched" and not debit.candidates
    other = one(line("1000.00", "INV-2024-0012", currency="USD"))
    assert other.status == "unmatched"


def test_batch_never_pays_an_item_twice() -> None:
    results = match_lines(
        [line("1000.00", "INV-2024-0012", ref="a"), line("1000.00", "INV-2024-0012", ref="b")], LEDGER
    )
    assert results[0].status == "applied"
    assert results[1].status != "applied"


def test_subset_sum_is_bounded_and_finds_the_combination() -> None:
    amounts = random.Random(7).sample(range(1_000, 10_000_000), 20)
    target = amounts[2] + amounts[11] + amounts[19]
    found = combinations(amounts, target, 0, max_size=3)
    assert (2, 11, 19) in found
    assert combinations(amounts, 1, 0) == []


# --- invariants ---------------------------------------------------------------------------------

amounts = st.decimals(min_value=D("0.01"), max_value=D("5000"), places=2)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    opens=st.lists(amounts, min_size=1, max_size=8),
    payments=st.lists(st.tuples(amounts, st.lists(st.integers(0, 7), max_size=3)), min_size=1, max_size=6),
    absolute=st.decimals(min_value=D("0"), max_value=D("10"), places=2),
)
def test_money_is_never_created_or_lost(opens, payments, absolute) -> None:  # type: ignore[no-untyped-def]
    items = [item(i + 1, f"INV-{9000 + i}", str(a), customer_id=1 + i % 2) for i, a in enumerate(opens)]
    lines = [
        line(str(amount), " ".join(f"INV-{9000 + r}" for r in refs_), ref=f"L{n}", name="Acme SAS")
        for n, (amount, refs_) in enumerate(payments)
    ]
    policy = MatchPolicy(tolerance=Tolerance(absolute=absolute))
    results = match_lines(lines, items, policy=policy)
    open_by_id = {i.invoice_id: i.open_amount for i in items}
    paid: dict[int, Decimal] = {}
    for bank_line, result in zip(lines, results, strict=True):
        for candidate in result.candidates:
            ids = candidate.invoice_ids
            assert len(ids) == len(set(ids)), "an item allocated twice within a candidate"
            assert candidate.allocated <= bank_line.amount
            assert all(a.amount > 0 for a in candidate.allocations)
            assert all(a.amount <= open_by_id[a.invoice_id] for a in candidate.allocations)
            assert candidate.residual == bank_line.amount - candidate.allocated
            assert 0.0 <= candidate.confidence <= 1.0
        if result.chosen is not None:
            for a in result.chosen.allocations:
                paid[a.invoice_id] = paid.get(a.invoice_id, D("0")) + a.amount
    assert all(paid[i] <= open_by_id[i] for i in paid), "more applied to an item than was open"


def test_matcher_learns_and_applies() -> None:
    matcher = Matcher(LEDGER)
    matcher.learn("GB33BUKB20201555555555", 1)
    result = matcher.match(line("250.00", "INV-2024-0013", iban="GB33 BUKB 2020 1555 5555 55"))
    assert "the payer's IBAN paid this customer before" in result.candidates[0].reasons
    matcher.apply(result.candidates[0])
    assert matcher.match(line("250.00", "INV-2024-0013")).status != "applied"


def test_partial_payments_in_a_batch_settle_the_rest() -> None:
    first, second = match_lines(
        [
            line("600.00", "INV-2024-0012 acompte", name="Acme SAS", ref="a"),
            line("400.00", "INV-2024-0012 solde", name="Acme SAS", ref="b"),
        ],
        LEDGER,
    )
    assert allocated(first) == {1: D("600.00")}
    assert allocated(second) == {1: D("400.00")}
    assert "the amount equals the open amount of INV-2024-0012" in second.chosen.reasons  # type: ignore[union-attr]
    assert second.chosen.shortfall == D("0")  # type: ignore[union-attr]


def test_learned_reference_pattern_points_to_its_customer() -> None:
    from relance.engine.cashapp.lines import KnownPattern
    from relance.engine.cashapp.references import reference_pattern, reference_patterns

    assert reference_patterns("Zahlung ACME-PAY-2026-0042 danke, KD 4711") == {"ACME-PAY-9999-9999"}
    assert reference_pattern("4711") is None and reference_pattern("PAYMENT") is None
    items = [
        item(1, "INV-2024-0012", "250.00", customer_id=1, name="Acme SAS"),
        item(2, "INV-2024-0099", "250.00", customer_id=2, name="Zeta GmbH"),
    ]
    payment = line("250.00", "ACME-PAY-2026-0042", name="Payments Hub")
    unknown = Matcher(items).match(payment)
    learned = Matcher(items, known_patterns=[KnownPattern("ACME-PAY-9999-9999", 1)]).match(payment)
    assert learned.candidates[0].customer_id == 1
    assert learned.candidates[0].confidence > max((c.confidence for c in unknown.candidates), default=0)
    assert any("ACME-PAY-9999-9999" in reason for reason in learned.candidates[0].reasons)
    # A pattern learned for two customers says nothing.
    both = [KnownPattern("ACME-PAY-9999-9999", 1), KnownPattern("ACME-PAY-9999-9999", 2)]
    shared = Matcher(items, known_patterns=both).match(payment)
    assert not any("ACME-PAY" in reason for c in shared.candidates for reason in c.reasons)
