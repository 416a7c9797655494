"""Benchmark the cash matcher at scale: bank lines against open invoices, in one process.

    .venv/bin/python benchmarks/bench_matching.py --items 1000000 --lines 100000
    .venv/bin/python benchmarks/bench_matching.py --items 20000 --lines 2000     # smoke size

Data (generated, seeded): ``--items`` open invoices over ``--items / 10`` customers (refs
``INV-<n>``, an order reference ``ORD-<n>`` on a third, amounts 10–50,000), one IBAN per customer,
half of them known payers. Lines, by kind: 45 % the invoice ref exactly with the open amount,
15 % the ref with a slip (an O for a 0, no prefix, a dropped separator), 10 % two or three refs of
one customer paid together, 10 % a partial payment quoting the ref, 10 % no reference (a known
payer, the open amount), 10 % noise (no reference, an amount nobody owes). Each line's truth is
known, so precision and recall of the automatic application are measured too.

Times: building the indexes, then matching (wall and CPU), peak RSS after the indexes and after
each quarter of the lines (flat memory: it must not grow with the lines).

The simple approach in the same run: a dict from invoice ref to item; a line is applied when one of
its whitespace tokens is a ref and the amount equals the open amount. Every line the simple approach
applies, the matcher must apply to the same invoice (exit 1 otherwise: "MISMATCH").
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relance.engine.cashapp.amounts import Tolerance
from relance.engine.cashapp.lines import BankLineData, KnownPayer, OpenItem
from relance.engine.cashapp.matcher import Matcher, MatchPolicy

CENT = Decimal("0.01")
DAY = date(2026, 12, 7)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(
    n_items: int, n_lines: int, seed: int
) -> tuple[list[OpenItem], list[KnownPayer], list[BankLineData], list[frozenset[int] | None]]:
    rng = random.Random(seed)
    n_customers = max(1, n_items // 10)
    items: list[OpenItem] = []
    for n in range(n_items):
        customer = n % n_customers
        amount = Decimal(rng.randint(1_000, 5_000_000)) * CENT
        items.append(
            OpenItem(
                invoice_id=n + 1,
                invoice_ref=f"INV-{100000 + n}",
                customer_id=customer + 1,
                customer_ref=f"C{customer}",
                customer_name=f"Customer {customer} SAS",
                parent_id=None,
                currency="EUR",
                open_amount=amount,
                due_date=DAY - timedelta(days=n % 90),
                issue_date=DAY - timedelta(days=30 + n % 90),
                references=(f"ORD-{700000 + n}",) if n % 3 == 0 else (),
            )
        )
    ibans = [f"FR76{customer:020d}" for customer in range(n_customers)]
    known = [KnownPayer(ibans[c], c + 1) for c in range(0, n_customers, 2)]
    lines: list[BankLineData] = []
    truth: list[frozenset[int] | None] = []
    used: set[int] = set()

    def pick() -> OpenItem:
        while True:
            candidate = items[rng.randrange(n_items)]
            if candidate.invoice_id not in used:
                used.add(candidate.invoice_id)
                return candidate

    for n in range(n_lines):
        kind = rng.random()
        text = ""
        iban = ""
        if kind < 0.45:
            chosen = [pick()]
            amount = chosen[0].open_amount
            text = f"Payment {chosen[0].invoice_ref} thank you"
        elif kind < 0.60:
            chosen = [pick()]
            amount = chosen[0].open_amount
            ref = chosen[0].invoice_ref
            slip = rng.choice([ref.replace("0", "O", 1), ref.removeprefix("INV-"), ref.replace("-", "")])
            text = f"facture {slip}"
        elif kind < 0.70:
            first = pick()
            siblings = [first] + [
                items[i]
                for i in range(
                    first.invoice_id - 1 + n_customers,
                    min(n_items, first.invoice_id + 40 * n_customers),
                    n_customers,
                )
                if items[i].invoice_id not in used
            ][: rng.randint(1, 2)]
            used.update(s.invoice_id for s in siblings)
            chosen = siblings
            amount = sum((s.open_amount for s in chosen), Decimal("0"))
            text = "INV " + ", ".join(s.invoice_ref.removeprefix("INV-") for s in chosen)
        elif kind < 0.80:
            chosen = [pick()]
            amount = (chosen[0].open_amount * Decimal("0.4")).quantize(CENT)
            text = f"acompte {chosen[0].invoice_ref}"
            iban = ibans[chosen[0].customer_id - 1]
        elif kind < 0.90:
            chosen = [pick()]
            amount = chosen[0].open_amount
            text = "virement"
            iban = ibans[chosen[0].customer_id - 1]
        else:
            chosen = []
            amount = Decimal(rng.randint(1_000, 5_000_000)) * CENT + Decimal("0.07")
            text = f"misc {rng.randint(1, 99)}"
        lines.append(
            BankLineData(
                bank_ref=f"B{n}",
                account_iban="FR7630006000011234567890189",
                account_currency="EUR",
                booking_date=DAY,
                value_date=DAY,
                amount=amount,
                currency="EUR",
                counterparty_name=f"Customer {chosen[0].customer_id - 1}" if chosen else "Someone",
                counterparty_iban=iban,
                remittance_unstructured=text,
            )
        )
        truth.append(frozenset(c.invoice_id for c in chosen) if chosen else None)
    return items, known, lines, truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    items, known, lines, truth = generate(args.items, args.lines, args.seed)
    print(
        f"generated {len(items):,} open items, {len(lines):,} lines in {time.perf_counter() - started:.1f} s"
    )
    base = rss_mb()

    wall, cpu = time.perf_counter(), time.process_time()
    matcher = Matcher(items, known, MatchPolicy(tolerance=Tolerance(absolute=Decimal("1.00"))))
    index_wall, index_cpu = time.perf_counter() - wall, time.process_time() - cpu
    after_index = rss_mb()
    print(
        f"indexes: {index_wall:.1f} s wall, {index_cpu:.1f} s CPU; peak RSS {base:.0f} → {after_index:.0f} MB"
    )

    wall, cpu = time.perf_counter(), time.process_time()
    applied: list[frozenset[int] | None] = []
    notes: list[str] = []
    statuses = {"applied": 0, "suggested": 0, "unmatched": 0}
    quarter = max(1, len(lines) // 4)
    for n, line in enumerate(lines, 1):
        result = matcher.match(line)
        statuses[result.status] += 1
        if result.chosen is not None:
            matcher.apply(result.chosen)
            applied.append(frozenset(result.chosen.invoice_ids))
        else:
            applied.append(None)
            if len(notes) < 3 and result.candidates and line.remittance_unstructured.startswith("Payment"):
                top = result.candidates[0]
                notes.append(
                    f"{line.remittance_unstructured!r} {line.amount}: {result.status} {top.invoice_ids} {top.reasons}"
                )
        if n % quarter == 0:
            print(f"  {n:,} lines: {time.perf_counter() - wall:.1f} s, peak RSS {rss_mb():.0f} MB")
    match_wall, match_cpu = time.perf_counter() - wall, time.process_time() - cpu
    right = sum(1 for got, want in zip(applied, truth, strict=True) if got is not None and got == want)
    made = sum(1 for got in applied if got is not None)
    matchable = sum(1 for want in truth if want is not None)
    print(
        f"matcher: {len(lines):,} lines in {match_wall:.1f} s wall, {match_cpu:.1f} s CPU "
        f"({1000 * match_cpu / len(lines):.2f} ms CPU a line); {statuses}; "
        f"precision {right / made if made else 1:.4f}, recall {right / matchable if matchable else 0:.4f}; "
        f"total with indexes {index_wall + match_wall:.1f} s"
    )

    wall = time.perf_counter()
    by_ref = {item.invoice_ref: item for item in items}
    remaining = {item.invoice_id: item.open_amount for item in items}
    simple: list[frozenset[int] | None] = []
    for line in lines:
        found = None
        for token in line.remittance_unstructured.split():
            item = by_ref.get(token)
            if item is not None and remaining[item.invoice_id] == line.amount:
                remaining[item.invoice_id] = Decimal("0")
                found = frozenset({item.invoice_id})
                break
        simple.append(found)
    simple_wall = time.perf_counter() - wall
    s_right = sum(1 for got, want in zip(simple, truth, strict=True) if got is not None and got == want)
    s_made = sum(1 for got in simple if got is not None)
    print(
        f"simple (exact ref dict): {simple_wall:.1f} s; applied {s_made:,}, "
        f"precision {s_right / s_made if s_made else 1:.4f}, recall {s_right / matchable if matchable else 0:.4f}"
    )
    mismatches = sum(1 for got, want in zip(applied, simple, strict=True) if want is not None and got != want)
    if mismatches:
        print(
            f"MISMATCH: {mismatches} lines the simple approach applies are not applied the same by the matcher"
        )
        return 1
    print("the matcher applies every line the simple approach applies, to the same invoice")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
