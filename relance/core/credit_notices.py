"""When a credit notice is due, and whether it is still true: the pure rules (issue 15, item 9).

One home for the thresholds and the crossing rule: the daily notices
(``relance.credit.services.notices``) open and clear notices with ``crossing_changes``, and the
send-time check asks ``still_over`` of the utilisation as it is when the message leaves. The saved
card rule (``card_expiring``) is here for the same reason.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

#: Utilisation thresholds (percent of the credit limit) whose crossing is noticed.
UTILISATION_THRESHOLDS = (80, 100)
#: A saved card is noticed when it expires within this many days.
CARD_NOTICE_DAYS = 30


def thresholds_reached(utilisation: Decimal | None) -> tuple[int, ...]:
    """The thresholds ``utilisation`` (percent; None: no limit) is at or above."""
    if utilisation is None:
        return ()
    return tuple(threshold for threshold in UTILISATION_THRESHOLDS if utilisation >= threshold)


def still_over(threshold: int, utilisation: Decimal | None) -> bool:
    """Is ``utilisation`` still at or above ``threshold``? (No limit any more: no.)"""
    return utilisation is not None and utilisation >= threshold


@dataclass(frozen=True)
class CrossingChanges:
    """What a day's utilisation does to a customer's notices.

    ``opened``: thresholds crossed since the last notice (each noticed once, until it clears);
    ``cleared``: open notices whose threshold the utilisation fell back below;
    ``notify``: the threshold the one message speaks of (the highest opened), or None.
    """

    opened: tuple[int, ...]
    cleared: tuple[int, ...]

    @property
    def notify(self) -> int | None:
        return max(self.opened) if self.opened else None


def crossing_changes(open_thresholds: Iterable[int], utilisation: Decimal | None) -> CrossingChanges:
    """Compare the open notices with the day's utilisation: a threshold reached without an open
    notice opens one, an open notice whose threshold is no longer reached clears."""
    reached = set(thresholds_reached(utilisation))
    open_now = set(open_thresholds)
    return CrossingChanges(
        opened=tuple(sorted(reached - open_now)), cleared=tuple(sorted(open_now - reached))
    )


def card_last_day(exp_year: int, exp_month: int) -> date:
    """A card marked MM/YY is good through the last day of that month."""
    return date(exp_year, exp_month, calendar.monthrange(exp_year, exp_month)[1])


def card_expiring(exp_year: int, exp_month: int, on: date, *, within_days: int = CARD_NOTICE_DAYS) -> bool:
    """Does the card expire within ``within_days`` of ``on`` (and is it not yet expired)?"""
    days_left = (card_last_day(exp_year, exp_month) - on).days
    return 0 <= days_left <= within_days
