"""Cursor (keyset) pagination: stable under concurrent inserts, constant cost at any depth.

A cursor is the signed position after the last item served: (ordering name, its key value, id).
Clients treat it as opaque; a tampered or foreign cursor is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from django.core import signing
from django.db.models import Field, Model, Q, QuerySet
from django.http import JsonResponse

from relance.core.errors import ValidationFailed

CURSOR_SALT = "relance.api.cursor.v1"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
INVALID_CURSOR = "this cursor is not valid for this list: start again without one"
UNKNOWN_ORDER = "cannot order by {order!r}: expected one of {choices}"


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def encode_cursor(*, order: str, value: Any, last_id: int) -> str:
    return signing.dumps({"o": order, "v": _plain(value), "i": last_id}, salt=CURSOR_SALT)


def decode_cursor(cursor: str, *, order: str) -> tuple[Any, int]:
    try:
        data = signing.loads(cursor, salt=CURSOR_SALT)
    except signing.BadSignature:
        raise ValidationFailed(INVALID_CURSOR, code="invalid_cursor") from None
    if not isinstance(data, dict) or data.get("o") != order or not isinstance(data.get("i"), int):
        raise ValidationFailed(INVALID_CURSOR, code="invalid_cursor")
    return data.get("v"), data["i"]


def paginate(
    queryset: QuerySet,
    *,
    orderings: Mapping[str, str],
    order: str,
    cursor: str | None,
    limit: int,
) -> Page:
    """One page of ``queryset`` ordered by ``orderings[order]`` then id, after ``cursor``.

    ``orderings`` maps the public ordering names to model fields (``"id"`` orders by id alone).
    """
    if order not in orderings:
        raise ValidationFailed(
            UNKNOWN_ORDER.format(order=order, choices=", ".join(orderings)), code="invalid_order"
        )
    field_name = orderings[order]
    model: type[Model] = queryset.model
    by_id = field_name == "id"
    queryset = queryset.order_by("id") if by_id else queryset.order_by(field_name, "id")
    if cursor:
        raw_value, last_id = decode_cursor(cursor, order=order)
        if by_id:
            queryset = queryset.filter(id__gt=last_id)
        else:
            try:
                value = cast(Field, model._meta.get_field(field_name)).to_python(raw_value)
            except Exception:  # a signed cursor should always decode; be strict anyway
                raise ValidationFailed(INVALID_CURSOR, code="invalid_cursor") from None
            queryset = queryset.filter(
                Q(**{f"{field_name}__gt": value}) | Q(**{field_name: value, "id__gt": last_id})
            )
    rows = list(queryset[: limit + 1])
    if len(rows) <= limit:
        return Page(items=rows, next_cursor=None)
    rows = rows[:limit]
    last = rows[-1]
    next_cursor = encode_cursor(
        order=order, value=None if by_id else getattr(last, field_name), last_id=last.pk
    )
    return Page(items=rows, next_cursor=next_cursor)


def paged_response(
    queryset: QuerySet,
    render: Callable[[Any], Any],
    *,
    orderings: Mapping[str, str],
    order: str,
    cursor: str | None,
    limit: int,
) -> JsonResponse:
    """The one body of every paged list: ``{"items": [render(row)...], "next_cursor": ...}``."""
    page = paginate(queryset, orderings=orderings, order=order, cursor=cursor, limit=limit)
    return JsonResponse({"items": [render(row) for row in page.items], "next_cursor": page.next_cursor})


def encode_snapshot_cursor(*, order: str, snapshot: int, position: int) -> str:
    """For a list computed over a fixed snapshot (the worklist of one run), not a table: the
    position in it, bound to the snapshot's id and the ordering. Stable, because the snapshot
    does not change; a newer snapshot makes the cursor stale (``invalid_cursor``: start again)."""
    return signing.dumps({"o": order, "s": snapshot, "p": position}, salt=CURSOR_SALT)


def decode_snapshot_cursor(cursor: str, *, order: str, snapshot: int) -> int:
    try:
        data = signing.loads(cursor, salt=CURSOR_SALT)
    except signing.BadSignature:
        raise ValidationFailed(INVALID_CURSOR, code="invalid_cursor") from None
    valid = isinstance(data, dict) and data.get("o") == order and data.get("s") == snapshot
    if not valid or not isinstance(data.get("p"), int) or data["p"] < 0:
        raise ValidationFailed(INVALID_CURSOR, code="invalid_cursor")
    return int(data["p"])
