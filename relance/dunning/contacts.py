"""What counts as a contact with a customer: the one home of the rule.

A **contact** is a conversation: a run's message that went (a ``DunningAction`` marked
``is_contact`` and not cancelled or failed) or a contact logged by hand (``ContactLog``). A
collector's call counts when someone was spoken to (promise, dispute, "reached, no
commitment", "call back on…"); a call in which nobody was reached (no answer, wrong number…)
is an attempt: the compliance rules count it as a call for their caps, but it does not reset the
cadence, the last-contact date or the "contacted today" marker.

The engine reads the same two sources (``relance.dunning.binding``: the run's actions and the
contact logs) for days since contact and the cadence; ``last_contact_dates`` reads them for the
pages.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

#: Call outcomes that mean nobody was spoken to; any other outcome of a call is a conversation.
NO_CONVERSATION_OUTCOMES = frozenset(
    {"", "no_answer", "busy", "voicemail", "left_message", "wrong_number", "unreachable", "failed"}
)
#: Run actions in these states reached nobody (``relance.dunning.binding`` leaves them out too).
NOT_A_CONTACT = ("cancelled", "failed")


def outcome_is_contact(outcome: str) -> bool:
    """Whether a call with this outcome spoke to someone (``reached`` yes, ``no_answer`` no)."""
    return (outcome or "").strip().lower() not in NO_CONVERSATION_OUTCOMES


def last_contact_dates(*, customer_ids: Iterable[int]) -> dict[int, date]:
    """The day each customer was last contacted (the engine's rule above), by customer id; a
    customer never contacted is absent. Two queries whatever the number of customers."""
    from django.db.models import Max

    from relance.cases.models import ContactLog
    from relance.dunning.models import DunningAction

    ids = list(customer_ids)
    if not ids:
        return {}
    found: dict[int, date] = {}
    by_hand = ContactLog.objects.filter(customer_id__in=ids).values("customer_id").annotate(last=Max("on"))
    by_run = (
        DunningAction.objects.filter(customer_id__in=ids, is_contact=True)
        .exclude(status__in=NOT_A_CONTACT)
        .values("customer_id")
        .annotate(last=Max("on"))
    )
    for row in [*by_hand, *by_run]:
        day = row["last"]
        if day is not None and (row["customer_id"] not in found or day > found[row["customer_id"]]):
            found[row["customer_id"]] = day
    return found
