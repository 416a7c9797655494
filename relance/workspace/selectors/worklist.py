"""The worklist: the latest run's entries the user may see, filters, saved views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from relance.accounts.selectors import customer_scope
from relance.accounts.selectors import entity_visible as accounts_entity_visible
from relance.common.converters import row_id_or_none
from relance.core.errors import NotFound, ValidationFailed
from relance.core.money import parse_amount
from relance.credit.selectors.reviews import risk_class_latest
from relance.dunning.models import DunningRun, WorklistEntry
from relance.ledger.models import Customer, Entity
from relance.workspace.models import (
    SavedView,
    WorklistSnooze,
)
from relance.workspace.selectors.common import WORKLIST_PAGE, entity_visible, user_is_collector
from relance.workspace.selectors.next_action import (
    PREDICTION_VALUES,
    annotate_predictions,
    prediction_factors,
    prediction_run_id,
)

# --------------------------------------------------------------------------- worklist


@dataclass(frozen=True)
class WorklistRow:
    customer_id: int
    customer_ref: str
    customer_name: str
    collector: str
    priority: float
    currency: str
    overdue_amount: Decimal
    max_days_past_due: int
    risk: str
    broken_promises: int
    days_since_contact: int | None
    factors: dict[str, Any]
    predicted_on_time: bool = False  # stored predictions: likely to pay without a chase


def latest_run(*, entity: Entity) -> DunningRun | None:
    return DunningRun.objects.filter(entity=entity).order_by("-as_of").first()


# sort key (``?sort=``, ``-`` in front: the other way) → the columns ordered by, ties by reference
WORKLIST_SORTS: dict[str, tuple[str, ...]] = {
    "priority": ("-priority",),
    "customer": ("customer__name",),
    "collector": ("customer__collector__username",),
    "overdue": ("-overdue_amount",),
    "days": ("-max_days_past_due",),
    "contact": ("-days_since_contact",),
    "broken": ("-broken_promises",),
    "risk": ("credit_risk",),
}


@dataclass(frozen=True)
class WorklistFilters:
    """What the worklist is narrowed to and ordered by (each one optional)."""

    collector_id: int | None = None  # 0: customers without a collector
    segment: str | None = None  # "": customers without a segment
    currency: str = ""
    min_overdue: Decimal | None = None
    min_days: int | None = None
    sort: str = "priority"

    def ordering(self) -> list[str]:
        key = self.sort.removeprefix("-")
        columns = WORKLIST_SORTS.get(key, WORKLIST_SORTS["priority"])
        if self.sort.startswith("-") and key in WORKLIST_SORTS:
            columns = tuple(c[1:] if c.startswith("-") else f"-{c}" for c in columns)
        return [*columns, "customer__external_ref"]


def _amount_or_none(value: str | None) -> Decimal | None:
    if not value or not value.strip():
        return None
    try:
        return parse_amount(value.strip().replace(",", "."))
    except ValidationFailed:
        raise ValidationFailed(f"amount: expected a number, found {value!r}") from None


def worklist_filters_from(query: Any, *, is_collector: bool) -> WorklistFilters:
    """The worklist's filters from its query parameters (the page's, its CSV export's and the API's):
    ``collector`` (an id; 0: none; ignored for a collector, who sees their own), ``segment`` ("-":
    none), ``currency``, ``min_overdue``, ``min_days`` and ``sort``."""
    segment = query.get("segment")
    return WorklistFilters(
        collector_id=None if is_collector else row_id_or_none(query.get("collector")),
        segment=None if segment is None or segment == "" else ("" if segment == "-" else segment),
        currency=(query.get("currency") or "").upper()[:3],
        min_overdue=_amount_or_none(query.get("min_overdue")),
        min_days=row_id_or_none(query.get("min_days")),
        sort=query.get("sort") or "priority",
    )


# The worklist's query parameters a saved view may keep, in the order its link writes them.
WORKLIST_VIEW_KEYS = ("collector", "segment", "currency", "min_overdue", "min_days", "sort")
SAVED_VIEW_NOT_FOUND = "saved view not found"
_SEGMENT_MAX = 64


def worklist_view_params(query: Any) -> dict[str, str]:
    """The worklist's filters and sort in ``query`` (a ``QueryDict`` or a dict), checked again:
    unknown keys, empty values and values the worklist would ignore are dropped, so a saved view
    never stores more than the filter form can say, and the default sort is not stored at all."""
    params: dict[str, str] = {}
    for key in WORKLIST_VIEW_KEYS:
        value = query.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        value = value.strip()
        if key in ("collector", "min_days"):
            number = row_id_or_none(value)
            cleaned = None if number is None else str(number)
        elif key == "segment":
            cleaned = value if len(value) <= _SEGMENT_MAX and value.isprintable() else None
        elif key == "currency":
            cleaned = value.upper() if len(value) == 3 and value.isascii() and value.isalpha() else None
        elif key == "min_overdue":
            try:
                amount = parse_amount(value.replace(",", "."))
            except ValidationFailed:
                amount = None
            cleaned = str(amount) if amount is not None and amount >= 0 else None
        else:  # sort
            column = value.removeprefix("-")
            cleaned = value if column in WORKLIST_SORTS and value != "priority" else None
        if cleaned is not None:
            params[key] = cleaned
    return params


def saved_views_of(*, user: Any, entity: Entity, page: str = "worklist") -> list[SavedView]:
    """The user's own saved views of ``page`` for ``entity``, by name (nobody sees another's)."""
    return list(SavedView.objects.filter(user=user, entity=entity, page=page))


def saved_view_for_user(*, user: Any, view_id: int) -> SavedView:
    """The user's own saved view; ``NotFound`` for another user's, as for one that does not exist."""
    view = SavedView.objects.filter(pk=view_id, user=user).select_related("entity").first()
    if view is None or not accounts_entity_visible(user, view.entity_id):
        raise NotFound(SAVED_VIEW_NOT_FOUND)
    return view


_WORKLIST_VALUES = (
    "customer_id",
    "customer__external_ref",
    "customer__name",
    "customer__collector__username",
    "priority",
    "currency",
    "overdue_amount",
    "max_days_past_due",
    "risk",
    "credit_risk",
    "broken_promises",
    "days_since_contact",
    "factors",
)


_LOOK_UP: Any = object()


def worklist_entries(
    *,
    user: Any,
    entity: Entity,
    today: date,
    filters: WorklistFilters | None = None,
    prediction_run: Any = _LOOK_UP,
) -> tuple[DunningRun | None, QuerySet[Any]]:
    """The latest run's entries for ``entity`` as ``user`` sees them (values, ordered), unsliced.

    A collector sees the customers they collect; others see all, or one collector's. Customers
    the user snoozed to ``today`` or later are left out. With a stored prediction run
    (``prediction_run``: its id, None for none; looked up when not given) the priority is the
    next best action's (``selectors.next_action``)."""
    filters = filters or WorklistFilters()
    run = latest_run(entity=entity)
    if run is None or not entity_visible(user=user, entity_id=entity.pk):
        empty = WorklistEntry.objects.none().annotate(credit_risk=risk_class_latest("customer_id"))
        return None, empty.values(*_WORKLIST_VALUES)
    entries = customer_scope(user, WorklistEntry.objects.filter(run=run), customer_field="customer")
    if user_is_collector(user):
        entries = entries.filter(customer__collector=user)
    elif filters.collector_id == 0:
        entries = entries.filter(customer__collector__isnull=True)
    elif filters.collector_id is not None:
        entries = entries.filter(customer__collector_id=filters.collector_id)
    if filters.segment is not None:
        entries = entries.filter(customer__segment=filters.segment)
    if filters.currency:
        entries = entries.filter(currency=filters.currency)
    if filters.min_overdue is not None:
        entries = entries.filter(overdue_amount__gte=filters.min_overdue)
    if filters.min_days is not None:
        entries = entries.filter(max_days_past_due__gte=filters.min_days)
    snoozed = WorklistSnooze.objects.filter(user=user, until__gte=today).values("customer_id")
    entries = entries.exclude(customer_id__in=snoozed).annotate(credit_risk=risk_class_latest("customer_id"))
    if prediction_run is _LOOK_UP:
        prediction_run = prediction_run_id(entity=entity)
    if prediction_run is None:  # no stored prediction: the run's priority alone, as before
        return run, entries.order_by(*filters.ordering()).values(*_WORKLIST_VALUES)
    # Next best action: the stored predictions add their points (selectors.next_action).
    entries = annotate_predictions(entries, run_id=prediction_run)
    ordering = [_PREDICTED_ORDER.get(column, column) for column in filters.ordering()]
    return run, entries.order_by(*ordering).values(*_WORKLIST_VALUES, "action_priority", *PREDICTION_VALUES)


_PREDICTED_ORDER = {"-priority": "-action_priority", "priority": "action_priority"}


def worklist_row(row: dict[str, Any]) -> WorklistRow:
    predicted = prediction_factors(row)
    on_time = False
    if predicted is not None:  # the run's factors and the predicted ones: the points add up
        priority, factors, on_time = predicted
        row = {**row, "priority": priority, "factors": {**(row["factors"] or {}), **factors}}
    return WorklistRow(
        customer_id=row["customer_id"],
        customer_ref=row["customer__external_ref"],
        customer_name=row["customer__name"],
        collector=row["customer__collector__username"] or "",
        priority=round(row["priority"], 2),
        currency=row["currency"],
        overdue_amount=row["overdue_amount"],
        max_days_past_due=row["max_days_past_due"],
        risk=row.get("credit_risk") or row["risk"],  # the latest stored risk class
        broken_promises=row["broken_promises"],
        days_since_contact=row["days_since_contact"],
        factors=row["factors"] or {},
        predicted_on_time=on_time,
    )


def worklist_choices(*, run: DunningRun | None, entity: Entity) -> dict[str, list[str]]:
    """The segments of the entity's customers and the currencies of the run (for the filters)."""
    segments = (
        Customer.objects.filter(entity=entity)
        .exclude(segment="")
        .values_list("segment", flat=True)
        .order_by()
        .distinct()
    )
    currencies = (
        WorklistEntry.objects.filter(run=run).values_list("currency", flat=True).order_by().distinct()
        if run
        else []
    )
    return {"segments": sorted(segments), "currencies": sorted(currencies)}


def worklist_for_user(
    *, user: Any, entity: Entity, today: date, collector_id: int | None = None, limit: int = WORKLIST_PAGE
) -> tuple[DunningRun | None, list[WorklistRow]]:
    """The first ``limit`` rows of the user's worklist, highest priority first."""
    run, entries = worklist_entries(
        user=user, entity=entity, today=today, filters=WorklistFilters(collector_id=collector_id)
    )
    return run, [worklist_row(row) for row in entries[:limit]]


def worklist_next_customer(*, user: Any, entity: Entity, today: date, after_customer_id: int) -> int | None:
    """The customer after ``after_customer_id`` on the user's worklist (the first one if absent)."""
    _, rows = worklist_for_user(user=user, entity=entity, today=today, limit=1_000_000)
    ids = [row.customer_id for row in rows]
    if not ids:
        return None
    if after_customer_id in ids:
        position = ids.index(after_customer_id) + 1
        return ids[position] if position < len(ids) else None
    return ids[0]
