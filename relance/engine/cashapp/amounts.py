"""Amounts: the tolerance for bank fees and small deductions, and which open items add up to a
payment (subset sum, bounded: at most ``max_items`` items considered, ``max_size`` in a
combination, meet in the middle over integer cents so it stays milliseconds)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

CENT = Decimal("0.01")


def cents(amount: Decimal) -> int:
    return int((amount / CENT).to_integral_value())


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How far an amount may be from the open amount and still count as paying it: the larger of
    ``absolute`` and ``percent`` % of the open amount (bank fees, small deductions)."""

    absolute: Decimal = Decimal("0.00")
    percent: Decimal = Decimal("0")

    def allowance(self, open_amount: Decimal) -> Decimal:
        return max(self.absolute, (abs(open_amount) * self.percent / 100).quantize(CENT))

    def allows(self, open_amount: Decimal, paid: Decimal) -> bool:
        return abs(open_amount - paid) <= self.allowance(open_amount)


def _half_sums(values: np.ndarray, max_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every subset of ``values`` of at most ``max_size`` elements: sums, bit masks, sizes."""
    n = len(values)
    masks = np.arange(1 << n, dtype=np.int64)
    sizes = np.zeros(1 << n, dtype=np.int64)
    sums = np.zeros(1 << n, dtype=np.int64)
    for bit in range(n):
        on = (masks >> bit) & 1
        sizes += on
        sums += on * int(values[bit])
    keep = sizes <= max_size
    return sums[keep], masks[keep], sizes[keep]


def combinations(
    amounts: list[int], target: int, allowance: int, *, max_size: int = 6, max_solutions: int = 3
) -> list[tuple[int, ...]]:
    """Index tuples of ``amounts`` (cents, positive) whose sum is within ``allowance`` of
    ``target``, closest first, at most ``max_solutions`` (a few are enough to see ambiguity).
    ``amounts`` must be short (≤ 24): the caller bounds it."""
    n = len(amounts)
    if n == 0 or target <= 0:
        return []
    values = np.asarray(amounts, dtype=np.int64)
    left, right = values[: n // 2], values[n // 2 :]
    l_sums, l_masks, l_sizes = _half_sums(left, max_size)
    r_sums, r_masks, r_sizes = _half_sums(right, max_size)
    order = np.argsort(r_sums, kind="stable")
    r_sums, r_masks, r_sizes = r_sums[order], r_masks[order], r_sizes[order]
    lo = np.searchsorted(r_sums, target - allowance - l_sums, side="left")
    hi = np.searchsorted(r_sums, target + allowance - l_sums, side="right")
    found: list[tuple[int, tuple[int, ...]]] = []
    shift = len(left)
    for li in np.nonzero(hi > lo)[0]:
        for ri in range(int(lo[li]), int(hi[li])):
            size = int(l_sizes[li] + r_sizes[ri])
            if size == 0 or size > max_size:
                continue
            mask = int(l_masks[li]) | (int(r_masks[ri]) << shift)
            chosen = tuple(i for i in range(n) if mask >> i & 1)
            found.append((abs(int(l_sums[li] + r_sums[ri]) - target), chosen))
            if len(found) > 4 * max_solutions:
                break
        if len(found) > 4 * max_solutions:
            break
    found.sort(key=lambda item: (item[0], len(item[1])))
    return [chosen for _, chosen in found[:max_solutions]]
