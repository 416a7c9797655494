"""The promise-to-pay rule: one home for the app (settling, the send-time check) and the engine.

A promise pauses the customer's dunning until its **end**: the promised date plus the grace days
of the customer's policy. Payment is judged at the **cut-off**: the as-of date while the promise
runs, its end once it has passed. So a promise is

* **kept** when paid by the cut-off (every promised invoice settled or, for an amount-only
  promise, the customer's payments from the day it was made reaching its amount);
* **active** (pausing) while not paid and its end is not before the as-of date;
* **broken** once its end is before the as-of date unpaid. A payment after the end does not make
  it kept; nothing is chased for it anyway, since nothing is owed any more.

A status written by hand or by an earlier run (kept, broken, cancelled) is final. Pure: no Django.
See docs/dunning.md (Promises).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

OPEN = "open"
ACTIVE = "active"
KEPT = "kept"
BROKEN = "broken"
CANCELLED = "cancelled"
WRITTEN_FINAL = (KEPT, BROKEN, CANCELLED)


@dataclass(frozen=True)
class PromiseTerms:
    """When a promise ends: its promised date plus the policy's grace."""

    promised_date: date
    grace_days: int

    @property
    def end(self) -> date:
        """The last day the promise pauses dunning (inclusive)."""
        return self.promised_date + timedelta(days=self.grace_days)

    def running_on(self, as_of: date) -> bool:
        """Has the promise not ended by ``as_of``? (only a running promise can pause dunning)"""
        return self.end >= as_of

    def cutoff(self, as_of: date) -> date:
        """The last day whose payments count: ``as_of`` while the promise runs, then its end."""
        return min(as_of, self.end)


@dataclass(frozen=True)
class PaidByCutoff:
    """What was paid by the cut-off, as the promise counts it."""

    linked_invoices: int  # invoices the promise names (0: an amount-only promise)
    still_open: int  # of those, how many still owe something at the cut-off
    paid: Decimal  # amount-only: the customer's payments from the promise's day to the cut-off
    amount: Decimal  # the promised amount

    @property
    def in_full(self) -> bool:
        if self.linked_invoices:
            return self.still_open == 0
        return self.paid >= self.amount


def promise_state(*, written_status: str, terms: PromiseTerms, paid: PaidByCutoff | None, as_of: date) -> str:
    """``active``, ``kept`` or ``broken`` (or a final written status) on ``as_of``.

    ``paid`` is read only for an open promise; it must be measured at ``terms.cutoff(as_of)``.
    """
    if written_status in WRITTEN_FINAL:
        return written_status
    if paid is None:
        raise ValueError("an open promise's state needs what was paid by its cut-off")
    if paid.in_full:
        return KEPT
    return ACTIVE if terms.running_on(as_of) else BROKEN
