"""Credit KPIs (issue 15, item 11): the pure rules — buckets, ratios, the class migration matrix,
what a write-off is. ``relance.credit.selectors.kpis`` reads the stored scores and the ledger and
calls these; docs/kpis.md ("Credit KPIs") defines them with a worked example.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

#: Utilisation buckets (percent of the credit limit), in display order; ``none``: no limit.
UTILISATION_BUCKETS = ("0-50", "50-80", "80-100", ">100", "none")
UTILISATION_BUCKET_LABELS = {
    "0-50": "0–50 %",
    "50-80": "50–80 %",
    "80-100": "80–100 %",
    ">100": "over 100 %",
    "none": "no limit",
}
#: The risk classes, best first, and the row/column of a customer not scored on the earlier day.
CLASSES = ("A", "B", "C", "D", "E")
NEW = "new"
GONE = "gone"

#: A credit note is a write-off (bad debt) when its reason says so: these words, any case.
WRITE_OFF_WORDS = re.compile(
    r"write[- ]?off|written[- ]off|bad[- ]debt|uncollectible|irr[ée]couvrable|abschreibung|forderungsausfall"
    r"|incobrable|inesigibile",
    re.IGNORECASE,
)


def utilisation_bucket(utilisation: Decimal | None) -> str:
    """``0-50`` below 50 %, ``50-80`` below 80 %, ``80-100`` up to and including 100 %, ``>100``
    above (over the limit), ``none`` without a limit. 80 % is where a notice goes out; 100 % exactly
    is at the limit, not over it."""
    if utilisation is None:
        return "none"
    if utilisation < 50:
        return "0-50"
    if utilisation < 80:
        return "50-80"
    if utilisation <= 100:
        return "80-100"
    return ">100"


def is_write_off(reason: str) -> bool:
    """Does a credit note's reason mark it as a write-off of bad debt (not a price correction)?"""
    return bool(WRITE_OFF_WORDS.search(reason or ""))


def ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part ÷ whole`` in percent, 2 places; None when the whole is zero (not computable)."""
    if not whole:
        return None
    return (part / whole * 100).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class BucketFigures:
    bucket: str
    customers: int
    ar: Decimal


def utilisation_distribution(
    utilisations: Mapping[int, Decimal | None], ar_by_customer: Mapping[int, Decimal]
) -> list[BucketFigures]:
    """Customers and their AR per utilisation bucket (every bucket, in order, zeros included)."""
    customers: Counter[str] = Counter()
    ar: dict[str, Decimal] = dict.fromkeys(UTILISATION_BUCKETS, Decimal(0))
    for customer_id, utilisation in utilisations.items():
        bucket = utilisation_bucket(utilisation)
        customers[bucket] += 1
        ar[bucket] += ar_by_customer.get(customer_id, Decimal(0))
    return [BucketFigures(bucket, customers[bucket], ar[bucket]) for bucket in UTILISATION_BUCKETS]


def class_distribution(classes: Iterable[str]) -> dict[str, int]:
    """Customers per risk class, every class listed."""
    counted = Counter(classes)
    return {risk_class: counted[risk_class] for risk_class in CLASSES}


def migration_matrix(before: Mapping[int, str], after: Mapping[int, str]) -> dict[str, dict[str, int]]:
    """``matrix[from][to]``: customers per class on the earlier day (``new``: not scored then) and
    on the later one (``gone``: not scored any more). Every row and column is present."""
    rows = (*CLASSES, NEW)
    columns = (*CLASSES, GONE)
    matrix = {row: dict.fromkeys(columns, 0) for row in rows}
    for customer_id, risk_class in after.items():
        matrix[before.get(customer_id, NEW)][risk_class] += 1
    for customer_id, risk_class in before.items():
        if customer_id not in after:
            matrix[risk_class][GONE] += 1
    return matrix


def migration_summary(matrix: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """Customers scored on both days that moved to a worse class, a better one, or stayed."""
    order = {risk_class: index for index, risk_class in enumerate(CLASSES)}
    worse = better = same = 0
    for row, columns in matrix.items():
        for column, count in columns.items():
            if row not in order or column not in order:
                continue
            if order[column] > order[row]:
                worse += count
            elif order[column] < order[row]:
                better += count
            else:
                same += count
    return {"downgraded": worse, "upgraded": better, "unchanged": same}
